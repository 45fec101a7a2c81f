"""The fused map-and-validate path answers exactly what the full path answers.

``RecordProcessor`` takes a fused kernel for clean spreadsheet and POS records (see
``compile_kernel``); it may only ever say "here is the row" or "not sure". These tests
feed the same mixed valid/invalid records to a processor with the kernel and one
without it, and compare every answer and every row byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesphere.ingest import processing
from salesphere.ingest.catalog import Reference
from salesphere.ingest.fastpath.kernel import compile_kernel
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.mapping import builtin_mappings, parse_mapping
from salesphere.ingest.processing import RecordProcessor

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
REF = Reference(
    frozenset({"ELE-10001", "MOD-10003"}),
    frozenset({"SP01", "AM01", "RJ01"}),
    {"SP01": "America/Sao_Paulo", "AM01": "America/Manaus"},
)
EMPTY = Reference()


def _mapping(name: str) -> Any:
    return next(m for m in builtin_mappings() if m.name == name)


def _both(mapping: Any, reference: Reference, records: list[Any]) -> tuple[list, list]:
    """Answers and serialised rows from the fused and the full path, side by side.

    The full path is the processor with no kernel: the test swaps ``compile_kernel`` for
    one that declines every layout (a context, not the fixture: hypothesis reruns this).
    """
    out = []
    for fused in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not fused:
                patch.setattr(processing.kernel, "compile_kernel", lambda *_args: None)
            processor = RecordProcessor(Mapper(mapping, reference.timezone_of), reference, NOW)
            answers = [processor.process(i, r) for i, r in enumerate(records)]
        out.append([(result, json.dumps(rows)) for result, rows in answers])
    return out[0], out[1]


MONEY = [
    "19,90",
    "1.234,56",
    "0,00",
    "0012,30",
    "19,9",
    "19.90",
    "-1,00",
    " 5,00",
    "",
    None,
    19.9,
    20.0,
    0.1 + 0.2,
    5,
    -3.0,
    True,
    "1.000.000,01",
    "1.000.000,00",
    "999.999.999.999.999,99",
    float("nan"),
    1e16,
    "١٢,٣٤",
    "100,00",
]
CELLS: dict[str, list[Any]] = {
    "data": [
        "28/11/2026",
        "1/12/2026",
        "31/02/2026",
        "2026-11-28",
        "",
        "  ",
        None,
        date(2026, 11, 28),
        datetime(2026, 11, 28, 9, 30),
        "02/12/2026",
        42.0,
    ],
    "hora": [
        "10:00:00",
        "23:59",
        " 08:15:00 ",
        "",
        None,
        "25:00",
        "10:00:00+02:00",
        0.5,
        time(9, 0),
        timedelta(hours=3),
        "11:30:00.250",
    ],
    "loja": ["SP01", " RJ01 ", "AM01", "XX99", "bad id", "", None, 12.0, "S" * 40],
    "pedido": ["SP01-1", "SP01-2", "", None, "o" * 70, 7.0],
    "linha": ["1", "2", " 3 ", "0", "10001", "1,0", "x", "", None, 1, 2.0, 2.5, True, "١"],
    "codigo_sku": ["ELE-10001", "MOD-10003", "ELE-99999", "", "sku\n", None, 10001.0, "A" * 70],
    "quantidade": ["1", "2", "0", "-1", "100001", "3,0", "", None, 2, 2.0, 1.5, False, " 4 "],
    "preco_unitario": MONEY,
    "desconto": MONEY,
    "tipo": ["Venda", "Devolução", "DEVOLUCAO", "Troca", "Compra", "", None, 3],
}
#: Other headers the layout accepts for some fields, to exercise alias binding.
ALIASES = {"loja": "filial", "pedido": "cupom", "tipo": "operacao", "desconto": "valor_desconto"}


@st.composite
def spreadsheet_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A record as the CSV/XLSX readers yield it: normalised header -> cell."""
    record: dict[str, Any] = {}
    for key, pool in CELLS.items():
        how = draw(st.sampled_from(["clean"] * 12 + ["pool", "pool", "alias", "missing"]))
        if how == "missing":
            continue
        value = draw(st.sampled_from(pool)) if how == "pool" else pool[0]
        record[ALIASES.get(key, key) if how == "alias" else key] = value
    if draw(st.booleans()):
        record["pedido"] = f"SP01-{draw(st.integers(1, 3))}"
        record["linha"] = str(draw(st.integers(1, 3)))
    return record


@settings(max_examples=300, deadline=None)
@given(st.lists(spreadsheet_rows(), min_size=1, max_size=25), st.booleans())
def test_spreadsheet_rows_get_the_same_answers(records: list[dict], loaded: bool) -> None:
    fused, full = _both(_mapping("vendas_loja"), REF if loaded else EMPTY, records)
    assert fused == full


@st.composite
def pos_records(draw: st.DrawFn) -> Any:
    pools: dict[str, list[Any]] = {
        "store": ["SP01", "AM01", "XX99", "", None, 7],
        "ticket": ["T-1", "T-2", "", None, "t" * 70],
        "line": [1, 2, "1", 0, 1.0, None, True],
        "type": ["sale", "return", "refund", None, ""],
        "sku": ["ELE-10001", "ELE-99999", "bad sku", None],
        "qty": [1, 2, "2", 0, -1, 2.0, 100_001, None],
        "unit_price": ["19.90", "1,234.56", "19.9", 19.9, 5, "-1.00", "abc", None, "19,90"],
        "discount": ["0.00", "1.00", "100.00", 0, None, ""],
        "ts": [
            "2026-11-28T14:03:00-03:00",
            "2026-11-28T14:03:00Z",
            "2026-11-28T14:03:00",
            "2027-01-01T00:00:00+00:00",
            "yesterday",
            " 2026-11-28T14:03:00.5+00:00 ",
            None,
            1764340980,
        ],
    }
    if draw(st.integers(0, 20)) == 0:
        return draw(st.sampled_from([[1, 2], "text", {"__bad_record__": ("x", "y", "z")}]))
    record: dict[str, Any] = {}
    for key, pool in pools.items():
        how = draw(st.sampled_from(["clean"] * 10 + ["pool", "pool", "missing"]))
        if how != "missing":
            record[key] = draw(st.sampled_from(pool)) if how == "pool" else pool[0]
    if draw(st.booleans()):
        record["line"] = draw(st.integers(1, 3))
    return record


@settings(max_examples=300, deadline=None)
@given(st.lists(pos_records(), min_size=1, max_size=25), st.booleans())
def test_pos_records_get_the_same_answers(records: list[Any], loaded: bool) -> None:
    fused, full = _both(_mapping("pos"), REF if loaded else EMPTY, records)
    assert fused == full


def _clean_row(n: int) -> dict[str, Any]:
    return {
        "data": "28/11/2026",
        "hora": f"10:{n % 60:02d}:00",
        "loja": "SP01",
        "pedido": f"SP01-{n}",
        "linha": "1",
        "codigo_sku": "ELE-10001",
        "quantidade": "2",
        "preco_unitario": "1.234,50",
        "desconto": "0,00",
        "tipo": "Venda" if n % 2 else "Devolução",
    }


def test_the_kernel_takes_clean_rows_and_defers_the_rest() -> None:
    """Not vacuous: clean rows really go through the kernel, and a bad one does not."""
    mapping = _mapping("vendas_loja")
    mapper = Mapper(mapping, REF.timezone_of)
    kernel = compile_kernel(mapper, REF, NOW, NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert kernel is not None
    rows = [kernel(_clean_row(n)) for n in range(20)]
    assert all(rows)
    assert rows[1] is not None and rows[1]["unit_price"] == "1234.50"
    assert kernel({**_clean_row(1), "quantidade": "2,5"}) is None
    assert kernel({**_clean_row(1), "codigo_sku": "ELE-99999"}) is None  # unknown SKU
    assert kernel({**_clean_row(1), "desconto": ""}) is None  # default: the full path
    # columns renamed mid-stream (an alias earlier in the list wins): rebinds, same row
    renamed = {("filial" if k == "loja" else k): v for k, v in _clean_row(3).items()}
    assert kernel(renamed) == rows[3]
    both = {**_clean_row(3), "filial": "RJ01"}  # "Loja" is listed first: it wins
    assert kernel(both) == rows[3]


def test_layouts_the_kernel_does_not_handle_take_the_full_path() -> None:
    mapper = Mapper(_mapping("ecommerce"))
    assert compile_kernel(mapper, REF, NOW, "t") is None  # one record, many items
    mapper = Mapper(_mapping("inventory"))
    assert compile_kernel(mapper, REF, NOW, "t") is None  # stock movements
    custom = parse_mapping(
        {
            "name": "odd",
            "source": "odd",
            "formats": ["csv"],
            "event_type": {"value": "sale"},
            "fields": {
                "store_id": "loja",
                "sku": "sku",
                "quantity": "qtd",  # declared as text: pydantic decides what it becomes
                "unit_price": {"from": "preco", "type": "money"},
                "order_id": "pedido",
                "line_number": {"from": "linha", "type": "int"},
                "occurred_at": {"from": "quando", "type": "timestamp"},
            },
        }
    )
    assert compile_kernel(Mapper(custom), REF, NOW, "t") is None


def test_duplicates_within_a_file_are_answered_alike() -> None:
    records = [_clean_row(1), _clean_row(2), _clean_row(1), {**_clean_row(2), "linha": "2"}]
    fused, full = _both(_mapping("vendas_loja"), REF, records)
    assert fused == full
    assert [result.status for result, _ in fused] == [
        "accepted",
        "accepted",
        "duplicate",
        "accepted",
    ]


def test_edges_get_the_same_answers() -> None:
    """Values on each limit the kernel checks, and one step past it."""
    edits: list[dict[str, Any]] = [
        {"data": "01/12/2026", "hora": "10:00:00"},  # received + 1 h exactly: accepted
        {"data": "01/12/2026", "hora": "10:00:01"},  # one second past the clock skew
        {"quantidade": "100000"},
        {"quantidade": "100001"},
        {"quantidade": "0"},
        {"linha": "10000"},
        {"linha": "10001"},
        {"preco_unitario": "1.000.000,00"},
        {"preco_unitario": "1.000.000,01"},
        {"preco_unitario": 1_000_000},
        {"preco_unitario": 1_000_000.01},
        {"preco_unitario": "10,00", "quantidade": "2", "desconto": "20,00"},
        {"preco_unitario": "10,00", "quantidade": "2", "desconto": "20,01"},
        {"preco_unitario": 10.0, "quantidade": 2.0, "desconto": 20.01},
        {"loja": "S" * 32},
        {"codigo_sku": "E" * 64},
        {"pedido": "p" * 64},
        {"pedido": "p" * 65},
        {"data": "28/11/0999"},  # pydantic's call: the kernel leaves years < 1000 to it
    ]
    reference = Reference(
        REF.skus | {"E" * 64}, REF.stores | {"S" * 32}, {"SP01": "America/Sao_Paulo"}
    )
    records = [{**_clean_row(n), **edit} for n, edit in enumerate(edits)]
    fused, full = _both(_mapping("vendas_loja"), reference, records)
    assert fused == full
    statuses = [result.status for result, _ in fused]
    assert statuses == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "accepted",
        "accepted",
        "rejected",
        "accepted",
    ]
