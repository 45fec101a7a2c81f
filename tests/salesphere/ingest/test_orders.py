"""Purchase order exports read through their layout, and receipts linked to order lines."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from salesphere.ingest.orders import builtin_layout, read_order_lines
from salesphere.ingest.readers import FileRejected
from salesphere.orders import PurchaseOrderLine, Receipt, link_receipts
from salesphere.taxid import with_cnpj_digits

SUPPLIER = with_cnpj_digits("445556660001")
OTHER = with_cnpj_digits("12ABC34501DE")
HEADER = "Pedido;Item;CNPJ Fornecedor;Loja;SKU;Quantidade;Custo Unitário;Data Pedido;Previsão Entrega;Situação"


def export(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "pedidos.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="cp1252")
    return path


def test_an_erp_export_becomes_validated_lines_and_rejects_by_row(tmp_path: Path) -> None:
    path = export(
        tmp_path,
        f"PO-1;1;{SUPPLIER};SP01;ELE-10001;24;12,50;28/11/2026;05/12/2026;ABERTO",
        f"PO-1;2;{OTHER};SP01;ELE-10002;1.200;3,99;28/11/2026 14:03;10/12/2026;",
        f"PO-2;1;{SUPPLIER};RJ01;ELE-10001;6;1,00;29/11/2026;01/12/2026;Cancelado",
        f"PO-3;1;{SUPPLIER[:13]}0;SP01;ELE-10001;6;1,00;29/11/2026;01/12/2026;",  # bad CNPJ
        f"PO-4;1;{SUPPLIER};SP01;ELE-10001;6,5;1,00;29/11/2026;01/12/2026;",  # not whole
        f"PO-5;1;{SUPPLIER};SP01;ELE-10001;6;1,00;29/11/2026;20/11/2026;",  # before ordering
    )
    lines, rejects = read_order_lines(path, path.name, builtin_layout("erp_pedidos"))
    assert [(x.order_number, x.line_number, x.quantity, x.cancelled) for x in lines] == [
        ("PO-1", 1, 24, False),
        ("PO-1", 2, 1200, False),
        ("PO-2", 1, 6, True),
    ]
    assert lines[0].unit_cost == Decimal("12.50")
    assert lines[1].ordered_at.isoformat() == "2026-11-28T14:03:00-03:00"
    assert lines[1].supplier_cnpj == "12ABC34501DE35"
    assert [(row, r.field, r.rule) for row, r in rejects] == [
        (5, "supplier_cnpj", "business_rule"),
        (6, "quantity", "integer"),
        (7, "record", "business_rule"),
    ]
    assert "check digits" in rejects[0][1].message
    assert "before the order date" in rejects[2][1].message


def test_an_export_without_a_required_column_is_refused_whole(tmp_path: Path) -> None:
    path = export(tmp_path, "PO-1;1", header="Pedido;Item")
    with pytest.raises(FileRejected) as caught:
        read_order_lines(path, path.name, builtin_layout("erp_pedidos"))
    assert caught.value.rule == "missing_columns"


def line(
    number: str,
    n: int,
    qty: int,
    ordered: str,
    *,
    sku: str = "A",
    store: str = "SP01",
    supplier: str = SUPPLIER,
    due: str = "2026-12-05",
    cancelled: bool = False,
):
    return PurchaseOrderLine(
        order_number=number,
        line_number=n,
        supplier_cnpj=supplier,
        store_id=store,
        sku=sku,
        quantity=qty,
        unit_cost=Decimal("1.00"),
        ordered_at=datetime.fromisoformat(ordered),
        expected_delivery=date.fromisoformat(due),
        cancelled=cancelled,
    )


def receipt(event_id: str, qty: int, when: str = "2026-12-01T10:00:00+00:00", **kw) -> Receipt:
    return Receipt(
        event_id=event_id,
        store_id=kw.pop("store", "SP01"),
        sku=kw.pop("sku", "A"),
        quantity=qty,
        occurred_at=datetime.fromisoformat(when),
        **kw,
    )


def test_receipts_go_to_the_named_line_then_oldest_first_and_leftovers_are_reported() -> None:
    lines = [
        line("PO-2", 1, 10, "2026-11-20T10:00:00+00:00"),
        line("PO-1", 1, 5, "2026-11-10T10:00:00+00:00"),
        line("PO-3", 1, 8, "2026-11-25T10:00:00+00:00", cancelled=True),
        line("PO-4", 1, 3, "2026-11-01T10:00:00+00:00", supplier=OTHER),
    ]
    linked = link_receipts(
        lines,
        [
            receipt("r1", 4, order_number="PO-2", order_line=1, supplier_cnpj=SUPPLIER),
            receipt("r2", 9, "2026-12-02T10:00:00+00:00", supplier_cnpj=SUPPLIER),
            receipt("r3", 5, "2026-12-03T10:00:00+00:00", sku="B"),
        ],
    )
    assert [(a.event_id, a.order_number, a.quantity, a.how) for a in linked.allocations] == [
        ("r1", "PO-2", 4, "named"),
        ("r2", "PO-1", 5, "oldest_first"),  # the oldest open line of that supplier
        ("r2", "PO-2", 4, "oldest_first"),
    ]
    assert [(u.event_id, u.quantity) for u in linked.unmatched] == [("r3", 5)]
    assert "exceed every open order line" in linked.unmatched[0].reason
    status = {k: (s.received, s.open) for k, s in linked.lines.items()}
    assert status[("PO-2", 1)] == (8, 2) and status[("PO-1", 1)] == (5, 0)
    assert status[("PO-3", 1)] == (0, 0)  # cancelled: never open, takes nothing
    assert linked.on_order() == {("SP01", "A"): 5}  # PO-2's 2 and PO-4's 3
    late = {s.line.order_number: s.days_late(date(2026, 12, 8)) for s in linked.open_lines()}
    assert late == {"PO-2": 3, "PO-4": 3}


def test_a_named_order_for_another_sku_is_not_taken_for_it() -> None:
    linked = link_receipts(
        [line("PO-1", 1, 5, "2026-11-10T10:00:00+00:00")],
        [receipt("r1", 2, sku="B", order_number="PO-1", order_line=1)],
    )
    assert linked.allocations == [] and linked.unmatched[0].quantity == 2


def test_ordered_at_needs_a_timezone_and_cnpj_its_digits() -> None:
    with pytest.raises(ValueError, match="timezone"):
        line("PO-1", 1, 5, "2026-11-10T10:00:00")
    with pytest.raises(ValueError, match="check digits"):
        line("PO-1", 1, 5, "2026-11-10T10:00:00+00:00", supplier=SUPPLIER[:12] + "99")
    assert line("PO-1", 1, 5, "2026-11-10T10:00:00+00:00").ordered_at.tzinfo is not None


def test_a_receipt_read_from_a_supplier_nfe_is_linked_to_the_order_it_names() -> None:
    from salesphere.fiscal.convert import convert
    from salesphere.fiscal.document import read
    from salesphere.ingest.validate import validate
    from salesphere.orders import receipt_from_event
    from tests.salesphere.fiscal.samples import STORE_RJ, Line, build
    from tests.salesphere.fiscal.samples import SUPPLIER as NFE_SUPPLIER
    from tests.salesphere.fiscal.test_convert import CATALOG, RECEIVED

    document = read(
        build(
            model="55",
            issuer=NFE_SUPPLIER,
            recipient=STORE_RJ,
            lines=[Line("CX-77", "2", "48.00", unit="CX", order="PO-7", order_line="2")],
        )
    )
    (draft,) = convert(document, CATALOG).drafts
    row, _ = validate(draft, RECEIVED)
    got = receipt_from_event(row)
    assert (got.order_number, got.order_line, got.quantity) == ("PO-7", 2, 24)
    orders = [
        line("PO-7", 1, 24, "2026-11-01T10:00:00+00:00", sku="SKU-2", store="RJ01"),
        line("PO-7", 2, 30, "2026-11-01T10:00:00+00:00", sku="SKU-2", store="RJ01"),
    ]
    linked = link_receipts(orders, [got])
    assert [(a.line_number, a.quantity, a.how) for a in linked.allocations] == [(2, 24, "named")]
    assert receipt_from_event({**row, "event_type": "sale"}) is None


def test_order_files_are_found_by_folder_and_layout_by_header(tmp_path: Path) -> None:
    from salesphere.ingest.orders import choose_layout, is_order_object

    assert is_order_object("purchase_orders/pedidos.csv")
    assert not is_order_object("purchase_orders") and not is_order_object("pos/pedidos.csv")
    path = export(tmp_path, f"PO-1;1;{SUPPLIER};SP01;ELE-10001;24;12,50;28/11/2026;05/12/2026;")
    assert choose_layout(path, "pedidos.csv").name == "erp_pedidos"
    bare = export(tmp_path, "PO-1;1", header="Pedido;Item")
    with pytest.raises(FileRejected) as refused:
        choose_layout(bare, "pedidos.csv")
    assert refused.value.rule == "missing_columns" and "supplier_cnpj" in str(refused.value)
    with pytest.raises(FileRejected) as refused:
        choose_layout(path, "pedidos.json")
    assert refused.value.rule == "unknown_layout"


def test_a_placed_suggestion_is_an_orders_file_the_erp_layout_reads_back(tmp_path: Path) -> None:
    from salesphere.ingest.orders import line_row
    from salesphere_tools.purchasing import ExportError, order_lines_csv, read_export

    suggestion = tmp_path / "sugestao.csv"
    suggestion.write_bytes(
        "Loja;SKU;Sugestão de compra (un.)\r\nSP01;B;12\r\nSP01;A;0\r\nRJ01;A;5\r\nSP01;C;1.200\r\n".encode(
            "utf-8-sig"
        )
    )
    wanted = read_export(suggestion, "SP01")
    assert wanted == [("B", 12), ("C", 1200)]
    terms = {
        sku: {
            "unit_cost": Decimal("3.5"),
            "supplier_lead_time_days": 4,
            "timezone": "America/Manaus",
            "suppliers": [SUPPLIER] if sku != "C" else [SUPPLIER, OTHER],
        }
        for sku in ("B", "C")
    }
    now = datetime.fromisoformat("2026-12-05T03:30:00+00:00")  # still the 4th in Manaus
    with pytest.raises(ExportError, match="no single supplier CNPJ for C"):
        order_lines_csv("SP01", "SUG-1", wanted, terms, now)
    path = tmp_path / "pedido.csv"
    path.write_text(order_lines_csv("SP01", "SUG-1", wanted, terms, now, OTHER), encoding="utf-8")
    lines, rejects = read_order_lines(path, path.name, builtin_layout("erp_pedidos"))
    assert rejects == []
    assert [
        (x.line_number, x.sku, x.quantity, x.unit_cost, x.supplier_cnpj, x.expected_delivery)
        for x in lines
    ] == [
        (1, "B", 12, Decimal("3.50"), OTHER, date(2026, 12, 8)),
        (2, "C", 1200, Decimal("3.50"), OTHER, date(2026, 12, 8)),
    ]
    row = line_row(lines[0], received_at="t", request_id="r", source="s", object_name=None)
    assert (row["ordered_at"], row["unit_cost"]) == ("2026-12-05T03:30:00.000000Z", "3.50")
