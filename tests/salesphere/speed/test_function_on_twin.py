"""Function runtime through the twin: Pub/Sub push → speed_push → BigQuery emulator."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from salesphere import names
from salesphere.gcp import clients
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.speed import probe
from salesphere_tools.speed.samples import count, envelope, sale
from tests.support.speed import log_outcomes, seek_before

pytestmark = [pytest.mark.twin]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def now_minus(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def wait_counts(twin: Twin, ids: list[str]) -> dict[str, int]:
    def complete() -> dict[str, int] | None:
        counts = probe.id_counts(twin.settings, ids)
        return counts if len(counts) == len(ids) else None

    return eventually(complete, timeout=30, what=f"{len(ids)} rows in speed.events")


def test_events_land_once_and_alert_fires_once(twin: Twin) -> None:
    s = twin.settings
    store, sku = unique("S"), unique("P")
    probe.add_product(s, sku, reorder_point=5)
    stocktake = envelope([count(store, sku, 8, now_minus(10))], source="inventory")
    sales = envelope(
        [
            sale(store, sku, 2, now_minus(9), unique("o")),
            sale(store, sku, 2, now_minus(8), unique("o")),  # 8-2-2 = 4 <= 5: crossing
            sale(store, sku, 1, now_minus(7), unique("o")),  # 3: still low, no new alert
        ]
    )
    probe.publish(s, [stocktake])
    wait_counts(twin, [e["event_id"] for e in stocktake.events])
    probe.publish(s, [sales, sales])  # the second is a POS retry: same ids
    ids = [e["event_id"] for e in sales.events]
    assert wait_counts(twin, ids) == dict.fromkeys(ids, 1)

    alerts = eventually(lambda: probe.alerts_for(s, store), timeout=10, what="alert row")
    assert [(a["kind"], a["on_hand"], a["event_id"]) for a in alerts] == [
        ("below_reorder_point", 4, sales.events[1]["event_id"])
    ]
    subscriber = clients.subscriber(s)
    sub = clients.subscription_path(s, names.SUB_ALERTS_AUDIT)

    def pulled() -> list[dict[str, str]]:
        got = subscriber.pull(subscription=sub, max_messages=50, timeout=5).received_messages
        if got:
            subscriber.acknowledge(subscription=sub, ack_ids=[m.ack_id for m in got])
        return [
            dict(m.message.attributes) for m in got if m.message.attributes["store_id"] == store
        ]

    published = eventually(pulled, timeout=10, what="alert on the alerts topic")
    assert published[0]["alert_id"] == alerts[0]["alert_id"]


def test_redelivered_push_adds_nothing(twin: Twin) -> None:
    s = twin.settings
    env = envelope([sale(unique("S"), unique("P"), 1, now_minus(5), unique("o"))])
    push = {
        "message": {
            "data": base64.b64encode(env.to_json()).decode(),
            "attributes": env.attributes(),
            "messageId": "redelivered-1",
            "publishTime": datetime.now(UTC).isoformat(),
        },
        "subscription": clients.subscription_path(s, names.SUB_EVENTS_SPEED),
    }
    url = f"http://{s.host}:{s.ports.speed}/"
    for _ in range(3):  # exactly what Pub/Sub sends when it redelivers
        assert requests.post(url, json=push, timeout=30).status_code < 300
    assert probe.id_counts(s, [env.events[0]["event_id"]]) == {env.events[0]["event_id"]: 1}


def test_pubsub_redelivery_after_seek_adds_nothing(twin: Twin) -> None:
    s = twin.settings
    store = unique("S")
    env = envelope([sale(store, unique("P"), 1, now_minus(3), unique("o")) for _ in range(3)])
    ids = [e["event_id"] for e in env.events]
    seek_before(twin, datetime.now(UTC))  # turn retention on before publishing
    before = datetime.now(UTC) - timedelta(seconds=1)
    probe.publish(s, [env])
    wait_counts(twin, ids)
    seek_before(twin, before)  # Pub/Sub redelivers every message since `before`
    log = twin.log_dir / "speed.log"
    redelivered = eventually(
        lambda: [o for o in log_outcomes(log, env.envelope_id) if o["skipped"] == 3],
        timeout=30,
        what="the redelivered envelope to be processed",
    )
    assert redelivered[0]["written"] == 0
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


def test_poison_goes_to_dead_letters_and_is_acknowledged(twin: Twin) -> None:
    s = twin.settings
    marker = unique("poison-")
    client = clients.publisher(s)
    client.publish(
        clients.topic_path(s, names.TOPIC_EVENTS), f"{marker} is not json".encode()
    ).result()
    good = envelope([sale(unique("S"), unique("P"), 1, now_minus(2), unique("o"))])
    broken = json.loads(good.to_json())
    broken["events"].append({"event_id": marker, "event_type": "sale"})  # fails the model
    client.publish(clients.topic_path(s, names.TOPIC_EVENTS), json.dumps(broken).encode()).result()
    bq = clients.bigquery_client(s)

    def dead() -> list[dict[str, object]]:
        sql = (
            f"SELECT * FROM `{s.project}.speed.dead_letters` "
            f"WHERE STRPOS(payload, '{marker}') > 0 ORDER BY error"
        )
        rows = [dict(r.items()) for r in bq.query(sql).result()]
        return rows if len(rows) == 2 else []

    rows = eventually(dead, timeout=30, what="two dead-letter rows")
    errors = sorted(str(r["error"]) for r in rows)
    assert errors[0].startswith("envelope is not valid JSON")
    assert errors[1].startswith("event failed the canonical model")
    assert wait_counts(twin, [good.events[0]["event_id"]]) == {good.events[0]["event_id"]: 1}
    dl_sub = clients.subscription_path(s, names.SUB_DEAD_LETTER_AUDIT)
    parked = clients.subscriber(s).pull(subscription=dl_sub, max_messages=50, timeout=3)
    assert not [m for m in parked.received_messages if marker.encode() in m.message.data]


def _push_body(s: object, env: object, message_id: str) -> dict[str, object]:
    return {
        "message": {
            "data": base64.b64encode(env.to_json()).decode(),  # type: ignore[attr-defined]
            "attributes": env.attributes(),  # type: ignore[attr-defined]
            "messageId": message_id,
            "publishTime": datetime.now(UTC).isoformat(),
        },
        "subscription": clients.subscription_path(s, names.SUB_EVENTS_SPEED),  # type: ignore[arg-type]
    }


def test_concurrent_overlapping_pushes_land_once_and_alert_once(twin: Twin) -> None:
    """Concurrent requests are committed in groups: still one row per id, one alert."""
    from concurrent.futures import ThreadPoolExecutor

    s = twin.settings
    store, sku, other = unique("S"), unique("P"), unique("P")
    probe.add_product(s, sku, reorder_point=7)  # 10 - 3 sales reach it: the one alert
    stocktake = envelope([count(store, sku, 10, now_minus(20))], source="inventory")
    probe.publish(s, [stocktake])
    wait_counts(twin, [e["event_id"] for e in stocktake.events])
    sales = [sale(store, sku, 1, now_minus(10 - i), unique("o")) for i in range(6)]
    noise = [sale(store, other, 1, now_minus(5), unique("o")) for _ in range(6)]
    # each envelope overlaps the next (a POS retry of part of an order), pushed twice
    envelopes = [envelope([sales[i], sales[(i + 1) % 6], noise[i]]) for i in range(6)]
    bodies = [_push_body(s, env, f"c-{i}-{n}") for i, env in enumerate(envelopes) for n in (1, 2)]
    url = f"http://{s.host}:{s.ports.speed}/"
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda b: requests.post(url, json=b, timeout=60).status_code, bodies))
    assert all(code < 300 for code in codes), codes
    ids = [e.event_id for e in sales + noise]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)  # all landed before the 2xx
    alerts = probe.alerts_for(s, store)
    assert [(a["kind"], a["on_hand"]) for a in alerts] == [("below_reorder_point", 7)]
