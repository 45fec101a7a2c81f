"""A bounded load test of the ingest HTTP function: step the request rate up until it hurts.

``run_load`` sends signed POS batches to the twin's ``ingest-http`` at fixed rates
(open loop: request *i* of a step is due at ``i / rate`` seconds, and its latency is
measured from that moment, so a slow server cannot hide its queue by slowing the
sender). Each step lasts ``seconds_per_step``; the run stops after the first step whose
p95 latency exceeds ``p95_limit`` (1 s), or that was mostly shed, or after the last
rate. The *sustainable* rate is the highest step that stayed under the limit with every
request answered 2xx.

Then it proves nothing was lost, on a subscription to the ``events`` topic created
before the first request: every event id answered ``accepted`` is delivered, and no
record of a shed (429/503) request is. Requests without an answer (timeouts) have an
unknown outcome and are reported, not judged.

It is bounded by construction: loopback only, at most ``MAX_REQUESTS`` requests, each
with a timeout, a hard deadline for the whole run, and the probe subscription deleted
at the end. One warm-up request (not part of any step, but verified like the others)
goes first, so the steps measure a warm function instance. Run it with
``python -m salesphere_tools.bench.load`` next to a twin.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from salesphere import names
from salesphere.ingest import signing
from salesphere.settings import Settings
from salesphere_tools.bench.ingest import SKUS, STORES, load_bench_reference

DEFAULT_RATES = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
#: Upper bounds that keep a mistyped rate from turning into a flood.
MAX_REQUESTS = 5_000
MAX_RUN_SECONDS = 600.0
REQUEST_TIMEOUT_SECONDS = 10.0
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SHED_STATUSES = frozenset({429, 503})


@dataclass
class Shot:
    """One request: when it was due, what came back, and what it carried."""

    step: int
    due: float
    tickets: tuple[str, ...]
    status: int | None = None  # None: no answer (timeout / connection error)
    latency: float = 0.0
    accepted_ids: list[str] = field(default_factory=list)
    rejected: int = 0
    error: str = ""


Catalog = tuple[tuple[str, ...], tuple[str, ...]]


def _catalog(settings: Settings) -> Catalog:
    """SKUs and stores the function knows, so every record is valid (none rejected).

    The twin's own catalog when it has one (the function caches it for minutes, so a
    catalog loaded now might not be seen yet); the bench catalog, loaded, otherwise.
    """
    from salesphere.gcp import clients

    bq = clients.bigquery_client(settings)
    project = settings.project
    try:
        skus = tuple(
            r[0]
            for r in bq.query(
                f"SELECT sku FROM `{project}.reference.products` ORDER BY sku LIMIT 200"
            )
        )
        stores = tuple(
            r[0]
            for r in bq.query(
                f"SELECT store_id FROM `{project}.reference.stores` ORDER BY store_id LIMIT 20"
            )
        )
    except Exception:  # tables missing: provision the twin first, or let the bench load them
        skus, stores = (), ()
    if skus and stores:
        return skus, stores
    load_bench_reference(settings)
    return SKUS, STORES


def _batch(run: str, seq: int, size: int, catalog: Catalog) -> list[dict[str, Any]]:
    """Distinct POS lines: ticket ``LT<run>-<seq>`` so a request's records are traceable."""
    skus, stores = catalog
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    ticket = f"LT{run}-{seq:07d}"
    return [
        {
            "terminal": "LOAD-T1",
            "store": stores[n % len(stores)],
            "ticket": ticket,
            "line": n + 1,
            "type": "sale",
            "sku": skus[n % len(skus)],
            "qty": 1 + n % 3,
            "unit_price": f"{10 + n % 90}.90",
            "discount": "0.00",
            "ts": (base + timedelta(seconds=n)).isoformat(),
        }
        for n in range(size)
    ]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class _Sender:
    """Thread-local HTTP sessions posting signed batches; fills in each :class:`Shot`."""

    def __init__(self, settings: Settings) -> None:
        self.url = f"{settings.ingest_url}/?source=pos"
        self.key_id, self.secret = settings.hmac_keys[0]
        self.local = threading.local()

    def send(self, shot: Shot, body: bytes) -> Shot:
        import requests

        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        headers = {
            **signing.sign(self.key_id, self.secret, body),
            "Content-Type": "application/json",
        }
        try:
            response = session.post(
                self.url, data=body, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            shot.error = type(exc).__name__
            shot.latency = time.monotonic() - shot.due
            return shot
        shot.latency = time.monotonic() - shot.due
        shot.status = response.status_code
        if 200 <= response.status_code < 300:
            results = response.json()["results"]
            shot.accepted_ids = [
                i for r in results if r["status"] == "accepted" for i in r.get("event_ids", ())
            ]
            shot.rejected = sum(r["status"] == "rejected" for r in results)
        return shot


def _step_figures(
    rate: float, shots: list[Shot], seconds: float, batch_size: int
) -> dict[str, Any]:
    latencies = [s.latency for s in shots]
    ok = [s for s in shots if s.status is not None and 200 <= s.status < 300]
    events = sum(len(s.accepted_ids) for s in ok)
    return {
        "rate_requests_per_s": rate,
        "sent": len(shots),
        "batch_size": batch_size,
        "status_2xx": len(ok),
        "status_429": sum(s.status == 429 for s in shots),
        "status_503": sum(s.status == 503 for s in shots),
        "status_other": sum(
            s.status is not None and s.status not in SHED_STATUSES and not 200 <= s.status < 300
            for s in shots
        ),
        "no_answer": sum(s.status is None for s in shots),
        "p50_s": round(_percentile(latencies, 0.50), 3),
        "p95_s": round(_percentile(latencies, 0.95), 3),
        "accepted_events": events,
        "rejected_records": sum(s.rejected for s in ok),
        "events_per_s": round(events / seconds) if seconds else 0,
        "requests_per_s_2xx": round(len(ok) / seconds, 1) if seconds else 0.0,
        "seconds": round(seconds, 2),
    }


def _verify(
    settings: Settings, subscription: str, shots: list[Shot], run: str, timeout: float
) -> dict[str, Any]:
    """Pull the probe subscription until every accepted id arrived (or ``timeout``)."""
    from salesphere.gcp import clients

    subscriber = clients.subscriber(settings)
    accepted = {i for s in shots for i in s.accepted_ids}
    shed_tickets = {t for s in shots if s.status in SHED_STATUSES for t in s.tickets}
    prefix = f"LT{run}-"
    seen: dict[str, int] = {}
    leaked: set[str] = set()
    deadline = time.monotonic() + timeout
    quiet_pulls = 0
    # Keep pulling until every accepted id is in, then until one pull comes back empty.
    while time.monotonic() < deadline and (not accepted <= seen.keys() or quiet_pulls == 0):
        # 10 envelopes of <= 500 events stay under gRPC's 4 MiB message limit
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        if not response.received_messages:
            quiet_pulls += 1
            continue
        quiet_pulls = 0
        subscriber.acknowledge(
            subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
        )
        for message in response.received_messages:
            for event in orjson.loads(message.message.data)["events"]:
                order = event.get("order_id") or ""
                if not order.startswith(prefix):
                    continue  # another sender's traffic on the same topic
                seen[event["event_id"]] = seen.get(event["event_id"], 0) + 1
                if order in shed_tickets:
                    leaked.add(order)
    missing = accepted - seen.keys()
    return {
        "accepted_events": len(accepted),
        "delivered_distinct": len(accepted & seen.keys()),
        "missing": len(missing),
        "missing_sample": sorted(missing)[:5],
        "redelivered": sum(count - 1 for count in seen.values() if count > 1),
        "shed_requests": sum(s.status in SHED_STATUSES for s in shots),
        "shed_records_delivered": len(leaked),
        "unknown_outcome_requests": sum(s.status is None for s in shots),
        "lost_nothing": not missing and not leaked,
    }


def _check_bounds(settings: Settings, rates: Sequence[float], seconds: float, size: int) -> None:
    """Loopback only, and a bounded number of requests: the test can never flood anything."""
    if settings.host not in LOOPBACK or not settings.local:
        raise ValueError(
            f"the load test only targets a local twin on loopback, not "
            f"{settings.host!r} ({settings.env}); start one with salesphere local up"
        )
    planned = sum(round(r * seconds) for r in rates)
    if planned > MAX_REQUESTS or not 1 <= size <= settings.max_records_per_batch:
        raise ValueError(
            f"{planned} requests of {size} records is beyond the bounds "
            f"({MAX_REQUESTS} requests, {settings.max_records_per_batch} records); "
            "lower the rates, the step length or the batch size"
        )


@dataclass
class _Stepper:
    """Sends the rate steps one after another and stops at the first unhealthy one."""

    sender: _Sender
    run: str
    catalog: Catalog
    batch_size: int
    p95_limit: float
    started: float
    shots: list[Shot] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 1

    def warm_up(self) -> None:
        """The first batch loads the catalog and opens the clients (not a step)."""
        warm = _batch(self.run, 0, self.batch_size, self.catalog)
        shot = Shot(-1, time.monotonic(), (warm[0]["ticket"],))
        self.shots.append(self.sender.send(shot, orjson.dumps(warm)))

    def step(self, pool: ThreadPoolExecutor, index: int, rate: float, seconds: float) -> bool:
        """Send ``rate`` requests a second for ``seconds``; False when it was unhealthy."""
        bodies = []
        for _ in range(round(rate * seconds)):
            records = _batch(self.run, self.seq, self.batch_size, self.catalog)
            bodies.append((records[0]["ticket"], orjson.dumps(records)))
            self.seq += 1
        step_start = time.monotonic()
        futures: list[Future[Shot]] = []
        for n, (ticket, body) in enumerate(bodies):
            due = step_start + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the sender, not waiting for readiness
            futures.append(pool.submit(self.sender.send, Shot(index, due, (ticket,)), body))
        done = [f.result() for f in futures]
        self.shots.extend(done)
        figures = _step_figures(rate, done, time.monotonic() - step_start, self.batch_size)
        self.steps.append(figures)
        shed = figures["status_429"] + figures["status_503"]
        return not (
            figures["p95_s"] > self.p95_limit
            or shed * 2 > len(done)
            or time.monotonic() - self.started > MAX_RUN_SECONDS
        )


def run_load(
    settings: Settings | None = None,
    rates: Sequence[float] = DEFAULT_RATES,
    seconds_per_step: float = 5.0,
    batch_size: int = 200,
    *,
    p95_limit: float = 1.0,
    max_workers: int = 32,
    verify_timeout: float = 120.0,
) -> dict[str, Any]:
    """Step the request rate against ``settings.ingest_url``; see the module docstring."""
    from salesphere.gcp import clients

    settings = settings or Settings.from_env()
    _check_bounds(settings, rates, seconds_per_step, batch_size)
    run = uuid.uuid4().hex[:8]
    subscription = clients.subscription_path(settings, f"loadtest-{run}")
    subscriber = clients.subscriber(settings)
    subscriber.create_subscription(
        name=subscription,
        topic=clients.topic_path(settings, names.TOPIC_EVENTS),
        ack_deadline_seconds=60,
    )
    started = time.monotonic()
    stepper = _Stepper(_Sender(settings), run, _catalog(settings), batch_size, p95_limit, started)
    try:
        stepper.warm_up()
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="load") as pool:
            for index, rate in enumerate(rates):
                if not stepper.step(pool, index, rate, seconds_per_step):
                    break
        verification = _verify(settings, subscription, stepper.shots, run, verify_timeout)
    finally:
        subscriber.delete_subscription(subscription=subscription)
    steps = stepper.steps
    healthy = [s for s in steps if s["p95_s"] <= p95_limit and s["status_2xx"] == s["sent"]]
    best = max(healthy, key=lambda s: s["events_per_s"], default=None)
    return {
        "run": run,
        "batch_size": batch_size,
        "p95_limit_s": p95_limit,
        "steps": steps,
        "sustainable_requests_per_s": best["requests_per_s_2xx"] if best else 0.0,
        "sustainable_events_per_s": best["events_per_s"] if best else 0,
        "verification": verification,
        # headline counts (details in "verification")
        "shed": verification["shed_requests"],
        "lost": verification["missing"],
        "shed_records_delivered": verification["shed_records_delivered"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m salesphere_tools.bench.load [--rates 2,5,10] [--seconds 5] [--batch 200]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Step load test of the twin's ingest-http.")
    parser.add_argument(
        "--rates",
        default=",".join(str(r) for r in DEFAULT_RATES),
        help="requests/s per step, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per step")
    parser.add_argument("--batch", type=int, default=200, help="records per request")
    args = parser.parse_args(argv)
    rates = tuple(float(r) for r in args.rates.split(",") if r)
    print(
        json.dumps(
            run_load(rates=rates, seconds_per_step=args.seconds, batch_size=args.batch), indent=1
        )
    )


if __name__ == "__main__":
    main()
