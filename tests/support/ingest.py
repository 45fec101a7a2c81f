"""Helpers shared by the ingest integration tests (reference data, polling, signed POSTs)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from salesphere.gcp import clients
from salesphere.ingest import signing
from salesphere.settings import Settings

SKUS = ("ELE-10001", "ELE-10002", "MOD-10003")
STORES = (("SP01", "America/Sao_Paulo"), ("AM01", "America/Manaus"), ("WEB", "America/Sao_Paulo"))


def load_test_catalog(
    settings: Settings, skus: tuple[str, ...] = SKUS, stores: tuple[tuple[str, str], ...] = STORES
) -> None:
    """Insert a small catalog (idempotent by insertId) so unknown SKUs are detectable."""
    bq = clients.bigquery_client(settings)
    products = [
        {
            "sku": s,
            "name": s,
            "category": "test",
            "unit_cost": "1.00",
            "list_price": "2.00",
            "reorder_point": 1,
            "supplier_lead_time_days": 1,
            "supplier": "x",
        }
        for s in skus
    ]
    shops = [
        {
            "store_id": s,
            "name": s,
            "city": "c",
            "state": "SP",
            "channel": "online" if s == "WEB" else "store",
            "timezone": tz,
        }
        for s, tz in stores
    ]
    assert (
        bq.insert_rows_json(
            f"{settings.project}.reference.products", products, row_ids=[p["sku"] for p in products]
        )
        == []
    )
    assert (
        bq.insert_rows_json(
            f"{settings.project}.reference.stores", shops, row_ids=[s["store_id"] for s in shops]
        )
        == []
    )


def post(
    settings: Settings,
    source: str,
    body: Any,
    *,
    sign: bool = True,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    key_id, secret = settings.hmac_keys[0]
    sent = signing.sign(key_id, secret, data) if sign else {}
    return requests.post(
        f"{settings.ingest_url}/?source={source}",
        data=data,
        headers={**sent, **(headers or {})},
        timeout=60,
    )


def pos_line(ticket: str, line: int = 1, **over: Any) -> dict[str, Any]:
    record = {
        "terminal": "SP01-T1",
        "store": "SP01",
        "ticket": ticket,
        "line": line,
        "type": "sale",
        "sku": "ELE-10001",
        "qty": 2,
        "unit_price": "19.90",
        "discount": "0.00",
        "ts": "2026-11-28T14:03:00-03:00",
    }
    record.update(over)
    return record


def probe_subscription(settings: Settings, topic: str, name: str) -> str:
    path = clients.subscription_path(settings, name)
    clients.subscriber(settings).create_subscription(
        name=path, topic=clients.topic_path(settings, topic)
    )
    return path


def drain(
    settings: Settings, subscription: str, until: Callable[[list[Any]], bool], timeout: float = 30.0
) -> list[Any]:
    """Pull and ack messages until ``until(messages)`` holds."""
    subscriber = clients.subscriber(settings)
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(got)} messages arrived on {subscription}")
        response = subscriber.pull(subscription=subscription, max_messages=100, timeout=5)
        if response.received_messages:
            subscriber.acknowledge(
                subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
            )
            got.extend(m.message for m in response.received_messages)
    return got
