"""Web-shop invoices in the twin: dropped through the file-drop ingestor, matched to the web
orders of the order feed by serving.web_invoice_orders, whichever arrives first.

The web shop WEB invoices order WEB-1 before the order feed has sent it (unmatched), then
the order lands in the speed half (matched). WEB-2's order is already in master.events
when its invoice arrives (matched at once, and a re-sent invoice is still one row).
WEB-9's invoice names an order that never arrives (unmatched). An invoice received 6 days
ago (WEB-0, matched) opens the window for uninvoiced orders: WEB-OLD, placed 5 days ago, has
no invoice (uninvoiced, 5 days); WEB-NEW, placed yesterday, is not late yet; WEB-PRE,
placed 10 days ago, predates the first invoice; a store sale with the same order number
as WEB-9 is not a web order. Cancelled, WEB-9's invoice leaves the view.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salesphere.gcp import clients
from salesphere.ingest.files import FileIngestor, ObjectRef
from salesphere.ingest.service import IngestService
from salesphere.model import CanonicalEvent, finalize
from salesphere_tools.report import data as report_data
from tests.salesphere.fiscal.samples import WEB_SHOP, Line, build, cancellation, key_of
from tests.support import batch as h

pytestmark = pytest.mark.twin


def _reference(settings) -> None:
    bq = clients.bigquery_client(settings)
    for sql in (
        "DELETE FROM reference.products WHERE TRUE",
        "DELETE FROM reference.stores WHERE TRUE",
        "DELETE FROM ops.ingest_log WHERE TRUE",
    ):
        bq.query_and_wait(sql)
    product = {
        "sku": "SKU-1",
        "name": "x",
        "category": "test",
        "unit_cost": "1.00",
        "list_price": "4.99",
        "reorder_point": 1,
        "supplier_lead_time_days": 1,
        "supplier": "x",
    }
    stores = [
        {
            "store_id": store_id,
            "name": store_id,
            "city": "c",
            "state": "SP",
            "channel": channel,
            "timezone": "America/Sao_Paulo",
            "cnpj": cnpj,
        }
        for store_id, channel, cnpj in (("WEB", "online", WEB_SHOP), ("S1", "store", None))
    ]
    project = settings.project
    assert bq.insert_rows_json(f"{project}.reference.products", [product]) == []
    assert bq.insert_rows_json(f"{project}.reference.stores", stores) == []


def _order(order: str, at: datetime, *, store: str = "WEB", channel: str = "online"):
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": at,
            "source": "webshop",
            "store_id": store,
            "sku": "SKU-1",
            "quantity": 1,
            "unit_price": "4.99",
            "order_id": order,
            "line_number": 1,
            "channel": channel,
        },
        at,
    )


def _invoice(order: str, number: int) -> bytes:
    return build(
        model="55",
        issuer=WEB_SHOP,
        recipient_cpf="68834846982",
        lines=[Line("SKU-1", "1", "4.99", order=order)],
        number=number,
    )


def _drop(settings, name: str, body: bytes) -> dict:
    bucket = clients.storage_client(settings).bucket(settings.buckets.landing)
    bucket.blob(name).upload_from_string(body, content_type="application/xml")
    return FileIngestor(IngestService(settings)).handle(ObjectRef(settings.buckets.landing, name))


def _to_master(settings, events: list[CanonicalEvent]) -> None:
    errors = clients.bigquery_client(settings).insert_rows_json(
        f"{settings.project}.master.events", [e.to_row() for e in events]
    )
    assert not errors, errors


def _rows(settings) -> dict[tuple, tuple]:
    rows = clients.query_rows(
        settings,
        "SELECT order_id, document_key, issuer_cnpj, store_id, status, days_waiting "
        "FROM serving.web_invoice_orders",
    )
    return {
        (r["order_id"], r["document_key"]): (
            r["issuer_cnpj"],
            r["store_id"],
            r["status"],
            r["days_waiting"],
        )
        for r in rows
    }


def test_each_web_invoice_is_matched_to_its_order_whichever_arrives_first(quiet_twin) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _reference(settings)
    now = datetime.now(UTC)
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    first, second, stray = _invoice("WEB-1", 901), _invoice("WEB-2", 902), _invoice("WEB-9", 909)
    k1, k2, k9 = key_of(first), key_of(second), key_of(stray)

    # An invoice adds no sale: ingested, no events, the link logged.
    outcome = _drop(settings, "web/nf-901.xml", first)
    assert (outcome["status"], outcome["mapping"], outcome["events"]) == ("ingested", "nfe", 0)
    assert _rows(settings) == {("WEB-1", k1): (WEB_SHOP, None, "unmatched", 0)}

    # The order lands after its invoice: the same view now matches it.
    h.land_speed(settings, [_order("WEB-1", ago(0.1))])
    _to_master(
        settings,
        [
            _order("WEB-2", ago(0.2)),
            _order("WEB-OLD", ago(5)),
            _order("WEB-NEW", ago(1)),
            _order("WEB-PRE", ago(10)),
            _order("WEB-9", ago(0.3), store="S1", channel="store"),
        ],
    )
    _drop(settings, "web/nf-902.xml", second)
    assert _drop(settings, "web/nf-902-again.xml", second + b"\n")["duplicate"] == 1
    _drop(settings, "web/nf-909.xml", stray)
    # An invoice received 6 days ago (its ledger row as ingest wrote it then).
    old_key = "3" * 44
    ledger = {
        "request_id": "old-invoice",
        "source": "nfe",
        "channel": "file",
        "received_at": ago(6).isoformat(),
        "records_received": 1,
        "records_accepted": 1,
        "records_rejected": 0,
        "events_accepted": 0,
        "document_key": old_key,
        "order_id": "WEB-0",
    }
    bq = clients.bigquery_client(settings)
    assert bq.insert_rows_json(f"{settings.project}.ops.ingest_log", [ledger]) == []
    _to_master(settings, [_order("WEB-0", ago(6.5))])

    assert _rows(settings) == {
        ("WEB-1", k1): (WEB_SHOP, "WEB", "matched", 0),
        ("WEB-2", k2): (WEB_SHOP, "WEB", "matched", 0),
        ("WEB-9", k9): (WEB_SHOP, None, "unmatched", 0),
        ("WEB-0", old_key): ("3" * 14, "WEB", "matched", 0),
        ("WEB-OLD", None): (None, "WEB", "uninvoiced", 5),
    }
    # The dashboard's count under data quality.
    (counts,) = clients.query_rows(settings, report_data._WEB_INVOICES_SQL)
    assert (counts["unmatched"], counts["uninvoiced"]) == (1, 1)

    # The stray invoice is cancelled: it counts nowhere, so it leaves the view.
    outcome = _drop(settings, "web/nf-909-cancel.xml", cancellation(k9, author=WEB_SHOP))
    assert (outcome["status"], outcome["rejected"]) == ("ingested", 0)
    assert ("WEB-9", k9) not in _rows(settings)
    (counts,) = clients.query_rows(settings, report_data._WEB_INVOICES_SQL)
    assert (counts["unmatched"], counts["uninvoiced"]) == (0, 1)
