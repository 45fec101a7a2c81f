"""Drain the ``events-archive`` pull subscription into the archive bucket (the master dataset).

Every accepted envelope is published once to ``events``; the ``events-archive``
subscription keeps a copy until a batch run takes it. At the start of each run
:func:`drain_archive` pulls the subscription in pages, writes what it pulled as one
newline-JSON object per receive date (usually one object a run),

    gs://<archive>/events/received_date=YYYY-MM-DD/<first-published>-<digest>.ndjson

holding the envelopes exactly as published, one per line (the layout the batch layer's
plan and pipeline read), and acknowledges the messages only after their objects exist.

Why the batch run writes the archive instead of a Pub/Sub Cloud Storage subscription:
such a subscription closes a file at least every 10 minutes while messages flow, so it
writes at least 4,320 objects a month (86 % of Cloud Storage's free 5,000 class A
operations on its own), and its throughput is billed apart from Pub/Sub's free 10 GiB.
A pull subscription's deliveries are ordinary Pub/Sub throughput, and one object a day is
30 class A operations a month (docs/infra.md, "What a month costs").

Exactly what is archived, and how often:

* **Nothing lost.** Messages are acknowledged only after every object holding them was
  written; a failed write (or a crash) leaves them unacknowledged, so Pub/Sub delivers
  them again to the next drain. On a failed write the drain hands them back at once
  (ack deadline 0) instead of waiting for the deadline.
* **Idempotent.** An object's name is derived from what it holds (the sorted message
  ids), and it is created with ``if_generation_match=0``: a drain that pulls again the
  very messages an earlier drain wrote but did not acknowledge finds the object already
  there and only acknowledges. A redelivery mixed with new messages is written again in
  a new object; the batch layer keeps the earliest copy of each ``event_id``, as it must
  for any at-least-once source, so nothing is counted twice.
* **Bounded memory.** A drain writes and acknowledges every :data:`MAX_CHUNK_BYTES`, so a
  week of backlog (the subscription's retention) never has to fit in the function at once,
  and no chunk outlives its ack deadline (``limits.ARCHIVE_ACK_DEADLINE_S``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings

log = logging.getLogger("salesphere.batch.archive")

#: Messages one pull asks for (Pub/Sub returns at most 1,000).
PAGE_MESSAGES = 1_000
#: A chunk is written and acknowledged once it holds this many bytes of envelopes.
MAX_CHUNK_BYTES = 32 * 1024 * 1024
#: Consecutive empty pulls that mean "drained": a pull may come back empty while messages
#: remain, so one empty answer is not proof.
EMPTY_PULLS = 2
#: Seconds one pull waits for messages before it counts as empty.
PULL_TIMEOUT_S = 5.0
#: Acknowledgement ids per acknowledge request (the request stays far below its 512 KB cap).
ACK_BATCH = 1_000


@dataclass
class DrainReport:
    """What one drain did: messages archived, objects written, chunks, and pulls made."""

    messages: int = 0
    objects: list[str] = field(default_factory=list)
    already_written: list[str] = field(default_factory=list)
    chunks: int = 0
    pulls: int = 0


def received_date(data: bytes) -> str:
    """The envelope's receive date; undecodable messages go to ``unknown`` (still archived)."""
    try:
        value = json.loads(data).get("received_at", "")
    except (ValueError, AttributeError):
        return "unknown"
    return value[:10] if isinstance(value, str) and len(value) >= 10 else "unknown"


def object_name(date: str, messages: list[Any]) -> str:
    """A name that depends only on which messages the object holds: a re-run finds it."""
    first = min(m.message.publish_time for m in messages)
    stamp = first.strftime("%Y%m%dT%H%M%S")
    ids = sorted(m.message.message_id for m in messages)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    return f"{names.ARCHIVE_PREFIX}/received_date={date}/{stamp}-{digest}.ndjson"


def ndjson(payloads: Iterable[bytes]) -> bytes:
    """Envelopes one per line, exactly as published."""
    return b"".join(p.rstrip(b"\n") + b"\n" for p in payloads)


def _is_precondition_failed(exc: Exception) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, gexc.PreconditionFailed) or "412" in str(exc)


def _pull_page(subscriber: Any, path: str) -> list[Any]:
    from google.api_core import exceptions as gexc

    try:
        response = subscriber.pull(
            request={"subscription": path, "max_messages": PAGE_MESSAGES},
            timeout=PULL_TIMEOUT_S,
        )
    except gexc.DeadlineExceeded:
        return []
    return list(response.received_messages)


def _pull_chunk(subscriber: Any, path: str, report: DrainReport) -> tuple[list[Any], bool]:
    """Pull until the chunk is full or the subscription is drained; (messages, drained)."""
    chunk: dict[str, Any] = {}  # message id -> received message (a page may repeat one)
    size = 0
    empty = 0
    while size < MAX_CHUNK_BYTES:
        page = _pull_page(subscriber, path)
        report.pulls += 1
        if not page:
            empty += 1
            if empty >= EMPTY_PULLS:
                return list(chunk.values()), True
            continue
        empty = 0
        for received in page:
            chunk.setdefault(received.message.message_id, received)
            size += len(received.message.data)
    return list(chunk.values()), False


def _write(bucket: Any, messages: list[Any], report: DrainReport) -> None:
    """One object per receive date; an object that already exists was written by a re-run."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for received in messages:
        groups[received_date(received.message.data)].append(received)
    for date, group in sorted(groups.items()):
        group.sort(key=lambda m: (m.message.publish_time, m.message.message_id))
        name = object_name(date, group)
        try:
            bucket.blob(name).upload_from_string(
                ndjson(m.message.data for m in group),
                content_type="application/x-ndjson",
                if_generation_match=0,
            )
        except Exception as exc:
            if not _is_precondition_failed(exc):
                raise
            report.already_written.append(name)
            log.info("archive object %s already written by an earlier drain", name)
            continue
        report.objects.append(name)


def _ack(subscriber: Any, path: str, ack_ids: list[str], deadline: int | None = None) -> None:
    for i in range(0, len(ack_ids), ACK_BATCH):
        batch = ack_ids[i : i + ACK_BATCH]
        if deadline is None:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": batch})
        else:
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": batch, "ack_deadline_seconds": deadline}
            )


def drain_archive(
    settings: Settings, *, subscriber: Any | None = None, bucket: Any | None = None
) -> DrainReport:
    """Archive everything waiting on ``events-archive``; acknowledge only what is written.

    ``subscriber`` and ``bucket`` default to the real clients; tests pass wrappers that
    fail at a chosen step.
    """
    subscriber = subscriber or clients.subscriber(settings)
    bucket = bucket or clients.storage_client(settings).bucket(settings.buckets.archive)
    path = clients.subscription_path(settings, names.SUB_EVENTS_ARCHIVE)
    report = DrainReport()
    drained = False
    while not drained:
        messages, drained = _pull_chunk(subscriber, path, report)
        if not messages:
            break
        ack_ids = [m.ack_id for m in messages]
        try:
            _write(bucket, messages, report)
        except Exception:
            log.exception("archive write failed; %d messages handed back", len(messages))
            try:
                _ack(subscriber, path, ack_ids, deadline=0)
            except Exception:  # the ack deadline hands them back anyway
                log.warning("could not hand the messages back; they return after the deadline")
            raise
        _ack(subscriber, path, ack_ids)
        report.messages += len(messages)
        report.chunks += 1
    log.info(
        "archived %d envelopes in %d objects (%d already written), %d pulls",
        report.messages,
        len(report.objects),
        len(report.already_written),
        report.pulls,
    )
    return report
