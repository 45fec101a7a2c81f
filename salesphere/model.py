"""The canonical event: the one shape every source is normalised into.

Everything downstream (archive, speed layer, batch layer, serving views) reads this
shape and nothing else, so it is defined once, here, and versioned. The JSON Schema
published for integrators is generated from this model (see ``salesphere.schema``).

Money is ``Decimal`` with two places (BRL by default) and timestamps are timezone-aware
UTC: the warehouse stores NUMERIC and TIMESTAMP, never floats or local times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from salesphere.identity import derive_event_id

SCHEMA_VERSION = 1
#: How a row writes a UTC timestamp (microseconds, ``Z``): the warehouse rows' one text form.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
DEFAULT_CURRENCY = "BRL"
#: Events claiming to happen further in the future than this are rejected: a
#: terminal with a wrong clock must not create sales for next year.
MAX_CLOCK_SKEW = timedelta(hours=1)
#: Quantities above this are almost certainly typos (an EAN typed into the
#: quantity column); they are rejected rather than silently inflating sales.
MAX_QUANTITY = 100_000
MAX_UNIT_PRICE = Decimal("1000000")


class EventType(StrEnum):
    """What happened. Sales and returns move money; the rest move stock.

    A ``void`` undoes one earlier event, whose id it carries in ``source_ref`` (a fiscal
    document cancelled after it was counted): every metric leaves out the voided event
    and the void itself, so the pair counts nowhere, and it is not a return.
    """

    SALE = "sale"
    RETURN = "return"
    STOCK_RECEIPT = "stock_receipt"
    STOCK_ADJUSTMENT = "stock_adjustment"
    STOCK_COUNT = "stock_count"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    VOID = "void"


MONEY_EVENTS = frozenset({EventType.SALE, EventType.RETURN})
TRANSFER_EVENTS = frozenset({EventType.TRANSFER_OUT, EventType.TRANSFER_IN})


class Channel(StrEnum):
    """Where a sale happened; stock events come from the back office."""

    STORE = "store"
    ONLINE = "online"
    BACKOFFICE = "backoffice"


Money = Annotated[Decimal, Field(max_digits=18, decimal_places=2)]


def _as_utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{field} has no timezone; send ISO 8601 with an offset, e.g. 2026-11-28T14:03:00-03:00"
        )
    return value.astimezone(UTC)


class CanonicalEvent(BaseModel):
    """One business fact, normalised. ``event_id`` is derived, never trusted from the source."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    event_id: str = Field(description="Deterministic id from the natural key (see identity.py).")
    event_type: EventType
    occurred_at: datetime = Field(description="When it happened (UTC). Aggregates use this.")
    received_at: datetime = Field(
        description="When the platform accepted it (UTC). The batch/speed cutoff uses this."
    )
    source: str = Field(min_length=1, max_length=64, description="Source system name.")
    source_ref: str | None = Field(
        default=None, max_length=256, description="The source's own id or file/row reference."
    )
    store_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    quantity: int = Field(
        ge=0,
        le=MAX_QUANTITY,
        description="Units moved (always positive; the type gives direction).",
    )
    unit_price: Money | None = Field(default=None, ge=0, le=MAX_UNIT_PRICE)
    discount: Money = Field(default=Decimal("0.00"), ge=0)
    currency: str = Field(default=DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")
    order_id: str | None = Field(default=None, max_length=64)
    line_number: int | None = Field(default=None, ge=1, le=10_000)
    channel: Channel = Channel.STORE
    counted_quantity: int | None = Field(
        default=None, ge=0, le=10_000_000, description="stock_count only: absolute units on hand."
    )
    counterpart_store_id: str | None = Field(
        default=None, max_length=32, description="Transfers only: the other store."
    )
    schema_version: int = SCHEMA_VERSION

    @field_validator("occurred_at")
    @classmethod
    def _occurred_utc(cls, value: datetime) -> datetime:
        return _as_utc(value, "occurred_at")

    @field_validator("received_at")
    @classmethod
    def _received_utc(cls, value: datetime) -> datetime:
        return _as_utc(value, "received_at")

    @model_validator(mode="after")
    def _rules_per_type(self) -> CanonicalEvent:
        if self.occurred_at > self.received_at + MAX_CLOCK_SKEW:
            raise ValueError(
                "occurred_at is in the future relative to received_at; check the sender's clock"
            )
        if self.event_type in MONEY_EVENTS:
            if self.unit_price is None:
                raise ValueError(f"unit_price is required for {self.event_type.value}")
            if not self.order_id or self.line_number is None:
                raise ValueError(
                    f"order_id and line_number are required for {self.event_type.value}"
                )
            if self.quantity == 0:
                raise ValueError(f"quantity must be at least 1 for {self.event_type.value}")
            if self.discount > self.unit_price * self.quantity:
                raise ValueError("discount exceeds the line's gross amount")
        if self.event_type is EventType.STOCK_COUNT and self.counted_quantity is None:
            raise ValueError("counted_quantity is required for stock_count")
        if self.event_type is not EventType.STOCK_COUNT and self.counted_quantity is not None:
            raise ValueError("counted_quantity is only allowed on stock_count")
        if self.event_type in TRANSFER_EVENTS and not self.counterpart_store_id:
            raise ValueError(f"counterpart_store_id is required for {self.event_type.value}")
        if self.event_type is EventType.VOID:
            if not self.source_ref:
                raise ValueError("source_ref (the voided event's id) is required for void")
            if self.quantity or self.unit_price is not None:
                raise ValueError("a void moves nothing itself: quantity 0 and no unit_price")
        return self

    # -- serialisation -------------------------------------------------------------------

    def to_row(self) -> dict[str, Any]:
        """The warehouse row: JSON-safe, money as strings (NUMERIC), times as RFC 3339 UTC."""
        row = self.model_dump(mode="json")
        for key in ("occurred_at", "received_at"):
            row[key] = getattr(self, key).strftime(TIME_FORMAT)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CanonicalEvent:
        """Inverse of :meth:`to_row`; trusts the stored id (already derived at ingest)."""
        return cls.model_validate(row)


@dataclass(frozen=True)
class FieldLimit:
    """One field's limits exactly as :class:`CanonicalEvent` declares them.

    For code that checks values without pydantic (the ingest fast paths): they read their
    bounds from :data:`FIELD_LIMITS`, so changing a ``Field(...)`` above changes them too.
    ``pattern`` is compiled for ``fullmatch`` (the model's ``^...$`` anchors dropped).
    """

    min_length: int = 0
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    ge: Any = None
    le: Any = None


def _field_limits(model: type[BaseModel]) -> dict[str, FieldLimit]:
    """Every constrained field of ``model`` with its length, pattern and range limits."""
    out = {}
    for name, info in model.model_fields.items():
        found: dict[str, Any] = {}
        for item in info.metadata:
            for key in ("min_length", "max_length", "ge", "le"):
                if getattr(item, key, None) is not None:
                    found[key] = getattr(item, key)
            pattern = getattr(item, "pattern", None)
            if pattern is not None:
                found["pattern"] = re.compile(pattern.removeprefix("^").removesuffix("$"))
        if found:
            out[name] = FieldLimit(**found)
    return out


#: Field name -> its limits, read from the model (see :class:`FieldLimit`).
FIELD_LIMITS: dict[str, FieldLimit] = _field_limits(CanonicalEvent)


class EventDraft(BaseModel):
    """A record mapped from a source but not yet identified or stamped.

    Source adapters produce drafts; :func:`finalize` turns a draft into a
    :class:`CanonicalEvent` by deriving its id and stamping ``received_at``. Keeping the
    two apart means no source can choose its own ``event_id`` (which would break
    cross-source deduplication: the live POS feed and the end-of-day spreadsheet must
    agree on identity).
    """

    model_config = ConfigDict(extra="forbid")

    event_type: EventType
    occurred_at: datetime
    source: str
    source_ref: str | None = None
    store_id: str
    sku: str
    quantity: int
    unit_price: Decimal | None = None
    discount: Decimal = Decimal("0.00")
    currency: str = DEFAULT_CURRENCY
    order_id: str | None = None
    line_number: int | None = None
    channel: Channel = Channel.STORE
    counted_quantity: int | None = None
    counterpart_store_id: str | None = None


def finalize(draft: EventDraft | dict[str, Any], received_at: datetime) -> CanonicalEvent:
    """Validate a draft, derive its identity and stamp its receive time.

    Raises ``pydantic.ValidationError``; callers turn it into rejects with
    :func:`salesphere.validation.rejects_from_error`.
    """
    data = draft.model_dump() if isinstance(draft, EventDraft) else dict(draft)
    data.pop("event_id", None)
    data["received_at"] = received_at
    data.setdefault("schema_version", SCHEMA_VERSION)
    # Identity must be computed from validated, normalised values; validate once
    # with a placeholder id, then rebuild with the derived one.
    probe = CanonicalEvent.model_validate({**data, "event_id": "pending"})
    event_id = derive_event_id(
        event_type=probe.event_type.value,
        store_id=probe.store_id,
        sku=probe.sku,
        occurred_at=probe.occurred_at,
        order_id=probe.order_id,
        line_number=probe.line_number,
        source_ref=probe.source_ref,
        counterpart_store_id=probe.counterpart_store_id,
    )
    return probe.model_copy(update={"event_id": event_id})


def utcnow() -> datetime:
    """The platform's clock; one place so tests can reason about it."""
    return datetime.now(UTC)
