"""Transfers between our stores through the register: issued, in transit, received.

The NF-e moves the units out of the sender; the receiver's confirmation of the operation
(210200) moves them in, whichever of the two arrives first; a cancellation before the
receipt takes the transfer back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.intake import take
from salesphere.fiscal.register import FiscalRegister, MemoryStore
from salesphere.identity import derive_event_id
from salesphere.ingest.validate import validate
from tests.salesphere.fiscal.samples import (
    STORE_RJ,
    STORE_SP,
    SUPPLIER,
    Line,
    build,
    cancellation,
    confirmation,
    key_of,
)
from tests.salesphere.fiscal.test_convert import CATALOG, RECEIVED

TRANSFER = build(
    model="55",
    issuer=STORE_SP,
    recipient=STORE_RJ,
    lines=[Line("SKU-1", "6", "2.00", cfop="5152"), Line("SKU-2", "2", "3.00", cfop="5152")],
)
KEY = key_of(TRANSFER)
CONFIRMED = confirmation(KEY, author=STORE_RJ, when="2026-11-29T10:00:00-03:00")
CONFIRMED_AT = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


def rows(drafts) -> list[dict]:
    out = []
    for draft in drafts:
        row, problems = validate(draft, RECEIVED)
        assert not problems, problems
        out.append(row)
    return out


def counted(register: FiscalRegister, data: bytes) -> list[dict]:
    """Take a document as ingest does: its rows, then recorded with their ids."""
    intake = take(data, CATALOG, register)
    published = rows(intake.conversion.drafts)
    register.record_document(intake.item, [r["event_id"] for r in published], published)
    return published


def receipt_id(sku: str, item: int) -> str:
    return derive_event_id(
        event_type="transfer_in",
        store_id="RJ01",
        sku=sku,
        occurred_at=CONFIRMED_AT,
        source_ref=f"{KEY}/{item}",
        counterpart_store_id="SP01",
    )


def test_the_receivers_confirmation_after_the_transfer_is_its_transfer_in() -> None:
    register = FiscalRegister(MemoryStore())
    outs = counted(register, TRANSFER)
    assert [(r["event_type"], r["store_id"]) for r in outs] == [("transfer_out", "SP01")] * 2
    intake = take(CONFIRMED, CATALOG, register)
    assert intake.conversion.kind == "receipt_confirmation" and not intake.duplicate
    ins = rows(intake.conversion.drafts)
    assert [
        (r["event_type"], r["store_id"], r["counterpart_store_id"], r["sku"], r["quantity"])
        for r in ins
    ] == [("transfer_in", "RJ01", "SP01", "SKU-1", 6), ("transfer_in", "RJ01", "SP01", "SKU-2", 2)]
    assert [r["source_ref"] for r in ins] == [o["source_ref"] for o in outs]
    assert {r["occurred_at"] for r in ins} == {"2026-11-29T13:00:00.000000Z"}
    assert {r["source"] for r in ins} == {"nfe-event"}
    assert [r["event_id"] for r in ins] == [receipt_id("SKU-1", 1), receipt_id("SKU-2", 2)]
    # A second confirmation (other bytes, later time) is the same receipt: a duplicate.
    again = take(
        confirmation(KEY, author=STORE_RJ, when="2026-11-30T09:00:00-03:00"), CATALOG, register
    )
    assert again.duplicate
    assert rows(again.conversion.drafts) == ins


def test_a_confirmation_before_its_transfer_is_parked_and_applied_when_it_arrives() -> None:
    register = FiscalRegister(MemoryStore())
    first = take(CONFIRMED, CATALOG, register)
    assert (first.conversion.kind, first.conversion.drafts) == ("receipt_confirmation", ())
    assert first.confirmation is not None and not first.confirmation.document_known
    published = counted(register, TRANSFER)
    issued = published[0]["occurred_at"]
    assert [(r["event_type"], r["store_id"], r["occurred_at"]) for r in published] == [
        ("transfer_out", "SP01", issued),
        ("transfer_out", "SP01", issued),
        ("transfer_in", "RJ01", "2026-11-29T13:00:00.000000Z"),
        ("transfer_in", "RJ01", "2026-11-29T13:00:00.000000Z"),
    ]
    assert [r["event_id"] for r in published[2:]] == [
        receipt_id("SKU-1", 1),
        receipt_id("SKU-2", 2),
    ]
    # Confirmed again after the document: the same receipts, answered as a duplicate.
    again = take(CONFIRMED, CATALOG, register)
    assert again.duplicate
    assert [r["event_id"] for r in rows(again.conversion.drafts)] == [
        r["event_id"] for r in published[2:]
    ]


def test_only_the_receiving_store_confirms_a_receipt() -> None:
    register = FiscalRegister(MemoryStore())
    counted(register, TRANSFER)
    by_sender = take(confirmation(KEY, author=STORE_SP), CATALOG, register)
    assert by_sender.conversion.drafts == ()
    assert "not by the receiving store" in by_sender.conversion.note
    by_outsider = take(confirmation(KEY, author=SUPPLIER), CATALOG, register)
    assert by_outsider.conversion.drafts == () and by_outsider.confirmation is None


def test_a_confirmation_of_a_suppliers_delivery_counts_nothing_more() -> None:
    register = FiscalRegister(MemoryStore())
    delivery = build(model="55", issuer=SUPPLIER, recipient=STORE_SP,
                     lines=[Line("CX-77", "1", "24.00")])  # fmt: skip
    counted(register, delivery)
    intake = take(confirmation(key_of(delivery), author=STORE_SP), CATALOG, register)
    assert intake.conversion.drafts == ()
    assert "not a transfer" in intake.conversion.note


def test_a_cancellation_before_the_receipt_voids_the_transfer_out() -> None:
    register = FiscalRegister(MemoryStore())
    outs = counted(register, TRANSFER)
    result = take(cancellation(KEY, author=STORE_SP), CATALOG, register).cancellation
    assert result is not None and result.document_counted
    assert [v["event_id"] for v in result.voided_events] == [o["event_id"] for o in outs]
    assert [(v["store_id"], v["sku"]) for v in result.voided_events] == [
        ("SP01", "SKU-1"),
        ("SP01", "SKU-2"),
    ]
    # A confirmation after the cancellation publishes no receipt.
    late = take(CONFIRMED, CATALOG, register)
    assert late.conversion.drafts == () and "cancelled" in late.conversion.note


def test_a_cancellation_after_the_receipt_voids_both_legs() -> None:
    register = FiscalRegister(MemoryStore())
    outs = counted(register, TRANSFER)
    ins = rows(take(CONFIRMED, CATALOG, register).conversion.drafts)
    result = take(cancellation(KEY, author=STORE_SP), CATALOG, register).cancellation
    assert result is not None
    assert [v["event_id"] for v in result.voided_events] == [r["event_id"] for r in [*outs, *ins]]
    assert [v["store_id"] for v in result.voided_events] == ["SP01", "SP01", "RJ01", "RJ01"]


def test_a_cancellation_first_keeps_the_transfer_and_its_receipt_out() -> None:
    register = FiscalRegister(MemoryStore())
    take(cancellation(KEY, author=STORE_SP), CATALOG, register)
    assert take(CONFIRMED, CATALOG, register).conversion.drafts == ()
    with pytest.raises(FiscalRejected) as caught:
        take(TRANSFER, CATALOG, register)
    assert caught.value.rule == "cancelled"
