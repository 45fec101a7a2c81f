"""The live HTTP API against the twin: answers, topic, archive, quarantine, auth, limits."""

from __future__ import annotations

import json

import pytest

from salesphere import names
from salesphere.batch.archive import drain_archive
from salesphere.gcp import clients
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from tests.support.ingest import (
    drain,
    load_test_catalog,
    pos_line,
    post,
    probe_subscription,
)

pytestmark = [pytest.mark.twin]


@pytest.fixture(scope="module")
def events_probe(twin: Twin) -> str:
    load_test_catalog(twin.settings)
    return probe_subscription(twin.settings, names.TOPIC_EVENTS, "ingest-http-probe")


def _event_ids(messages: list) -> list[str]:
    return [e["event_id"] for m in messages for e in json.loads(m.data)["events"]]


def test_mixed_batch_answers_per_record_and_lands_once(twin: Twin, events_probe: str) -> None:
    s = twin.settings
    good = pos_line("SP01-20261128-000001")
    batch = [
        good,
        pos_line("SP01-20261128-000002", qty=-3),
        good,  # a retry inside the batch
        pos_line("SP01-20261128-000003", sku="ZZZ-99999"),
        pos_line("SP01-20261128-000004", unit_price="12,3,4"),
        pos_line("SP01-20261128-000005", line=2, type="return", qty=1),
    ]
    response = post(s, "pos", batch)
    assert response.status_code == 207, response.text
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "duplicate", "rejected", "rejected", "accepted"]
    rules = [r["errors"][0]["rule"] for r in body["results"] if r["status"] == "rejected"]
    assert rules == ["min_value", "unknown_sku", "decimal"]
    assert body["summary"] == {
        "received": 6,
        "accepted": 2,
        "rejected": 3,
        "duplicate": 1,
        "events": 2,
    }
    accepted = [r["event_ids"][0] for r in body["results"] if r["status"] == "accepted"]

    messages = drain(s, events_probe, lambda got: set(accepted) <= set(_event_ids(got)))
    assert sorted(_event_ids(messages)) == sorted(accepted)
    assert messages[0].attributes["source"] == "pos"

    # master dataset: the next batch run drains events-archive into the archive bucket
    archive = clients.storage_client(s).bucket(s.buckets.archive)

    def archived() -> list[str]:
        drain_archive(s)
        ids = []
        for blob in archive.list_blobs(prefix="events/received_date="):
            for line in blob.download_as_bytes().splitlines():
                ids += [e["event_id"] for e in json.loads(line)["events"]]
        return ids if set(accepted) <= set(ids) else []

    ids = eventually(archived, timeout=30, what="archive objects")
    assert all(ids.count(i) == 1 for i in accepted)

    # quarantine: every reject with its reason and original payload
    quarantine = clients.storage_client(s).bucket(s.buckets.quarantine)
    blobs = list(
        quarantine.list_blobs(prefix=f"rejects/received_date={body['received_at'][:10]}/pos/")
    )
    rows = [
        json.loads(line)
        for b in blobs
        if body["request_id"] in b.name
        for line in b.download_as_bytes().splitlines()
    ]
    assert sorted(r["rule"] for r in rows) == ["decimal", "min_value", "unknown_sku"]
    assert all(json.loads(r["payload"])["ticket"].startswith("SP01-") for r in rows)

    bq = clients.bigquery_client(s)
    log = list(
        bq.query(
            f"SELECT records_received, records_accepted, records_rejected FROM "
            f"`{s.project}.ops.ingest_log` WHERE request_id = '{body['request_id']}'"
        ).result()
    )
    assert [tuple(r.values()) for r in log] == [(6, 3, 3)]
    rejects = list(
        bq.query(
            f"SELECT rule FROM `{s.project}.ops.rejects` WHERE request_id = '{body['request_id']}'"
        ).result()
    )
    assert sorted(r.rule for r in rejects) == ["decimal", "min_value", "unknown_sku"]


def test_retry_yields_same_ids_and_request(twin: Twin, events_probe: str) -> None:
    s = twin.settings
    batch = [pos_line("SP01-20261128-000100"), pos_line("SP01-20261128-000100", line=2)]
    first = post(s, "pos", batch).json()
    second = post(s, "pos", batch).json()
    assert first["request_id"] == second["request_id"]
    assert [r["event_ids"] for r in first["results"]] == [r["event_ids"] for r in second["results"]]
    drain(s, events_probe, lambda got: len(_event_ids(got)) >= 4)


def test_ecommerce_order_becomes_one_event_per_item(twin: Twin, events_probe: str) -> None:
    order = {
        "order_id": "WEB-0000009",
        "status": "paid",
        "created_at": "2026-11-28T10:00:00-03:00",
        "updated_at": "2026-11-28T10:00:00-03:00",
        "currency": "BRL",
        "total": "10.00",
        "items": [
            {"line": 1, "sku": "ELE-10001", "quantity": 1, "price": "5.00"},
            {"line": 2, "sku": "MOD-10003", "quantity": 1, "price": "5.00"},
        ],
    }
    response = post(twin.settings, "ecommerce", [order])
    assert response.status_code == 200, response.text
    assert len(response.json()["results"][0]["event_ids"]) == 2
    drain(twin.settings, events_probe, lambda got: len(_event_ids(got)) >= 2)


def test_auth_failures_publish_nothing(twin: Twin, events_probe: str) -> None:
    s = twin.settings
    batch = [pos_line("SP01-20261128-000200")]
    assert post(s, "pos", batch, sign=False).status_code == 401
    bad = {"X-Salesphere-Signature": "0" * 64}
    assert post(s, "pos", batch, headers=bad).status_code == 403
    stale = {"X-Salesphere-Timestamp": "1000000000"}
    assert post(s, "pos", batch, headers=stale).status_code == 403
    unknown = {"X-Salesphere-Key-Id": "nobody"}
    assert post(s, "pos", batch, headers=unknown).status_code == 403
    # Only the signed batch below reaches the topic: the refused ones published nothing.
    ok = post(s, "pos", [pos_line("SP01-20261128-000201")]).json()
    messages = drain(
        s, events_probe, lambda got: ok["results"][0]["event_ids"][0] in _event_ids(got)
    )
    assert _event_ids(messages) == ok["results"][0]["event_ids"]


def test_request_level_errors(twin: Twin) -> None:
    s = twin.settings
    import requests

    assert requests.get(f"{s.ingest_url}/healthz", timeout=10).status_code == 200
    too_big = b"[" + b" " * s.max_body_bytes + b"]"
    assert post(s, "pos", too_big).status_code == 413
    many = [pos_line(f"SP01-20261128-{i:06d}") for i in range(s.max_records_per_batch + 1)]
    answer = post(s, "pos", many)
    assert (answer.status_code, answer.json()["error"]) == (400, "too_many_records")
    assert post(s, "pos", b"[{").json()["error"] == "malformed_json"
    assert post(s, "pos", b'[{"a": "\xff"}]').json()["error"] == "invalid_utf8"
    assert post(s, "nowhere", [pos_line("x")]).json()["error"] == "unknown_source"
