"""serving.transfer_suggestions and its netting in serving.replenishment, on the twin.

Every position sells a forecast 2 units a day (no interval, no sales history: sigma 0), with
a supplier lead time of 3 days and a weekly review, so by hand, for every store:

    reorder point = 2 x 3 = 6        order-up-to = 2 x (3 + 7) = 20

A store holding 180 (90 days of sales) can give 180 - 20 = 160 without falling under its
own order-up-to level; an empty shelf needs 20 - on order - in transit.
"""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.model import finalize
from salesphere_tools import purchasing, transfers
from salesphere_tools.purchasing import ExportError
from salesphere_tools.report import data
from salesphere_tools.warehouse.reference import load_reference_files
from tests.support import batch as h

pytestmark = pytest.mark.twin

STORES = {"SP1": "SP", "SP2": "SP", "RJ1": "RJ", "MG1": "MG"}
#: (store, sku) -> units counted on the shelf.
SHELF = {
    # T: a 90-day surplus in SP1 and in RJ1 (same size; RJ1 sorts first by id), SP2 empty:
    # SP2 is served from its own state.
    ("SP1", "T"): 180,
    ("RJ1", "T"): 180,
    ("SP2", "T"): 0,
    # U: nobody in Minas has stock: SP1 sends across states, on the pair's own lead time.
    ("SP1", "U"): 180,
    ("MG1", "U"): 0,
    # V: SP1 can spare 30 - 20 = 10 of SP2's 20: 10 moved, 10 bought.
    ("SP1", "V"): 30,
    ("SP2", "V"): 0,
    # W: 4 already on their way to SP2 from RJ1 (TR-1 left, never arrived; TR-2 arrived):
    # SP2 needs 20 - 4 = 16.
    ("SP1", "W"): 180,
    ("SP2", "W"): 0,
}

#: (sku, from, to) -> (units, same_state, lead_time_days), by hand.
MOVES = {
    ("T", "SP1", "SP2"): (20, True, 2),
    ("U", "SP1", "MG1"): (20, False, 5),  # reference.transfer_lead_times
    ("V", "SP1", "SP2"): (10, True, 2),
    ("W", "SP1", "SP2"): (16, True, 2),
}

#: (store, sku) -> (on_order, in_transit, transfer_in, transfer_out, suggested order).
POSITIONS = {
    ("SP1", "T"): (0, 0, 0, 20, 0),
    ("RJ1", "T"): (0, 0, 0, 0, 0),
    ("SP2", "T"): (0, 0, 20, 0, 0),  # covered by the transfer: nothing bought
    ("SP1", "U"): (0, 0, 0, 20, 0),
    ("MG1", "U"): (0, 0, 20, 0, 0),
    ("SP1", "V"): (0, 0, 0, 10, 0),
    ("SP2", "V"): (0, 0, 10, 0, 10),  # only what the transfer does not cover
    ("SP1", "W"): (0, 0, 0, 16, 0),
    ("SP2", "W"): (4, 4, 16, 0, 0),
    ("RJ1", "W"): (0, 0, 0, 0, 0),  # sent 7, never counted: on hand -7, no demand
}


def _event(kind: str, store: str, sku: str, qty: int, at: datetime, received: datetime, **kw):
    return finalize(
        {
            "event_type": kind,
            "occurred_at": at,
            "source": "inventory",
            "store_id": store,
            "sku": sku,
            "quantity": qty,
            **kw,
        },
        received,
    )


def _events(now: datetime, received: datetime) -> list:
    sent = now - timedelta(hours=3)  # before the counts: on hand is the count
    events = [
        _event(
            "transfer_out",
            "RJ1",
            "W",
            4,
            sent,
            received,
            counterpart_store_id="SP2",
            source_ref="TR-1",
        ),
        _event(
            "transfer_out",
            "RJ1",
            "W",
            3,
            sent,
            received,
            counterpart_store_id="SP2",
            source_ref="TR-2",
        ),
        _event(
            "transfer_in",
            "SP2",
            "W",
            3,
            sent + timedelta(hours=1),
            received,
            counterpart_store_id="RJ1",
            source_ref="TR-2",
        ),
    ]
    counted = now - timedelta(minutes=1)
    events += [h.count(s, sku, qty, counted, received) for (s, sku), qty in SHELF.items()]
    return events


def _forecasts(today: date) -> list[dict]:
    return [
        {
            "store_id": store,
            "sku": sku,
            "forecast_date": (today + timedelta(days=d)).isoformat(),
            "origin_date": (today - timedelta(days=1)).isoformat(),
            "model": "test",
            "units": 2.0,
            "units_lo_80": None,
            "units_hi_80": None,
            "units_lo_95": None,
            "units_hi_95": None,
            "run_id": "run-test",
            "computed_at": datetime.now(UTC).isoformat(),
        }
        for store, sku in SHELF
        for d in range(14)
    ]


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _load_reference(settings, folder: Path) -> None:
    """Through `salesphere batch load-reference`: products, stores and one pair's lead time."""
    bq = clients.bigquery_client(settings)
    bq.query_and_wait("DELETE FROM batch.demand_forecast WHERE TRUE")
    folder.mkdir()
    products = [
        {
            "sku": sku,
            "name": f"Item {sku}",
            "category": "test",
            "unit_cost": "1.00",
            "list_price": "2.00",
            "reorder_point": 5,
            "supplier_lead_time_days": 3,
            "supplier": "x",
            "review_period_days": 7,
            "pack_size": 1,
            "min_order_quantity": 0,
        }
        for sku in "TUVW"
    ]
    stores = [
        {
            "store_id": s,
            "name": s,
            "city": "c",
            "state": uf,
            "channel": "store",
            "timezone": "America/Sao_Paulo",
        }
        for s, uf in STORES.items()
    ]
    _write_csv(folder / "products.csv", products)
    _write_csv(folder / "stores.csv", stores)
    # Today's reference folders have no lead-time file: they load, and the table is empty.
    loaded = load_reference_files(settings, folder)
    assert loaded["reference.transfer_lead_times"] == 0
    _write_csv(
        folder / "transfer_lead_times.csv", [{"from_store": "SP1", "to_store": "MG1", "days": 5}]
    )
    loaded = load_reference_files(settings, folder)
    assert loaded["reference.transfer_lead_times"] == 1


def _moves(settings) -> dict[tuple, tuple]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT sku, from_store, to_store, units, same_state, lead_time_days, "
        "from_order_up_to, to_reorder_point FROM serving.transfer_suggestions"
    )
    out = {}
    for r in rows:
        assert round(r["from_order_up_to"], 6) == 20.0 and round(r["to_reorder_point"], 6) == 6.0
        out[(r["sku"], r["from_store"], r["to_store"])] = (
            r["units"],
            r["same_state"],
            r["lead_time_days"],
        )
    return out


def _positions(settings) -> dict[tuple, tuple]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT store_id, sku, on_order, in_transit, transfer_in, transfer_out, "
        "suggested_order_quantity FROM serving.replenishment"
    )
    return {
        (r["store_id"], r["sku"]): (
            r["on_order"],
            r["in_transit"],
            r["transfer_in"],
            r["transfer_out"],
            r["suggested_order_quantity"],
        )
        for r in rows
    }


def test_transfers_come_before_purchases_on_both_sides_of_the_cutoff(quiet_twin, tmp_path) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _load_reference(settings, tmp_path / "reference")
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/Sao_Paulo")).date()
    received = now - timedelta(minutes=1)
    events = _events(now, received)
    bq = clients.bigquery_client(settings)
    assert bq.insert_rows_json(f"{settings.project}.batch.demand_forecast", _forecasts(today)) == []
    h.archive(settings, events, "transfers")
    h.land_speed(settings, events)
    assert _moves(settings) == MOVES  # events in the speed half
    assert _positions(settings) == POSITIONS
    run_batch(
        dataclasses.replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - received - timedelta(seconds=1),
    )
    assert _moves(settings) == MOVES  # ...and in the batch half
    assert _positions(settings) == POSITIONS

    # The pt-BR export for SP2: what it receives, in spreadsheet cells.
    result = transfers.export(settings, "SP2", tmp_path / "sp2.csv")
    assert (result.rows, result.units) == (3, 46)
    with result.path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [(r["SKU"], r["Loja de origem"], r["Transferir (un.)"]) for r in rows] == [
        ("T", "SP1", "20"),
        ("V", "SP1", "10"),
        ("W", "SP1", "16"),
    ]
    v = rows[1]
    assert v["Compra restante no destino (un.)"] == "10" and v["Mesmo estado"] == "Sim"
    assert v["Nível máximo na origem (un.)"] == "20,0"
    assert v["Ruptura prevista no destino em"] == f"{today:%d/%m/%Y}"  # empty shelf
    everything = transfers.export(settings, None, tmp_path / "all.csv")
    assert (everything.rows, everything.units) == (4, 66)
    with pytest.raises(ExportError, match="unknown store 'XX'"):
        transfers.export(settings, "XX", tmp_path / "xx.csv")

    # SP2's purchase export shows the buyer why V is bought only in part and W not at all.
    bought = purchasing.export(settings, "SP2", tmp_path / "buy.csv", everything=True)
    with bought.path.open(encoding="utf-8-sig", newline="") as handle:
        lines = {r["SKU"]: r for r in csv.DictReader(handle, delimiter=";")}
    cells = (
        "Receber por transferência (un.)",
        "Em trânsito de outra loja (un.)",
        "Sugestão de compra (un.)",
    )
    assert {sku: tuple(lines[sku][c] for c in cells) for sku in ("T", "V", "W")} == {
        "T": ("20", "0", "0"),
        "V": ("10", "0", "10"),
        "W": ("16", "4", "0"),
    }

    # The dashboard reads the same rows.
    shown = {
        (r["sku"], r["from_store"], r["to_store"]): r["units"]
        for r in data.fetch_transfers(settings)
    }
    assert shown == {key: units for key, (units, _, _) in MOVES.items()}

    # Without the pair's row the cross-state default applies.
    (tmp_path / "reference" / "transfer_lead_times.csv").unlink()
    load_reference_files(settings, tmp_path / "reference")
    assert _moves(settings)[("U", "SP1", "MG1")] == (20, False, 4)
