"""`salesphere replenishment export`: a CSV that opens with Brazilian spreadsheet conventions.

The file is read back the way a pt-BR spreadsheet reads it, without any locale installed:
``;`` splits the cells, a comma is the decimal mark, dates are dd/mm/aaaa. The warehouse is
a stand-in that answers the export's two queries.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from salesphere.gcp import clients
from salesphere_tools import purchasing
from salesphere_tools.cli.main import app

BOM = b"\xef\xbb\xbf"


def _row(sku: str, **values: Any) -> dict[str, Any]:
    base = {
        "store_id": "SP01",
        "sku": sku,
        "product_name": "Café em Grãos Ipê 101",
        "supplier": "Alimentos do Vale Ltda",
        "as_of_date": date(2026, 12, 1),
        "on_hand": 10,
        "on_order": 0,
        "lead_time_days": 2,
        "review_period_days": 3,
        "demand_source": "forecast",
        "forecast_days": 5,
        "daily_demand": 4.0,
        "demand_lead_time": 8.0,
        "demand_lead_review": 20.0,
        "sigma_lead_review": 4.47213595,
        "service_level": 0.95,
        "safety_stock": 7.356,
        "computed_reorder_point": 15.356,
        "catalogue_reorder_point": 12,
        "order_up_to": 27.356,
        "stockout_date": date(2026, 12, 3),
        "pack_size": 6,
        "min_order_quantity": 12,
        "suggested_order_quantity": 18,
        "urgent": True,
    }
    return base | values


ROWS = [
    _row("MER-10001"),
    _row(
        "ELE-10002",
        product_name='=HYPERLINK("http://x")',
        on_hand=-3,
        demand_source="trailing_average",
        daily_demand=1234.56,
        stockout_date=None,
        pack_size=1,
        suggested_order_quantity=7,
        urgent=False,
    ),
    _row("PAP-10003", suggested_order_quantity=0, urgent=False),
]
STORES = ["AM01", "SP01", "WEB"]


class _Warehouse:
    """Answers the export's queries: the view's rows for @store, the store list, freshness."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.sent: list[str] = []
        self.freshness = {"cutoff": "t", "batch_run_id": "r1", "forecast_run_id": "r1"}
        self.freshness["forecast_is_current"] = True

    def query_and_wait(self, sql: str, job_config: Any = None) -> list[Any]:
        self.sent.append(sql)
        if "reference.stores" in sql:
            return [{"store_id": s} for s in STORES]
        if "serving.freshness" in sql:
            return [SimpleNamespace(items=self.freshness.items)]
        store = job_config.query_parameters[0].value
        return [SimpleNamespace(items=r.items) for r in self.rows if r["store_id"] == store]


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch) -> _Warehouse:
    fake = _Warehouse(ROWS)
    monkeypatch.setattr(clients, "bigquery_client", lambda settings: fake)
    return fake


def _number(text: str) -> float:
    """A pt-BR number cell, parsed without a locale: ``1.234,5`` -> 1234.5."""
    return float(text.replace(".", "").replace(",", "."))


def _read(path: Path, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_export_opens_with_brazilian_conventions(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "sp01.csv"
    result = CliRunner().invoke(app, ["replenishment", "export", "--store", "SP01", "--out", out])
    assert result.exit_code == 0, result.output
    assert "2 to order" in result.output
    data = out.read_bytes()
    assert data.startswith(BOM)
    assert b"\r\n" in data and data.count(b";") > 20
    rows = _read(out, "utf-8-sig")
    assert [r["SKU"] for r in rows] == ["MER-10001", "ELE-10002"]  # nothing to order: left out
    first, second = rows
    assert first["Produto"] == "Café em Grãos Ipê 101"
    assert datetime.strptime(first["Data da revisão"], "%d/%m/%Y").date() == date(2026, 12, 1)
    assert datetime.strptime(first["Ruptura prevista em"], "%d/%m/%Y").date() == date(2026, 12, 3)
    assert _number(first["Estoque de segurança (un.)"]) == pytest.approx(7.4)
    assert first["Estoque de segurança (un.)"] == "7,4"
    assert int(first["Sugestão de compra (un.)"]) == 18
    assert int(first["Sugestão de compra (caixas)"]) == 3
    assert (first["Urgente"], first["Base da demanda"]) == ("Sim", "previsão")
    # A formula in a product name is shown as text; a negative stock stays a number.
    assert second["Produto"] == '\'=HYPERLINK("http://x")'
    assert int(second["Estoque atual (un.)"]) == -3
    assert second["Demanda média diária (un.)"] == "1234,6"  # no thousands mark
    assert second["Ruptura prevista em"] == ""
    assert (second["Urgente"], second["Base da demanda"]) == (
        "Não",
        "média observada (dias com estoque)",
    )


def test_latin1_option_writes_latin1_without_bom(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "sp01.csv"
    args = ["replenishment", "export", "--store", "SP01", "--out", out, "--encoding", "latin-1"]
    result = CliRunner().invoke(app, [*args, "--all"])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert not data.startswith(BOM)
    assert "Café em Grãos".encode("latin-1") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really Latin-1, not UTF-8
    rows = _read(out, "latin-1")
    assert len(rows) == 3  # --all: the SKU with nothing to order too
    assert rows[0]["Sugestão de compra (un.)"] == "18"


def test_characters_latin1_lacks_are_replaced_and_counted() -> None:
    data, replaced = purchasing.encode("Café — 10 ☕", "latin-1")
    assert data == "Café ? 10 ?".encode("latin-1")
    assert replaced == 2
    assert purchasing.encode("Café — 10", "utf-8-bom") == (BOM + "Café — 10".encode(), 0)


def test_unknown_store_lists_the_known_ones(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = CliRunner().invoke(app, ["replenishment", "export", "--store", "XX99", "--out", out])
    assert result.exit_code == 2
    assert "unknown store 'XX99'; known stores: AM01, SP01, WEB" in result.output
    assert not out.exists()


def test_known_store_without_positions_says_what_to_run(
    warehouse: _Warehouse, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["replenishment", "export", "--store", "AM01", "--out", tmp_path / "x.csv"]
    )
    assert result.exit_code == 2
    assert "no stock positions for AM01" in result.output
    assert "salesphere batch run" in result.output


def test_bad_encoding_is_refused_before_any_query(warehouse: _Warehouse, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["replenishment", "export", "--store", "SP01", "--encoding", "cp1252"],
    )
    assert result.exit_code != 0
    assert "utf-8-bom, latin-1" in result.output
    assert warehouse.sent == []


def test_header_and_cells_are_neutralised_in_render() -> None:
    text = purchasing.render([_row("=1+1", supplier="@evil", product_name="-x")])
    cells = next(iter(csv.DictReader(io.StringIO(text), delimiter=";")))
    assert (cells["SKU"], cells["Fornecedor"], cells["Produto"]) == ("'=1+1", "'@evil", "'-x")


def test_stale_forecast_warning_says_why_only_when_the_forecast_is_behind() -> None:
    from salesphere_tools.purchasing import stale_forecast_warning

    current = {"cutoff": "t", "batch_run_id": "r2", "forecast_run_id": "r2"}
    assert stale_forecast_warning({**current, "forecast_is_current": True}) is None
    assert stale_forecast_warning({}) is None  # no batch run yet: nothing to compare
    behind = {
        **current,
        "forecast_run_id": "r1",
        "forecast_is_current": False,
        "forecast_age_seconds": 7200,
    }
    assert "2 h old (run r1)" in stale_forecast_warning(behind)
    missing = {"cutoff": "t", "forecast_run_id": None, "forecast_is_current": False}
    assert "no demand forecast yet" in stale_forecast_warning(missing)
    overdue = {
        **current,
        "forecast_is_current": True,
        "forecast_overdue": True,
        "forecast_age_seconds": 50 * 3600,
        "batch_every_seconds": 24 * 3600,
    }
    assert "50 h old but batch runs came every 24 h" in stale_forecast_warning(overdue)
    assert stale_forecast_warning({**overdue, "forecast_overdue": False}) is None


def test_export_warns_when_the_forecast_behind_it_is_stale(
    warehouse: _Warehouse, tmp_path: Path
) -> None:
    warehouse.freshness |= {
        "batch_run_id": "r2",
        "forecast_is_current": False,
        "forecast_age_seconds": 90000,
    }
    out = tmp_path / "sp01.csv"
    result = CliRunner().invoke(app, ["replenishment", "export", "--store", "SP01", "--out", out])
    assert result.exit_code == 0, result.output
    assert "warning: the demand forecast is 25 h old (run r1)" in result.output
    assert out.exists()
