"""Receipts the batch layer assumes for transfers nobody confirmed, on the twin.

S1 sends to S2 (same state, 2 days by default) and to R1 (other state; its pair has its
own lead time of 1 day). A transfer nobody confirms arrives, for stock, lead time + 1 day
after it was issued; until then it is in transit at the receiver. A confirmed one, a
cancelled one and another feed's transfer are never assumed. A real receipt that arrives
after its assumed twin replaces it and never counts twice.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.identity import derive_event_id
from salesphere.model import CanonicalEvent, finalize
from salesphere_tools.recompute import served_events
from tests.support import batch as h

pytestmark = pytest.mark.twin

SKUS = ("K1", "K2", "K3", "K4", "K5")
#: receiver, sku -> (on hand, in transit) after the first run, by hand:
#: A  S1 -> S2 K1 5, 4 days ago, unconfirmed: due after 2 + 1 days: assumed arrived.
#: B  S1 -> S2 K2 3, 1 day ago: in transit.
#: C  S1 -> R1 K1 4, 3 days ago, pair lead time 1 day (default 4 + 1 would not be due).
#: D  S1 -> S2 K3 2, confirmed: arrived by its confirmation, nothing assumed.
#: E  S1 -> S2 K4 7, cancelled (voided): nowhere.
#: F  S1 -> S2 K5 6, another feed's transfer: that feed sends its own receipt, still away.
EXPECTED = {
    ("S2", "K1"): (5, 0),
    ("S2", "K2"): (0, 3),
    ("R1", "K1"): (4, 0),
    ("S2", "K3"): (2, 0),
    ("S2", "K4"): (0, 0),
    ("S2", "K5"): (0, 6),
}


def _transfer(kind, doc, sku, qty, at, received, frm="S1", to="S2", source="nfe"):
    here, there = (frm, to) if kind == "transfer_out" else (to, frm)
    return finalize(
        {
            "event_type": kind,
            "occurred_at": at,
            "source": source,
            "source_ref": f"{doc}/1",
            "store_id": here,
            "sku": sku,
            "quantity": qty,
            "counterpart_store_id": there,
            "channel": "backoffice",
        },
        received,
    )


def _void(voided: CanonicalEvent, received: datetime) -> CanonicalEvent:
    return finalize(
        {
            "event_type": "void",
            "occurred_at": voided.occurred_at,
            "source": "nfe-event",
            "source_ref": voided.event_id,
            "store_id": voided.store_id,
            "sku": voided.sku,
            "quantity": 0,
            "channel": "backoffice",
        },
        received,
    )


def _reference(settings) -> None:
    bq = clients.bigquery_client(settings)
    for table in ("stores", "products", "transfer_lead_times"):
        bq.query_and_wait(f"DELETE FROM reference.{table} WHERE TRUE")
    stores = [
        {"store_id": s, "name": s, "city": "c", "state": uf, "channel": "store",
         "timezone": "America/Sao_Paulo"}
        for s, uf in (("S1", "SP"), ("S2", "SP"), ("R1", "RJ"))
    ]  # fmt: skip
    products = [
        {"sku": sku, "name": sku, "category": "t", "unit_cost": "1.00", "list_price": "2.00",
         "reorder_point": 1, "supplier_lead_time_days": 3, "supplier": "x"}
        for sku in SKUS
    ]  # fmt: skip
    lead = [{"from_store": "S1", "to_store": "R1", "days": 1}]
    project = settings.project
    assert bq.insert_rows_json(f"{project}.reference.stores", stores) == []
    assert bq.insert_rows_json(f"{project}.reference.products", products) == []
    assert bq.insert_rows_json(f"{project}.reference.transfer_lead_times", lead) == []


def _positions(settings) -> dict[tuple[str, str], tuple[int, int]]:
    on_hand = {
        (r["store_id"], r["sku"]): r["on_hand"]
        for r in clients.query_rows(settings, "SELECT * FROM serving.inventory_on_hand")
    }
    transit = {
        (r["store_id"], r["sku"]): r["in_transit"]
        for r in clients.query_rows(settings, "SELECT * FROM serving.replenishment")
    }
    return {key: (on_hand.get(key, 0), transit.get(key, 0)) for key in EXPECTED}


def _assumed(settings) -> dict[str, tuple]:
    rows = clients.query_rows(
        settings, "SELECT * FROM master.events WHERE source = 'nfe-assumed-receipt'"
    )
    return {r["event_id"]: (r["store_id"], r["sku"], r["quantity"], r["occurred_at"]) for r in rows}


def _receipt_id(out: CanonicalEvent) -> str:
    return derive_event_id(
        event_type="transfer_in",
        store_id=out.counterpart_store_id,
        sku=out.sku,
        occurred_at=out.occurred_at,
        source_ref=out.source_ref,
        counterpart_store_id=out.store_id,
    )


def test_unconfirmed_transfers_arrive_after_their_lead_time_and_a_real_receipt_wins(
    quiet_twin,
) -> None:
    settings = dataclasses.replace(quiet_twin.settings, forecast_enabled=False)
    h.reset(settings)
    _reference(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    received = now - timedelta(minutes=10)
    day = timedelta(days=1)
    a = _transfer("transfer_out", "A", "K1", 5, now - 4 * day, received)
    c = _transfer("transfer_out", "C", "K1", 4, now - 3 * day, received, to="R1")
    e = _transfer("transfer_out", "E", "K4", 7, now - 5 * day, received)
    events = [
        a,
        _transfer("transfer_out", "B", "K2", 3, now - day, received),
        c,
        _transfer("transfer_out", "D", "K3", 2, now - 5 * day, received),
        _transfer("transfer_in", "D", "K3", 2, now - 4 * day, received, source="nfe-event"),
        e,
        _void(e, received),
        _transfer("transfer_out", "F", "K5", 6, now - 10 * day, received, source="inventory"),
    ]
    # Counted empty before it all, so each receiving position exists (the view lists
    # positions the stock record knows).
    events += [h.count(s, sku, 0, now - 20 * day, received) for s, sku in EXPECTED]
    h.archive(settings, events, "transfers")
    run_batch(settings, archive_lag=datetime.now(UTC) - received - timedelta(seconds=1))

    assert _assumed(settings) == {
        _receipt_id(a): ("S2", "K1", 5, a.occurred_at + 3 * day),
        _receipt_id(c): ("R1", "K1", 4, c.occurred_at + 2 * day),
    }
    assert _positions(settings) == EXPECTED
    assert served_events(settings) == len(events)  # derived, not accepted: reconcile balances

    # A's real receipt comes after the cutoff: its assumed twin in master stands for it.
    late = now - timedelta(seconds=30)
    real = _transfer("transfer_in", "A", "K1", 5, now - 2 * day, late, source="nfe-event")
    assert real.event_id == _receipt_id(a)
    h.archive(settings, [real], "receipt")
    h.land_speed(settings, [real])
    assert _positions(settings) == EXPECTED  # never 10 at S2
    assert served_events(settings) == len(events) + 1

    run_batch(settings, archive_lag=datetime.now(UTC) - late - timedelta(seconds=1))
    assert set(_assumed(settings)) == {_receipt_id(c)}  # the real one won
    (kept,) = clients.query_rows(
        settings,
        f"SELECT source, occurred_at FROM master.events WHERE event_id = '{real.event_id}'",
    )
    assert (kept["source"], kept["occurred_at"]) == ("nfe-event", real.occurred_at)
    assert _positions(settings) == EXPECTED
    assert served_events(settings) == len(events) + 1
