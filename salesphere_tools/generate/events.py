"""The simulation's own record of what happened: compact, fast, convertible to a draft.

A :class:`SimEvent` is the ground truth behind every row the sources send. It keeps
money in integer cents and time as (day index, local second of day) so the hot loop
stays in plain ints; :func:`to_draft` turns it into the canonical
:class:`salesphere.model.EventDraft` shape, which tests feed through ``finalize``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from salesphere_tools.generate.catalog import ProductSpec, StoreSpec

#: Canonical ``source`` names of the four simulated source systems.
SOURCE_POS = "pos"
SOURCE_ECOMMERCE = "ecommerce"
SOURCE_SPREADSHEET = "spreadsheet"
SOURCE_INVENTORY = "inventory"

SECONDS_PER_DAY = 86_400


@dataclass(slots=True)
class SimEvent:
    """One business fact as simulated (store and SKU are indexes into the reference lists)."""

    kind: str  # an EventType value
    store: int
    day: int  # index of the store's local calendar day
    sod: int  # local second of day
    sku: int
    qty: int
    price: int = 0  # cents, money events only
    discount: int = 0  # cents, whole line
    order_id: str | None = None
    line: int | None = None
    doc: str | None = None  # inventory document (source_ref)
    counted: int | None = None
    counterpart: int | None = None
    terminal: str | None = None
    ref_day: int = 0  # returns: when the original sale happened
    ref_sod: int = 0
    oversell: bool = False  # injected stock-out defect: sold with nothing on hand

    def utc_seconds(self, stores: list[StoreSpec]) -> int:
        """Seconds since the first simulated day's UTC midnight (for global ordering)."""
        return self.day * SECONDS_PER_DAY + self.sod - stores[self.store].utc_offset_hours * 3600


@lru_cache(maxsize=4096)
def _iso_day(start: date, day: int) -> str:
    return (start + timedelta(days=day)).isoformat()


def local_timestamp(start: date, day: int, sod: int, offset_text: str) -> str:
    """ISO 8601 local time with offset, e.g. ``2026-11-01T14:03:27-03:00``."""
    day_text = _iso_day(start, day + sod // SECONDS_PER_DAY)
    sod %= SECONDS_PER_DAY
    return f"{day_text}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}{offset_text}"


def cents(value: int) -> str:
    """Integer cents as a plain decimal string (``1990`` -> ``"19.90"``)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def source_of(event: SimEvent, stores: list[StoreSpec]) -> str:
    """Which live source first reports this event."""
    if event.kind in ("sale", "return"):
        return SOURCE_ECOMMERCE if stores[event.store].online else SOURCE_POS
    return SOURCE_INVENTORY


def occurred_at(event: SimEvent, start: date, stores: list[StoreSpec]) -> datetime:
    """The event's instant as an aware UTC datetime."""
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return base + timedelta(seconds=event.utc_seconds(stores))


def to_draft(
    event: SimEvent, start: date, stores: list[StoreSpec], products: list[ProductSpec]
) -> dict[str, Any]:
    """The canonical draft a correct ingest mapping must produce for this event."""
    store = stores[event.store]
    money = event.kind in ("sale", "return")
    draft: dict[str, Any] = {
        "event_type": event.kind,
        "occurred_at": occurred_at(event, start, stores),
        "source": source_of(event, stores),
        "source_ref": event.doc if not money else event.order_id,
        "store_id": store.store_id,
        "sku": products[event.sku].sku,
        "quantity": event.qty,
        "channel": ("online" if store.online else "store") if money else "backoffice",
    }
    if money:
        draft["unit_price"] = Decimal(cents(event.price))
        draft["discount"] = Decimal(cents(event.discount))
        draft["order_id"] = event.order_id
        draft["line_number"] = event.line
    if event.counted is not None:
        draft["counted_quantity"] = event.counted
    if event.counterpart is not None:
        draft["counterpart_store_id"] = stores[event.counterpart].store_id
    return draft
