"""Envelope → ``speed.events`` rows, and the dead-letter rows for what cannot become one.

A Pub/Sub message is either a whole envelope we can read, or poison. Poison (not JSON,
no ``events`` list, an event that fails the canonical model) is never retried: retrying
cannot fix it, and a message that keeps failing would block its subscription until the
dead-letter policy parks it without a reason. Instead each poison part becomes a
``speed.dead_letters`` row carrying the error and the original payload, and the rest of
the envelope is still written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from salesphere.envelope import Envelope, unpack
from salesphere.model import CanonicalEvent

#: Dead-letter payloads are truncated so one huge poison message cannot fail the insert.
MAX_PAYLOAD_CHARS = 100_000


def timestamp(moment: datetime) -> str:
    """The warehouse's timestamp text (RFC 3339, UTC, microseconds), as ``to_row`` writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dead_letter(
    error: str,
    payload: bytes | str,
    *,
    message_id: str | None,
    envelope_id: str | None,
    failed_at: datetime,
) -> dict[str, Any]:
    """One ``speed.dead_letters`` row: what failed, why, and the bytes needed to replay it."""
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    return {
        "message_id": message_id,
        "envelope_id": envelope_id,
        "error": error[:2000],
        "payload": text[:MAX_PAYLOAD_CHARS],
        "failed_at": timestamp(failed_at),
    }


@dataclass
class Unpacked:
    """The result of reading one message: rows to write and dead letters to record."""

    envelope: Envelope | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


def event_row(event: CanonicalEvent, written_at: datetime) -> dict[str, Any]:
    """The ``speed.events`` row: the canonical row plus when the speed layer wrote it."""
    return {**event.to_row(), "written_at": timestamp(written_at)}


def unpack_message(data: bytes, *, message_id: str | None, written_at: datetime) -> Unpacked:
    """Read one Pub/Sub message body into speed rows.

    Each event is re-validated against the canonical model: ingest validated it already,
    but the speed layer must not trust a message it cannot prove came from ingest, and
    re-validation normalises the row exactly as the batch layer will. Duplicate ids within
    one envelope are written once.
    """
    try:
        envelope = unpack(data)
    except ValueError as exc:
        return Unpacked(
            None,
            dead_letters=[
                dead_letter(
                    str(exc), data, message_id=message_id, envelope_id=None, failed_at=written_at
                )
            ],
        )
    out = Unpacked(envelope)
    seen: set[str] = set()
    for raw in envelope.events:
        try:
            if not isinstance(raw, dict):
                raise TypeError(f"event must be an object, got {type(raw).__name__}")
            event = CanonicalEvent.from_row(raw)
        except (ValidationError, TypeError) as exc:
            reason = f"event failed the canonical model: {_short(exc)}"
            out.dead_letters.append(
                dead_letter(
                    reason,
                    json.dumps(raw, default=str),
                    message_id=message_id,
                    envelope_id=envelope.envelope_id,
                    failed_at=written_at,
                )
            )
            continue
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        out.rows.append(event_row(event, written_at))
    return out


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
            for err in exc.errors()
        )
    return str(exc)
