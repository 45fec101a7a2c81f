"""One batch run at a time: a lock object in GCS, created only if absent.

Cloud Scheduler delivers at least once and an operator may type ``salesphere batch run``
while the schedule fires; two runs committing concurrently would not double anything
(each commit is a full replace) but would waste a run and race on the cutoff, so the
second one refuses. Creation uses ``if_generation_match=0`` (GCS creates the object only
when none exists); a lock older than its TTL belongs to a crashed run and is taken over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from salesphere.io import clients
from salesphere.model import utcnow
from salesphere.settings import Settings

LOCK_OBJECT = "batch/lock.json"
DEFAULT_TTL = timedelta(hours=2)


class RunInProgress(RuntimeError):
    """Another batch run holds the lock."""


@contextmanager
def run_lock(settings: Settings, run_id: str, ttl: timedelta = DEFAULT_TTL) -> Iterator[None]:
    """Hold the lock for the ``with`` block; raises :class:`RunInProgress` if taken."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    bucket = clients.storage_client(settings).bucket(settings.buckets.artifacts)
    blob = bucket.blob(LOCK_OBJECT)
    body = json.dumps({"run_id": run_id, "acquired_at": utcnow().isoformat()})
    try:
        blob.upload_from_string(body, if_generation_match=0)
    except PreconditionFailed:
        holder = bucket.get_blob(LOCK_OBJECT)
        info = json.loads(holder.download_as_bytes()) if holder else {}
        acquired = datetime.fromisoformat(info.get("acquired_at", utcnow().isoformat()))
        if holder is None or utcnow() - acquired <= ttl:
            raise RunInProgress(
                f"batch run {info.get('run_id', '?')} has held the lock since "
                f"{acquired:%Y-%m-%d %H:%M:%S} UTC; wait for it to finish (or, if it "
                f"crashed, the lock expires after {ttl}; delete gs://"
                f"{settings.buckets.artifacts}/{LOCK_OBJECT} to release it now)"
            ) from None
        # A crashed run's lock: replace it only if nobody replaced it first.
        blob.upload_from_string(body, if_generation_match=holder.generation)
    try:
        yield
    finally:
        try:
            mine = bucket.get_blob(LOCK_OBJECT)
            if mine is not None and json.loads(mine.download_as_bytes()).get("run_id") == run_id:
                mine.delete(if_generation_match=mine.generation)
        except NotFound:
            pass
