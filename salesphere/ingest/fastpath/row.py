"""The row of a clean, typed draft without pydantic: same row, faster, or "not sure".

``salesphere.model.finalize`` (pydantic) is the authority on what a valid event is, but
it costs ~70 µs per record, which alone caps ingest near 14k events/s on one core.
Almost every record is valid, so :func:`fast_row` checks the same constraints with
plain Python on values the adapters have already typed, and builds the row directly.
It only ever answers "valid, here is the row" or ``None``; anything it is not sure
about goes to pydantic (:func:`salesphere.ingest.validate.validate`), which produces the
rejects. The unit tests check that for every input the fast row equals
``finalize(...).to_row()`` and that the fast path never accepts a record pydantic refuses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from salesphere.identity import event_id_of, key_text
from salesphere.model import (
    DEFAULT_CURRENCY,
    FIELD_LIMITS,
    MAX_CLOCK_SKEW,
    MONEY_EVENTS,
    SCHEMA_VERSION,
    TIME_FORMAT,
    TRANSFER_EVENTS,
    Channel,
    EventType,
)

#: Allowed values and limits, all read from the model (``FIELD_LIMITS``), bound to module
#: names because :func:`fast_row` runs for every record.
EVENT_TYPES = frozenset(t.value for t in EventType)
MONEY_TYPES = frozenset(t.value for t in MONEY_EVENTS)
TRANSFER_TYPES = frozenset(t.value for t in TRANSFER_EVENTS)
CHANNELS = frozenset(c.value for c in Channel)
STORE_PATTERN = FIELD_LIMITS["store_id"].pattern
SKU_PATTERN = FIELD_LIMITS["sku"].pattern
CURRENCY_PATTERN = FIELD_LIMITS["currency"].pattern
_SOURCE_MIN, _SOURCE_MAX = FIELD_LIMITS["source"].min_length, FIELD_LIMITS["source"].max_length
_STORE_MAX = FIELD_LIMITS["store_id"].max_length
_SKU_MAX = FIELD_LIMITS["sku"].max_length
_QTY_MIN, _QTY_MAX = FIELD_LIMITS["quantity"].ge, FIELD_LIMITS["quantity"].le
_PRICE_MAX = FIELD_LIMITS["unit_price"].le
_ORDER_MAX = FIELD_LIMITS["order_id"].max_length
_LINE_MIN, _LINE_MAX = FIELD_LIMITS["line_number"].ge, FIELD_LIMITS["line_number"].le
_REF_MAX = FIELD_LIMITS["source_ref"].max_length
_COUNT_MIN, _COUNT_MAX = FIELD_LIMITS["counted_quantity"].ge, FIELD_LIMITS["counted_quantity"].le
_COUNTERPART_MAX = FIELD_LIMITS["counterpart_store_id"].max_length
_ZERO = Decimal("0.00")
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


# One flat function on purpose: it runs for every record, and a call costs more than its checks.
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
        and event_type in EVENT_TYPES
        and type(occurred) is datetime
        and occurred.tzinfo is not None
        and type(source) is str
        and _SOURCE_MIN <= len(source) <= _SOURCE_MAX
        and type(store_id) is str
        and len(store_id) <= _STORE_MAX
        and STORE_PATTERN.fullmatch(store_id)
        and type(sku) is str
        and len(sku) <= _SKU_MAX
        and SKU_PATTERN.fullmatch(sku)
        and type(quantity) is int
        and _QTY_MIN <= quantity <= _QTY_MAX
        and (unit_price is None or (price_text := _money_text(unit_price)) is not None)
        and (unit_price is None or unit_price <= _PRICE_MAX)
        and (discount_text := _money_text(discount)) is not None
        and type(currency) is str
        and CURRENCY_PATTERN.fullmatch(currency)
        and type(channel) is str
        and channel in CHANNELS
        # the optional fields, inlined: calls cost more than checks
        and (order_id is None or (type(order_id) is str and len(order_id) <= _ORDER_MAX))
        and (
            line_number is None
            or (type(line_number) is int and _LINE_MIN <= line_number <= _LINE_MAX)
        )
        and (source_ref is None or (type(source_ref) is str and len(source_ref) <= _REF_MAX))
        and (counted is None or (type(counted) is int and _COUNT_MIN <= counted <= _COUNT_MAX))
        and (
            counterpart is None
            or (type(counterpart) is str and len(counterpart) <= _COUNTERPART_MAX)
        )
    ):
        return None
    offset = occurred.utcoffset()
    if offset is None:
        return None
    occurred_utc = occurred.astimezone(UTC)
    if occurred_utc > received_at + MAX_CLOCK_SKEW:
        return None
    if event_type in MONEY_TYPES:
        if unit_price is None or not order_id or line_number is None or quantity == 0:
            return None
        if discount > unit_price * quantity:
            return None
    if (event_type == "stock_count") != (counted is not None):
        return None
    if event_type in TRANSFER_TYPES and not counterpart:
        return None
    if event_type == "void" and (not source_ref or quantity or unit_price is not None):
        return None
    if occurred_utc.year < 1000:  # strftime and isoformat disagree on padding there
        return None
    # isoformat is what strftime(TIME_FORMAT) writes for years >= 1000, at C speed
    occurred_text = occurred_utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00"
    key = key_text(
        event_type,
        store_id,
        sku,
        occurred_text[:19] + "Z",
        order_id,
        line_number,
        source_ref,
        counterpart,
    )
    event_id = event_id_of(key)
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
