"""Envelopes: many canonical events in one Pub/Sub message / one archive line.

Pub/Sub bills every request as at least 1 KB, and Beam's DirectRunner pays per message,
so ingest packs up to ``Settings.envelope_max_events`` events per message. The envelope
id is derived from the ids it carries, so a retried request produces the same envelope.

Wire format (UTF-8 JSON, one line)::

    {"envelope_id": "...", "source": "pos", "received_at": "2026-11-28T14:03:00.000000Z",
     "schema_version": 1, "events": [<CanonicalEvent.to_row()>, ...]}

Message attributes repeat ``envelope_id``, ``source``, ``schema_version`` and
``event_count`` so consumers can route and count without parsing the body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from salesphere.model import SCHEMA_VERSION, CanonicalEvent


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    source: str
    received_at: str
    events: tuple[dict[str, Any], ...]
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "source": self.source,
                "received_at": self.received_at,
                "schema_version": self.schema_version,
                "events": list(self.events),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()

    def attributes(self) -> dict[str, str]:
        return {
            "envelope_id": self.envelope_id,
            "source": self.source,
            "schema_version": str(self.schema_version),
            "event_count": str(len(self.events)),
        }

    @property
    def received_date(self) -> str:
        return self.received_at[:10]


def envelope_id_for(event_ids: Iterable[str]) -> str:
    """Stable id from the event ids (order-independent)."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()
    return digest[:32]


def pack(events: list[CanonicalEvent], source: str, max_events: int) -> Iterator[Envelope]:
    """Split accepted events into envelopes of at most ``max_events``."""
    for start in range(0, len(events), max_events):
        chunk = events[start : start + max_events]
        rows = tuple(event.to_row() for event in chunk)
        yield Envelope(
            envelope_id=envelope_id_for(row["event_id"] for row in rows),
            source=source,
            received_at=rows[0]["received_at"],
            events=rows,
        )


def unpack(data: bytes | str) -> Envelope:
    """Parse one envelope; raises ``ValueError`` with a reason on a malformed one."""
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"envelope is not valid JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ValueError("envelope must be an object with an 'events' list")
    try:
        return Envelope(
            envelope_id=str(body["envelope_id"]),
            source=str(body["source"]),
            received_at=str(body["received_at"]),
            events=tuple(body["events"]),
            schema_version=int(body.get("schema_version", SCHEMA_VERSION)),
        )
    except KeyError as exc:
        raise ValueError(f"envelope is missing {exc.args[0]!r}") from exc
