"""Free-tier usage estimate: how much of each monthly quota a given order volume uses.

Pure: inputs are the order volume, a :class:`StackProfile` (the few stack settings that
move the numbers) and the event sizes *measured* by serialising realistic canonical
events with :mod:`salesphere.envelope` (so a schema change shows up here without anyone
editing a constant). Traffic assumptions live in :class:`Traffic`, named and documented,
so a reader can disagree with one number instead of with the whole model.

Billing rules used (Google Cloud's public pricing pages): Pub/Sub bills every publish and
every delivery to each subscription, each at least 1000 bytes; BigQuery storage is
logical bytes; queries bill at least 10 MB per table read; Cloud Functions 2nd gen bill
vCPU-seconds and GiB-seconds of instance time; Cloud Storage's free tier covers STANDARD
storage in us-central1/us-east1/us-west1 plus 5,000 class A and 50,000 class B ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from salesphere.envelope import pack
from salesphere.model import CanonicalEvent, Channel, EventDraft, EventType, finalize

DAYS_PER_MONTH = 30.4
GIB = 1024**3
TIB = 1024**4
GB = 1000**3
PUBSUB_MIN_BILLED_BYTES = 1000
BQ_MIN_BILLED_BYTES_PER_TABLE = 10 * 1024**2
#: Cloud Storage subscriptions close a file after at most this long (infra sets the max).
ARCHIVE_FILE_SECONDS = 600


@dataclass(frozen=True)
class Quota:
    """One free-tier allowance per month."""

    key: str
    label: str
    unit: str
    free: float
    #: Approximate list price per unit beyond the free tier (USD, us-central1, 2026);
    #: for an order of magnitude only - check the pricing pages before budgeting.
    usd_per_unit: float = 0.0


QUOTAS: tuple[Quota, ...] = (
    Quota("pubsub_gib", "Pub/Sub throughput", "GiB", 10, 40 / 1024),
    Quota("bq_storage_gib", "BigQuery storage", "GiB", 10, 0.02),
    Quota("bq_query_tib", "BigQuery queries", "TiB", 1, 6.25),
    Quota("fn_invocations", "Function invocations", "requests", 2_000_000, 0.40 / 1e6),
    Quota("fn_vcpu_s", "Function vCPU-seconds", "vCPU-s", 180_000, 0.000024),
    Quota("fn_gib_s", "Function GiB-seconds", "GiB-s", 360_000, 0.0000025),
    Quota("scheduler_jobs", "Cloud Scheduler jobs", "jobs", 3, 0.10),
    Quota("gcs_standard_gb", "Cloud Storage STANDARD", "GB-month", 5, 0.02),
    Quota("gcs_class_a", "Cloud Storage class A ops", "ops", 5_000, 0.005 / 1000),
    Quota("gcs_class_b", "Cloud Storage class B ops", "ops", 50_000, 0.0004 / 1000),
)


@dataclass(frozen=True)
class StackProfile:
    """The stack settings the estimate depends on (built from a Pulumi stack's config)."""

    stack: str = "dev"
    envelope_max_events: int = 500
    scheduler_jobs: int = 1
    batch_runs_per_day: int = 1
    speed_runtime: str = "function"
    batch_runtime: str = "function"
    speed_retention_days: int = 14
    landing_retention_days: int = 30
    archive_nearline_after_days: int = 30
    function_cpu: float = 0.167
    function_memory_gib: float = 0.25


@dataclass(frozen=True)
class Traffic:
    """Assumptions about how the business produces events; override any of them."""

    lines_per_order: float = 2.0
    #: Returns, stock receipts/adjustments/counts/transfers per sale line.
    other_events_per_line: float = 0.3
    #: Share of orders arriving live (one HTTP request per order) vs. in file drops.
    live_share: float = 0.8
    files_per_day: int = 30
    #: A dropped CSV/XLSX is ~1.6x the canonical JSON of its rows (measured loosely).
    file_bytes_per_event: float = 120.0
    reject_share: float = 0.01
    dashboard_queries_per_day: int = 400
    batch_views: int = 4
    #: Share of master.events bytes a batch-view recomputation scans (columns it reads).
    batch_scan_fraction: float = 0.6
    #: Months of history kept in master.events when storage is reported.
    horizon_months: int = 12
    ingest_seconds_per_request: float = 0.15
    speed_seconds_per_envelope: float = 0.4
    #: Cold starts of the speed function a day (scale to zero overnight, deploys). Each
    #: loads three days of ids and the store/SKU pairs with rows (salesphere.speed.memory),
    #: syncs every 30 s for 5 minutes (10 queries) and reads the history of pairs it
    #: touches first (assumed 20 queries until warm); a warm instance queries nothing.
    speed_cold_starts_per_day: int = 24
    speed_queries_per_cold_start: int = 2 + 10 + 20
    file_seconds_per_mb: float = 2.0
    batch_seconds_fixed: float = 60.0
    batch_events_per_second: float = 5_000.0
    deploys_per_month: int = 20
    bundle_mb: float = 2.0
    #: Store x SKU positions the batch run forecasts (the demo: 5 locations x 200 SKUs).
    forecast_series: int = 1_000
    #: Batch-function seconds per series (one vCPU), measured by the forecast benchmark
    #: (docs/forecast.md): refitting the chosen model, and the weekly full backtest.
    forecast_seconds_per_series: float = 0.03
    forecast_backtest_seconds_per_series: float = 0.13
    forecast_backtests_per_week: float = 1.0
    #: Share of master.events bytes the forecast's stock replay reads (7 narrow columns).
    forecast_scan_fraction: float = 0.3
    forecast_horizon_days: int = 56


@dataclass(frozen=True)
class EventSizes:
    """Measured sizes of the wire format and of a warehouse row."""

    event_bytes: float
    envelope_overhead_bytes: float
    row_logical_bytes: float

    def envelope_bytes(self, events: float) -> float:
        return self.envelope_overhead_bytes + events * self.event_bytes


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    used: float

    @property
    def share(self) -> float:
        return self.used / self.quota.free if self.quota.free else 0.0

    @property
    def overage_usd(self) -> float:
        """Approximate monthly bill for the part above the free allowance."""
        return max(0.0, self.used - self.quota.free) * self.quota.usd_per_unit


@dataclass(frozen=True)
class Estimate:
    orders_per_day: float
    events_per_day: float
    profile: StackProfile
    sizes: EventSizes
    uses: tuple[QuotaUse, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def first_to_run_out(self) -> QuotaUse:
        """The quota with the highest share used: the one that runs out first as volume grows."""
        return max(self.uses, key=lambda use: use.share)

    @property
    def overage_usd(self) -> float:
        return sum(use.overage_usd for use in self.uses)

    def use(self, key: str) -> QuotaUse:
        return next(use for use in self.uses if use.quota.key == key)


def _speed_function_query_bytes(events: float, p: StackProfile, t: Traffic) -> float:
    """Bytes a day the speed function's queries bill (cold starts only; warm ones ask nothing)."""
    if p.speed_runtime != "function":
        return 0.0
    # each reads ~three days of ids (44 bytes a row), billed at least 10 MB
    per_query = max(BQ_MIN_BILLED_BYTES_PER_TABLE, events * 3 * 44.0)
    return t.speed_cold_starts_per_day * t.speed_queries_per_cold_start * per_query


#: Logical bytes of one forecast row (two strings, two dates, five floats, id, time).
FORECAST_ROW_BYTES = 110.0


def forecast_seconds_per_run(t: Traffic) -> float:
    """Average batch-function seconds the forecast step adds to a run (update + weekly backtest)."""
    backtest_share = min(1.0, t.forecast_backtests_per_week / 7)
    per_series = (
        1 - backtest_share
    ) * t.forecast_seconds_per_series + backtest_share * t.forecast_backtest_seconds_per_series
    return t.forecast_series * per_series


def _forecast_storage_bytes(t: Traffic) -> float:
    """The forecast table (series x horizon rows) and the accuracy table (a few per series)."""
    return t.forecast_series * (t.forecast_horizon_days + 5) * FORECAST_ROW_BYTES


def _forecast_query_bytes(avg_master: float, p: StackProfile, t: Traffic) -> float:
    """Bytes a day the forecast's reads bill: daily sales, the stock replay, the choices."""
    if not t.forecast_series:
        return 0.0
    sales = max(BQ_MIN_BILLED_BYTES_PER_TABLE, t.forecast_series * 730 * 40.0)
    stock = max(BQ_MIN_BILLED_BYTES_PER_TABLE, avg_master * t.forecast_scan_fraction)
    choices = BQ_MIN_BILLED_BYTES_PER_TABLE
    return p.batch_runs_per_day * (sales + stock + choices)


def sample_events(count: int) -> list[CanonicalEvent]:
    """Realistic sale lines (store, SKU, order id, price) to measure sizes on."""
    base = datetime(2026, 11, 28, 14, 3, tzinfo=UTC)
    events = []
    for i in range(count):
        draft = EventDraft(
            event_type=EventType.SALE,
            occurred_at=base + timedelta(seconds=i),
            source="pos",
            source_ref=f"pos-sp-{i % 40:03d}/receipt-{100000 + i}",
            store_id=f"SP-{i % 40:03d}",
            sku=f"SKU-{10000 + (i * 7919) % 5000}",
            quantity=1 + i % 3,
            unit_price=Decimal("49.90") + Decimal(i % 50),
            discount=Decimal("0.00") if i % 4 else Decimal("5.00"),
            order_id=f"SP{i % 40:03d}-{2026112800000 + i // 2}",
            line_number=1 + i % 2,
            channel=Channel.STORE,
        )
        events.append(finalize(draft, base + timedelta(seconds=i, milliseconds=250)))
    return events


def _row_logical_bytes(row: dict) -> float:
    """BigQuery logical size: STRING 2+len, INT64/TIMESTAMP 8, NUMERIC 16, NULL 0."""
    numeric = {"unit_price", "discount"}
    timestamps = {"occurred_at", "received_at"}
    size = 0.0
    for key, value in row.items():
        if value is None:
            continue
        if key in numeric:
            size += 16
        elif key in timestamps or isinstance(value, int):
            size += 8
        else:
            size += 2 + len(str(value).encode())
    return size


def measure_sizes(samples: int = 500) -> EventSizes:
    """Serialise envelopes of 1 and ``samples`` events; derive per-event and fixed bytes."""
    events = sample_events(samples)
    one = len(next(pack(events[:1], "pos", 1)).to_json())
    many = len(next(pack(events, "pos", samples)).to_json())
    per_event = (many - one) / (samples - 1)
    rows = [event.to_row() for event in events]
    return EventSizes(
        event_bytes=per_event,
        envelope_overhead_bytes=one - per_event,
        row_logical_bytes=sum(_row_logical_bytes(r) for r in rows) / len(rows),
    )


def runs_per_day(cron: str) -> int:
    """How many times a day a 5-field cron fires (minute and hour fields; '*', lists, steps)."""
    parts = cron.split()
    if len(parts) != 5:
        raise ValueError(f"cron {cron!r} must have 5 fields, e.g. '15 3 * * *'")

    def count(spec: str, size: int) -> int:
        total = 0
        for item in spec.split(","):
            body, _, step = item.partition("/")
            span = (
                size
                if body == "*"
                else (int(body.split("-")[1]) - int(body.split("-")[0]) + 1 if "-" in body else 1)
            )
            total += -(-span // int(step)) if step else span
        return total

    return count(parts[0], 60) * count(parts[1], 24)


def estimate(
    orders_per_day: float,
    profile: StackProfile | None = None,
    traffic: Traffic | None = None,
    sizes: EventSizes | None = None,
) -> Estimate:
    """Monthly use of each free-tier quota at ``orders_per_day``."""
    p = profile or StackProfile()
    t = traffic or Traffic()
    s = sizes or measure_sizes()
    month = DAYS_PER_MONTH
    lines = orders_per_day * t.lines_per_order
    events = lines * (1 + t.other_events_per_line)

    # -- Pub/Sub: publishes + one delivery per subscription of the events topic --------
    live_events = events * t.live_share
    live_requests = orders_per_day * t.live_share
    per_request = live_events / live_requests if live_requests else 0.0
    live_envelopes = live_requests * max(1.0, per_request / p.envelope_max_events)
    live_env_events = per_request / max(1.0, per_request / p.envelope_max_events)
    file_events = events - live_events
    file_envelopes = -(-file_events // p.envelope_max_events) if file_events else 0.0
    billed_live = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(live_env_events))
    billed_file = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(p.envelope_max_events))
    events_topic_bytes = live_envelopes * billed_live + file_envelopes * billed_file
    subscriptions_on_events = 2  # events-speed (push or Dataflow pull) + events-archive (GCS)
    other_messages = t.files_per_day * 2 + events * t.reject_share / 50  # drops + quarantine
    pubsub_bytes = events_topic_bytes * (1 + subscriptions_on_events) + other_messages * 2 * 1000
    pubsub_gib = pubsub_bytes * month / GIB

    # -- BigQuery storage: master history + speed window + batch views ------------------
    row = s.row_logical_bytes
    master_bytes = events * row * month * t.horizon_months
    speed_bytes = events * row * p.speed_retention_days
    bq_storage = (master_bytes * (1 + 0.05) + speed_bytes + _forecast_storage_bytes(t)) / GIB

    # -- BigQuery queries: batch recomputation + serving reads ----------------------------
    avg_master = events * row * month * t.horizon_months / 2  # average size over the horizon
    batch_scan = p.batch_runs_per_day * t.batch_views * avg_master * t.batch_scan_fraction
    view_bytes = max(BQ_MIN_BILLED_BYTES_PER_TABLE * 2, events * row * 1.0 + avg_master * 0.01)
    serving_scan = t.dashboard_queries_per_day * view_bytes
    speed_scan = _speed_function_query_bytes(events, p, t)
    bq_query_tib = (
        (batch_scan + serving_scan + speed_scan + _forecast_query_bytes(avg_master, p, t))
        * month
        / TIB
    )

    # -- Cloud Functions ---------------------------------------------------------------
    speed_invocations = (live_envelopes + file_envelopes) if p.speed_runtime == "function" else 0
    batch_invocations = p.batch_runs_per_day if p.batch_runtime == "function" else 0
    invocations = (live_requests + t.files_per_day + speed_invocations + batch_invocations) * month
    file_mb_per_day = file_events * t.file_bytes_per_event / 1e6
    seconds = (
        live_requests * t.ingest_seconds_per_request
        + file_mb_per_day * t.file_seconds_per_mb
        + t.files_per_day * t.ingest_seconds_per_request
        + speed_invocations * t.speed_seconds_per_envelope
        + batch_invocations * (t.batch_seconds_fixed + events / t.batch_events_per_second)
        + batch_invocations * forecast_seconds_per_run(t)
    ) * month
    vcpu_s = seconds * p.function_cpu
    gib_s = seconds * p.function_memory_gib

    # -- Cloud Storage -------------------------------------------------------------------
    # Each envelope is archived once, at its real (not billed) size.
    archive_day_bytes = live_envelopes * s.envelope_bytes(live_env_events) + file_envelopes * (
        s.envelope_bytes(p.envelope_max_events)
    )
    standard_days = min(p.archive_nearline_after_days, month * t.horizon_months)
    landing_day_bytes = file_events * t.file_bytes_per_event
    gcs_gb = (
        archive_day_bytes * standard_days
        + landing_day_bytes * p.landing_retention_days
        + t.deploys_per_month * t.bundle_mb * 1e6 * 3
    ) / GB
    archive_files = 86400 / ARCHIVE_FILE_SECONDS if events else 0
    class_a = (archive_files + t.files_per_day + t.files_per_day * t.reject_share * 10) * month
    class_a += t.deploys_per_month * 3
    class_b = (archive_files + t.files_per_day) * month + p.batch_runs_per_day * month * 50

    uses = {
        "pubsub_gib": pubsub_gib,
        "bq_storage_gib": bq_storage,
        "bq_query_tib": bq_query_tib,
        "fn_invocations": invocations,
        "fn_vcpu_s": vcpu_s,
        "fn_gib_s": gib_s,
        "scheduler_jobs": float(p.scheduler_jobs),
        "gcs_standard_gb": gcs_gb,
        "gcs_class_a": class_a,
        "gcs_class_b": class_b,
    }
    notes = [
        f"BigQuery storage is after {t.horizon_months} months of history in master.events.",
        "Scheduler jobs are free per billing account: add the jobs of every stack billed to it.",
        f"The demand forecast ({t.forecast_series:,} series) adds about "
        f"{forecast_seconds_per_run(t):.0f} s to each batch run on average (a cheap refit "
        f"on most days, the full backtest {t.forecast_backtests_per_week:g}x a week).",
    ]
    if "dataflow" in (p.speed_runtime, p.batch_runtime):
        notes.append("Dataflow is selected: it has no free tier and is billed from the first job.")
    return Estimate(
        orders_per_day=orders_per_day,
        events_per_day=events,
        profile=p,
        sizes=s,
        uses=tuple(QuotaUse(q, uses[q.key]) for q in QUOTAS),
        notes=tuple(notes),
    )


def exhaustion_point(
    key: str,
    profile: StackProfile | None = None,
    traffic: Traffic | None = None,
    sizes: EventSizes | None = None,
    ceiling: float = 1e9,
) -> float | None:
    """Orders per day at which quota ``key`` is used up (bisection); None if never below
    ``ceiling``; 0 if it is exceeded at any volume (e.g. too many scheduler jobs)."""
    s = sizes or measure_sizes()

    def share(orders: float) -> float:
        return estimate(orders, profile, traffic, s).use(key).share

    if share(0.0) > 1:
        return 0.0
    if share(ceiling) <= 1:
        return None
    low, high = 0.0, ceiling
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if share(mid) <= 1 else (low, mid)
    return high
