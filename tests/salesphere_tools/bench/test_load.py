"""Load shedding against the twin: a burst beyond the in-flight limit is partly shed (503 +
Retry-After), what was answered 2xx is delivered exactly once, shed requests deliver
nothing, and retrying them is safe."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from salesphere import names
from salesphere_tools.local.twin import Twin
from tests.support.ingest import (
    drain,
    load_test_catalog,
    pos_line,
    post,
    probe_subscription,
)

pytestmark = [pytest.mark.twin]
BURST = 32
LINES = 150


def _ids(messages: list, prefix: str) -> Counter[str]:
    return Counter(
        e["event_id"]
        for m in messages
        for e in json.loads(m.data)["events"]
        if e["order_id"].startswith(prefix)
    )


def test_burst_beyond_the_inflight_limit_is_shed_and_nothing_is_lost(twin: Twin) -> None:
    s = twin.settings
    assert 2 * s.max_inflight_requests < BURST  # the burst must exceed the limit
    load_test_catalog(s)
    probe = probe_subscription(s, names.TOPIC_EVENTS, "ingest-load-probe")
    prefix = f"BURST{uuid.uuid4().hex[:6]}-"
    batches = [
        [pos_line(f"{prefix}{n:03d}", line) for line in range(1, LINES + 1)] for n in range(BURST)
    ]
    warm = post(s, "pos", [pos_line(f"WARM{uuid.uuid4().hex[:6]}")])
    assert warm.status_code == 200  # warm: catalog and clients loaded before the burst
    start = threading.Barrier(BURST)

    def send(batch: list[dict]) -> requests.Response:
        start.wait(timeout=10)
        return post(s, "pos", batch)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(send, batches))
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] >= 1 and statuses[503] >= 1, statuses
    shed = [n for n, a in enumerate(answers) if a.status_code == 503]
    for n in shed:
        assert answers[n].json()["error"] == "overloaded"
        assert int(answers[n].headers["Retry-After"]) >= 1
    accepted = {
        i
        for a in answers
        if a.status_code == 200
        for r in a.json()["results"]
        for i in r["event_ids"]
    }
    assert len(accepted) == statuses[200] * LINES

    first = drain(s, probe, lambda got: accepted <= set(_ids(got, prefix)))
    # the shed batches, retried one by one as a sender would after Retry-After
    retried = {
        i
        for n in shed
        for r in post(s, "pos", batches[n]).json()["results"]
        for i in r["event_ids"]
    }
    assert len(retried) == len(shed) * LINES and not retried & accepted
    rest = drain(s, probe, lambda got: retried <= set(_ids(first + got, prefix)))
    delivered = _ids(first + rest, prefix)
    # exactly once each: a shed request that had published anything would show up twice
    assert set(delivered) == accepted | retried
    assert set(delivered.values()) == {1}


def test_load_test_run_is_bounded_and_verifies_delivery(twin: Twin) -> None:
    from dataclasses import replace

    from salesphere_tools.bench.load import run_load

    with pytest.raises(ValueError, match="loopback"):
        run_load(replace(twin.settings, host="10.0.0.1"), rates=(1.0,))
    with pytest.raises(ValueError, match="bounds"):
        run_load(twin.settings, rates=(10_000.0,), seconds_per_step=10)
    result = run_load(twin.settings, rates=(3.0,), seconds_per_step=1.0, batch_size=20)
    step = result["steps"][0]
    assert (step["sent"], step["status_2xx"], step["no_answer"], step["rejected_records"]) == (
        3,
        3,
        0,
        0,
    )
    assert result["sustainable_requests_per_s"] > 0
    check = result["verification"]
    assert check["accepted_events"] == 4 * 20  # the warm-up batch and three more
    assert (check["delivered_distinct"], check["missing"], check["lost_nothing"]) == (80, 0, True)
    assert (result["shed"], result["lost"], result["shed_records_delivered"]) == (0, 0, 0)
