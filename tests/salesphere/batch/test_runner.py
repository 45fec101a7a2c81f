"""The batch run against the twin: dedup, idempotent reruns, atomic commit, the lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salesphere.batch import commit
from salesphere.batch.lock import RunInProgress, run_lock
from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from tests.support import batch as h

pytestmark = pytest.mark.twin
NOW = lambda: datetime.now(UTC)  # noqa: E731


@pytest.fixture
def settings(quiet_twin):
    h.reset(quiet_twin.settings)
    return quiet_twin.settings


def _q(settings, sql):
    return clients.query_rows(settings, sql)


def test_full_run_dedups_across_files_and_reruns_change_nothing(settings) -> None:
    t1 = NOW() - timedelta(hours=2)
    t2 = NOW() - timedelta(hours=1)
    live = [h.sale(i, t1) for i in range(30)]
    spreadsheet = [h.sale(i, t2) for i in range(20, 40)]  # overlaps the live feed
    h.archive(settings, live, "live")
    h.archive(settings, spreadsheet, "sheet")
    h.archive(settings, live[:5], "redelivered")
    report = run_batch(settings, full=True, archive_lag=timedelta(0))
    assert report.status == "succeeded" and report.events_distinct == 40
    master = _q(settings, "SELECT event_id, received_at FROM master.events")
    assert len(master) == 40
    earliest = {e.event_id: e.received_at for e in spreadsheet} | {
        e.event_id: e.received_at for e in live
    }
    assert {r["event_id"]: r["received_at"] for r in master} == earliest
    expected = h.sales_daily_expected(live + spreadsheet)
    assert h.sales_daily_actual(settings) == expected
    again = run_batch(settings, full=True, archive_lag=timedelta(0))
    assert again.status == "succeeded"
    h.archive(settings, spreadsheet, "sheet-reuploaded")
    run_batch(settings, archive_lag=timedelta(0))
    assert h.sales_daily_actual(settings) == expected
    assert _q(settings, "SELECT COUNT(*) AS n FROM master.events")[0]["n"] == 40


def _failing_before_commit(real):
    """``commit_script`` whose transaction raises after its last statement, before COMMIT."""

    def failing(staging: str, *, full: bool) -> str:
        script = real(staging, full=full)
        assert script.endswith("COMMIT TRANSACTION;")
        injected = "SELECT ERROR('injected failure before COMMIT (test)');\nCOMMIT TRANSACTION;"
        return script.removesuffix("COMMIT TRANSACTION;") + injected

    return failing


def test_failed_commit_leaves_previous_views_and_cutoff_serving(settings, monkeypatch) -> None:
    h.archive(settings, [h.sale(i, NOW() - timedelta(hours=1)) for i in range(10)], "a")
    first = run_batch(settings, full=True, archive_lag=timedelta(0))
    before = h.sales_daily_actual(settings)
    cutoff_before = _q(settings, "SELECT cutoff, run_id FROM batch.cutoff")
    h.archive(settings, [h.sale(i, NOW() - timedelta(minutes=30)) for i in range(10, 25)], "b")
    # The fault is injected from the test side: the runner sends a script that fails.
    with monkeypatch.context() as patch, pytest.raises(Exception, match="injected failure"):
        patch.setattr(commit, "commit_script", _failing_before_commit(commit.commit_script))
        run_batch(settings, full=True, archive_lag=timedelta(0))
    assert h.sales_daily_actual(settings) == before
    assert _q(settings, "SELECT cutoff, run_id FROM batch.cutoff") == cutoff_before
    assert cutoff_before[0]["run_id"] == first.run_id
    assert _q(settings, "SELECT COUNT(*) AS n FROM master.events")[0]["n"] == 10
    statuses = {r["status"] for r in _q(settings, "SELECT status FROM ops.batch_runs")}
    assert statuses == {"succeeded", "failed"}
    # The lock was released: the next run goes through and absorbs the new file.
    run_batch(settings, full=True, archive_lag=timedelta(0))
    assert _q(settings, "SELECT COUNT(*) AS n FROM master.events")[0]["n"] == 25


def test_a_second_run_refuses_while_the_lock_is_held_and_run_ids_are_idempotent(settings) -> None:
    h.archive(settings, [h.sale(1, NOW() - timedelta(hours=1))], "a")
    with run_lock(settings, "someone-else"), pytest.raises(RunInProgress, match="someone-else"):
        run_batch(settings, full=True, archive_lag=timedelta(0))
    done = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="slot-1")
    assert done.status == "succeeded"
    assert run_batch(settings, full=True, run_id="slot-1").status == "already_done"
