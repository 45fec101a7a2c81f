"""Fiscal XML through ingest's two doors, against in-memory storage, Pub/Sub and ledger.

File drops recognise fiscal XML by content (any name); HTTP by ``Content-Type:
application/xml``. Both publish the document's events once, refuse with the reason and
keep the document, and remember each key in the landing bucket's ``_fiscal/`` register.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from salesphere.ingest import fiscal, http, signing
from salesphere.ingest.catalog import Reference
from salesphere.ingest.files import FileIngestor
from salesphere.ingest.service import IngestService
from salesphere.settings import Settings
from tests.salesphere.fiscal.samples import (
    STORE_RJ,
    STORE_SP,
    WEB_SHOP,
    Line,
    build,
    cancellation,
    confirmation,
    key_of,
)
from tests.salesphere.fiscal.test_convert import CATALOG
from tests.salesphere.fiscal.test_xmlsafe import BILLION_LAUGHS
from tests.salesphere.ingest.test_files_attempts import (
    LANDING,
    Ledger,
    Publisher,
    Storage,
    drop,
)
from tests.salesphere.ingest.test_http import FakeRequest

TICKET = build(lines=[Line("SKU-1", "2.0000", "4.99"), Line("SKU-2", "1", "10.00")])


def wire(settings: Settings) -> tuple[FileIngestor, IngestService]:
    service = IngestService(
        settings,
        publisher=Publisher(),
        ledger=Ledger(),
        reference=Reference(),  # type: ignore[arg-type]
    )
    storage = Storage()
    files = FileIngestor(service)
    files._gcs = storage
    ingest = fiscal.FiscalIngest(service, catalog=CATALOG)
    ingest._gcs = storage
    fiscal._INSTANCES[service] = ingest
    return files, service


@pytest.fixture
def wired() -> tuple[FileIngestor, IngestService]:
    return wire(Settings())


def events(service: IngestService) -> list[dict[str, Any]]:
    return [e for env in service.publisher.envelopes for e in env.events]


def test_a_fiscal_file_is_recognised_by_content_whatever_its_name(wired) -> None:
    files, service = wired
    outcome = files.handle(drop(files, "pos/ticket-0001.txt", TICKET))
    assert (outcome["status"], outcome["mapping"], outcome["events"]) == ("ingested", "nfce", 2)
    published = events(service)
    assert [(e["event_type"], e["sku"], e["quantity"]) for e in published] == [
        ("sale", "SKU-1", 2),
        ("sale", "SKU-2", 1),
    ]
    landing = files.gcs.bucket(LANDING)
    assert f"_fiscal/documents/{key_of(TICKET)}.json" in landing.objects
    assert service.ledger.logs[-1]["source"] == "nfce"


def test_a_re_dropped_document_publishes_nothing_new(wired) -> None:
    files, service = wired
    files.handle(drop(files, "pos/a.xml", TICKET))
    assert files.handle(drop(files, "other/b.xml", TICKET))["status"] == "duplicate"
    bare = build(lines=[Line("SKU-1", "2.0000", "4.99"), Line("SKU-2", "1", "10.00")], status=None)
    outcome = files.handle(drop(files, "pos/c.xml", bare))  # same document, other bytes
    assert (outcome["duplicate"], outcome["events"]) == (1, 0)
    assert len(events(service)) == 2


def test_a_hostile_file_is_quarantined_whole_with_its_reason(wired) -> None:
    files, service = wired
    outcome = files.handle(drop(files, "spreadsheet/vendas.csv", BILLION_LAUGHS))
    assert (outcome["status"], outcome["rule"]) == ("rejected", "entity_forbidden")
    quarantine = files.gcs.bucket(service.settings.buckets.quarantine)
    assert any(name.startswith("files/") for name in quarantine.objects)
    assert service.ledger.rejects[0].rule == "entity_forbidden"
    assert events(service) == []


def test_a_cancellation_dropped_before_its_ticket_keeps_the_ticket_out(wired) -> None:
    files, service = wired
    first = files.handle(drop(files, "pos/cancel.xml", cancellation(key_of(TICKET))))
    assert (first["status"], first["accepted"], first["events"]) == ("ingested", 1, 0)
    later = files.handle(drop(files, "pos/ticket.xml", TICKET))
    assert (later["status"], later["rule"]) == ("rejected", "cancelled")
    assert events(service) == []


def test_a_cancellation_after_its_ticket_voids_each_of_its_events_once(wired) -> None:
    files, service = wired
    files.handle(drop(files, "pos/ticket.xml", TICKET))
    sales = events(service)
    outcome = files.handle(drop(files, "pos/cancel.xml", cancellation(key_of(TICKET))))
    assert (outcome["status"], outcome["accepted"], outcome["events"]) == ("ingested", 1, 2)
    voids = events(service)[len(sales) :]
    # One void per sale, same store, SKU and time, naming the sale; not a return.
    assert [
        (v["event_type"], v["source_ref"], v["store_id"], v["sku"], v["quantity"]) for v in voids
    ] == [("void", s["event_id"], s["store_id"], s["sku"], 0) for s in sales]
    assert [v["occurred_at"] for v in voids] == [s["occurred_at"] for s in sales]
    # Redelivered (other bytes, same event): the same void ids again, counted as a duplicate.
    again = files.handle(drop(files, "pos/cancel-again.xml", cancellation(key_of(TICKET)) + b"\n"))
    assert (again["duplicate"], again["events"]) == (1, 0)
    resent = events(service)[len(sales) + len(voids) :]
    assert [v["event_id"] for v in resent] == [v["event_id"] for v in voids]


def test_a_web_invoice_logs_the_order_it_names_and_adds_no_sale(wired) -> None:
    files, service = wired
    invoice = build(
        model="55",
        issuer=WEB_SHOP,
        recipient_cpf="68834846982",
        lines=[Line("SKU-1", "1", "4.99", order="WEB-1001")],
    )
    outcome = files.handle(drop(files, "web/nf-1.xml", invoice))
    assert (outcome["status"], outcome["events"]) == ("ingested", 0)
    logged = service.ledger.logs[-1]
    assert (logged["document_key"], logged["order_id"]) == (key_of(invoice), "WEB-1001")
    # Re-sent: a duplicate, and its row carries the same link (the view keeps one per key).
    again = files.handle(drop(files, "web/nf-1-again.xml", invoice + b"\n"))
    assert (again["duplicate"], again["events"]) == (1, 0)
    assert service.ledger.logs[-1]["order_id"] == "WEB-1001"
    # Any other document's row has no link.
    files.handle(drop(files, "pos/ticket.xml", TICKET))
    assert "order_id" not in service.ledger.logs[-1]
    assert events(service) == [e for e in events(service) if e["event_type"] == "sale"]


def test_a_cancelled_web_invoice_is_accepted_and_logs_the_key_it_cancels(wired) -> None:
    files, service = wired
    invoice = build(
        model="55",
        issuer=WEB_SHOP,
        recipient_cpf="68834846982",
        lines=[Line("SKU-1", "1", "4.99", order="WEB-1002")],
    )
    files.handle(drop(files, "web/nf-2.xml", invoice))
    # The invoice counted nothing, so its cancellation has nothing to void: accepted.
    cancel = cancellation(key_of(invoice), author=WEB_SHOP)
    outcome = files.handle(drop(files, "web/nf-2-cancel.xml", cancel))
    assert (outcome["status"], outcome["events"], outcome["rejected"]) == ("ingested", 0, 0)
    logged = service.ledger.logs[-1]
    assert logged["document_key"] == key_of(invoice) and "order_id" not in logged
    assert events(service) == []
    again = files.handle(drop(files, "web/nf-2-cancel-again.xml", cancel + b"\n"))
    assert (again["duplicate"], again["events"]) == (1, 0)


TRANSFER = build(
    model="55",
    issuer=STORE_SP,
    recipient=STORE_RJ,
    lines=[Line("SKU-1", "6", "2.00", cfop="5152")],
)
RECEIVED = confirmation(key_of(TRANSFER), author=STORE_RJ)


def legs(published: list[dict[str, Any]]) -> list[tuple]:
    return [(e["event_type"], e["store_id"], e["quantity"], e["source_ref"]) for e in published]


def test_a_transfer_is_in_transit_until_the_receiver_confirms_it(wired) -> None:
    files, service = wired
    ref = f"{key_of(TRANSFER)}/1"
    sent = files.handle(drop(files, "fiscal/transfer.xml", TRANSFER))
    assert (sent["status"], sent["events"]) == ("ingested", 1)
    assert legs(events(service)) == [("transfer_out", "SP01", 6, ref)]
    received = files.handle(drop(files, "fiscal/confirmacao.xml", RECEIVED))
    assert (received["status"], received["accepted"], received["events"]) == ("ingested", 1, 1)
    receipt = events(service)[1:]
    assert legs(receipt) == [("transfer_in", "RJ01", 6, ref)]
    assert receipt[0]["counterpart_store_id"] == "SP01"
    assert service.ledger.logs[-1]["source"] == "nfe-event"
    # Confirmed again: a duplicate, published again with the same id (repairs a lost publish).
    again = files.handle(drop(files, "fiscal/confirmacao-2.xml", RECEIVED + b"\n"))
    assert (again["duplicate"], again["events"]) == (1, 0)
    assert [e["event_id"] for e in events(service)[2:]] == [receipt[0]["event_id"]]


def test_a_confirmation_dropped_before_its_transfer_is_applied_when_it_arrives(wired) -> None:
    files, service = wired
    first = files.handle(drop(files, "fiscal/confirmacao.xml", RECEIVED))
    assert (first["status"], first["accepted"], first["events"]) == ("ingested", 1, 0)
    later = files.handle(drop(files, "fiscal/transfer.xml", TRANSFER))
    assert (later["status"], later["events"]) == ("ingested", 2)
    assert [e[:2] for e in legs(events(service))] == [
        ("transfer_out", "SP01"),
        ("transfer_in", "RJ01"),
    ]


def test_a_transfer_cancelled_before_its_receipt_voids_its_transfer_out(wired) -> None:
    files, service = wired
    files.handle(drop(files, "fiscal/transfer.xml", TRANSFER))
    out = events(service)[0]
    cancelled = files.handle(drop(files, "fiscal/cancel.xml", cancellation(key_of(TRANSFER))))
    assert (cancelled["status"], cancelled["events"]) == ("ingested", 1)
    void = events(service)[1]
    assert (void["event_type"], void["source_ref"], void["store_id"]) == (
        "void",
        out["event_id"],
        "SP01",
    )
    late = files.handle(drop(files, "fiscal/confirmacao.xml", RECEIVED))
    assert late["events"] == 0 and len(events(service)) == 2


def signed(body: bytes, content_type: str = "application/xml") -> FakeRequest:
    key_id, secret = Settings().hmac_keys[0]
    headers = {**signing.sign(key_id, secret, body), "Content-Type": content_type}
    return FakeRequest(body, headers, args={})


def test_http_takes_one_xml_document_per_request(wired) -> None:
    _, service = wired
    answer = http.handle(signed(TICKET, "application/xml; charset=utf-8"), service)
    assert answer.status == 200, answer.body
    assert answer.body["results"][0]["status"] == "accepted"
    assert len(answer.body["results"][0]["event_ids"]) == 2
    again = http.handle(signed(TICKET), service)
    assert (again.status, again.body["results"][0]["status"]) == (200, "duplicate")
    assert len(events(service)) == 2


def test_http_refuses_with_207_the_reason_and_keeps_the_document(wired) -> None:
    _, service = wired
    conflict = build(lines=[Line("SKU-1", "3.0000", "4.99"), Line("SKU-2", "1", "10.00")])
    http.handle(signed(TICKET), service)
    answer = http.handle(signed(conflict, "text/xml"), service)
    assert answer.status == 207
    error = answer.body["results"][0]["errors"][0]
    assert error["rule"] == "key_conflict" and key_of(TICKET) in error["message"]
    kept = fiscal.for_service(service).gcs.bucket(service.settings.buckets.quarantine)
    assert kept.objects[f"documents/{answer.body['request_id']}.xml"][0] == conflict


def test_a_production_stack_refuses_what_is_not_authorised() -> None:
    _, service = wire(replace(Settings(), fiscal_accept_unauthorised=False))
    answer = http.handle(signed(build(lines=[Line("SKU-1", "1", "4.99")], status=None)), service)
    assert answer.status == 207
    assert answer.body["results"][0]["errors"][0]["rule"] == "not_authorised"
    marked = wire(Settings())[1]
    accepted = http.handle(signed(build(lines=[Line("SKU-1", "1", "4.99")], status=None)), marked)
    assert accepted.status == 200 and events(marked)[0]["source"] == "nfce-unauthorised"
