"""Tools for the fault-injection suite: a sender that retries, and the books to check.

The suite plays the part of SalesSphere's sources (POS terminals that retry on failure,
people who upload files twice) against a complete twin, breaks something on purpose,
and then checks that every record the platform accepted is served exactly once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from salesphere.gcp import clients
from salesphere.ingest import signing
from salesphere.settings import Settings
from salesphere_tools.local import processes
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.reconcile import reconcile

SENDER_ATTEMPTS = 40


@dataclass
class Books:
    """What the platform told the senders it accepted: the ids that must be served once."""

    accepted_ids: set[str] = field(default_factory=set)
    responses: list[int] = field(default_factory=list)

    def record(self, status: int, body: dict[str, Any]) -> None:
        self.responses.append(status)
        for result in body.get("results", []):
            if result.get("status") in {"accepted", "duplicate"}:
                self.accepted_ids.update(result.get("event_ids", []))


def send(settings: Settings, source: str, body: bytes, books: Books) -> int:
    """POST like a POS terminal: retry on 5xx/429/connection errors until accepted."""
    key_id, secret = settings.hmac_keys[0]
    delay = 0.2
    for _ in range(SENDER_ATTEMPTS):
        try:
            response = requests.post(
                f"{settings.ingest_url}/?source={source}",
                data=body,
                headers={"Content-Type": "application/json", **signing.sign(key_id, secret, body)},
                timeout=60,
            )
        except requests.ConnectionError:
            books.responses.append(0)
        else:
            if response.status_code < 500 and response.status_code != 429:
                books.record(response.status_code, response.json())
                return response.status_code
            books.responses.append(response.status_code)
        time.sleep(delay)  # a sender's retry back-off, not a readiness check
        delay = min(delay * 2, 2.0)
    raise AssertionError(f"ingest never accepted the batch after {SENDER_ATTEMPTS} attempts")


def live_batches(data: Path, day_index: int) -> list[tuple[str, bytes]]:
    """The generator's live batches of one day, in sending order, as (source, body)."""
    days = sorted(p.name for p in (data / "live/pos").iterdir())
    day = days[day_index]
    out = []
    for source in ("pos", "ecommerce"):
        for path in sorted((data / "live" / source / day).glob("*.json")):
            out.append((source, path.read_bytes()))
    return out


def split_batch(body: bytes, parts: int) -> list[bytes]:
    records = json.loads(body)
    size = max(1, len(records) // parts)
    return [json.dumps(records[i : i + size]).encode() for i in range(0, len(records), size)]


def query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    return clients.query_rows(settings, sql)


def served_ids(settings: Settings) -> list[str]:
    """Every event id the serving layer counts (batch part + speed part), with repeats."""
    rows = query(
        settings,
        """
        SELECT event_id FROM master.events
        WHERE received_at < (SELECT COALESCE(MAX(cutoff), TIMESTAMP '1970-01-01 00:00:00+00')
                             FROM batch.cutoff)
        UNION ALL
        SELECT event_id FROM serving.events_since_cutoff
        """,
    )
    return [r["event_id"] for r in rows]


def speed_ids(settings: Settings) -> set[str]:
    return {r["event_id"] for r in query(settings, "SELECT DISTINCT event_id FROM speed.events")}


def archive_ids(settings: Settings) -> set[str]:
    """Distinct event ids in the master dataset (the GCS archive)."""
    from salesphere import names
    from salesphere.envelope import unpack

    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    ids: set[str] = set()
    for blob in bucket.list_blobs(prefix=names.ARCHIVE_PREFIX + "/"):
        for line in blob.download_as_bytes().splitlines():
            if line.strip():
                ids.update(e["event_id"] for e in unpack(line).events)
    return ids


def assert_books_balance(settings: Settings, books: Books) -> None:
    """Reconcile passes and the served ids are exactly the accepted ids, each once."""
    result = reconcile(settings)
    assert result.ok, [f"{f.check}: expected {f.expected}, got {f.actual}" for f in result.findings]
    served = served_ids(settings)
    assert len(served) == len(set(served)), "an event is served twice"
    missing = books.accepted_ids - set(served)
    assert not missing, f"{len(missing)} accepted events are not served, e.g. {sorted(missing)[:3]}"


def kill(twin: Twin, component: str) -> None:
    """Stop one component abruptly (SIGKILL to its process group)."""
    record = twin.state.load()[component]
    import os
    import signal

    os.killpg(record.pid, signal.SIGKILL)
    eventually(lambda: not processes.is_running(record), timeout=10, what=f"{component} to die")


def pick_moment(rng: random.Random, items: Iterable[Any]) -> int:
    """A random index into ``items``: where in the run the fault strikes."""
    return rng.randrange(len(list(items)))
