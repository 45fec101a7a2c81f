"""`salesphere replenishment transfers`: the suggested transfers as a pt-BR spreadsheet."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from salesphere.gcp import clients
from salesphere_tools.cli.main import app

ROW = {
    "sku": "MER-10001",
    "product_name": '=HYPERLINK("http://x")',
    "from_store": "SP01",
    "to_store": "SP02",
    "units": 16,
    "same_state": True,
    "lead_time_days": 2,
    "as_of_date": date(2026, 12, 1),
    "from_on_hand": 180,
    "from_order_up_to": 27.356,
    "to_on_hand": 0,
    "to_on_order": 4,
    "to_reorder_point": 15.356,
    "to_order_up_to": 27.356,
    "to_stockout_date": date(2026, 12, 3),
    "to_suggested_order_quantity": 8,
}


class _Warehouse:
    def __init__(self) -> None:
        self.parameters: list[Any] = []
        self.freshness: dict[str, Any] = {"cutoff": "t", "forecast_is_current": True}

    def query_and_wait(self, sql: str, job_config: Any = None) -> list[Any]:
        if "reference.stores" in sql:
            return [{"store_id": s} for s in ("SP01", "SP02")]
        if "serving.freshness" in sql:
            return [SimpleNamespace(items=self.freshness.items)]
        self.parameters.append([p.value for p in job_config.query_parameters])
        return [SimpleNamespace(items=ROW.items)]


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch) -> _Warehouse:
    fake = _Warehouse()
    monkeypatch.setattr(clients, "bigquery_client", lambda settings: fake)
    return fake


def test_transfers_open_with_brazilian_conventions(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(
        app, ["replenishment", "transfers", "--store", "SP02", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 transfer(s), 16 unit(s)" in result.output
    assert warehouse.parameters == [["SP02"]]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        (row,) = list(csv.DictReader(handle, delimiter=";"))
    assert row["Produto"] == '\'=HYPERLINK("http://x")'  # shown as text, never run
    assert row["Data da revisão"] == "01/12/2026"
    assert row["Ponto de pedido no destino (un.)"] == "15,4"
    assert row["Mesmo estado"] == "Sim" and row["Transferir (un.)"] == "16"


def test_all_stores_send_no_store_parameter(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    result = CliRunner().invoke(app, ["replenishment", "transfers", "--all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert warehouse.parameters == [[]]


@pytest.mark.parametrize("args", [[], ["--store", "SP01", "--all"]])
def test_store_or_all_must_be_chosen(warehouse: _Warehouse, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["replenishment", "transfers", *args])
    assert result.exit_code == 2
    assert "--store <id> or --all" in result.output


def test_unknown_store_lists_the_known_ones(warehouse: _Warehouse, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    result = CliRunner().invoke(app, ["replenishment", "transfers", "--store", "XX", "--out", out])
    assert result.exit_code == 2
    assert "unknown store 'XX'; known stores: SP01, SP02" in result.output


def test_transfers_warn_when_the_levels_rest_on_an_old_forecast(
    warehouse: _Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(app, ["replenishment", "transfers", "--all", "--out", str(out)])
    assert result.exit_code == 0 and "warning" not in result.output
    warehouse.freshness = {
        "cutoff": "t",
        "forecast_is_current": True,
        "forecast_overdue": True,
        "forecast_age_seconds": 72 * 3600,
        "batch_every_seconds": 24 * 3600,
    }
    result = CliRunner().invoke(app, ["replenishment", "transfers", "--all", "--out", str(out)])
    assert result.exit_code == 0 and out.exists()
    assert "warning: the demand forecast is 72 h old" in result.output
