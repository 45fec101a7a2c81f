"""Small, valid canonical events and envelopes for the speed layer's tests and benchmark.

Built with :func:`salesphere.model.finalize`, so ids are derived exactly as ingest
derives them; the benchmark and tests exercise real rows, not hand-written dicts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from salesphere.envelope import Envelope, pack
from salesphere.model import CanonicalEvent, EventType, finalize, utcnow


def sale(
    store: str,
    sku: str,
    quantity: int,
    at: datetime,
    order: str,
    *,
    line: int = 1,
    received_at: datetime | None = None,
) -> CanonicalEvent:
    return finalize(
        {
            "event_type": EventType.SALE,
            "occurred_at": at,
            "source": "pos",
            "store_id": store,
            "sku": sku,
            "quantity": quantity,
            "unit_price": Decimal("10.00"),
            "order_id": order,
            "line_number": line,
        },
        received_at or utcnow(),
    )


def movement(
    kind: EventType,
    store: str,
    sku: str,
    quantity: int,
    at: datetime,
    doc: str,
    *,
    received_at: datetime | None = None,
) -> CanonicalEvent:
    """A stock movement without money: receipt, adjustment or transfer."""
    draft: dict[str, object] = {
        "event_type": kind,
        "occurred_at": at,
        "source": "inventory",
        "store_id": store,
        "sku": sku,
        "quantity": quantity,
        "source_ref": doc,
        "channel": "backoffice",
    }
    if kind in (EventType.TRANSFER_IN, EventType.TRANSFER_OUT):
        draft["counterpart_store_id"] = "S999"
    return finalize(draft, received_at or utcnow())


def void(voided: CanonicalEvent, *, received_at: datetime | None = None) -> CanonicalEvent:
    """The void a cancellation publishes for ``voided``: same store, SKU and time, nothing moved."""
    return finalize(
        {
            "event_type": EventType.VOID,
            "occurred_at": voided.occurred_at,
            "source": "nfe-event",
            "source_ref": voided.event_id,
            "store_id": voided.store_id,
            "sku": voided.sku,
            "quantity": 0,
            "channel": "backoffice",
        },
        received_at or utcnow(),
    )


def count(
    store: str, sku: str, counted: int, at: datetime, *, received_at: datetime | None = None
) -> CanonicalEvent:
    return finalize(
        {
            "event_type": EventType.STOCK_COUNT,
            "occurred_at": at,
            "source": "inventory",
            "store_id": store,
            "sku": sku,
            "quantity": 0,
            "counted_quantity": counted,
            "channel": "backoffice",
        },
        received_at or utcnow(),
    )


def envelope(events: list[CanonicalEvent], source: str = "pos") -> Envelope:
    """One envelope holding all ``events`` (tests want one message, not a split)."""
    (only,) = pack(events, source, max_events=max(1, len(events)))
    return only
