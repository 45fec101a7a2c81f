"""Purchase orders in the twin: ERP files through the file-drop ingestor, receipts linked to
their lines, serving.open_purchase_orders and on_order in serving.replenishment, on both
sides of the cutoff. Every figure is worked out by hand in the comments.

Each SKU has the same plan: a forecast of 4 units a day with no interval (sigma 0), lead
time 2 + review period 3 = 5 days, so the position should reach 20 units; 10 are on hand
(counted a minute ago), so without orders the suggestion is 20 - 10 = 10.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.ingest.files import FileIngestor, ObjectRef
from salesphere.ingest.service import IngestService
from salesphere.model import finalize
from salesphere_tools import purchasing
from salesphere_tools.report import data as report_data
from tests.salesphere.fiscal.samples import SUPPLIER, SUPPLIER_ALNUM
from tests.support import batch as h

pytestmark = pytest.mark.twin

SKUS = ("ON", "LATE", "CAN", "FIFO", "NONE")
STORE = "S1"
TZ = ZoneInfo("America/Sao_Paulo")


def _key(supplier: str, number: int) -> str:
    """A 44-character access key with ``supplier`` as issuer (check digit not needed here)."""
    key = f"352612{supplier}55001{number:09d}1123456780"
    assert len(key) == 44
    return key


def _receipt(sku: str, qty: int, at: datetime, received: datetime, **kw):
    fields = {
        "event_type": "stock_receipt",
        "occurred_at": at,
        "source": kw.pop("source", "inventory"),
        "store_id": STORE,
        "sku": sku,
        "quantity": qty,
        "channel": "backoffice",
        **kw,
    }
    return finalize(fields, received)


def _reference(settings) -> None:
    bq = clients.bigquery_client(settings)
    for sql in (
        "DELETE FROM reference.products WHERE TRUE",
        "DELETE FROM reference.stores WHERE TRUE",
        "DELETE FROM reference.supplier_items WHERE TRUE",
        "DELETE FROM ops.purchase_order_lines WHERE TRUE",
    ):
        bq.query_and_wait(sql)
    products = [
        {
            "sku": sku,
            "name": sku.title(),
            "category": "test",
            "unit_cost": "2.50",
            "list_price": "5.00",
            "reorder_point": 5,
            "supplier_lead_time_days": 2,
            "supplier": "x",
            "review_period_days": 3,
            "pack_size": 1,
            "min_order_quantity": 0,
        }
        for sku in SKUS
    ]
    store = {
        "store_id": STORE,
        "name": STORE,
        "city": "c",
        "state": "SP",
        "channel": "store",
        "timezone": "America/Sao_Paulo",
    }
    items = [
        {"supplier_cnpj": SUPPLIER, "supplier_code": sku, "sku": sku, "units_per_supplier_unit": 1}
        for sku in SKUS
    ]
    project = settings.project
    assert bq.insert_rows_json(f"{project}.reference.products", products) == []
    assert bq.insert_rows_json(f"{project}.reference.stores", [store]) == []
    assert bq.insert_rows_json(f"{project}.reference.supplier_items", items) == []


def _forecasts(today: date) -> list[dict]:
    return [
        {
            "store_id": STORE,
            "sku": sku,
            "forecast_date": (today + timedelta(days=d)).isoformat(),
            "origin_date": (today - timedelta(days=1)).isoformat(),
            "model": "test",
            "units": 4.0,
            "units_lo_80": None,
            "units_hi_80": None,
            "units_lo_95": None,
            "units_hi_95": None,
            "run_id": "run-test",
            "computed_at": datetime.now(UTC).isoformat(),
        }
        for sku in SKUS
        for d in range(10)
    ]


def _orders_csv(rows: list[tuple]) -> str:
    header = "pedido;item;cnpj_fornecedor;loja;sku;quantidade;custo_unitario;data_pedido;"
    header += "previsao_entrega;situacao"
    lines = [header]
    for number, line, supplier, sku, qty, ordered, due, status in rows:
        lines.append(
            f"{number};{line};{supplier};{STORE};{sku};{qty};2,50;"
            f"{ordered.astimezone(UTC).isoformat()};{due:%d/%m/%Y};{status}"
        )
    return "\r\n".join(lines) + "\r\n"


def _drop(settings, name: str, text: str) -> dict:
    """Upload to the landing bucket and run the file-drop ingestor on it, in-process."""
    bucket = clients.storage_client(settings).bucket(settings.buckets.landing)
    bucket.blob(name).upload_from_string(text.encode(), content_type="text/csv")
    return FileIngestor(IngestService(settings)).handle(ObjectRef(settings.buckets.landing, name))


def _lines(settings) -> dict[tuple[str, int], tuple]:
    rows = clients.query_rows(
        settings,
        "SELECT order_number, line_number, ordered_units, received_units, "
        "received_named_units, cancelled_units, open_units, days_late, status "
        "FROM serving.open_purchase_orders",
    )
    return {
        (r["order_number"], r["line_number"]): (
            r["ordered_units"],
            r["received_units"],
            r["received_named_units"],
            r["cancelled_units"],
            r["open_units"],
            r["days_late"],
            r["status"],
        )
        for r in rows
    }


def _suggested(settings) -> dict[str, tuple[int, int]]:
    rows = clients.query_rows(
        settings, "SELECT sku, on_order, suggested_order_quantity FROM serving.replenishment"
    )
    return {r["sku"]: (r["on_order"], r["suggested_order_quantity"]) for r in rows}


def test_orders_in_transit_reduce_the_suggestion_until_received_or_cancelled(
    quiet_twin, tmp_path: Path
) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _reference(settings)
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    received = now - timedelta(minutes=2)
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    bq = clients.bigquery_client(settings)
    assert bq.insert_rows_json(f"{settings.project}.batch.demand_forecast", _forecasts(today)) == []

    # The ERP's export. A row with a broken CNPJ is refused alone, with its field and rule.
    first = _orders_csv(
        [
            ("PO-1", 1, SUPPLIER, "ON", 6, ago(0.01), today + timedelta(days=2), "aberto"),
            ("PO-2", 1, SUPPLIER, "LATE", 8, ago(5), today - timedelta(days=2), "aberto"),
            ("PO-3", 1, SUPPLIER, "CAN", 9, ago(1), today + timedelta(days=1), "aberto"),
            ("PO-4", 1, SUPPLIER, "FIFO", 5, ago(4), today - timedelta(days=1), "aberto"),
            ("PO-5", 1, SUPPLIER, "FIFO", 5, ago(2), today + timedelta(days=1), "aberto"),
            ("PO-6", 1, "11111111111111", "NONE", 5, ago(2), today, "aberto"),
        ]
    )
    outcome = _drop(settings, "purchase_orders/pedidos_1.csv", first)
    assert (outcome["status"], outcome["mapping"]) == ("ingested", "erp_pedidos")
    assert (outcome["received"], outcome["accepted"], outcome["rejected"]) == (6, 5, 1)
    (reject,) = clients.query_rows(
        settings, "SELECT source, field, rule FROM ops.rejects WHERE source = 'purchase_orders'"
    )
    assert (reject["field"], reject["rule"]) == ("supplier_cnpj", "business_rule")
    # The same bytes dropped again are a duplicate file: nothing is read twice.
    assert _drop(settings, "purchase_orders/pedidos_1_again.csv", first)["status"] == "duplicate"
    # A later export cancels PO-3 (the newest version of a line is its state).
    later = _orders_csv(
        [("PO-3", 1, SUPPLIER, "CAN", 9, ago(1), today + timedelta(days=1), "Cancelado")]
    )
    assert _drop(settings, "purchase_orders/pedidos_2.csv", later)["accepted"] == 1

    counted = now - timedelta(minutes=1)  # after every receipt: on hand is the count, 10
    events = [h.count(STORE, sku, 10, counted, received) for sku in SKUS]
    events += [
        # LATE: the supplier's NF-e names PO-2 line 1 (xPed/nItemPed): 5 of 8 arrive.
        _receipt(
            "LATE",
            5,
            ago(1),
            received,
            source="nfe",
            source_ref=f"{_key(SUPPLIER, 1)}/1",
            order_id="PO-2",
            line_number=1,
        ),
        # FIFO: 10 units 6 days ago, before either order: they close nothing.
        _receipt("FIFO", 10, ago(6), received, source_ref="NR-1"),
        # 3 at 3 days ago: only PO-4 (ordered 4 days ago) is open then -> PO-4 3.
        _receipt("FIFO", 3, ago(3), received, source_ref="NR-2"),
        # 4 yesterday: PO-4 takes its last 2, PO-5 (the younger) the other 2: open 3.
        _receipt("FIFO", 4, ago(1), received, source_ref="NR-3"),
        # 2 yesterday on another supplier's NF-e: no order of theirs, so nothing closes.
        _receipt(
            "FIFO", 2, ago(1), received, source="nfe", source_ref=f"{_key(SUPPLIER_ALNUM, 2)}/1"
        ),
    ]
    h.archive(settings, events, "purchase-orders")
    h.land_speed(settings, events)

    expected_lines = {
        # ordered, received, named, cancelled, open, days late, status
        ("PO-1", 1): (6, 0, 0, 0, 6, 0, "open"),
        ("PO-2", 1): (8, 5, 5, 0, 3, 2, "late"),
        ("PO-3", 1): (9, 0, 0, 9, 0, 0, "cancelled"),
        ("PO-4", 1): (5, 5, 0, 0, 0, 0, "received"),
        ("PO-5", 1): (5, 2, 0, 0, 3, 0, "open"),
    }
    expected_suggestions = {
        "ON": (6, 4),  # 20 - 10 - 6 on order
        "LATE": (3, 7),  # 20 - 10 - 3 still in transit (late)
        "CAN": (0, 10),  # the cancelled order is not on order
        "FIFO": (3, 7),  # PO-5's 3 open
        "NONE": (0, 10),  # its only order was refused
    }
    assert _lines(settings) == expected_lines  # the speed half
    assert _suggested(settings) == expected_suggestions
    run_batch(
        dataclasses.replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - received - timedelta(seconds=1),
    )
    assert _lines(settings) == expected_lines  # ...and the batch half
    assert _suggested(settings) == expected_suggestions

    # After the cutoff the rest of PO-2 arrives, naming its order: the line closes.
    rest = _receipt(
        "LATE",
        3,
        now - timedelta(seconds=30),
        datetime.now(UTC),
        source="nfe",
        source_ref=f"{_key(SUPPLIER, 3)}/1",
        order_id="PO-2",
        line_number=1,
    )
    h.land_speed(settings, [rest])
    assert _lines(settings)[("PO-2", 1)] == (8, 8, 8, 0, 0, 0, "received")
    # Its 3 units are on the shelf now (13 on hand): 20 - 13 - 0 on order.
    assert _suggested(settings)["LATE"] == (0, 7)

    # The dashboard lists what is late (nothing now) and the totals in transit: PO-1 and
    # PO-5, 6 + 3 units.
    late, transit = report_data.fetch_orders(settings)
    assert late == []
    assert (transit["lines"], transit["units"], transit["late_lines"]) == (2, 9, 0)

    # A buyer with no ERP records today's suggestion as placed orders; once the file is
    # ingested nothing is suggested again for those SKUs.
    placed = purchasing.place(settings, STORE, tmp_path, upload=True)
    assert (placed.lines, placed.units) == (5, 4 + 7 + 10 + 7 + 10)  # ON LATE CAN FIFO NONE
    outcome = FileIngestor(IngestService(settings)).handle(
        ObjectRef(settings.buckets.landing, placed.object_name)
    )
    assert (outcome["accepted"], outcome["rejected"]) == (5, 0)
    assert {sku: s for sku, (_, s) in _suggested(settings).items()} == dict.fromkeys(SKUS, 0)
    placed_lines = clients.query_rows(
        settings,
        "SELECT sku, open_units, expected_delivery, status FROM serving.open_purchase_orders "
        f"WHERE order_number = '{placed.order_number}' ORDER BY sku",
    )
    due = today + timedelta(days=2)  # the catalogue's lead time
    assert [
        (r["sku"], r["open_units"], r["expected_delivery"], r["status"]) for r in placed_lines
    ] == [
        ("CAN", 10, due, "open"),
        ("FIFO", 7, due, "open"),
        ("LATE", 7, due, "open"),
        ("NONE", 10, due, "open"),
        ("ON", 4, due, "open"),
    ]


def test_late_orders_are_flagged_on_the_dashboard(quiet_twin) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _reference(settings)
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    text = _orders_csv(
        [
            (
                "PO-7",
                1,
                SUPPLIER,
                "LATE",
                4,
                now - timedelta(days=9),
                today - timedelta(days=3),
                "aberto",
            ),
            ("PO-7", 2, SUPPLIER, "ON", 2, now - timedelta(days=9), today, "aberto"),
        ]
    )
    assert _drop(settings, "purchase_orders/late.csv", text)["accepted"] == 2
    assert _lines(settings) == {
        ("PO-7", 1): (4, 0, 0, 0, 4, 3, "late"),
        ("PO-7", 2): (2, 0, 0, 0, 2, 0, "open"),  # due today: not late yet
    }
    late, transit = report_data.fetch_orders(settings)
    assert [(r["order_number"], r["line_number"], r["days_late"]) for r in late] == [("PO-7", 1, 3)]
    assert (transit["lines"], transit["units"], transit["late_lines"]) == (2, 6, 1)
