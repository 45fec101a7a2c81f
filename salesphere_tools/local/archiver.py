"""The twin's stand-in for the cloud's Pub/Sub → Cloud Storage subscription (master dataset).

In cloud, subscription ``events-archive`` is a Cloud Storage subscription: Pub/Sub itself
writes accepted envelopes into the archive bucket as text files, one message per line.
The emulator has no such subscription type, so locally this process does the same job:
it streaming-pulls ``events-archive``, and every second (or every
:data:`MAX_BATCH_MESSAGES` messages) writes one NDJSON object per receive date,

    gs://<archive>/events/received_date=YYYY-MM-DD/<first-received>-<digest>.ndjson

holding the envelopes exactly as published (one per line), and acks the messages only
after the write succeeded. A crash between write and ack redelivers and writes the
envelopes again in a new object: the archive is at-least-once and the batch layer
deduplicates by ``event_id``, exactly as it must for the cloud subscription.

Objects are created with ``if_generation_match=0``: the archive is append-only.

Run: ``python -m salesphere_tools.local.archiver`` (the twin starts it when this file exists).
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings

log = logging.getLogger("salesphere.archiver")
MAX_BATCH_MESSAGES = 1_000
FLUSH_SECONDS = 1.0


def received_date(data: bytes) -> str:
    """The envelope's receive date; undecodable messages go to ``unknown`` (still archived)."""
    try:
        value = json.loads(data).get("received_at", "")
    except (ValueError, AttributeError):
        return "unknown"
    return value[:10] if isinstance(value, str) and len(value) >= 10 else "unknown"


def object_name(date: str, first_received: float, payloads: list[bytes]) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(first_received))
    digest = hashlib.sha256(b"\n".join(payloads)).hexdigest()[:16]
    return f"{names.ARCHIVE_PREFIX}/received_date={date}/{stamp}-{digest}.ndjson"


def ndjson(payloads: list[bytes]) -> bytes:
    """Envelopes one per line; the text format the Cloud Storage subscription writes."""
    return b"".join(p.rstrip(b"\n") + b"\n" for p in payloads)


@dataclass
class Archiver:
    """Buffers pulled messages and writes them as immutable archive objects."""

    settings: Settings
    buffer: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    written: int = 0

    def __post_init__(self) -> None:
        self.bucket = clients.storage_client(self.settings).bucket(self.settings.buckets.archive)

    def receive(self, message: Any) -> None:
        with self.lock:
            self.buffer.append(message)

    def flush(self) -> int:
        """Write everything buffered, then ack it; on failure nack so Pub/Sub redelivers."""
        with self.lock:
            batch, self.buffer = self.buffer, []
        if not batch:
            return 0
        groups: dict[str, list[Any]] = defaultdict(list)
        for message in batch:
            groups[received_date(message.data)].append(message)
        for date, messages in groups.items():
            payloads = [m.data for m in messages]
            first = min(m.publish_time.timestamp() for m in messages)
            name = object_name(date, first, payloads)
            try:
                self.bucket.blob(name).upload_from_string(
                    ndjson(payloads), content_type="application/x-ndjson", if_generation_match=0
                )
            except Exception as exc:
                if "412" not in str(exc) and "Precondition" not in str(exc):
                    log.error("archive write %s failed, will redeliver: %s", name, exc)
                    for message in messages:
                        message.nack()
                    continue
            for message in messages:
                message.ack()
            self.written += len(messages)
            log.info("archived %d envelopes to %s", len(messages), name)
        return len(batch)

    def run(self, stop: threading.Event) -> None:
        """Pull and archive until ``stop``; survive the stream dying (emulator restart).

        The cloud's Cloud Storage subscription never stops; this stand-in must not either:
        when the streaming pull fails it flushes, waits and subscribes again, so a Pub/Sub
        restart delays archiving but loses nothing (unacknowledged messages come back).
        """
        from google.cloud import pubsub_v1

        path = clients.subscription_path(self.settings, names.SUB_EVENTS_ARCHIVE)
        flow = pubsub_v1.types.FlowControl(max_messages=MAX_BATCH_MESSAGES * 2)
        log.info("archiving %s into gs://%s", path, self.settings.buckets.archive)
        backoff = 0.5
        while not stop.is_set():
            subscriber = clients.subscriber(self.settings)
            future = subscriber.subscribe(path, callback=self.receive, flow_control=flow)
            try:
                while not stop.wait(FLUSH_SECONDS):
                    self.flush()
                    if future.done():
                        break
                    backoff = 0.5
            finally:
                future.cancel()
                self.flush()
                subscriber.close()
            if not stop.is_set():
                error = future.exception() if future.done() else None
                log.warning(
                    "streaming pull ended (%s); subscribing again in %.1f s", error, backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Archiver(Settings.from_env()).run(stop)


if __name__ == "__main__":
    main()
