"""The batch lock's lease against the real fake-gcs-server: held, taken over, lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from salesphere.batch.lock import LOCK_OBJECT, LockLost, RunInProgress, run_lock
from salesphere.gcp import clients
from salesphere.model import utcnow
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin

pytestmark = [pytest.mark.twin]

LEASE = timedelta(seconds=1.2)


def lock_blob(twin: Twin) -> Any:
    return (
        clients.storage_client(twin.settings)
        .bucket(twin.settings.buckets.artifacts)
        .blob(LOCK_OBJECT)
    )


def test_a_held_lock_is_renewed_and_refuses_a_second_run(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    with run_lock(s, "run-a", LEASE) as lease:
        # outlive the lease several times over: renewals keep it held
        eventually(lambda: lease.renewals >= 6, timeout=20, what="six renewals")
        with pytest.raises(RunInProgress, match="run-a"), run_lock(s, "run-b", LEASE):
            pass
        lease.check()  # still ours
    assert not lock_blob(quiet_twin).exists()  # released


def test_a_crashed_runs_lock_is_taken_over_after_its_lease(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    stale = utcnow() - timedelta(minutes=5)
    crashed = {"run_id": "run-dead", "acquired_at": stale.isoformat(), "lease_seconds": 120}
    lock_blob(quiet_twin).upload_from_string(json.dumps(crashed), if_generation_match=0)

    with run_lock(s, "run-next", LEASE):
        holder = json.loads(lock_blob(quiet_twin).download_as_bytes())
        assert holder["run_id"] == "run-next"
    assert not lock_blob(quiet_twin).exists()


def test_a_lock_renewed_recently_is_not_taken_over(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    alive = {
        "run_id": "run-slow",
        "acquired_at": (utcnow() - timedelta(hours=3)).isoformat(),
        "renewed_at": utcnow().isoformat(),
        "lease_seconds": 120,
    }
    lock_blob(quiet_twin).upload_from_string(json.dumps(alive), if_generation_match=0)
    try:
        with pytest.raises(RunInProgress, match="run-slow"), run_lock(s, "run-next", LEASE):
            pass
    finally:
        lock_blob(quiet_twin).delete()


def lapsed(twin: Twin) -> bool:
    info = json.loads(lock_blob(twin).download_as_bytes())
    renewed = datetime.fromisoformat(info["renewed_at"])
    return utcnow() - renewed > timedelta(seconds=info["lease_seconds"])


def test_a_run_whose_lock_was_taken_over_must_not_commit(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    with run_lock(s, "run-stalled", LEASE) as lease:
        lease.stop()  # stalled: no more renewals, so the lease lapses
        eventually(lambda: lapsed(quiet_twin), timeout=10, what="the lease to lapse")
        with run_lock(s, "run-new", LEASE):
            assert lease.renew() is False  # the stalled run wakes up: not its lock any more
            with pytest.raises(LockLost, match="must not commit"):
                lease.check()
            holder = json.loads(lock_blob(quiet_twin).download_as_bytes())
            assert holder["run_id"] == "run-new"
        assert not lock_blob(quiet_twin).exists()  # released by its holder only
