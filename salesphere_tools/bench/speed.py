"""Speed-layer benchmark: freshness at a steady rate, drain throughput, exact counts.

Each runtime gets its own private twin (free ports, temporary directory, only the
speed service), so a run measures that runtime alone and leaves nothing behind.

* **Freshness**: envelopes are published at a steady events/s rate; an event's
  freshness is the time from its publish being acknowledged by Pub/Sub (the stand-in
  for ingest's HTTP 2xx: ingest answers after the same acknowledgement) to the first
  poll of ``speed.events`` that returns it. The poller records the time a query
  *returned*, so figures are conservative by up to one query (~0.1–0.3 s here).
* **Throughput**: a backlog is published as fast as possible and the time until every
  event is queryable gives the events/s the runtime sustains; above that rate lag grows.
* **Counts**: every run checks each event appears exactly once: duplicates and losses
  are reported (``missing`` = not queryable before the timeout), not assumed.

Functions return plain dicts (JSON-ready) so ``salesphere bench`` can print and store
them.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from salesphere import names
from salesphere.envelope import Envelope, pack
from salesphere.gcp import clients
from salesphere.model import CanonicalEvent
from salesphere.settings import Ports, Settings
from salesphere.warehouse.schemas import SPEED_EVENTS
from salesphere_tools.local.polling import TimedOut, eventually
from salesphere_tools.speed.samples import sale

RUNTIME_SERVICE = {"function": "speed", "beam": "speed-beam"}
TARGET_P95_SECONDS = {"function": 2.0, "beam": 5.0}
POLL_SECONDS = 0.25
#: Incremental polls re-read rows stamped this long before the newest one seen.
POLL_OVERLAP = timedelta(seconds=5)
FULL_POLL_EVERY = 20
#: Concurrent POS clients and attempts per request when the bench goes through ingest.
START_CHOICES = ("auto", "ingest", "publish")
INGEST_CLIENTS = 4  # the twin's ingest sheds above SALESPHERE_MAX_INFLIGHT_REQUESTS (4)
INGEST_ATTEMPTS = 50


@contextlib.contextmanager
def bench_twin(runtime: str, with_ingest: bool = True) -> Iterator[Settings]:
    """A private twin running only the chosen speed runtime (and ingest-http); torn down after."""
    from salesphere_tools.local.prereqs import free_port
    from salesphere_tools.local.twin import Twin

    if runtime not in RUNTIME_SERVICE:
        raise ValueError(f"runtime must be one of {sorted(RUNTIME_SERVICE)}, not {runtime!r}")
    with tempfile.TemporaryDirectory(prefix=f"speed-bench-{runtime}-") as tmp:
        ports = Ports(**{name: free_port() for name in Ports.__dataclass_fields__})
        settings = replace(Settings(), ports=ports, twin_dir=Path(tmp))
        twin = Twin(settings)
        try:
            # ingest-http too: freshness then starts at its 2xx, as the platform defines it
            only = {RUNTIME_SERVICE[runtime]} | ({"ingest-http"} if with_ingest else set())
            twin.up(speed_runtime=runtime, only=only)
            yield settings
        finally:
            twin.down()


def make_envelopes(
    run: str, events: int, envelope_events: int, rate: float = 500.0
) -> list[Envelope]:
    """Live-looking sales: 20 stores × 50 SKUs, occurring at ``rate`` events/s until now.

    Live POS traffic is on time: ``events`` sales at ``rate``/s span ``events / rate``
    seconds. (Spacing them a whole second apart made a 5,000-event run span 83 minutes:
    almost every event was late on DirectRunner, whose watermark is wall time, so the
    bench measured one late firing per event in the monitoring counts, not the write
    path.)
    """
    now = datetime.now(UTC)
    made: list[CanonicalEvent] = []
    for i in range(events):
        made.append(
            sale(
                f"B{run}-{i % 20}",
                f"K{run}-{i % 50}",
                1 + i % 3,
                now - timedelta(seconds=(events - i) / rate),
                f"{run}-{i}",
                received_at=now,
            )
        )
    return list(pack(made, "pos", envelope_events))


class VisibilityPoller:
    """Polls ``speed.events`` for one run's rows; remembers when each id first appeared.

    A run's rows are found by a prefix (``store_id`` for published envelopes,
    ``order_id`` for POS tickets sent through ingest). Polls are incremental: only rows
    stamped (``written_at``) up to :data:`POLL_OVERLAP` before the newest stamp seen, so
    each poll stays a small query and the poller does not compete with the layer it
    measures for the emulator. Every :data:`FULL_POLL_EVERY`-th poll reads the whole
    run, so a row whose insert took longer than the overlap is still found (late, which
    only makes figures worse). The final counts come from a full query.
    """

    def __init__(self, settings: Settings, column: str, prefix: str) -> None:
        self.client = clients.bigquery_client(settings)
        self.table = f"`{settings.project}.{SPEED_EVENTS.ref}`"
        self.where = f"STARTS_WITH({column}, @prefix)"
        self.prefix = prefix
        self.first_seen: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.polls = 0
        self._newest: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        from google.cloud import bigquery

        values = [bigquery.ScalarQueryParameter("prefix", "STRING", self.prefix)]
        values += [bigquery.ScalarQueryParameter(k, "TIMESTAMP", v) for k, v in params.items()]
        config = bigquery.QueryJobConfig(query_parameters=values)
        return list(self.client.query_and_wait(sql, job_config=config))

    def poll(self) -> None:
        """One live poll: record the first time each id was seen."""
        sql = f"SELECT event_id, written_at FROM {self.table} WHERE {self.where}"
        full = self._newest is None or self.polls % FULL_POLL_EVERY == 0
        self.polls += 1
        rows = (
            self._rows(sql)
            if full
            else self._rows(sql + " AND written_at >= @after", after=self._newest - POLL_OVERLAP)
        )
        returned = time.monotonic()
        for row in rows:
            self.first_seen.setdefault(row["event_id"], returned)
            if self._newest is None or row["written_at"] > self._newest:
                self._newest = row["written_at"]

    def count(self) -> None:
        """Copies per id of the whole run (duplicates show up as counts above one)."""
        sql = (
            f"SELECT event_id, COUNT(*) AS n FROM {self.table} WHERE {self.where} GROUP BY event_id"
        )
        self.counts = {row["event_id"]: row["n"] for row in self._rows(sql)}

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(POLL_SECONDS)

    def __enter__(self) -> VisibilityPoller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_all(self, ids: set[str], timeout: float) -> bool:
        """Whether every id has been seen within ``timeout``."""
        try:
            return eventually(
                lambda: ids <= self.first_seen.keys(), timeout=timeout, what="every event"
            )
        except TimedOut:
            return False


def _publish(settings: Settings, envelopes: list[Envelope], rate: float | None) -> dict[str, float]:
    """Publish (at ``rate`` events/s, or flat out); envelope id → ack time (monotonic)."""
    publisher = clients.publisher(settings, batch_max_messages=10)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    acked: dict[str, float] = {}
    futures = []
    start = time.monotonic()
    sent = 0
    for env in envelopes:
        if rate:
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        future = publisher.publish(topic, env.to_json(), **env.attributes())
        future.add_done_callback(
            lambda _f, eid=env.envelope_id: acked.setdefault(eid, time.monotonic())
        )
        futures.append(future)
        sent += len(env.events)
    for future in futures:
        future.result(timeout=60)
    return acked


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _final_counts(poller: VisibilityPoller, ids: set[str]) -> dict[str, int]:
    poller.count()
    duplicates = sum(1 for i in ids if poller.counts.get(i, 0) > 1)
    missing = sum(1 for i in ids if i not in poller.counts)
    # "missing" = not queryable when the run's timeout expired (a loss, or lag beyond it)
    return {"events": len(ids), "duplicates": duplicates, "missing": missing}


def measure_freshness(
    settings: Settings,
    events: int = 5_000,
    rate: float = 500.0,
    envelope_events: int = 50,
    timeout: float = 120.0,
    start: str = "auto",
) -> dict[str, Any]:
    """``events`` at ``rate``/s; freshness percentiles (seconds) and exact counts.

    The platform defines freshness from ingest's HTTP 2xx: when the twin runs ``ingest-http``
    the events are POSTed to it (``envelope_events`` records per request) and the clock
    starts at each 2xx; otherwise envelopes are published straight to Pub/Sub and the
    clock starts at the publish acknowledgement (ingest answers after the same
    acknowledgement, so the two differ by ingest's own work). ``clock_start`` says which;
    ``start`` forces one: ``"ingest"``, ``"publish"`` (the speed layer alone) or ``"auto"``.
    """
    if start not in START_CHOICES:
        raise ValueError(f"start must be one of {START_CHOICES}, not {start!r}")
    if start == "ingest" or (start == "auto" and ingest_running(settings)):
        return measure_freshness_from_ingest(settings, events, rate, envelope_events, timeout)
    run = uuid.uuid4().hex[:8]
    envelopes = make_envelopes(run, events, envelope_events, rate)
    ids = {e["event_id"] for env in envelopes for e in env.events}
    with VisibilityPoller(settings, "store_id", f"B{run}-") as poller:
        started = time.monotonic()
        acked = _publish(settings, envelopes, rate)
        publish_seconds = time.monotonic() - started
        poller.wait_all(ids, timeout)
    lags = [
        poller.first_seen[e["event_id"]] - acked[env.envelope_id]
        for env in envelopes
        for e in env.events
        if e["event_id"] in poller.first_seen
    ]
    return {
        "clock_start": "pubsub_publish_ack",
        "events": events,
        "rate_target": rate,
        "rate_achieved": round(events / publish_seconds, 1),
        "envelope_events": envelope_events,
        "p50_s": round(statistics.median(lags), 3) if lags else None,
        "p95_s": round(_percentile(lags, 0.95), 3) if lags else None,
        "max_s": round(max(lags), 3) if lags else None,
        **_final_counts(poller, ids),
    }


def ingest_running(settings: Settings) -> bool:
    """True when the twin's ``ingest-http`` function answers (its health check)."""
    import requests

    try:
        return requests.get(f"{settings.ingest_url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _pos_batch(
    run: str, seq: int, size: int, skus: tuple[str, ...], stores: tuple[str, ...], rate: float
) -> list[dict[str, Any]]:
    """``size`` POS sale lines of one ticket, occurring now (live traffic at ``rate``)."""
    now = datetime.now(UTC)
    return [
        {
            "terminal": "SPEED-BENCH",
            "store": stores[(seq + n) % len(stores)],
            "ticket": f"SB{run}-{seq:06d}",
            "line": n + 1,
            "type": "sale",
            "sku": skus[(seq * size + n) % len(skus)],
            "qty": 1 + n % 3,
            "unit_price": "10.00",
            "discount": "0.00",
            "ts": (now - timedelta(seconds=(size - n) / rate)).isoformat(),
        }
        for n in range(size)
    ]


class _IngestSender:
    """Signed POSTs to ``ingest-http``; records each accepted id's 2xx time (monotonic)."""

    def __init__(self, settings: Settings) -> None:
        self.url = f"{settings.ingest_url}/?source=pos"
        self.key_id, self.secret = settings.hmac_keys[0]
        self.local = threading.local()
        self.answered: dict[str, float] = {}
        self.ids: set[str] = set()
        self.failed = self.retries = 0
        self._lock = threading.Lock()

    def send(self, records: list[dict[str, Any]]) -> None:
        import json

        import requests

        from salesphere.ingest import signing

        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        body = json.dumps(records).encode()
        for _ in range(INGEST_ATTEMPTS):
            headers = {
                **signing.sign(self.key_id, self.secret, body),
                "Content-Type": "application/json",
            }
            try:
                response = session.post(self.url, data=body, headers=headers, timeout=30)
            except requests.RequestException:
                response = None
            if response is not None and 200 <= response.status_code < 300:
                answered = time.monotonic()
                accepted = [
                    i
                    for r in response.json()["results"]
                    if r["status"] == "accepted"
                    for i in r.get("event_ids", ())
                ]
                with self._lock:
                    for event_id in accepted:
                        self.answered.setdefault(event_id, answered)
                    self.ids.update(accepted)
                return
            with self._lock:
                self.retries += 1
            # shed (503/429) or unreachable: retry like a POS would, honouring Retry-After
            wait = response.headers.get("Retry-After", "0.5") if response is not None else "0.5"
            time.sleep(min(2.0, float(wait)) if wait.replace(".", "", 1).isdigit() else 0.5)
        with self._lock:
            self.failed += 1


def _ingest_catalog(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """SKUs and stores ingest accepts: the twin's catalog, or the ingest bench catalog."""
    from salesphere_tools.bench.ingest import SKUS, STORES, load_bench_reference

    bq = clients.bigquery_client(settings)
    try:
        skus = tuple(
            r[0]
            for r in bq.query(
                f"SELECT sku FROM `{settings.project}.reference.products` ORDER BY sku LIMIT 200"
            ).result()
        )
        stores = tuple(
            r[0]
            for r in bq.query(
                f"SELECT store_id FROM `{settings.project}.reference.stores` ORDER BY store_id LIMIT 20"
            ).result()
        )
    except Exception:  # tables missing or empty: load the bench catalog below
        skus, stores = (), ()
    if skus and stores:
        return skus, stores
    load_bench_reference(settings)
    return SKUS, STORES


def measure_freshness_from_ingest(
    settings: Settings,
    events: int = 5_000,
    rate: float = 500.0,
    batch_events: int = 50,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Freshness as the platform defines it: ingest's HTTP 2xx → row queryable in ``speed.events``."""
    from concurrent.futures import ThreadPoolExecutor

    run = uuid.uuid4().hex[:8]
    skus, stores = _ingest_catalog(settings)
    sender = _IngestSender(settings)
    batches = -(-events // batch_events)
    with VisibilityPoller(settings, "order_id", f"SB{run}-") as poller:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=INGEST_CLIENTS) as pool:
            for seq in range(batches):
                delay = started + seq * batch_events / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                size = min(batch_events, events - seq * batch_events)
                pool.submit(sender.send, _pos_batch(run, seq, size, skus, stores, rate))
        send_seconds = time.monotonic() - started
        poller.wait_all(set(sender.ids), timeout)
    ids = set(sender.ids)
    lags = [poller.first_seen[i] - sender.answered[i] for i in ids if i in poller.first_seen]
    return {
        "clock_start": "ingest_http_2xx",
        "events_sent": events,
        "ingest_retries": sender.retries,
        "ingest_failed_requests": sender.failed,
        "rate_target": rate,
        "rate_achieved": round(events / send_seconds, 1),
        "envelope_events": batch_events,
        "p50_s": round(statistics.median(lags), 3) if lags else None,
        "p95_s": round(_percentile(lags, 0.95), 3) if lags else None,
        "max_s": round(max(lags), 3) if lags else None,
        **_final_counts(poller, ids),
    }


def measure_throughput(
    settings: Settings, events: int = 20_000, envelope_events: int = 500, timeout: float = 300.0
) -> dict[str, Any]:
    """Drain a backlog published flat out: the events/s the runtime sustains."""
    run = uuid.uuid4().hex[:8]
    envelopes = make_envelopes(run, events, envelope_events)
    ids = {e["event_id"] for env in envelopes for e in env.events}
    with VisibilityPoller(settings, "store_id", f"B{run}-") as poller:
        started = time.monotonic()
        _publish(settings, envelopes, None)
        poller.wait_all(ids, timeout)
        last = max(poller.first_seen.values(), default=started)
    return {
        "events": events,
        "envelope_events": envelope_events,
        "drain_seconds": round(last - started, 2),
        "events_per_s": round(len(poller.first_seen) / max(last - started, 1e-9), 1),
        **_final_counts(poller, ids),
    }


def warm_up(settings: Settings, via_ingest: bool, events: int = 10) -> float:
    """Send one small batch to a fresh twin; seconds until it is queryable (cold start).

    A fresh function process builds its clients and loads its memory (reorder points,
    written ids) on the first message; that is a cold start, measured here and reported
    on its own so the steady-rate figures describe the warm path the stream runs on.
    """
    run = uuid.uuid4().hex[:8]
    started = time.monotonic()
    if via_ingest:
        skus, stores = _ingest_catalog(settings)
        sender = _IngestSender(settings)
        sender.send(_pos_batch(run, 0, events, skus, stores, 500.0))
        ids, column, prefix = set(sender.ids), "order_id", f"SB{run}-"
    else:
        envelopes = make_envelopes(run, events, events)
        _publish(settings, envelopes, None)
        ids = {e["event_id"] for env in envelopes for e in env.events}
        column, prefix = "store_id", f"B{run}-"
    with VisibilityPoller(settings, column, prefix) as poller:
        if not ids or not poller.wait_all(ids, 120.0):
            raise RuntimeError("the warm-up batch never became visible in speed.events")
        return round(max(poller.first_seen.values()) - started, 3)


def bench_runtime(
    runtime: str,
    events: int = 5_000,
    rate: float = 500.0,
    envelope_events: int = 50,
    backlog_events: int = 20_000,
    start: str = "auto",
) -> dict[str, Any]:
    """Freshness and throughput of one runtime (``function`` or ``beam``) on a fresh twin.

    ``start="publish"`` leaves ingest out and times the speed layer alone (see
    :func:`measure_freshness`).
    """
    with bench_twin(runtime, with_ingest=start != "publish") as settings:
        via_ingest = start == "ingest" or (start == "auto" and ingest_running(settings))
        cold_start = warm_up(settings, via_ingest)
        freshness = measure_freshness(settings, events, rate, envelope_events, start=start)
        freshness["cold_start_s"] = cold_start
        throughput = measure_throughput(settings, backlog_events)
    target = TARGET_P95_SECONDS[runtime]
    ok = (
        freshness["p95_s"] is not None
        and freshness["p95_s"] <= target
        and freshness["duplicates"] == freshness["missing"] == 0
        and throughput["duplicates"] == throughput["missing"] == 0
    )
    return {
        "runtime": runtime,
        "freshness": freshness,
        "throughput": throughput,
        "target_p95_s": target,
        "meets_target": ok,
    }


def bench_speed(runtimes: tuple[str, ...] = ("function", "beam"), **options: Any) -> dict[str, Any]:
    """Every runtime's figures, keyed by runtime name (what ``make bench`` records)."""
    return {runtime: bench_runtime(runtime, **options) for runtime in runtimes}
