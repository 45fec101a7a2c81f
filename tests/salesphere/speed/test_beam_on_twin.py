"""Beam runtime through the twin, and parity with the function runtime.

A private twin runs ``services/stream/pipeline.py --local-twin`` (DirectRunner pulling
``events-speed``); the session twin runs the Cloud Function. Identical messages go to
both and the rows must be identical apart from ``written_at`` / ``raised_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf import timestamp_pb2

from salesphere import names
from salesphere.gcp import clients
from salesphere.model import EventType
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.speed import probe
from salesphere_tools.speed.samples import count, envelope, movement, sale
from tests.conftest import make_settings

pytestmark = [pytest.mark.twin, pytest.mark.slow]


@pytest.fixture(scope="module")
def beam_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    twin = Twin(make_settings(tmp_path_factory.mktemp("beam-twin")))
    try:
        twin.up(speed_runtime="beam", only={"speed-beam"})
        yield twin
    finally:
        twin.down()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def wait_rows(twin: Twin, ids: list[str], timeout: float = 60) -> dict[str, int]:
    def complete() -> dict[str, int] | None:
        counts = probe.id_counts(twin.settings, ids)
        return counts if len(counts) == len(ids) else None

    return eventually(complete, timeout=timeout, what=f"{len(ids)} rows in speed.events")


def comparable(rows: list[dict[str, object]], drop: str) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != drop} for r in rows]


def test_both_runtimes_write_identical_rows_and_alerts(twin: Twin, beam_twin: Twin) -> None:
    store, sku = unique("S"), unique("P")
    stocktake = envelope([count(store, sku, 10, ago(30))], source="inventory")
    flow = [
        envelope(
            [sale(store, sku, 3, ago(20), unique("o")), sale(store, sku, 3, ago(19), unique("o"))]
        ),
        envelope(
            [movement(EventType.STOCK_RECEIPT, store, sku, 6, ago(15), unique("R"))], "inventory"
        ),
        envelope([sale(store, sku, 9, ago(10), unique("o"), line=2)]),
    ]
    ids = [e["event_id"] for env in [stocktake, *flow] for e in env.events]
    for runtime in (twin, beam_twin):
        probe.add_product(runtime.settings, sku, reorder_point=5)
        probe.publish(runtime.settings, [stocktake])
        wait_rows(runtime, [stocktake.events[0]["event_id"]])
        for env in flow:  # one at a time: alerts depend on arrival order
            probe.publish(runtime.settings, [env])
            wait_rows(runtime, [e["event_id"] for e in env.events])
    function_rows = probe.rows_for(twin.settings, ids)
    beam_rows = probe.rows_for(beam_twin.settings, ids)
    assert len(function_rows) == len(ids)
    assert comparable(function_rows, "written_at") == comparable(beam_rows, "written_at")

    def alerts(runtime: Twin) -> list[dict[str, object]]:
        return eventually(
            lambda: (a := probe.alerts_for(runtime.settings, store)) and len(a) == 2 and a,
            timeout=30,
            what="two alerts",
        )

    function_alerts, beam_alerts = alerts(twin), alerts(beam_twin)
    # 10-3-3 = 4 (low), +6 = 10 (recovered), -9 = 1 (low again)
    assert [(a["kind"], a["on_hand"]) for a in function_alerts] == [
        ("below_reorder_point", 4),
        ("below_reorder_point", 1),
    ]
    assert comparable(function_alerts, "raised_at") == comparable(beam_alerts, "raised_at")


def test_beam_redelivery_after_seek_adds_nothing(beam_twin: Twin) -> None:
    s = beam_twin.settings
    subscriber = clients.subscriber(s)
    sub = clients.subscription_path(s, names.SUB_EVENTS_SPEED)
    subscriber.update_subscription(
        request={
            "subscription": {"name": sub, "retain_acked_messages": True},
            "update_mask": {"paths": ["retain_acked_messages"]},
        }
    )
    before = datetime.now(UTC) - timedelta(seconds=1)
    env = envelope([sale(unique("S"), unique("P"), 1, ago(2), unique("o")) for _ in range(4)])
    ids = [e["event_id"] for e in env.events]
    probe.publish(s, [env])
    wait_rows(beam_twin, ids)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(before)
    subscriber.seek(request={"subscription": sub, "time": stamp})
    log = Path(beam_twin.log_dir / "speed-beam.log")
    dropped = eventually(
        lambda: (
            set(ids)
            <= {i for i in ids if f'"duplicate dropped", "event_id": "{i}"' in log.read_text()}
        ),
        timeout=60,
        what="the pipeline to drop the redelivered events",
    )
    assert dropped
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)
