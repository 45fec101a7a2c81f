"""Fiscal XML through the twin's real ingest functions: HTTP and file drops, by content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from salesphere import names
from salesphere.gcp import clients
from salesphere.ingest import signing
from salesphere_tools.ingest.send import upload_files, wait_for_marker
from salesphere_tools.local.twin import Twin
from tests.salesphere.fiscal.samples import (
    STORE_RJ,
    STORE_SP,
    SUPPLIER_ALNUM,
    Line,
    build,
    cancellation,
    confirmation,
    key_of,
)
from tests.salesphere.fiscal.test_xmlsafe import BILLION_LAUGHS
from tests.support.ingest import drain, load_test_catalog, probe_subscription

pytestmark = [pytest.mark.twin]
GTIN = "7897846901683"


@pytest.fixture(scope="module")
def events_probe(twin: Twin) -> str:
    """The usual test catalog, plus CNPJs, a GTIN and a supplier's code for fiscal XML."""
    s = twin.settings
    load_test_catalog(s)
    bq = clients.bigquery_client(s)
    ref = f"{s.project}.reference"
    stores = [
        {
            "store_id": sid,
            "name": sid,
            "city": "c",
            "state": "SP",
            "channel": "store",
            "timezone": tz,
            "cnpj": cnpj,
        }
        for sid, tz, cnpj in (
            ("SP01", "America/Sao_Paulo", STORE_SP),
            ("AM01", "America/Manaus", STORE_RJ),
        )
    ]
    product = {
        "sku": "ELE-10001",
        "name": "x",
        "category": "test",
        "unit_cost": "1.00",
        "list_price": "2.00",
        "reorder_point": 1,
        "supplier_lead_time_days": 1,
        "supplier": "x",
        "gtin": GTIN,
    }
    item = {
        "supplier_cnpj": SUPPLIER_ALNUM,
        "supplier_code": "A-1",
        "sku": "ELE-10002",
        "units_per_supplier_unit": 12,
    }
    for table, rows in (("stores", stores), ("products", [product]), ("supplier_items", [item])):
        ids = [f"fiscal-{i}" for i in range(len(rows))]
        assert bq.insert_rows_json(f"{ref}.{table}", rows, row_ids=ids) == []
    return probe_subscription(s, names.TOPIC_EVENTS, "ingest-fiscal-probe")


def post_xml(twin: Twin, body: bytes) -> requests.Response:
    key_id, secret = twin.settings.hmac_keys[0]
    headers = {**signing.sign(key_id, secret, body), "Content-Type": "application/xml"}
    return requests.post(twin.settings.ingest_url, data=body, headers=headers, timeout=60)


def test_an_nfce_posted_over_http_lands_once_as_sales(twin: Twin, events_probe: str) -> None:
    ticket = build(
        lines=[
            Line("ELE-10001", "2.0000", "19.90", discount="1.00"),
            Line("X-9", "1", "5.00", gtin=GTIN),
        ],
        number=501,
    )
    response = post_xml(twin, ticket)
    assert response.status_code == 200, response.text
    ids = response.json()["results"][0]["event_ids"]
    assert len(ids) == 2
    again = post_xml(twin, ticket)
    assert again.json()["results"][0]["status"] == "duplicate"
    messages = drain(
        twin.settings,
        events_probe,
        lambda got: {e["event_id"] for m in got for e in json.loads(m.data)["events"]} >= set(ids),
    )
    events = [e for m in messages for e in json.loads(m.data)["events"] if e["event_id"] in ids]
    assert sorted((e["sku"], e["quantity"], e["unit_price"], e["store_id"]) for e in events) == [
        ("ELE-10001", 1, "5.00", "SP01"),
        ("ELE-10001", 2, "19.90", "SP01"),
    ]
    assert {e["order_id"] for e in events} == {key_of(ticket)}


def test_a_supplier_nfe_dropped_under_any_name_becomes_receipts_in_units(
    twin: Twin, events_probe: str, tmp_path: Path
) -> None:
    path = tmp_path / "nota-do-fornecedor.txt"
    path.write_bytes(
        build(
            model="55",
            issuer=SUPPLIER_ALNUM,
            recipient=STORE_RJ,
            number=77,
            lines=[Line("A-1", "3", "60.00", unit="CX", order="PO-1", order_line="1")],
        )
    )
    (item,) = upload_files(twin.settings, [path], source="fornecedores")
    outcome = wait_for_marker(twin.settings, item["sha256"], timeout=60)
    got = (outcome["status"], outcome["mapping"], outcome["events"])
    if got != ("ingested", "nfe", 1):
        rows = clients.query_rows(
            twin.settings,
            f"SELECT * FROM ops.rejects WHERE request_id = '{outcome['request_id']}'",
        )
        raise AssertionError(json.dumps(outcome) + " " + repr(rows))


def test_a_transfer_leaves_at_issue_and_arrives_with_the_receivers_confirmation(
    twin: Twin, events_probe: str
) -> None:
    transfer = build(
        model="55",
        issuer=STORE_SP,
        recipient=STORE_RJ,
        number=78,
        lines=[Line("ELE-10001", "4", "1.00", cfop="5152")],
    )
    sent = post_xml(twin, transfer)
    assert sent.status_code == 200, sent.text
    (out_id,) = sent.json()["results"][0]["event_ids"]
    received = post_xml(twin, confirmation(key_of(transfer), author=STORE_RJ))
    assert received.status_code == 200, received.text
    (in_id,) = received.json()["results"][0]["event_ids"]
    wanted = {out_id, in_id}
    messages = drain(
        twin.settings,
        events_probe,
        lambda got: {e["event_id"] for m in got for e in json.loads(m.data)["events"]} >= wanted,
    )
    legs = {
        e["event_type"]: (e["store_id"], e["counterpart_store_id"], e["quantity"], e["source_ref"])
        for m in messages
        for e in json.loads(m.data)["events"]
        if e["event_id"] in wanted
    }
    ref = f"{key_of(transfer)}/1"
    assert legs == {
        "transfer_out": ("SP01", "AM01", 4, ref),
        "transfer_in": ("AM01", "SP01", 4, ref),
    }


def test_hostile_and_cancelled_documents_are_quarantined_with_their_reason(
    twin: Twin, events_probe: str, tmp_path: Path
) -> None:
    bomb = tmp_path / "vendas.csv"
    bomb.write_bytes(BILLION_LAUGHS)
    ticket = build(lines=[Line("ELE-10001", "1", "19.90")], number=502)
    cancel = tmp_path / "cancel.xml"
    cancel.write_bytes(cancellation(key_of(ticket)))
    late = tmp_path / "ticket.xml"
    late.write_bytes(ticket)
    outcomes = []
    for path in (bomb, cancel, late):  # in order: the cancellation arrives first
        (item,) = upload_files(twin.settings, [path], source="pos")
        outcomes.append(wait_for_marker(twin.settings, item["sha256"], timeout=60))
    assert (outcomes[0]["status"], outcomes[0]["rule"]) == ("rejected", "entity_forbidden")
    assert (outcomes[1]["status"], outcomes[1]["accepted"]) == ("ingested", 1)
    assert (outcomes[2]["status"], outcomes[2]["rule"]) == ("rejected", "cancelled")
