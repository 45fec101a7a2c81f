"""Free-tier usage estimate: how much of each monthly allowance a given order volume uses.

Pure: inputs are the order volume, a :class:`StackProfile` (the stack settings and the
definitions that move the numbers: each function's size from :mod:`salesphere.limits`,
the archive file duration, the image cleanup policy of the program), a :class:`Design`
(choices the code makes that change the bill) and the event sizes *measured* by
serialising realistic canonical events with :mod:`salesphere.envelope`. Traffic
assumptions live in :class:`Traffic`, named and documented, so a reader can disagree with
one number instead of with the whole model.

Prices and allowances are Google's list prices (us-central1, USD), cited with the date they
were read in docs/infra.md ("What a month costs"); every billed item the platform touches
is a row, including those with no free tier (Cloud Storage subscription throughput,
legacy streaming inserts, Cloud KMS key versions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from salesphere import limits
from salesphere.envelope import pack
from salesphere.model import CanonicalEvent, Channel, EventDraft, EventType, finalize

DAYS_PER_MONTH = 30.4
GIB = 1024**3
TIB = 1024**4
GB = 1000**3
MB = 1000**2
PUBSUB_MIN_BILLED_BYTES = 1000
BQ_MIN_BILLED_BYTES_PER_TABLE = 10 * 1024**2
#: Legacy streaming inserts (tabledata.insertAll) bill each row as at least 1 KB.
BQ_STREAMING_MIN_ROW_BYTES = 1024
#: A Cloud Storage listing returns at most this many objects per (class A) request.
GCS_LIST_PAGE = 1000
#: Objects an accepted file drop writes in the landing bucket besides the drop itself:
#: its marker, its attempt counter (written, then rewritten on the outcome), its report
#: and the copy to its final folder (salesphere/ingest/files.py); deletes are free.
FILE_DROP_WRITES = 5
#: ...and reads (class B): the marker check, the counter read, the download itself.
FILE_DROP_READS = 3


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
    # Cloud Storage subscriptions: $50/TiB, "the first 10 GiB ... is not free".
    Quota("pubsub_export_gib", "Pub/Sub Cloud Storage subscription", "GiB", 0, 50 / 1024),
    Quota("bq_storage_gib", "BigQuery storage", "GiB", 10, 0.02),
    Quota("bq_query_tib", "BigQuery queries", "TiB", 1, 6.25),
    # tabledata.insertAll: $0.01 per 200 MB, no free tier.
    Quota("bq_streaming_gib", "BigQuery legacy streaming inserts", "GiB", 0, 0.05),
    Quota("bq_write_api_gib", "BigQuery Storage Write API", "GiB", 2048, 0.025),
    Quota("fn_invocations", "Function invocations", "requests", 2_000_000, 0.40 / 1e6),
    Quota("fn_vcpu_s", "Function vCPU-seconds", "vCPU-s", 180_000, 0.000024),
    Quota("fn_gib_s", "Function GiB-seconds", "GiB-s", 360_000, 0.0000025),
    Quota("scheduler_jobs", "Cloud Scheduler jobs", "jobs", 3, 0.10),
    Quota("gcs_standard_gb", "Cloud Storage STANDARD", "GB-month", 5, 0.02),
    Quota("gcs_class_a", "Cloud Storage class A ops", "ops", 5_000, 0.005 / 1000),
    Quota("gcs_class_b", "Cloud Storage class B ops", "ops", 50_000, 0.0004 / 1000),
    Quota("ar_storage_gb", "Artifact Registry storage", "GB-month", 0.5, 0.10),
    Quota("build_minutes", "Cloud Build minutes", "minutes", 2_500, 0.006),
    Quota("logging_gib", "Cloud Logging ingestion", "GiB", 50, 0.50),
    Quota("secret_versions", "Secret Manager versions", "versions", 6, 0.06),
    Quota("secret_access", "Secret Manager accesses", "ops", 10_000, 0.03 / 10_000),
    Quota("kms_key_versions", "Cloud KMS key versions", "versions", 0, 0.06),
    Quota("kms_ops", "Cloud KMS operations", "ops", 0, 0.03 / 10_000),
)


@dataclass(frozen=True)
class Design:
    """Choices in the code and the program that move the bill; ``now`` is this tree.

    ``before`` is the design this model was first written against, ``proposed`` the
    changes docs/infra.md asks for outside the program (SQL and service code).
    """

    name: str = "now"
    #: How long the archive's Cloud Storage subscription keeps a file open (one object each).
    archive_file_seconds: int = limits.ARCHIVE_FILE_MAX_S
    #: ``subscription`` (Pub/Sub writes the archive) or ``batch-pull`` (the batch run
    #: drains a pull subscription into one object per received day).
    archive_writer: str = "subscription"
    #: The batch run lists the whole archive prefix (``all``) or only new days (``days``).
    archive_listing: str = "all"
    #: Image versions the function repository keeps per image (None: never cleaned).
    image_keep_versions: int | None = 1
    #: Days of master.events the events_since_cutoff anti-join reads (None: all history).
    anti_join_days: int | None = None
    #: ``insertAll`` (legacy streaming) or ``write-api`` (Storage Write API default stream).
    row_writes: str = "insertAll"
    #: Days speed.events keeps (None: the stack's ``speed_retention_days``). Every serving
    #: query reads the whole window, so it sets the cost of a dashboard query.
    speed_retention_days: int | None = None


def designs() -> dict[str, Design]:
    from infra.foundation import KEEP_IMAGE_VERSIONS

    now = Design(image_keep_versions=KEEP_IMAGE_VERSIONS)
    return {
        "before": replace(now, name="before", archive_file_seconds=300, image_keep_versions=None),
        "now": now,
        "proposed": replace(
            now,
            name="proposed",
            archive_writer="batch-pull",
            archive_listing="days",
            anti_join_days=7,
            row_writes="write-api",
            speed_retention_days=5,
        ),
    }


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
    #: function -> (vCPU, GiB): each function is billed at its own size (salesphere.limits).
    function_sizes: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            name: (size.cpu, size.memory_mib / 1024) for name, size in limits.FUNCTIONS.items()
        }
    )
    #: Functions each deploy of a changed bundle builds (infra/functions.py: ALL_FUNCTIONS).
    functions: int = 4
    #: Active HMAC secret versions (two while a rotation is under way).
    secret_versions: int = 2


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
    #: Bytes of one ops.ingest_log row a request or file writes (streamed like speed rows).
    ledger_rows_per_request: float = 1.0
    #: Compressed dependency layers each bundle's image holds in Artifact Registry (MB):
    #: installed sizes measured in docs/infra.md (ingest 82, stream 76, batch 499 MB) at
    #: ~40 % (assumed). Both ingest functions build the same bundle, so their layers are
    #: stored once (a repository stores each layer digest once); every image also has a
    #: buildpack cache image of about the same size.
    image_mb: dict[str, float] = field(
        default_factory=lambda: {"ingest": 33.0, "stream": 30.0, "batch": 200.0}
    )
    #: Runtime base layers shared by every image in the repository (assumed, unverified).
    image_base_mb: float = 150.0
    #: Share of a deploy's functions whose bundle changed (the others keep their image).
    functions_changed_per_deploy: float = 0.5
    build_minutes_per_function: float = 2.0
    #: Cloud Logging bytes per function request (Cloud Run request log + a line or two).
    log_bytes_per_request: float = 1500.0
    log_bytes_per_batch_run: float = 2 * MB
    #: Instance starts a day per function that mounts the HMAC secret (each reads it once).
    ingest_instance_starts_per_day: int = 48
    #: Pulumi stack-secret decryptions per `pulumi up`/preview with the KMS secrets provider.
    kms_ops_per_deploy: int = 4
    #: Object writes and listings a batch run makes besides reading the archive: the run
    #: lock (create, renew), staged Parquet/Arrow parts per view and the forecast's parts,
    #: the staging listings before cleanup (salesphere/batch/runner.py, lock.py).
    batch_run_writes: int = 2 + 4 * 2 + 2
    batch_run_listings: int = 2
    #: Pulumi's state objects written per deploy (checkpoints on the GCS backend).
    state_writes_per_deploy: int = 10


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
        """Share of the free allowance used; an item with no free tier is 0 or infinite."""
        if self.quota.free:
            return self.used / self.quota.free
        return math.inf if self.used > 0 else 0.0

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
    design: Design = field(default_factory=Design)
    notes: tuple[str, ...] = field(default=())

    @property
    def first_to_run_out(self) -> QuotaUse:
        """The free allowance with the highest share used: the one that runs out first."""
        return max((u for u in self.uses if u.quota.free), key=lambda use: use.share)

    @property
    def billed_without_free_tier(self) -> list[QuotaUse]:
        """Items that have no free tier and are used: billed from the first unit."""
        return [u for u in self.uses if not u.quota.free and u.used > 0]

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


def _bigquery(
    events: float, live_requests: float, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> tuple[float, float, float, float]:
    """Storage GiB, query TiB, legacy-streamed GiB and Write API GiB a month."""
    month = DAYS_PER_MONTH
    # -- BigQuery storage: master history + speed window + batch views ------------------
    row = s.row_logical_bytes
    master_bytes = events * row * month * t.horizon_months
    speed_bytes = events * row * p.speed_retention_days
    bq_storage = (master_bytes * (1 + 0.05) + speed_bytes + _forecast_storage_bytes(t)) / GIB

    # -- BigQuery queries: batch recomputation + serving reads ----------------------------
    avg_master = events * row * month * t.horizon_months / 2  # average size over the horizon
    batch_scan = p.batch_runs_per_day * t.batch_views * avg_master * t.batch_scan_fraction
    # A serving query reads a view over events_since_cutoff: every column of the speed
    # window (the cutoff comes from a subquery, so no partition is pruned), the batch
    # table it completes, and the anti-join's event_id + received_at over master.events:
    # all of its history, or only the partitions a constant date filter leaves.
    speed_window = max(BQ_MIN_BILLED_BYTES_PER_TABLE, speed_bytes)
    id_bytes = 2 + 64 + 8
    master_days = month * t.horizon_months / 2 if d.anti_join_days is None else d.anti_join_days
    anti_join = max(BQ_MIN_BILLED_BYTES_PER_TABLE, events * master_days * id_bytes)
    view_bytes = speed_window + anti_join + BQ_MIN_BILLED_BYTES_PER_TABLE
    serving_scan = t.dashboard_queries_per_day * view_bytes
    speed_scan = _speed_function_query_bytes(events, p, t)
    bq_query_tib = (
        (batch_scan + serving_scan + speed_scan + _forecast_query_bytes(avg_master, p, t))
        * month
        / TIB
    )
    # -- Row writes: the speed layer's rows and the ingest log's, streamed ----------------
    ledger_rows = (live_requests + t.files_per_day) * t.ledger_rows_per_request
    streamed_rows = events + ledger_rows
    if d.row_writes == "insertAll":
        streaming_gib = streamed_rows * max(BQ_STREAMING_MIN_ROW_BYTES, row) * month / GIB
        write_api_gib = 0.0
    else:
        streaming_gib = 0.0
        write_api_gib = streamed_rows * row * month / GIB

    return bq_storage, bq_query_tib, streaming_gib, write_api_gib


def _archive_objects_per_day(events: float, p: StackProfile, d: Design) -> float:
    if not events:
        return 0.0
    if d.archive_writer == "subscription":
        # Pub/Sub closes a file at least every archive_file_seconds while messages flow.
        return 86400 / d.archive_file_seconds
    return 1.0 * max(1, p.batch_runs_per_day)  # one object per received day


def _gcs_operations(events: float, p: StackProfile, t: Traffic, d: Design) -> tuple[float, float]:
    """Class A (writes, listings) and class B (reads) operations a month."""
    month = DAYS_PER_MONTH
    archive_objects = _archive_objects_per_day(events, p, d)
    archive_total = archive_objects * month * t.horizon_months / 2  # average over the horizon
    listed = archive_total if d.archive_listing == "all" else archive_objects * 2
    runs = p.batch_runs_per_day
    drops = t.files_per_day
    class_a = month * (
        archive_objects
        + drops * (1 + FILE_DROP_WRITES)  # the drop itself, then ingest's own writes
        + drops * t.reject_share * 10  # quarantined copies
        + runs * (t.batch_run_writes + t.batch_run_listings + math.ceil(listed / GCS_LIST_PAGE))
    ) + t.deploys_per_month * (3 + t.state_writes_per_deploy)
    class_b = (
        month
        * (
            runs * (archive_objects / max(1, runs) + 4 * 2 + 3)  # new files, parts, lock
            + drops * FILE_DROP_READS
        )
        + t.deploys_per_month * p.functions * t.functions_changed_per_deploy
    )
    return class_a, class_b


def _images_and_builds(p: StackProfile, t: Traffic, d: Design) -> tuple[float, float]:
    """Artifact Registry GB-months and Cloud Build minutes a month."""
    per_version_gb = sum(t.image_mb.values()) * 2 / 1000  # image + its build cache
    if d.image_keep_versions is None:  # every build kept: a year of changed builds
        versions = t.deploys_per_month * t.functions_changed_per_deploy * t.horizon_months
    else:
        versions = d.image_keep_versions
    builds = t.deploys_per_month * p.functions * t.functions_changed_per_deploy
    return t.image_base_mb / 1000 + per_version_gb * versions, builds * t.build_minutes_per_function


@dataclass(frozen=True)
class _Volumes:
    """How a day's orders arrive: events, and how many requests and envelopes carry them."""

    events: float
    live_requests: float
    live_envelopes: float
    live_env_events: float
    file_events: float
    file_envelopes: float


def _volumes(orders_per_day: float, p: StackProfile, t: Traffic) -> _Volumes:
    lines = orders_per_day * t.lines_per_order
    events = lines * (1 + t.other_events_per_line)
    live_events = events * t.live_share
    live_requests = orders_per_day * t.live_share
    per_request = live_events / live_requests if live_requests else 0.0
    file_events = events - live_events
    return _Volumes(
        events=events,
        live_requests=live_requests,
        live_envelopes=live_requests * max(1.0, per_request / p.envelope_max_events),
        live_env_events=per_request / max(1.0, per_request / p.envelope_max_events),
        file_events=file_events,
        file_envelopes=-(-file_events // p.envelope_max_events) if file_events else 0.0,
    )


def _pubsub(
    v: _Volumes, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> tuple[float, float]:
    """GiB a month through Pub/Sub (publishes + deliveries), and through its export."""
    billed_live = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(v.live_env_events))
    billed_file = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(p.envelope_max_events))
    events_topic_bytes = v.live_envelopes * billed_live + v.file_envelopes * billed_file
    # events-speed (push or Dataflow pull) is basic delivery; events-archive is basic too
    # when the batch run pulls it, an export (billed apart, no free tier) when Pub/Sub
    # writes it to Cloud Storage itself.
    basic_deliveries = 1 + (d.archive_writer == "batch-pull")
    other_messages = t.files_per_day * 2 + v.events * t.reject_share / 50  # drops + quarantine
    pubsub_bytes = events_topic_bytes * (1 + basic_deliveries) + other_messages * 2 * 1000
    export = events_topic_bytes if d.archive_writer == "subscription" else 0.0
    return pubsub_bytes * DAYS_PER_MONTH / GIB, export * DAYS_PER_MONTH / GIB


def _functions_use(v: _Volumes, p: StackProfile, t: Traffic) -> tuple[float, float, float]:
    """Invocations, vCPU-seconds and GiB-seconds a month: each function at its own size."""
    speed_invocations = (
        (v.live_envelopes + v.file_envelopes) if p.speed_runtime == "function" else 0
    )
    batch_invocations = p.batch_runs_per_day if p.batch_runtime == "function" else 0
    daily = v.live_requests + t.files_per_day + speed_invocations + batch_invocations
    file_mb_per_day = v.file_events * t.file_bytes_per_event / 1e6
    seconds = {
        limits.INGEST_HTTP: v.live_requests * t.ingest_seconds_per_request,
        limits.INGEST_FILES: file_mb_per_day * t.file_seconds_per_mb
        + t.files_per_day * t.ingest_seconds_per_request,
        limits.SPEED: speed_invocations * t.speed_seconds_per_envelope,
        limits.BATCH: batch_invocations
        * (
            t.batch_seconds_fixed
            + v.events / t.batch_events_per_second
            + forecast_seconds_per_run(t)
        ),
    }
    vcpu_s = sum(sec * p.function_sizes[fn][0] for fn, sec in seconds.items())
    gib_s = sum(sec * p.function_sizes[fn][1] for fn, sec in seconds.items())
    return daily * DAYS_PER_MONTH, vcpu_s * DAYS_PER_MONTH, gib_s * DAYS_PER_MONTH


def _storage_gb(v: _Volumes, p: StackProfile, t: Traffic, s: EventSizes) -> float:
    """Standard storage: the archive until it turns nearline, landing files, bundles."""
    # Each envelope is archived once, at its real (not billed) size.
    archive_day_bytes = v.live_envelopes * s.envelope_bytes(v.live_env_events) + (
        v.file_envelopes * s.envelope_bytes(p.envelope_max_events)
    )
    standard_days = min(p.archive_nearline_after_days, DAYS_PER_MONTH * t.horizon_months)
    landing_day_bytes = v.file_events * t.file_bytes_per_event
    return (
        archive_day_bytes * standard_days
        + landing_day_bytes * p.landing_retention_days
        + t.deploys_per_month * t.bundle_mb * 1e6 * 3
    ) / GB


def _notes(p: StackProfile, t: Traffic, d: Design) -> list[str]:
    notes = [
        f"design '{d.name}': archive written by "
        + (
            f"its Cloud Storage subscription (a file per {d.archive_file_seconds} s)"
            if d.archive_writer == "subscription"
            else "the batch run (one object per received day)"
        )
        + f", rows streamed with {d.row_writes}, events_since_cutoff's anti-join reads "
        + ("all of master.events" if d.anti_join_days is None else f"{d.anti_join_days} days")
        + ".",
        f"BigQuery storage is after {t.horizon_months} months of history in master.events.",
        "Free allowances are per billing account (Cloud Logging: per project): add every "
        "stack billed to it.",
        f"The demand forecast ({t.forecast_series:,} series) adds about "
        f"{forecast_seconds_per_run(t):.0f} s to each batch run on average (a cheap refit "
        f"on most days, the full backtest {t.forecast_backtests_per_week:g}x a week).",
    ]
    if "dataflow" in (p.speed_runtime, p.batch_runtime):
        notes.append("Dataflow is selected: it has no free tier and is billed from the first job.")
    return notes


def estimate(
    orders_per_day: float,
    profile: StackProfile | None = None,
    traffic: Traffic | None = None,
    sizes: EventSizes | None = None,
    design: Design | None = None,
) -> Estimate:
    """Monthly use of each billed item at ``orders_per_day``."""
    p = profile or StackProfile()
    t = traffic or Traffic()
    s = sizes or measure_sizes()
    d = design or Design()
    if d.speed_retention_days is not None:
        p = replace(p, speed_retention_days=d.speed_retention_days)
    v = _volumes(orders_per_day, p, t)
    pubsub_gib, export_gib = _pubsub(v, p, t, s, d)
    bq_storage, bq_query_tib, streaming_gib, write_api_gib = _bigquery(
        v.events, v.live_requests, p, t, s, d
    )
    invocations, vcpu_s, gib_s = _functions_use(v, p, t)
    class_a, class_b = _gcs_operations(v.events, p, t, d)
    ar_gb, build_minutes = _images_and_builds(p, t, d)
    logging_gib = (
        invocations * t.log_bytes_per_request
        + p.batch_runs_per_day * DAYS_PER_MONTH * t.log_bytes_per_batch_run
    ) / GIB
    uses = {
        "pubsub_gib": pubsub_gib,
        "pubsub_export_gib": export_gib,
        "bq_storage_gib": bq_storage,
        "bq_query_tib": bq_query_tib,
        "bq_streaming_gib": streaming_gib,
        "bq_write_api_gib": write_api_gib,
        "fn_invocations": invocations,
        "fn_vcpu_s": vcpu_s,
        "fn_gib_s": gib_s,
        "scheduler_jobs": float(p.scheduler_jobs),
        "gcs_standard_gb": _storage_gb(v, p, t, s),
        "gcs_class_a": class_a,
        "gcs_class_b": class_b,
        "ar_storage_gb": ar_gb,
        "build_minutes": build_minutes,
        "logging_gib": logging_gib,
        "secret_versions": float(p.secret_versions),
        "secret_access": t.ingest_instance_starts_per_day * DAYS_PER_MONTH,
        "kms_key_versions": 1.0,
        "kms_ops": float(t.deploys_per_month * t.kms_ops_per_deploy),
    }
    return Estimate(
        orders_per_day=orders_per_day,
        events_per_day=v.events,
        profile=p,
        sizes=s,
        uses=tuple(QuotaUse(q, uses[q.key]) for q in QUOTAS),
        design=d,
        notes=tuple(_notes(p, t, d)),
    )


def exhaustion_point(
    key: str,
    profile: StackProfile | None = None,
    traffic: Traffic | None = None,
    sizes: EventSizes | None = None,
    ceiling: float = 1e9,
    design: Design | None = None,
) -> float | None:
    """Orders per day at which quota ``key`` is used up (bisection); None if never below
    ``ceiling``; 0 if it is exceeded at any volume (e.g. too many scheduler jobs)."""
    s = sizes or measure_sizes()

    def share(orders: float) -> float:
        return estimate(orders, profile, traffic, s, design).use(key).share

    if share(0.0) > 1:
        return 0.0
    if share(ceiling) <= 1:
        return None
    low, high = 0.0, ceiling
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if share(mid) <= 1 else (low, mid)
    return high
