"""Validate a mapped record once and produce its warehouse row: fast when it is clean.

``salesphere.model.finalize`` (pydantic) is the authority on what a valid event is, but
it costs ~70 µs per record, which alone caps ingest near 14k events/s on one core.
Almost every record is valid, so :func:`fast_row` checks the same constraints with
plain Python on values the adapters have already typed, and builds the row directly.
It only ever answers "valid, here is the row" or "not sure"; anything it is not sure
about goes to pydantic, which produces the rejects. The unit tests check that for every
input the fast row equals ``finalize(...).to_row()`` and that the fast path never
accepts a record pydantic refuses.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from salesphere.identity import EVENT_NAMESPACE
from salesphere.model import (
    DEFAULT_CURRENCY,
    MAX_CLOCK_SKEW,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    MONEY_EVENTS,
    SCHEMA_VERSION,
    Channel,
    EventType,
    finalize,
)
from salesphere.validation import Reject, rejects_from_error

_STORE = re.compile(r"[A-Za-z0-9_-]+")
_SKU = re.compile(r"[A-Za-z0-9_.-]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_EVENT_TYPES = frozenset(t.value for t in EventType)
_MONEY = frozenset(t.value for t in MONEY_EVENTS)
_TRANSFERS = frozenset(("transfer_out", "transfer_in"))
_CHANNELS = frozenset(c.value for c in Channel)
_ZERO = Decimal("0.00")
_MAX_MONEY_DIGITS = 18
_DRAFT_FIELDS = frozenset(
    (
        "event_type",
        "occurred_at",
        "source",
        "source_ref",
        "store_id",
        "sku",
        "quantity",
        "unit_price",
        "discount",
        "currency",
        "order_id",
        "line_number",
        "channel",
        "counted_quantity",
        "counterpart_store_id",
    )
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_NAMESPACE = EVENT_NAMESPACE.bytes


def event_id_of(natural_key: str) -> str:
    """``identity.derive_event_id`` for a natural key, without building a ``UUID`` object.

    UUIDv5 is SHA-1 of namespace + name with the version and variant bits set; doing it
    on bytes costs a fraction of ``uuid.uuid5``. A unit test checks it against
    ``derive_event_id`` for every event type.
    """
    raw = bytearray(hashlib.sha1(_NAMESPACE + natural_key.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _natural_key(
    event_type: str,
    store_id: str,
    sku: str,
    occurred_text: str,
    order_id: object,
    line_number: object,
    source_ref: object,
    counterpart: object,
) -> str:
    """``salesphere.identity.natural_key`` spelled out per event type (same strings)."""
    if event_type in _MONEY:
        return f"{event_type}|{order_id}|{line_number}"
    if event_type == "stock_count":
        return f"{event_type}|{store_id}|{sku}|{occurred_text[:19]}Z"
    if event_type in _TRANSFERS:
        return f"{event_type}|{source_ref}|{sku}|{store_id}|{counterpart}"
    return f"{event_type}|{store_id}|{sku}|{source_ref}"


#: ``str()`` of a Decimal with exponent -2, no sign and at most 18 digits, and nothing
#: else: such a Decimal never prints in scientific notation, so the text decides.
_MONEY_TEXT = re.compile(r"(?:0|[1-9]\d{0,15})\.\d{2}")


def _money_text(value: object) -> str | None:
    """The text of a money amount of the shape adapters produce (two places, at most 18
    digits, not negative), else ``None``. The text is the row's value too, so checking
    it costs one ``str`` instead of a digit tuple."""
    if type(value) is not Decimal:
        return None
    text = str(value)
    return text if _MONEY_TEXT.fullmatch(text) else None


def fast_row(
    draft: dict[str, Any], received_at: datetime, received_text: str | None = None
) -> dict[str, Any] | None:
    """The warehouse row for a clean, fully typed draft, or ``None`` when unsure.

    ``received_text`` is ``received_at`` already formatted (once per batch, not per row).
    """
    if not _DRAFT_FIELDS.issuperset(draft):
        return None
    get = draft.get
    event_type = get("event_type")
    occurred = get("occurred_at")
    source = get("source")
    store_id = get("store_id")
    sku = get("sku")
    quantity = get("quantity")
    unit_price = get("unit_price")
    discount = get("discount", _ZERO)
    currency = get("currency", DEFAULT_CURRENCY)
    channel = get("channel", "store")
    order_id = get("order_id")
    line_number = get("line_number")
    source_ref = get("source_ref")
    counted = get("counted_quantity")
    counterpart = get("counterpart_store_id")
    if not (
        type(event_type) is str
        and event_type in _EVENT_TYPES
        and type(occurred) is datetime
        and occurred.tzinfo is not None
        and type(source) is str
        and 1 <= len(source) <= 64
        and type(store_id) is str
        and len(store_id) <= 32
        and _STORE.fullmatch(store_id)
        and type(sku) is str
        and len(sku) <= 64
        and _SKU.fullmatch(sku)
        and type(quantity) is int
        and 0 <= quantity <= MAX_QUANTITY
        and (unit_price is None or (price_text := _money_text(unit_price)) is not None)
        and (unit_price is None or unit_price <= MAX_UNIT_PRICE)
        and (discount_text := _money_text(discount)) is not None
        and type(currency) is str
        and _CURRENCY.fullmatch(currency)
        and type(channel) is str
        and channel in _CHANNELS
        # the optional fields, inlined (_opt_str / _opt_int): calls cost more than checks
        and (order_id is None or (type(order_id) is str and len(order_id) <= 64))
        and (line_number is None or (type(line_number) is int and 1 <= line_number <= 10_000))
        and (source_ref is None or (type(source_ref) is str and len(source_ref) <= 256))
        and (counted is None or (type(counted) is int and 0 <= counted <= 10_000_000))
        and (counterpart is None or (type(counterpart) is str and len(counterpart) <= 32))
    ):
        return None
    offset = occurred.utcoffset()
    if offset is None:
        return None
    occurred_utc = occurred.astimezone(UTC)
    if occurred_utc > received_at + MAX_CLOCK_SKEW:
        return None
    if event_type in _MONEY:
        if unit_price is None or not order_id or line_number is None or quantity == 0:
            return None
        if discount > unit_price * quantity:
            return None
    if (event_type == "stock_count") != (counted is not None):
        return None
    if event_type in _TRANSFERS and not counterpart:
        return None
    if occurred_utc.year < 1000:  # strftime and isoformat disagree on padding there
        return None
    # isoformat is what strftime(TIME_FORMAT) writes for years >= 1000, at C speed
    occurred_text = occurred_utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00"
    event_id = event_id_of(
        _natural_key(
            event_type, store_id, sku, occurred_text, order_id, line_number, source_ref, counterpart
        )
    )
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_text,
        "received_at": received_text or received_at.strftime(TIME_FORMAT),
        "source": source,
        "source_ref": source_ref,
        "store_id": store_id,
        "sku": sku,
        "quantity": quantity,
        "unit_price": None if unit_price is None else price_text,
        "discount": discount_text,
        "currency": currency,
        "order_id": order_id,
        "line_number": line_number,
        "channel": channel,
        "counted_quantity": counted,
        "counterpart_store_id": counterpart,
        "schema_version": SCHEMA_VERSION,
    }


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
