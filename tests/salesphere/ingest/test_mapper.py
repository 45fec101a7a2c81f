"""Every shipped mapping, the generator's shapes, a new layout onboarded by YAML alone."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from salesphere.ingest import readers
from salesphere.ingest.catalog import Reference
from salesphere.ingest.files import choose_mapping, object_from_event, report_csv
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.mapping import (
    builtin_mappings,
    file_candidates,
    live_mapping,
    parse_mapping,
)
from salesphere.ingest.processing import RecordProcessor

NOW = datetime(2026, 12, 1, tzinfo=UTC)
REF = Reference(
    frozenset({"ELE-10001", "MOD-10003"}),
    frozenset({"SP01", "AM01", "WEB", "RJ01"}),
    {"SP01": "America/Sao_Paulo", "AM01": "America/Manaus", "WEB": "America/Sao_Paulo"},
)


def run(mapping_name: str, record: dict) -> tuple:
    mapping = live_mapping(mapping_name) or next(
        m for m in builtin_mappings() if m.name == mapping_name
    )
    processor = RecordProcessor(Mapper(mapping, REF.timezone_of), REF, NOW)
    return processor.process(0, record)


def test_every_shipped_mapping_loads() -> None:
    names = {m.name for m in builtin_mappings()}
    assert {"pos", "ecommerce", "inventory", "vendas_loja"} <= names


#: One valid POS sale line (no discount field: the mapping's default applies).
POS_LINE = {
    "store": "SP01",
    "ticket": "T-1",
    "line": 1,
    "type": "sale",
    "sku": "ELE-10001",
    "qty": 2,
    "unit_price": "19.90",
    "ts": "2026-11-28T14:03:00-03:00",
}


def test_pos_line() -> None:
    result, rows = run("pos", {**POS_LINE, "discount": "1.00"})
    assert result.status == "accepted"
    (row,) = rows
    assert (row["occurred_at"], row["unit_price"], row["discount"], row["channel"]) == (
        "2026-11-28T17:03:00.000000Z",
        "19.90",
        "1.00",
        "store",
    )


def test_ecommerce_refund_is_a_return_per_item_and_bad_items_reject_the_order() -> None:
    order = {
        "order_id": "WEB-1",
        "status": "refunded",
        "updated_at": "2026-11-28T10:00:00-03:00",
        "currency": "BRL",
        "items": [
            {"line": 1, "sku": "ELE-10001", "quantity": 1, "price": "5.00"},
            {"line": 2, "sku": "MOD-10003", "quantity": 2, "price": "7.50"},
        ],
    }
    result, rows = run("ecommerce", order)
    assert [r["event_type"] for r in rows] == ["return", "return"]
    assert {r["store_id"] for r in rows} == {"WEB"}
    order["items"][1]["quantity"] = "12,3,4"
    result, rows = run("ecommerce", order)
    assert (result.status, rows) == ("rejected", [])
    assert [(r.field, r.rule) for r in result.rejects] == [("items[1].quantity", "integer")]


def test_a_paid_web_order_is_a_sale_when_placed_and_a_refund_a_return_when_updated() -> None:
    """``created_at`` is when the customer bought and never changes; ``updated_at`` moves
    with payment confirmation and every later change, and is when a refund happened."""
    order = {
        "order_id": "WEB-2",
        "status": "paid",
        "created_at": "2026-11-28T23:50:00-03:00",
        "updated_at": "2026-11-29T00:20:00-03:00",
        "items": [{"line": 1, "sku": "ELE-10001", "quantity": 1, "price": "5.00"}],
    }
    _, (sale,) = run("ecommerce", order)
    assert (sale["event_type"], sale["occurred_at"]) == ("sale", "2026-11-29T02:50:00.000000Z")
    _, (refund,) = run("ecommerce", {**order, "status": "refunded"})
    assert (refund["event_type"], refund["occurred_at"]) == (
        "return",
        "2026-11-29T03:20:00.000000Z",
    )


def test_inventory_count_is_absolute_and_unknown_type_is_named() -> None:
    base = {
        "location": "SP01",
        "item": "ELE-10001",
        "units": 40,
        "document": "CNT-1",
        "recorded_at": "2026-11-28T06:00:00-03:00",
    }
    result, rows = run("inventory", {**base, "type": "COUNT"})
    assert (rows[0]["event_type"], rows[0]["quantity"], rows[0]["counted_quantity"]) == (
        "stock_count",
        0,
        40,
    )
    result, _ = run("inventory", {**base, "type": "TELEPORT"})
    assert (result.rejects[0].field, result.rejects[0].rule) == ("event_type", "allowed_values")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"sku": "ZZZ-99999"}, "unknown_sku"),
        ({"store": "XX99"}, "unknown_store"),
        ({"qty": -1}, "min_value"),
        ({"ts": "2027-11-28T14:03:00-03:00"}, "future_timestamp"),
        ({"ts": "2026-11-28T14:03:00"}, "timezone_required"),
        ({"unit_price": "12,3,4"}, "decimal"),
        ({"sku": None}, "required"),
        ({"qty": 10**7}, "max_value"),
    ],
)
def test_each_defect_class_gets_its_rule(change: dict, rule: str) -> None:
    record = {k: v for k, v in {**POS_LINE, **change}.items() if v is not None}
    result, rows = run("pos", record)
    assert (result.status, rows) == ("rejected", [])
    assert result.rejects[0].rule == rule


def test_non_object_records_are_rejected_not_raised() -> None:
    mapping = live_mapping("pos")
    assert mapping is not None
    processor = RecordProcessor(Mapper(mapping), REF, NOW)
    assert processor.process(0, 42)[0].rejects[0].rule == "type"  # type: ignore[arg-type]


SHEET = (
    "Data;Hora;Loja;Pedido;Linha;Código SKU;Quantidade;Preço Unitário;Desconto;Valor Total;Tipo\r\n"
    "28/11/2026;10:00:00;AM01;AM01-1;1;ELE-10001;1.000;1.234,50;0,00;;Devolução\r\n"
    ";;;;;;;;;;\r\n"
    "28/11/2026;10:05:00;SP01;SP01-1;1;ELE-10001;2;10,00;0,00;20,00;Venda\r\n"
)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8-sig", "utf-8"])
def test_spreadsheet_csv_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "vendas_AM01_2026-11-28.csv"
    path.write_bytes(SHEET.encode(encoding))
    mapping = choose_mapping(path, "spreadsheet/" + path.name)
    table = readers.open_table(path, path.name, mapping.delimiter, mapping.encodings)
    processor = RecordProcessor(Mapper(mapping, REF.timezone_of), REF, NOW)
    out = [processor.process(n, rec) for n, rec in table.rows]
    assert [n for n, _ in [(r.index, r) for r, _ in out]] == [2, 4]  # blank row 3 skipped
    (first,), (second,) = (rows for _, rows in out)
    assert first["event_type"] == "return" and first["quantity"] == 1000
    assert first["occurred_at"] == "2026-11-28T14:00:00.000000Z"  # Manaus is UTC-4
    assert second["occurred_at"] == "2026-11-28T13:05:00.000000Z"
    assert first["unit_price"] == "1234.50"


def test_invalid_utf8_in_a_utf8_only_layout_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a;b\r\n\xff\xfe;1\r\n")
    with pytest.raises(readers.FileRejected) as info:
        readers.read_csv(path, ";", ("utf-8",))
    assert info.value.rule == "encoding"


def test_ndjson_bad_lines_are_record_rejects(tmp_path: Path) -> None:
    path = tmp_path / "estoque.ndjson"
    path.write_bytes(b'{"a": 1}\n{broken\n\xff\xfe\n[1]\n')
    rules = [rec.get(readers.BAD_RECORD, ("ok",))[0] for _, rec in readers.read_ndjson(path).rows]
    assert rules == ["ok", "malformed_json", "invalid_utf8", "type"]


def test_xlsx_guards(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 1024 * 1024))
    not_zip = tmp_path / "not.xlsx"
    not_zip.write_bytes(b"hello")
    plain_zip = tmp_path / "plain.xlsx"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    rules = []
    for path in (bomb, not_zip, plain_zip):
        with pytest.raises(readers.FileRejected) as info:
            readers.read_xlsx(path)
        rules.append(info.value.rule)
    assert rules == ["zip_bomb", "xlsx_malformed", "xlsx_malformed"]


def test_new_layout_is_onboarded_by_a_mapping_file_alone(tmp_path: Path) -> None:
    """A purchasing team's sheet with different headers: YAML only, no code."""
    spec = yaml.safe_load("""
        name: compras_recebimento
        source: purchasing
        formats: [csv]
        match: {folders: [compras]}
        csv: {delimiter: ","}
        numbers: br
        date_format: "%d/%m/%Y"
        event_type: {value: stock_receipt}
        fields:
          store_id: [Filial]
          sku: [Produto]
          quantity: {from: [Qtde Recebida], type: int}
          source_ref: [NF]
          occurred_at: {date: [Recebido Em], type: local_datetime}
          channel: {value: backoffice}
    """)
    mapping = parse_mapping(spec)
    assert file_candidates("compras/recebimentos.csv", [mapping]) == [mapping]
    path = tmp_path / "recebimentos.csv"
    path.write_text(
        'Filial,Produto,Qtde Recebida,NF,Recebido Em\nSP01,ELE-10001,"1.200",NF-9,27/11/2026\n'
    )
    table = readers.open_table(path, path.name, mapping.delimiter, mapping.encodings)
    processor = RecordProcessor(Mapper(mapping), REF, NOW)
    ((_, rec),) = list(table.rows)
    _result, (row,) = processor.process(2, rec)
    assert (row["event_type"], row["quantity"], row["source"]) == (
        "stock_receipt",
        1200,
        "purchasing",
    )


def test_rejects_report_uses_the_files_own_headers(tmp_path: Path) -> None:
    path = tmp_path / "vendas_SP01.csv"
    path.write_bytes(SHEET.replace("ELE-10001;2", "=HYPERLINK(1);2").encode("latin-1"))
    mapping = choose_mapping(path, "spreadsheet/" + path.name)
    table = readers.open_table(path, path.name, mapping.delimiter, mapping.encodings)
    mapper = Mapper(mapping, REF.timezone_of)
    processor = RecordProcessor(mapper, REF, NOW)
    rejected = [r for r, _ in (processor.process(n, rec) for n, rec in table.rows) if r.rejects]
    text = report_csv(rejected, {"codigo_sku": "Código SKU"}, mapper).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["row"], row["column"], row["field"], row["value"], row["rule"]) == (
        "4",
        "Código SKU",
        "sku",
        "'=HYPERLINK(1)",
        "pattern",
    )


def test_both_notification_shapes_are_understood() -> None:
    eventarc = object_from_event(
        "google.cloud.storage.object.v1.finalized",
        {"bucket": "b", "name": "pos/x.json", "generation": "7"},
    )
    push = object_from_event(
        "google.cloud.pubsub.topic.v1.messagePublished",
        {
            "message": {
                "data": "",
                "attributes": {
                    "bucketId": "b",
                    "objectId": "pos/x.json",
                    "objectGeneration": "7",
                    "eventType": "OBJECT_FINALIZE",
                },
            }
        },
    )
    deleted = object_from_event(
        "x",
        {
            "message": {
                "attributes": {"eventType": "OBJECT_DELETE", "bucketId": "b", "objectId": "o"}
            }
        },
    )
    assert eventarc == push
    assert eventarc is not None and eventarc.generation == "7"
    assert deleted is None


def test_csv_rows_blank_only_when_every_cell_is(tmp_path: Path) -> None:
    """The reader's quick look at the first cell must not skip a row with text later."""
    path = tmp_path / "vendas_SP01.csv"
    path.write_text(
        "Data;Hora;Loja\r\n"
        "28/11/2026;10:00:00;SP01\r\n"
        ";;\r\n"
        " ; \t;  \r\n"
        "\r\n"
        ";;SP01\r\n"
        "  ;10:00:00;\r\n"
        ";\r\n",
        encoding="utf-8",
    )
    table = readers.read_csv(path, ";", ("utf-8",))
    assert [(n, rec.get("loja")) for n, rec in table.rows] == [
        (2, "SP01"),
        (6, "SP01"),
        (7, ""),
    ]


def test_an_empty_cell_gets_the_default_converted_like_a_value(tmp_path: Path) -> None:
    """The sheet layout's discount default is "0,00": an empty Desconto cell means no
    discount, not an invalid decimal."""
    path = tmp_path / "vendas_SP01_2026-11-28.csv"
    header = SHEET.split("\r\n", 1)[0]
    path.write_text(f"{header}\r\n28/11/2026;10:05:00;SP01;SP01-9;1;ELE-10001;2;10,00;;;Venda\r\n")
    mapping = choose_mapping(path, "spreadsheet/" + path.name)
    table = readers.open_table(path, path.name, mapping.delimiter, mapping.encodings)
    processor = RecordProcessor(Mapper(mapping, REF.timezone_of), REF, NOW)
    ((result, rows),) = [processor.process(n, rec) for n, rec in table.rows]
    assert result.status == "accepted", result.rejects
    assert rows[0]["discount"] == "0.00"


def test_a_default_that_does_not_convert_is_a_mapping_error() -> None:
    text = (Path("salesphere/mappings/vendas_loja.yaml")).read_text()
    broken = parse_mapping(yaml.safe_load(text.replace('default: "0,00"', 'default: "zero"')))
    with pytest.raises(ValueError, match="default 'zero' of discount"):
        Mapper(broken, REF.timezone_of)


def test_missing_columns_are_named_once_each(tmp_path: Path) -> None:
    """``order_id`` and ``source_ref`` both read ``Pedido``: a sheet without it misses one
    column, and the message names it once (it used to say ``Pedido, Linha, Pedido``)."""
    path = tmp_path / "vendas_SP01.csv"
    header, *rows = SHEET.split("\r\n")
    kept = [i for i, h in enumerate(header.split(";")) if h not in ("Pedido", "Linha")]
    lines = [";".join(line.split(";")[i] for i in kept) for line in [header, *rows] if line]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    with pytest.raises(readers.FileRejected) as info:
        choose_mapping(path, "spreadsheet/" + path.name)
    assert info.value.rule == "missing_columns"
    assert "column(s) Pedido, Linha;" in str(info.value)
