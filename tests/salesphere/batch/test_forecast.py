"""The batch run writes the demand forecast once per run, from its own commit, idempotently."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from salesphere.batch import forecast_tables as warehouse
from salesphere.batch.forecast import run_forecast
from salesphere.batch.runner import run_batch
from salesphere.forecast.models import SEASONAL_NAIVE, TRAILING_AVG
from salesphere.gcp import clients
from salesphere.model import finalize
from tests.support import batch as h

pytestmark = pytest.mark.twin
HORIZON = 14
DAYS = 90
#: Days (counted back from the newest) on which store S1 has no K1 on the shelf.
EMPTY = (20, 19, 18)


@pytest.fixture
def settings(quiet_twin):
    h.reset(quiet_twin.settings)
    # Two backtest folds of 14 days fit in 90 days of history (56 days of training first).
    return replace(quiet_twin.settings, forecast_horizon_days=HORIZON)


def _event(kind: str, store: str, sku: str, at: datetime, received: datetime, **extra):
    base = {
        "event_type": kind,
        "occurred_at": at,
        "source": "inventory" if kind != "sale" else "pos",
        "store_id": store,
        "sku": sku,
        "quantity": extra.pop("quantity", 0),
    }
    return finalize(base | extra, received)


def _history(received: datetime) -> tuple[list, datetime]:
    """90 local days: K1 sells daily in S1 and S2 (S1 runs dry for three days), K2 rarely."""
    rng = random.Random(5)
    last = (received - timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    events = []
    order = 0
    for store in ("S1", "S2"):
        first = last - timedelta(days=DAYS - 1)
        events.append(
            _event(
                "stock_count", store, "K1", first.replace(hour=6), received, counted_quantity=9999
            )
        )
        for back in range(DAYS):
            day = last - timedelta(days=back)
            empty = store == "S1" and back in EMPTY
            if store == "S1" and back == EMPTY[0]:  # counted empty before opening
                events.append(
                    _event(
                        "stock_count",
                        store,
                        "K1",
                        day.replace(hour=6),
                        received,
                        counted_quantity=0,
                    )
                )
            if store == "S1" and back == EMPTY[-1] - 1:  # the truck arrives
                events.append(
                    _event(
                        "stock_receipt", store, "K1", day.replace(hour=7), received, quantity=500
                    )
                )
            weekend = day.weekday() >= 5
            for sku, units in (
                ("K1", 4 + 3 * weekend + rng.randint(0, 3)),
                ("K2", rng.random() < 0.2),
            ):
                if (empty and sku == "K1") or not units:
                    continue
                order += 1
                events.append(
                    finalize(
                        {
                            "event_type": "sale",
                            "occurred_at": day + timedelta(minutes=order % 50),
                            "source": "pos",
                            "store_id": store,
                            "sku": sku,
                            "quantity": int(units),
                            "unit_price": "10.00",
                            "discount": "0.00",
                            "order_id": f"o{order}",
                            "line_number": 1,
                        },
                        received,
                    )
                )
    return events, last


def _rows(settings, table: str) -> list[tuple]:
    rows = clients.query_rows(settings, f"SELECT * FROM {table}")
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


def test_a_batch_run_writes_the_forecast_once_and_a_rerun_changes_nothing(settings) -> None:
    received = datetime.now(UTC) - timedelta(hours=2)
    events, last = _history(received)
    h.archive(settings, events, "history")
    report = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-1")
    assert report.status == "succeeded", report
    fc = report.forecast
    assert fc["status"] == "succeeded" and fc["mode"] == "backtest", fc
    assert fc["series"] == 4 and fc["rows"] == 4 * HORIZON

    rows = clients.query_rows(settings, "SELECT * FROM batch.demand_forecast")
    assert len(rows) == 4 * HORIZON
    assert {r["run_id"] for r in rows} == {"fc-1"}
    keys = {(r["store_id"], r["sku"], r["forecast_date"]) for r in rows}
    assert len(keys) == len(rows)  # one row per store, SKU and forecast day
    origin = last.date()
    assert {r["origin_date"] for r in rows} == {origin}
    assert {r["forecast_date"] for r in rows} == {
        origin + timedelta(days=i) for i in range(1, HORIZON + 1)
    }
    for r in rows:
        assert 0 <= r["units_lo_95"] <= r["units_lo_80"] + 1e-9 <= r["units"] + 2e-9
        assert r["units"] <= r["units_hi_80"] + 1e-9 <= r["units_hi_95"] + 2e-9
    k1 = [r["units"] for r in rows if r["sku"] == "K1"]
    assert 3 < sum(k1) / len(k1) < 10  # about what K1 sells a day, not dragged to zero

    accuracy = clients.query_rows(settings, "SELECT * FROM batch.forecast_accuracy")
    by_series: dict[tuple, list] = {}
    for r in accuracy:
        by_series.setdefault((r["store_id"], r["sku"]), []).append(r)
    assert len(by_series) == 4
    for series_rows in by_series.values():
        models = {r["model"] for r in series_rows}
        assert {SEASONAL_NAIVE, TRAILING_AVG} <= models
        assert sum(r["chosen"] for r in series_rows) == 1
        assert {(r["horizon_days"], r["run_id"]) for r in series_rows} == {(HORIZON, "fc-1")}
        # 90 days hold two folds; a series that started selling later may have room for one
        assert {r["folds"] for r in series_rows} <= {1, 2}
    assert {r["folds"] for r in by_series[("S1", "K1")]} == {2}
    assert {r["series_class"] for r in by_series[("S1", "K1")]} == {"regular"}
    assert {r["series_class"] for r in by_series[("S1", "K2")]} == {"intermittent"}

    # The three empty-shelf days are censored: read from the stock the run absorbed.
    stockouts = warehouse.read_stockout_days(
        settings, report.cutoff, origin - timedelta(days=90), origin
    )
    assert stockouts[("S1", "K1")] == [
        last.date() - timedelta(days=b) for b in sorted(EMPTY, reverse=True)
    ]
    assert ("S2", "K1") not in stockouts or not stockouts[("S2", "K1")]

    # Same run id again: already done, nothing rewritten.
    before = _rows(settings, "batch.demand_forecast"), _rows(settings, "batch.forecast_accuracy")
    assert run_batch(settings, full=True, run_id="fc-1").status == "already_done"
    assert (
        _rows(settings, "batch.demand_forecast"),
        _rows(settings, "batch.forecast_accuracy"),
    ) == before
    # The forecast step itself repeated for the same run: the same rows, not twice as many.
    started = datetime.fromisoformat(str(rows[0]["computed_at"]))
    again = run_forecast(
        settings, run_id="fc-1", cutoff=report.cutoff, started=started, mode="backtest"
    )
    assert again.status == "succeeded" and again.runtime == "process"
    assert (
        _rows(settings, "batch.demand_forecast"),
        _rows(settings, "batch.forecast_accuracy"),
    ) == before
    # ...and fitted by the Beam pipeline instead (two DirectRunner workers): the same rows.
    on_beam = run_forecast(
        replace(settings, forecast_runtime="beam", forecast_workers=2),
        run_id="fc-1",
        cutoff=report.cutoff,
        started=started,
        mode="backtest",
    )
    assert (on_beam.status, on_beam.runtime, on_beam.series) == ("succeeded", "beam", 4)
    assert (
        _rows(settings, "batch.demand_forecast"),
        _rows(settings, "batch.forecast_accuracy"),
    ) == before

    # A later run inside the week only refits: new forecast rows, the backtest's kept.
    later = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-2")
    assert later.forecast["mode"] == "update", later.forecast
    rows2 = clients.query_rows(settings, "SELECT run_id FROM batch.demand_forecast")
    assert len(rows2) == 4 * HORIZON and {r["run_id"] for r in rows2} == {"fc-2"}
    assert _rows(settings, "batch.forecast_accuracy") == before[1]


def test_the_forecast_can_be_switched_off(settings) -> None:
    received = datetime.now(UTC) - timedelta(hours=2)
    events, _ = _history(received)
    h.archive(settings, events, "history")
    off = replace(settings, forecast_enabled=False)
    report = run_batch(off, full=True, archive_lag=timedelta(0))
    assert report.status == "succeeded" and report.forecast == {"status": "disabled"}
    assert (
        clients.query_rows(settings, "SELECT COUNT(*) AS n FROM batch.demand_forecast")[0]["n"] == 0
    )


def test_a_history_longer_than_one_result_page_still_forecasts(settings, monkeypatch) -> None:
    """Every read the forecast step makes pages through small REST result pages.

    Paged results are what a real history produces; the BigQuery client would switch those
    to the Storage Read API (another endpoint and role), so this forces pages of 50 rows.
    """
    from google.cloud import bigquery

    real = bigquery.Client.query_and_wait
    paged: list[int] = []

    def small_pages(self, query, **kwargs):
        kwargs.setdefault("page_size", 50)
        result = real(self, query, **kwargs)
        paged.append(result.total_rows or 0)
        return result

    monkeypatch.setattr(bigquery.Client, "query_and_wait", small_pages)
    received = datetime.now(UTC) - timedelta(hours=2)
    events, _ = _history(received)
    h.archive(settings, events, "history")
    report = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-paged")
    assert max(paged) > 50  # the sales history did span several pages
    assert (report.status, report.forecast["status"]) == ("succeeded", "succeeded"), report
    rows = clients.query_rows(settings, "SELECT DISTINCT run_id FROM batch.demand_forecast")
    assert [r["run_id"] for r in rows] == ["fc-paged"]
    fresh = clients.query_rows(settings, "SELECT * FROM serving.freshness")[0]
    assert fresh["forecast_run_id"] == "fc-paged" and fresh["forecast_is_current"] is True


def test_a_failed_forecast_step_fails_the_run_where_people_look(settings, monkeypatch) -> None:
    """Committed batch views, no fresh forecast: the report, the CLI's exit code, the
    scheduler's answer, serving.freshness and the purchasing export all say so."""
    from typer.testing import CliRunner

    from salesphere.batch import runner
    from salesphere_tools.cli.main import app
    from salesphere_tools.purchasing import read_freshness, stale_forecast_warning
    from services.batch.main import handle

    received = datetime.now(UTC) - timedelta(hours=2)
    events, _ = _history(received)
    h.archive(settings, events, "history")
    first = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-ok")
    assert first.status == "succeeded"

    def broken(*_args, **_kwargs):
        raise ConnectionError("warehouse went away")

    monkeypatch.setattr(runner, "run_forecast", broken)
    report = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-broken")
    assert report.status == "forecast_failed" and report.failed
    assert "warehouse went away" in report.forecast["error"]

    fresh = read_freshness(settings)
    assert fresh["batch_run_id"] == "fc-broken" and fresh["forecast_run_id"] == "fc-ok"
    assert fresh["forecast_is_current"] is False
    warning = stale_forecast_warning(fresh)
    assert warning and "fc-ok" in warning and "did not refresh" in warning

    body, status = handle({"mode": "full", "archive_lag_seconds": 0}, {}, settings)
    assert (status, body["status"]) == (500, "forecast_failed")

    cli = ["batch", "run", "--full", "--archive-lag", "0"]
    result = CliRunner().invoke(app, cli, env=settings.to_environ())
    assert result.exit_code == 1, result.output
    assert "forecast step failed" in result.output


def test_a_retry_or_a_rerun_makes_the_forecast_a_failed_step_left_out(
    settings, monkeypatch
) -> None:
    """Cloud Scheduler retries a failed request with the same run id: the retry finds the
    run committed and must still make its forecast, not answer success over a stale one."""
    from salesphere.batch import runner

    received = datetime.now(UTC) - timedelta(hours=2)
    events, _ = _history(received)
    h.archive(settings, events, "history")
    working = runner.run_forecast

    def broken(*_args, **_kwargs):
        raise ConnectionError("warehouse went away")

    monkeypatch.setattr(runner, "run_forecast", broken)
    first = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="fc-retried")
    assert first.status == "forecast_failed"

    # The retry fails the same way while the cause lasts: still a failure, not already_done.
    again = run_batch(settings, archive_lag=timedelta(0), run_id="fc-retried")
    assert (again.status, again.forecast["status"]) == ("forecast_failed", "failed")

    monkeypatch.setattr(runner, "run_forecast", working)
    retry = run_batch(settings, archive_lag=timedelta(0), run_id="fc-retried")
    assert retry.status == "already_done" and not retry.failed
    assert retry.forecast["status"] == "succeeded" and retry.forecast["for_run"] == "fc-retried"
    fresh = clients.query_rows(settings, "SELECT * FROM serving.freshness")[0]
    assert fresh["forecast_run_id"] == "fc-retried" and fresh["forecast_is_current"] is True

    # Once the forecast is current, the next runs make no catch-up forecast.
    for run_id in ("fc-next", "fc-idle"):
        later = run_batch(settings, archive_lag=timedelta(0), run_id=run_id)
        assert not later.failed and "for_run" not in later.forecast, later
