"""Publish envelopes of accepted events to the ``events`` topic, confirmed before answering.

Ingest answers a sender 2xx only after Pub/Sub has acknowledged every envelope of the
request (all futures resolved), so an accepted record is never only in memory. If any
publish fails the whole request fails with :class:`PublishError` and the sender retries;
the retry carries the same event ids and envelope ids, so consumers deduplicate it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import orjson

from salesphere import names
from salesphere.envelope import Envelope, envelope_id_for
from salesphere.gcp import clients
from salesphere.settings import Settings

PUBLISH_TIMEOUT_SECONDS = 30.0


class PublishError(RuntimeError):
    """Pub/Sub did not confirm a publish; the caller answers 503 so the sender retries."""


def pack_rows(rows: Sequence[dict[str, Any]], source: str, max_events: int) -> Iterator[Envelope]:
    """Same envelopes as :func:`salesphere.envelope.pack`, built from rows already serialised.

    The fast validation path produces warehouse rows directly; this avoids rebuilding
    pydantic models just to serialise them again (a test checks both agree byte for byte).
    """
    for start in range(0, len(rows), max_events):
        chunk = tuple(rows[start : start + max_events])
        yield Envelope(
            envelope_id=envelope_id_for(row["event_id"] for row in chunk),
            source=source,
            received_at=chunk[0]["received_at"],
            events=chunk,
        )


def envelope_bytes(envelope: Envelope) -> bytes:
    """``envelope.to_json()``, byte for byte, serialised by orjson (several times faster).

    orjson writes compact UTF-8 with the same escapes as ``json.dumps(...,
    ensure_ascii=False, separators=(",", ":"))`` for strings, integers and nulls, which
    is all a warehouse row holds (money and times are strings; a unit test checks random
    text). What orjson refuses (an integer beyond 64 bits) goes through the standard
    library instead.
    """
    try:
        return orjson.dumps(
            {
                "envelope_id": envelope.envelope_id,
                "source": envelope.source,
                "received_at": envelope.received_at,
                "schema_version": envelope.schema_version,
                "events": list(envelope.events),
            }
        )
    except (orjson.JSONEncodeError, TypeError):
        return envelope.to_json()


class EnvelopePublisher:
    """One Pub/Sub publisher per process; ``publish`` blocks until every envelope is stored."""

    def __init__(self, settings: Settings, topic: str = names.TOPIC_EVENTS) -> None:
        self.settings = settings
        self.client = clients.publisher(settings, batch_max_messages=100)
        self.topic = clients.topic_path(settings, topic)

    def start(self, envelopes: Iterable[Envelope]) -> list[Future]:
        """Hand envelopes to the client's batcher; resolve the futures with :meth:`wait`."""
        return [
            self.client.publish(self.topic, envelope_bytes(env), **env.attributes())
            for env in envelopes
        ]

    def publish_bytes(self, data: bytes, **attributes: str) -> Future:
        return self.client.publish(self.topic, data, **attributes)

    @staticmethod
    def wait(futures: Iterable[Future], timeout: float = PUBLISH_TIMEOUT_SECONDS) -> list[str]:
        """Message ids once all are confirmed; :class:`PublishError` if any is not."""
        ids = []
        failure: BaseException | None = None
        for future in futures:
            try:
                ids.append(future.result(timeout=timeout))
            except Exception as exc:  # keep waiting on the rest before reporting
                failure = failure or exc
        if failure is not None:
            raise PublishError(f"Pub/Sub did not confirm a publish: {failure}") from failure
        return ids

    def publish(self, envelopes: Iterable[Envelope]) -> list[str]:
        return self.wait(self.start(envelopes))

    def close(self) -> None:
        """Flush what is pending and stop the client (wait on futures first: stopping early cut ordered batches short)."""
        self.client.stop()
