"""What ingest tells a sender, and what it keeps about every record it refused.

A batch is answered record by record: each input record is ``accepted`` (with the ids
of the events it produced), ``duplicate`` (its events repeat ones earlier in the same
batch, so nothing new is published) or ``rejected`` (with field-level reasons). Every
rejected record becomes :class:`QuarantineRecord` rows carrying the original payload,
so nothing is silently dropped and a reject can be replayed once it is fixed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from salesphere.validation import Reject

ACCEPTED = "accepted"
REJECTED = "rejected"
DUPLICATE = "duplicate"
#: Payloads kept in quarantine are truncated to this many characters.
MAX_PAYLOAD_CHARS = 8_000


@dataclass(slots=True)
class RecordResult:
    """The answer for one input record (``index`` is 0-based in a batch, or a file row)."""

    index: int
    status: str
    event_ids: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    column: str | None = None  # file drops: the header of the offending column

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_ids:
            out["event_ids"] = self.event_ids
        if self.rejects:
            out["errors"] = [
                {"field": r.field, "rule": r.rule, "message": r.message, "value": r.value}
                for r in self.rejects
            ]
        return out


@dataclass(slots=True)
class RequestCounts:
    """Counts for ``ops.ingest_log`` and the HTTP answer."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    events: int = 0

    def add(self, result: RecordResult) -> None:
        self.received += 1
        if result.status == ACCEPTED:
            self.accepted += 1
            self.events += len(result.event_ids)
        elif result.status == DUPLICATE:
            self.duplicate += 1
        else:
            self.rejected += 1

    def to_json(self) -> dict[str, int]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicate": self.duplicate,
            "events": self.events,
        }


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One broken rule of one refused record, shaped like a row of ``ops.rejects``."""

    request_id: str
    source: str
    location: str
    field: str | None
    rule: str
    message: str
    value: str | None
    payload: str
    received_at: str

    @property
    def reject_id(self) -> str:
        """Deterministic, so a retried request writes the same reject ids (insertId dedup)."""
        key = "|".join((self.request_id, self.location, self.field or "", self.rule))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_row(self) -> dict[str, Any]:
        return {
            "reject_id": self.reject_id,
            "request_id": self.request_id,
            "source": self.source,
            "location": self.location,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
            "value": self.value,
            "payload": self.payload,
            "received_at": self.received_at,
        }


def payload_text(record: object) -> str:
    """The original record as text for quarantine (JSON when it is structured)."""
    if isinstance(record, str):
        text = record
    else:
        try:
            text = json.dumps(record, ensure_ascii=False, default=str, sort_keys=True)
        except (TypeError, ValueError):
            text = repr(record)
    return text if len(text) <= MAX_PAYLOAD_CHARS else text[:MAX_PAYLOAD_CHARS] + "…"


def quarantine_rows(
    result: RecordResult,
    *,
    request_id: str,
    source: str,
    location: str,
    payload: str,
    received_at: str,
) -> list[QuarantineRecord]:
    """One :class:`QuarantineRecord` per broken rule of a rejected record."""
    return [
        QuarantineRecord(
            request_id=request_id,
            source=source,
            location=location,
            field=reject.field,
            rule=reject.rule,
            message=reject.message,
            value=reject.value,
            payload=payload,
            received_at=received_at,
        )
        for reject in result.rejects
    ]
