"""One batch run at a time: a leased lock object in GCS.

Cloud Scheduler delivers at least once and an operator may type ``salesphere batch run``
while the schedule fires; two runs committing concurrently would not double anything
(each commit is a full replace) but would waste a run and race on the cutoff, so the
second one refuses.

* **Take.** The lock is created with ``if_generation_match=0`` (GCS creates the object
  only when none exists).
* **Hold.** While the run works, a background thread renews the lease every
  ``lease / 4`` by rewriting the object with ``if_generation_match`` = the generation it
  last wrote, so a renewal can never overwrite someone else's lock.
* **Crash.** A lock whose lease was not renewed for ``lease`` (default two minutes)
  belongs to a run that died (killed, out of memory, a lost VM); the next run takes it
  over, again conditioned on the generation it read. Nobody has to delete anything.
* **Fence.** A run whose renewal found the lock replaced (its lease lapsed while it was
  stalled and another run took over) has lost it: :meth:`Lease.check`, called by the
  runner just before it commits, raises :class:`LockLost`, so a stalled run never
  commits over a newer one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from salesphere.gcp import clients
from salesphere.model import utcnow
from salesphere.settings import Settings

LOCK_OBJECT = "batch/lock.json"
DEFAULT_LEASE = timedelta(minutes=2)

log = logging.getLogger("salesphere.batch")


class RunInProgress(RuntimeError):
    """Another batch run holds the lock."""


class LockLost(RunInProgress):
    """This run's lease lapsed and another run took the lock over; it must not commit.

    A kind of :class:`RunInProgress`: callers answer both the same way (another run is in
    charge; this one changed nothing).
    """


class Lease:
    """A held lock: renewed in the background until released; ask :meth:`check` before committing."""

    def __init__(self, blob: Any, run_id: str, acquired_at: datetime, lease: timedelta) -> None:
        self._blob = blob
        self.run_id = run_id
        self.acquired_at = acquired_at
        self.lease = lease
        self.generation: int | None = None  # set once the lock object is written
        self.renewals = 0
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name="batch-lease", daemon=True)

    def body(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "acquired_at": self.acquired_at.isoformat(),
                "renewed_at": utcnow().isoformat(),
                "lease_seconds": self.lease.total_seconds(),
            }
        )

    def renew(self) -> bool:
        """Extend the lease once; False (and :attr:`lost` set) if the lock is not ours."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self._blob.upload_from_string(self.body(), if_generation_match=self.generation)
        except (PreconditionFailed, NotFound):
            self.lost = "the lock was replaced by another run after this run's lease lapsed"
            return False
        self.generation = self._blob.generation
        self.renewals += 1
        return True

    def _renew_loop(self) -> None:
        every = self.lease.total_seconds() / 4
        while not self._stop.wait(every):
            try:
                if not self.renew():
                    log.error("batch run %s lost its lock: %s", self.run_id, self.lost)
                    return
            except Exception as exc:  # a transient GCS error: try again next period
                log.warning("batch run %s could not renew its lock: %s", self.run_id, exc)

    def check(self) -> None:
        """Raise :class:`LockLost` if another run has taken the lock over."""
        if self.lost:
            raise LockLost(f"batch run {self.run_id} must not commit: {self.lost}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _holder_age(info: dict[str, Any]) -> tuple[datetime, timedelta]:
    """When the holder last showed life, and how long it may stay silent."""
    last = info.get("renewed_at") or info.get("acquired_at")
    at = datetime.fromisoformat(last) if last else utcnow()
    return at, timedelta(seconds=float(info.get("lease_seconds", DEFAULT_LEASE.total_seconds())))


@contextmanager
def run_lock(settings: Settings, run_id: str, lease: timedelta = DEFAULT_LEASE) -> Iterator[Lease]:
    """Hold the lock for the ``with`` block; raises :class:`RunInProgress` if it is held."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    bucket = clients.storage_client(settings).bucket(settings.buckets.artifacts)
    blob = bucket.blob(LOCK_OBJECT)
    held = Lease(blob, run_id, utcnow(), lease)
    try:
        blob.upload_from_string(held.body(), if_generation_match=0)
    except PreconditionFailed:
        holder = bucket.get_blob(LOCK_OBJECT)
        info = json.loads(holder.download_as_bytes()) if holder else {}
        seen, their_lease = _holder_age(info)
        if holder is None or utcnow() - seen <= their_lease:
            raise RunInProgress(
                f"batch run {info.get('run_id', '?')} holds the lock (last renewed "
                f"{seen:%Y-%m-%d %H:%M:%S} UTC); wait for it to finish. If it crashed, its "
                f"lease lapses {their_lease} after the last renewal and the next run takes "
                "the lock over."
            ) from None
        # A crashed run's lock: replace it only if nobody replaced it first.
        try:
            blob.upload_from_string(held.body(), if_generation_match=holder.generation)
        except PreconditionFailed:
            raise RunInProgress("another batch run took over the lapsed lock first") from None
        log.warning("batch run %s took over the lapsed lock of %s", run_id, info.get("run_id"))
    held.generation = blob.generation
    held.start()
    try:
        yield held
    finally:
        held.stop()
        if not held.lost:
            with contextlib.suppress(NotFound, PreconditionFailed):
                blob.delete(if_generation_match=held.generation)
