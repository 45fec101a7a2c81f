"""serving.freshness: how old the forecast is against the schedule the batch runs keep.

A forecast from the newest run can still be out of date: when the scheduler stops, no run
comes to replace it, and every suggestion keeps resting on days-old sales. The view reads
the schedule from the runs themselves (the mean gap between the last commits) and flags a
forecast older than one and a half of those gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salesphere.gcp import clients
from salesphere_tools.purchasing import stale_forecast_warning
from tests.support import batch as h

pytestmark = pytest.mark.twin


def _runs(settings, committed: list[datetime], forecast_at: datetime) -> dict:
    """Commits at ``committed`` (the last is the newest run) and its forecast at ``forecast_at``."""
    h.reset(settings)
    bq = clients.bigquery_client(settings)
    for i, at in enumerate(committed):
        bq.query_and_wait(
            "INSERT INTO batch.cutoff (cutoff, run_id, committed_at) "
            f"VALUES (TIMESTAMP '{at - timedelta(minutes=5):%Y-%m-%d %H:%M:%S}+00', 'r{i}', "
            f"TIMESTAMP '{at:%Y-%m-%d %H:%M:%S}+00')"
        )
    newest = f"r{len(committed) - 1}"
    row = {
        "store_id": "S1",
        "sku": "K1",
        "forecast_date": forecast_at.date().isoformat(),
        "origin_date": forecast_at.date().isoformat(),
        "model": "test",
        "units": 1.0,
        "run_id": newest,
        "computed_at": forecast_at.isoformat(),
    }
    assert bq.insert_rows_json(f"{settings.project}.batch.demand_forecast", [row]) == []
    return clients.query_rows(settings, "SELECT * FROM serving.freshness")[0]


def test_a_forecast_kept_by_daily_runs_is_not_overdue(quiet_twin) -> None:
    now = datetime.now(UTC)
    fresh = _runs(quiet_twin.settings, [now - timedelta(hours=n) for n in (73, 49, 25, 1)], now)
    assert fresh["forecast_is_current"] is True
    assert fresh["batch_every_seconds"] == pytest.approx(24 * 3600)
    assert fresh["forecast_overdue"] is False
    assert stale_forecast_warning(fresh) is None


def test_a_forecast_no_run_came_to_replace_is_overdue_and_the_buyer_is_told(quiet_twin) -> None:
    now = datetime.now(UTC)
    last = now - timedelta(hours=50)  # the scheduler stopped two days ago
    fresh = _runs(quiet_twin.settings, [last - timedelta(hours=n) for n in (48, 24, 0)], last)
    assert fresh["forecast_is_current"] is True  # nothing newer failed: it just never came
    assert fresh["batch_every_seconds"] == pytest.approx(24 * 3600)
    assert fresh["forecast_overdue"] is True
    warning = stale_forecast_warning(fresh)
    assert warning and "50 h old" in warning and "every 24 h" in warning


def test_one_run_gives_no_schedule_and_no_alarm(quiet_twin) -> None:
    now = datetime.now(UTC)
    fresh = _runs(quiet_twin.settings, [now - timedelta(days=9)], now - timedelta(days=9))
    assert fresh["batch_every_seconds"] is None and fresh["forecast_overdue"] is False
