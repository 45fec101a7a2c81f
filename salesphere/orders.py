"""Purchase orders: what was ordered, from whom, for which store, and what has arrived.

An ERP exports its purchase order lines (number, line, supplier, store, SKU, quantity, unit
cost, ordered at, expected delivery, cancelled or not): :class:`PurchaseOrderLine` is one,
validated. Receipts (``stock_receipt`` events, most from suppliers' NF-e) are linked to
lines by :func:`link_receipts`:

1. a receipt that names its order (``xPed`` → ``order_id``, ``nItemPed`` → ``line_number``)
   goes to that line, when the line is for the same store and SKU;
2. any other receipt (or the rest of one larger than its named line) goes to the open lines
   of the same supplier (when known), store and SKU ordered at or before it, the oldest
   order first;
3. what no open line takes is reported as unmatched, with the reason; never spread on a
   guess to another SKU or store.

A cancelled line takes nothing and is never open. What is still open, and how many days
past its expected delivery, is :class:`LineStatus`: what an order-in-transit view and the
replenishment's ``on_order`` are built from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesphere.model import MAX_QUANTITY
from salesphere.taxid import TaxIdError, normalise_cnpj


class PurchaseOrderLine(BaseModel):
    """One line of a purchase order as the ERP exports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_./-]+$")
    line_number: int = Field(ge=1, le=10_000)
    supplier_cnpj: str
    store_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    quantity: int = Field(ge=1, le=MAX_QUANTITY, description="Units ordered.")
    unit_cost: Decimal = Field(ge=0, max_digits=18, decimal_places=2)
    ordered_at: datetime
    expected_delivery: date
    cancelled: bool = False

    @field_validator("supplier_cnpj", mode="before")
    @classmethod
    def _cnpj(cls, value: object) -> str:
        try:
            return normalise_cnpj(str(value))
        except TaxIdError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("ordered_at needs a timezone (or the store's, from the mapping)")
        return value

    @model_validator(mode="after")
    def _delivery_after_order(self) -> PurchaseOrderLine:
        if self.expected_delivery < self.ordered_at.date():
            raise ValueError(
                f"expected_delivery {self.expected_delivery} is before the order date "
                f"{self.ordered_at.date()}; check the two columns"
            )
        return self

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_number, self.line_number)


@dataclass(frozen=True)
class Receipt:
    """A received quantity as the receipt event carries it."""

    event_id: str
    store_id: str
    sku: str
    quantity: int
    occurred_at: datetime
    supplier_cnpj: str | None = None
    order_number: str | None = None
    order_line: int | None = None


@dataclass(frozen=True)
class Allocation:
    """Units of one receipt counted against one order line."""

    event_id: str
    order_number: str
    line_number: int
    quantity: int
    how: str  # "named" (xPed/nItemPed) or "oldest_first"


@dataclass(frozen=True)
class Unmatched:
    """Units of a receipt no open line could take, and why."""

    event_id: str
    quantity: int
    reason: str


@dataclass
class LineStatus:
    """An order line with what has arrived against it."""

    line: PurchaseOrderLine
    received: int = 0

    @property
    def open(self) -> int:
        return 0 if self.line.cancelled else max(0, self.line.quantity - self.received)

    def days_late(self, as_of: date) -> int:
        """Days past the expected delivery while units are still open (0 otherwise)."""
        if not self.open:
            return 0
        return max(0, (as_of - self.line.expected_delivery).days)


@dataclass
class Linked:
    """The result of :func:`link_receipts`."""

    lines: dict[tuple[str, int], LineStatus] = field(default_factory=dict)
    allocations: list[Allocation] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    def open_lines(self) -> list[LineStatus]:
        return [s for s in self.lines.values() if s.open]

    def on_order(self) -> dict[tuple[str, str], int]:
        """Units still on order per (store, SKU): what replenishment should subtract."""
        out: dict[tuple[str, str], int] = {}
        for status in self.open_lines():
            key = (status.line.store_id, status.line.sku)
            out[key] = out.get(key, 0) + status.open
        return out


def link_receipts(lines: Iterable[PurchaseOrderLine], receipts: Iterable[Receipt]) -> Linked:
    """Allocate receipts to order lines (see the module docstring); deterministic."""
    result = Linked()
    for line in sorted(lines, key=lambda x: (x.ordered_at, x.order_number, x.line_number)):
        result.lines[line.key] = LineStatus(line)  # a line exported twice: the last wins
    ordered = list(result.lines.values())
    for receipt in sorted(receipts, key=lambda r: (r.occurred_at, r.event_id)):
        left = receipt.quantity
        if receipt.order_number:
            left = _to_named(result, receipt, left)
        if left:
            left = _oldest_first(result, ordered, receipt, left)
        if left:
            result.unmatched.append(
                Unmatched(
                    receipt.event_id,
                    left,
                    f"{left} units of {receipt.sku} at {receipt.store_id} exceed every open "
                    "order line of that store and SKU"
                    + (f" from supplier {receipt.supplier_cnpj}" if receipt.supplier_cnpj else ""),
                )
            )
    return result


def _to_named(result: Linked, receipt: Receipt, left: int) -> int:
    candidates = [
        s
        for (number, line_number), s in result.lines.items()
        if number == receipt.order_number
        and (receipt.order_line is None or line_number == receipt.order_line)
        and s.line.store_id == receipt.store_id
        and s.line.sku == receipt.sku
        and s.open
    ]
    for status in candidates:
        take = min(left, status.open)
        status.received += take
        left -= take
        result.allocations.append(
            Allocation(
                receipt.event_id, status.line.order_number, status.line.line_number, take, "named"
            )
        )
        if not left:
            break
    return left


def _oldest_first(result: Linked, ordered: list[LineStatus], receipt: Receipt, left: int) -> int:
    for status in ordered:
        line = status.line
        if not status.open or line.store_id != receipt.store_id or line.sku != receipt.sku:
            continue
        if line.ordered_at > receipt.occurred_at:  # goods that arrived before the order
            continue
        if receipt.supplier_cnpj and line.supplier_cnpj != receipt.supplier_cnpj:
            continue
        take = min(left, status.open)
        status.received += take
        left -= take
        result.allocations.append(
            Allocation(receipt.event_id, line.order_number, line.line_number, take, "oldest_first")
        )
        if not left:
            break
    return left


def receipt_from_event(row: dict[str, Any]) -> Receipt | None:
    """A ``stock_receipt`` warehouse row as a :class:`Receipt` (``None`` for other types).

    A receipt read from a supplier's NF-e carries the buyer's order number (``xPed``) as
    ``order_id`` and its line (``nItemPed``) as ``line_number``; the event does not carry
    the supplier, so such receipts are linked by store and SKU when they name no order.
    """
    if row.get("event_type") != "stock_receipt":
        return None
    occurred = row["occurred_at"]
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
    return Receipt(
        event_id=str(row["event_id"]),
        store_id=str(row["store_id"]),
        sku=str(row["sku"]),
        quantity=int(row["quantity"]),
        occurred_at=occurred,
        order_number=row.get("order_id") or None,
        order_line=row.get("line_number"),
    )
