"""The rule: a mapped record is a canonical event when the model says so.

:func:`validate` is the one door from a mapped draft to a warehouse row. pydantic
(:func:`salesphere.model.finalize`) decides what a valid event is and names every problem
with a reject; :func:`salesphere.ingest.fastpath.row.fast_row` only saves the cost of
asking it for drafts that are plainly clean, and answers exactly what it would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from salesphere.ingest.fastpath.row import fast_row
from salesphere.model import TIME_FORMAT, finalize
from salesphere.validation import Reject, rejects_from_error

__all__ = ["TIME_FORMAT", "validate"]


def validate(
    draft: dict[str, Any], received_at: datetime, received_text: str | None = None
) -> tuple[dict[str, Any] | None, list[Reject]]:
    """``(row, [])`` for a valid draft, ``(None, rejects)`` otherwise; pydantic decides."""
    row = fast_row(draft, received_at, received_text)
    if row is not None:
        return row, []
    try:
        event = finalize(draft, received_at)
    except ValidationError as exc:
        return None, rejects_from_error(exc, draft)
    return event.to_row(), []
