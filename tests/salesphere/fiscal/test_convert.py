"""What each fiscal document becomes, the register's duplicates, conflicts and cancellations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesphere.fiscal.convert import (
    DEFAULT_POLICY,
    FiscalCatalog,
    FiscalPolicy,
    StoreRef,
    SupplierItem,
    convert,
)
from salesphere.fiscal.document import FiscalDocument, read
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.intake import take
from salesphere.fiscal.register import FiscalRegister, MemoryStore
from salesphere.identity import derive_event_id
from salesphere.ingest.validate import validate
from tests.salesphere.fiscal.samples import (
    CUSTOMER_CO,
    STORE_RJ,
    STORE_SP,
    SUPPLIER,
    SUPPLIER_ALNUM,
    VALID_SAMPLES,
    WEB_SHOP,
    Line,
    build,
    cancellation,
    event,
    key_of,
)

GTIN_1 = "7897846901683"
CATALOG = FiscalCatalog.build(
    stores=[
        (STORE_SP, StoreRef("SP01")),
        (STORE_RJ, StoreRef("RJ01", timezone="America/Sao_Paulo")),
        (WEB_SHOP, StoreRef("WEB", channel="online")),
    ],
    products=[("SKU-1", GTIN_1), ("SKU-2", None), ("SKU-3", None)],
    supplier_items=[
        SupplierItem(SUPPLIER, "CX-77", "SKU-2", 12),
        SupplierItem(SUPPLIER_ALNUM, "A-1", "SKU-3", 6),
    ],
)
RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LAX = FiscalPolicy(accept_unauthorised=True)


def doc(data: bytes) -> FiscalDocument:
    document = read(data)
    assert isinstance(document, FiscalDocument)
    return document


def rows_of(data: bytes, policy: FiscalPolicy = DEFAULT_POLICY) -> list[dict]:
    """The warehouse rows ingest's own validation makes of the drafts."""
    out = []
    for draft in convert(doc(data), CATALOG, policy).drafts:
        row, problems = validate(draft, RECEIVED)
        assert not problems, problems
        out.append(row)
    return out


def test_nfce_becomes_one_sale_per_item_keyed_by_access_key_and_item() -> None:
    data = build(
        lines=[
            Line("SKU-1", "2.0000", "4.99", discount="1.00"),
            Line("X", "1", "10.00", gtin=GTIN_1),
        ]
    )
    key = key_of(data)
    rows = rows_of(data)
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("sale", "SP01", "SKU-1", 2),
        ("sale", "SP01", "SKU-1", 1),  # by GTIN when the code is not a SKU
    ]
    assert [(r["unit_price"], r["discount"]) for r in rows] == [("4.99", "1.00"), ("10.00", "0.00")]
    assert rows[0]["occurred_at"] == "2026-11-28T17:03:00.000000Z"  # 14:03 at -03:00
    assert (rows[0]["order_id"], rows[0]["line_number"]) == (key, 1)
    assert rows[0]["source"] == "nfce" and rows[0]["channel"] == "store"
    expected = derive_event_id(
        event_type="sale",
        store_id="SP01",
        sku="SKU-1",
        occurred_at=datetime(2026, 11, 28, 17, 3, tzinfo=UTC),
        order_id=key,
        line_number=1,
    )
    assert rows[0]["event_id"] == expected
    assert rows_of(data) == rows  # the same bytes again: the same ids (a duplicate)


def test_a_b2b_nfe_from_a_store_is_sales() -> None:
    rows = rows_of(build(lines=[Line("SKU-2", "5", "3.50")], model="55", recipient=CUSTOMER_CO))
    assert [(r["event_type"], r["quantity"], r["source"]) for r in rows] == [("sale", 5, "nfe")]


def test_a_supplier_nfe_to_our_store_is_receipts_in_units_with_its_order() -> None:
    data = build(
        model="55",
        issuer=SUPPLIER,
        recipient=STORE_RJ,
        lines=[
            Line("CX-77", "3.0000", "48.00", unit="CX", order="PO-2026-17", order_line="2"),
            Line("Y", "4", "1.00", gtin=GTIN_1, unit="UN"),
        ],
    )
    rows = rows_of(data)
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("stock_receipt", "RJ01", "SKU-2", 36),  # 3 boxes of 12
        ("stock_receipt", "RJ01", "SKU-1", 4),  # the unit's own GTIN
    ]
    assert (rows[0]["order_id"], rows[0]["line_number"]) == ("PO-2026-17", 2)
    assert rows[0]["source_ref"] == f"{key_of(data)}/1"


def test_an_alphanumeric_cnpj_supplier_resolves_through_its_cross_reference() -> None:
    rows = rows_of(
        build(
            model="55",
            issuer=SUPPLIER_ALNUM,
            recipient=STORE_SP,
            lines=[Line("A-1", "2", "30.00", unit="CX")],
        )
    )
    assert [(r["sku"], r["quantity"], r["store_id"]) for r in rows] == [("SKU-3", 12, "SP01")]


def test_an_unknown_supplier_code_is_refused_never_guessed() -> None:
    data = build(
        model="55", issuer=SUPPLIER, recipient=STORE_SP, lines=[Line("SKU-1", "1", "1.00")]
    )  # looks like our SKU: still not resolved
    with pytest.raises(FiscalRejected) as caught:
        convert(doc(data), CATALOG)
    assert caught.value.rule == "unknown_supplier_item"
    assert caught.value.path.endswith("/det")


def test_a_transfer_between_our_stores_is_out_at_the_sender_only_when_issued() -> None:
    data = build(
        model="55",
        issuer=STORE_SP,
        recipient=STORE_RJ,
        lines=[Line("SKU-1", "6", "2.00", cfop="5152")],
    )
    rows = rows_of(data)
    # The receiver's transfer_in waits for its receipt (tests/salesphere/fiscal/test_intake.py).
    assert [
        (r["event_type"], r["store_id"], r["counterpart_store_id"], r["quantity"], r["source_ref"])
        for r in rows
    ] == [("transfer_out", "SP01", "RJ01", 6, f"{key_of(data)}/1")]


def test_a_customer_return_note_is_a_return_and_goods_back_to_a_supplier_leave_stock() -> None:
    back_in = rows_of(
        build(
            model="55",
            purpose="4",
            direction="0",
            recipient_cpf="68834846982",
            lines=[Line("SKU-1", "1", "4.99", cfop="1202")],
        )
    )
    assert [(r["event_type"], r["store_id"], r["unit_price"]) for r in back_in] == [
        ("return", "SP01", "4.99")
    ]
    to_supplier = rows_of(
        build(
            model="55",
            purpose="4",
            direction="1",
            recipient=SUPPLIER,
            lines=[Line("SKU-2", "12", "4.00", cfop="5202")],
        )
    )
    assert [(r["event_type"], r["quantity"]) for r in to_supplier] == [("stock_adjustment", 12)]
    company_return = rows_of(
        build(
            model="55",
            purpose="4",
            issuer=CUSTOMER_CO,
            recipient=STORE_SP,
            lines=[Line("SKU-2", "2", "3.50", cfop="5202")],
        )
    )
    assert [r["event_type"] for r in company_return] == ["return"]


def test_web_shop_invoices_add_no_sales_and_are_matched_to_their_order() -> None:
    matched = convert(
        doc(
            build(
                model="55",
                issuer=WEB_SHOP,
                recipient_cpf="68834846982",
                lines=[Line("SKU-1", "1", "4.99", order="WEB-1001")],
            )
        ),
        CATALOG,
    )
    assert (matched.kind, matched.drafts, matched.order_reference) == (
        "web_invoice",
        (),
        "WEB-1001",
    )
    by_text = convert(
        doc(
            build(
                model="55",
                issuer=WEB_SHOP,
                recipient_cpf="68834846982",
                info="Pedido nº WEB-1002 entregue",
                lines=[Line("SKU-1", "1", "4.99")],
            )
        ),
        CATALOG,
        FiscalPolicy(web_order_from="infCpl"),
    )
    assert by_text.order_reference == "WEB-1002"
    with pytest.raises(FiscalRejected) as caught:
        convert(
            doc(
                build(
                    model="55",
                    issuer=WEB_SHOP,
                    recipient_cpf="68834846982",
                    lines=[Line("SKU-1", "1", "4.99")],
                )
            ),
            CATALOG,
        )
    assert caught.value.rule == "web_invoice_unmatched"


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"environment": "2"}, "homologation"),
        ({"status": None}, "not_authorised"),
        ({"status": "110"}, "not_authorised"),  # use denied
    ],
)
def test_unauthorised_documents_are_refused_unless_the_stack_allows_them_marked(
    kwargs: dict, rule: str
) -> None:
    data = build(lines=[Line("SKU-1", "1", "4.99")], **kwargs)
    with pytest.raises(FiscalRejected) as caught:
        convert(doc(data), CATALOG)
    assert caught.value.rule == rule
    rows = rows_of(data, LAX)
    assert [r["source"] for r in rows] == ["nfce-unauthorised"]


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"issuer": CUSTOMER_CO}, "unknown_store"),
        ({"model": "55", "issuer": SUPPLIER, "recipient": CUSTOMER_CO}, "unknown_store"),
        ({"lines": [Line("NOPE", "1", "4.99")]}, "unknown_sku"),
        ({"lines": [Line("SKU-1", "0.750", "29.90", unit="KG")]}, "fractional_quantity"),
        ({"model": "55", "direction": "0", "recipient": CUSTOMER_CO}, "unsupported_operation"),
        ({"model": "55", "recipient": STORE_RJ}, "unsupported_operation"),  # not a transfer CFOP
    ],
)
def test_what_does_not_resolve_is_refused_with_a_reason(kwargs: dict, rule: str) -> None:
    data = build(**{"lines": [Line("SKU-1", "1", "4.99")], **kwargs})
    with pytest.raises(FiscalRejected) as caught:
        convert(doc(data), CATALOG)
    assert caught.value.rule == rule, str(caught.value)


def test_a_unit_price_with_more_than_two_decimals_is_rounded_into_the_discount() -> None:
    """vUnCom may carry 10 decimals: 3 x 0.3333 is charged 1.00 (vProd), so the unit
    price is 0.34 and the 0.02 it adds is a discount: 3 x 0.34 - 0.02 = 1.00."""
    rows = rows_of(build(lines=[Line("SKU-1", "3", "0.3333", discount="0.10")]))
    assert [(r["quantity"], r["unit_price"], r["discount"]) for r in rows] == [(3, "0.34", "0.12")]
    boxes = rows_of(
        build(
            model="55",
            recipient=CUSTOMER_CO,
            lines=[Line("SKU-2", "1", "10.00")],
        )
    )
    assert [(r["unit_price"], r["discount"]) for r in boxes] == [("10.00", "0.00")]


def test_an_entry_note_our_store_issues_for_a_purchase_from_a_person_is_a_receipt() -> None:
    rows = rows_of(
        build(
            model="55",
            direction="0",
            recipient_cpf="68834846982",
            lines=[
                Line("SKU-1", "2", "3.00", cfop="1102"),
                Line("X", "1", "1.00", gtin=GTIN_1, cfop="1102"),
            ],
        )
    )
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("stock_receipt", "SP01", "SKU-1", 2),
        ("stock_receipt", "SP01", "SKU-1", 1),
    ]


def test_complementary_invoices_move_nothing() -> None:
    result = convert(
        doc(
            build(
                model="55", purpose="2", recipient=CUSTOMER_CO, lines=[Line("SKU-1", "1", "4.99")]
            )
        ),
        CATALOG,
    )
    assert (result.kind, result.drafts) == ("no_movement", ())


@pytest.mark.parametrize("path", VALID_SAMPLES[:4], ids=[p.name[:20] for p in VALID_SAMPLES[:4]])
def test_real_samples_received_by_our_store_become_receipts(path) -> None:
    """The sample's recipient plays our store; its issuer's codes are cross-referenced."""
    document = doc(path.read_bytes())
    recipient = document.recipient.cnpj if document.recipient else None
    if recipient is None:  # sold to a person: neither party is a store of ours
        with pytest.raises(FiscalRejected) as caught:
            convert(document, CATALOG)
        assert caught.value.rule == "unknown_store"
        return
    catalog = FiscalCatalog.build(
        stores=[(recipient, StoreRef("SP01"))],
        products=[(f"S{i.code}", None) for i in document.items],
        supplier_items=[
            SupplierItem(document.issuer.cnpj, i.code, f"S{i.code}", 2) for i in document.items
        ],
    )
    result = convert(document, catalog)
    assert result.kind == "stock_receipt"
    assert [d["quantity"] for d in result.drafts] == [int(i.quantity * 2) for i in document.items]
    assert {d["store_id"] for d in result.drafts} == {"SP01"}


# -- the register ---------------------------------------------------------------------------


def test_a_re_dropped_document_is_a_duplicate_and_other_content_under_its_key_a_conflict() -> None:
    register = FiscalRegister(MemoryStore())
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    first = take(data, CATALOG, register)
    assert not first.duplicate
    register.record_document(first.item, ["e1"])
    assert take(data, CATALOG, register).duplicate
    assert take(
        build(lines=[Line("SKU-1", "1", "4.99")], status=None), CATALOG, register, LAX
    ).duplicate  # the same document without its protocol: same content
    with pytest.raises(FiscalRejected) as caught:
        take(build(lines=[Line("SKU-1", "2", "4.99")]), CATALOG, register)
    assert caught.value.rule == "key_conflict"


def test_a_cancellation_before_its_ticket_means_the_ticket_never_counts() -> None:
    register = FiscalRegister(MemoryStore())
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    intake = take(cancellation(key_of(data)), CATALOG, register)
    assert intake.conversion.kind == "cancellation" and intake.conversion.drafts == ()
    assert intake.cancellation.document_counted is False
    with pytest.raises(FiscalRejected) as caught:
        take(data, CATALOG, register)
    assert caught.value.rule == "cancelled"


def test_a_cancellation_after_its_ticket_names_the_events_it_voids() -> None:
    register = FiscalRegister(MemoryStore())
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    first = take(data, CATALOG, register)
    ids = [validate(d, RECEIVED)[0]["event_id"] for d in first.conversion.drafts]
    register.record_document(first.item, ids)
    result = take(
        cancellation(
            key_of(data),
            event_type="110112",
            replacing=key_of(build(lines=[Line("SKU-1", "1", "4.99")], number=9)),
        ),
        CATALOG,
        register,
    ).cancellation
    assert result.document_counted and list(result.voided_event_ids) == ids
    again = take(cancellation(key_of(data)), CATALOG, register).cancellation
    assert again.duplicate


def test_an_unauthorised_cancellation_is_refused_in_production() -> None:
    register = FiscalRegister(MemoryStore())
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    with pytest.raises(FiscalRejected) as caught:
        take(cancellation(key, envelope="evento"), CATALOG, register)
    assert caught.value.rule == "not_authorised"
    assert register.store.values == {}  # nothing recorded


def test_a_correction_letter_changes_nothing_countable() -> None:
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    detail = (
        '<detEvento versao="1.00"><descEvento>Carta de Correcao</descEvento>'
        "<xCorrecao>Volume: 4 volumes</xCorrecao><xCondUso>...</xCondUso></detEvento>"
    )
    register = FiscalRegister(MemoryStore())
    intake = take(event(key, "110110", detail), CATALOG, register)
    assert (intake.conversion.kind, intake.conversion.drafts) == ("no_movement", ())
    assert register.store.values == {}
