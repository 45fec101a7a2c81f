"""Free-tier usage estimate: how much of each monthly allowance a given order volume uses.

Pure: inputs are the order volume, a :class:`StackProfile` (the stack settings and the
definitions that move the numbers: each function's size from :mod:`salesphere.limits`,
the batch cadence from the stack's schedule, the image cleanup of the Pulumi program), a
:class:`Design` (choices the code makes that change the bill: who writes the archive, the
scan windows of the serving views, read from ``sql/serving/*.sql``) and the event sizes
*measured* by serialising realistic canonical events with :mod:`salesphere.envelope`.
Traffic assumptions live in :class:`Traffic`, named and documented, so a reader can
disagree with one number instead of with the whole model.

Prices and allowances are Google's list prices (us-central1, USD), cited with the date they
were read in docs/infra.md ("What a month costs"); a price that could not be checked against
Google's own page is marked unverified (``Quota.verified``) and printed with a dagger.
Every billed item the platform touches is a row, including those with no free tier
(legacy streaming inserts, the Cloud KMS key of the Pulumi secrets).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from salesphere import limits
from salesphere.envelope import pack
from salesphere.model import CanonicalEvent, Channel, EventDraft, EventType, finalize
from salesphere.settings import Settings

DAYS_PER_MONTH = 30.4
GIB = 1024**3
TIB = 1024**4
GB = 1000**3
MB = 1000**2
#: Pub/Sub bills every publish, push and pull request as at least 1000 bytes.
PUBSUB_MIN_BILLED_BYTES = 1000
#: A pull returns at most this many messages (salesphere.batch.archive asks for a full page).
PUBSUB_PULL_PAGE = 1000
BQ_MIN_BILLED_BYTES_PER_TABLE = 10 * 1024**2
#: Legacy streaming inserts (tabledata.insertAll) bill each row as at least 1 KB.
BQ_STREAMING_MIN_ROW_BYTES = 1024
#: A Cloud Storage listing returns at most this many objects per (class A) request.
GCS_LIST_PAGE = 1000
#: Class A operations every accepted file drop makes in the landing bucket besides its
#: own upload, counted from salesphere/ingest/files.py: the attempt counter (created
#: before the file is read) and the marker of its content. The rejects report is one
#: more, written only for a file with a rejected row (``report_share``). The original
#: stays where it landed (no copy). Deletes are free.
FILE_DROP_WRITES = 2
#: ...and class B: the object's metadata, its download, the marker check, the counter read.
FILE_DROP_READS = 4
#: Queries a cold speed process runs to load its memory (salesphere/speed/memory.py: the
#: ids of the hot days and the store/SKU pairs with rows, one query, ``ids_and_pairs``).
SPEED_LOAD_QUERIES = 1
#: Gzipped MB statsforecast and its stack (pandas, scipy, statsmodels, ...) added to the
#: batch bundle's dependencies: 208 MB with them, 146 MB without (docs/infra.md).
STATSFORECAST_LAYER_MB = 62.0
#: Where the serving views live (``python -m sql.render`` writes the generated ones).
SERVING_SQL = Path(__file__).resolve().parents[1] / "sql" / "serving"


@dataclass(frozen=True)
class Quota:
    """One free-tier allowance per month, and the list price beyond it."""

    key: str
    label: str
    unit: str
    free: float
    #: List price per unit beyond the free tier (USD, us-central1).
    usd_per_unit: float = 0.0
    #: False when the price or allowance could not be checked on Google's own page
    #: (docs/infra.md lists what was read, where and when).
    verified: bool = True


QUOTAS: tuple[Quota, ...] = (
    Quota("pubsub_gib", "Pub/Sub throughput", "GiB", 10, 40 / 1024),
    # Written by Pub/Sub itself into Cloud Storage: billed apart from the free 10 GiB.
    Quota("pubsub_export_gib", "Pub/Sub Cloud Storage subscription", "GiB", 0, 50 / 1024, False),
    Quota("bq_storage_gib", "BigQuery storage", "GiB", 10, 0.02, False),
    Quota("bq_query_tib", "BigQuery queries", "TiB", 1, 6.25, False),
    # tabledata.insertAll: $0.01 per 200 MB, at least 1 KB a row, no free tier.
    Quota("bq_streaming_gib", "BigQuery legacy streaming inserts", "GiB", 0, 0.05),
    Quota("fn_invocations", "Function requests", "requests", 2_000_000, 0.40 / 1e6),
    Quota("fn_vcpu_s", "Function vCPU-seconds", "vCPU-s", 180_000, 0.000024),
    Quota("fn_gib_s", "Function GiB-seconds", "GiB-s", 360_000, 0.0000025),
    Quota("scheduler_jobs", "Cloud Scheduler jobs", "jobs", 3, 0.10),
    Quota("gcs_standard_gb", "Cloud Storage STANDARD", "GB-month", 5, 0.02, False),
    Quota("gcs_class_a", "Cloud Storage class A ops", "ops", 5_000, 0.005 / 1000, False),
    Quota("gcs_class_b", "Cloud Storage class B ops", "ops", 50_000, 0.0004 / 1000, False),
    Quota("ar_storage_gb", "Artifact Registry storage", "GB-month", 0.5, 0.10),
    Quota("build_minutes", "Cloud Build minutes", "minutes", 2_500, 0.006),
    Quota("logging_gib", "Cloud Logging ingestion", "GiB", 50, 0.50),
    Quota("secret_versions", "Secret Manager versions", "versions", 6, 0.06),
    Quota("secret_access", "Secret Manager accesses", "ops", 10_000, 0.03 / 10_000),
    Quota("kms_key_versions", "Cloud KMS key versions", "versions", 0, 0.06),
    Quota("kms_ops", "Cloud KMS operations", "ops", 0, 0.03 / 10_000),
)


def _table_windows(sql: str, table: str) -> list[float | None]:
    """The constant day window of each read of ``table`` in ``sql`` (None: unbounded)."""
    out: list[float | None] = []
    for read in re.finditer(rf"FROM\s+{re.escape(table)}\b", sql):
        rest = sql[read.end() :]
        # The read's own filter: up to the next read of any table or the end of its CTE.
        stop = re.search(r"\bFROM\s|\n\)", rest)
        scope = rest[: stop.start()] if stop else rest
        window = re.search(
            r"TIMESTAMP_SUB\(CURRENT_TIMESTAMP\(\),\s*INTERVAL\s+(\d+)\s+DAY\)", scope
        )
        out.append(float(window.group(1)) if window else None)
    return out


@cache
def serving_windows(folder: Path = SERVING_SQL) -> dict[str, float | None]:
    """Days of speed.events and master.events the speed half of every serving view reads.

    Read from ``events_since_cutoff.sql`` and ``events_counted_since_cutoff.sql``: the
    widest window of any read of the table, or None when one read has no constant window
    (then BigQuery prunes nothing and bills the whole table).
    """
    sql = "\n".join(
        (folder / name).read_text()
        for name in ("events_since_cutoff.sql", "events_counted_since_cutoff.sql")
    )
    found: dict[str, float | None] = {}
    for table in ("speed.events", "master.events"):
        windows = _table_windows(sql, table)
        found[table] = None if not windows or None in windows else max(w for w in windows if w)
    return found


@cache
def view_tables(view: str, folder: Path = SERVING_SQL) -> frozenset[str]:
    """The tables a query over ``serving.<view>`` reads, through every view it uses.

    BigQuery bills at least 10 MB for each table a query references, so the number of
    tables behind a dashboard's view sets a floor under every dashboard query.
    """
    paths = {p.stem: p for p in [*folder.glob("*.sql"), *folder.glob("generated/*.sql")]}
    sql = paths[view].read_text()
    tables: set[str] = set()
    for ref in re.findall(r"(?:FROM|JOIN)\s+([a-z_]+\.[a-z_]+)", sql):
        dataset, name = ref.split(".")
        if dataset == "serving":
            tables |= view_tables(name, folder)
        else:
            tables.add(ref)
    return frozenset(tables)


@dataclass(frozen=True)
class Design:
    """Choices in the code and the program that move the bill; ``now`` is this tree."""

    name: str = "now"
    #: ``batch-pull`` (each batch run drains a pull subscription into one object per
    #: receive date, salesphere/batch/archive.py) or ``subscription`` (a Pub/Sub Cloud
    #: Storage subscription writes a file at least every ``archive_file_seconds``).
    archive_writer: str = "batch-pull"
    archive_file_seconds: int = 600
    #: Days of speed.events and master.events the speed half of the serving views reads
    #: (None: all of it; BigQuery prunes partitions only on constant filters).
    speed_window_days: float | None = None
    master_window_days: float | None = None
    #: Image versions the function repository keeps per image (None: never cleaned).
    image_keep_versions: int | None = 1
    #: Class A writes of ingest per accepted file drop (``FILE_DROP_WRITES``; one more
    #: while the original was copied to a content-addressed home).
    file_drop_writes: int = FILE_DROP_WRITES
    #: Queries a cold speed process loads its memory with (``SPEED_LOAD_QUERIES``; two
    #: while the ids and the pairs with rows were separate queries).
    speed_load_queries: int = SPEED_LOAD_QUERIES
    #: Gzipped MB the batch image carries beyond ``Traffic.image_mb`` (0: the forecast
    #: is plain numpy; ``STATSFORECAST_LAYER_MB`` while the statistical alternatives and
    #: their stack were bundled with it).
    batch_image_extra_mb: float = 0.0


def designs() -> dict[str, Design]:
    """``now`` (this tree: windows read from the views) and ``before`` (the design this
    tree replaced: the archive written by a Cloud Storage subscription closing a file every
    600 s, serving views that read all of speed.events and master.events, file drops
    copied to a second home, a speed cold start loading ids and pairs in two queries, a
    batch bundle carrying statsforecast)."""
    from infra.foundation import KEEP_IMAGE_VERSIONS

    windows = serving_windows()
    now = Design(
        speed_window_days=windows["speed.events"],
        master_window_days=windows["master.events"],
        image_keep_versions=KEEP_IMAGE_VERSIONS,
    )
    before = replace(
        now,
        name="before",
        archive_writer="subscription",
        speed_window_days=None,
        master_window_days=None,
        file_drop_writes=FILE_DROP_WRITES + 1,
        speed_load_queries=SPEED_LOAD_QUERIES + 1,
        batch_image_extra_mb=STATSFORECAST_LAYER_MB,
    )
    return {"before": before, "now": now}


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
    #: The batch run's lock lease: it renews the lock every quarter of it (a class A op).
    batch_lock_lease_seconds: float = Settings.batch_lock_lease_seconds


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
    #: Dashboard queries a day, each over one serving view (``dashboard_view``). BigQuery
    #: caches no result here: the speed tables have a streaming buffer and the views read
    #: CURRENT_TIMESTAMP().
    dashboard_queries_per_day: int = 400
    dashboard_view: str = "sales_daily"
    #: Queries a day over the purchasing views (serving.replenishment, open_purchase_orders,
    #: stock_alerts, transfer_suggestions), which read stock receipts and transfers in all
    #: of master.events, and the share of master's bytes (columns) they read.
    purchasing_queries_per_day: int = 20
    purchasing_scan_fraction: float = 0.3
    #: Logical bytes of one row of a batch view (date, store, SKU, a few sums), and the
    #: store x SKU positions with a row on a day (the batch views' size).
    batch_view_row_bytes: float = 80.0
    batch_view_rows_per_day: float = 1_000.0
    batch_views: int = 4
    #: Share of master.events bytes a batch-view recomputation scans (columns it reads);
    #: each run is assumed to read all of master once per batch view.
    batch_scan_fraction: float = 0.6
    #: Months of history kept in master.events when storage is reported.
    horizon_months: int = 12
    ingest_seconds_per_request: float = 0.15
    speed_seconds_per_envelope: float = 0.4
    #: Cold starts of the speed function a day (scale to zero overnight, deploys). Each
    #: loads three days of ids and the store/SKU pairs with rows (salesphere.speed.memory,
    #: ``SPEED_LOAD_QUERIES``), syncs every ``speed_sync_seconds`` for
    #: ``speed_sync_window_seconds`` (Settings) and reads the history of pairs it touches
    #: first (assumed 20 queries until warm); a warm instance queries nothing.
    speed_cold_starts_per_day: int = 24
    speed_history_loads_per_cold_start: int = 20
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
    #: each bundle's requirements installed for Python 3.12 and gzipped (measured, the
    #: command is in docs/infra.md; layers are stored gzipped). Both ingest functions
    #: build the same bundle, so their layers are stored once (a repository stores each
    #: layer digest once); every image also has a buildpack cache image of about the same
    #: size.
    image_mb: dict[str, float] = field(
        default_factory=lambda: {"ingest": 28.0, "stream": 20.0, "batch": 146.0}
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
    #: Objects a batch run stages besides its lock (salesphere/batch/runner.py,
    #: pipeline.py, forecast.py): Parquet/Arrow parts per batch view, the forecast's parts;
    #: BigQuery's load jobs read each part back (class B). Listings: the staged parts (to
    #: load, then to clean up) and the forecast's staging.
    batch_staged_objects: int = 4 * 2 + 2
    batch_run_listings: int = 3
    #: Seconds the batch run spends draining the archive subscription per 1,000 messages
    #: (a pull of up to 1,000, then one write) and at least (the two empty pulls that end it).
    archive_seconds_per_1000_messages: float = 1.0
    archive_seconds_fixed: float = 10.0
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
    #: BigQuery TiB a month by what reads them (they add up to ``bq_query_tib``).
    query_tib: dict[str, float] = field(default_factory=dict)

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


def speed_queries_per_cold_start(t: Traffic, d: Design | None = None) -> int:
    """Queries a cold speed process runs until warm: its load, its syncs (every
    ``speed_sync_seconds`` for ``speed_sync_window_seconds``), its history reads."""
    every, window = Settings.speed_sync_seconds, Settings.speed_sync_window_seconds
    syncs = math.ceil(window / every) if every else 0
    load = (d or Design()).speed_load_queries
    return load + syncs + t.speed_history_loads_per_cold_start


def _speed_function_query_bytes(events: float, p: StackProfile, t: Traffic, d: Design) -> float:
    """Bytes a day the speed function's queries bill (cold starts only; warm ones ask nothing)."""
    if p.speed_runtime != "function":
        return 0.0
    # each reads ~three days of ids (44 bytes a row), billed at least 10 MB
    per_query = max(BQ_MIN_BILLED_BYTES_PER_TABLE, events * 3 * 44.0)
    return t.speed_cold_starts_per_day * speed_queries_per_cold_start(t, d) * per_query


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


def _table_bytes(
    table: str, events: float, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> float:
    """Bytes a dashboard query bills for one table it reads (at least 10 MB)."""
    row = s.row_logical_bytes
    history_days = DAYS_PER_MONTH * t.horizon_months / 2  # average over the horizon
    if table == "speed.events":  # every column of the window (first copies, then all)
        days = min(d.speed_window_days or p.speed_retention_days, p.speed_retention_days)
        scanned = events * row * days
    elif table == "master.events":  # every column: the negation of a voided batch event
        scanned = events * row * (d.master_window_days or history_days)
    elif table.startswith("batch.") and table != "batch.cutoff":  # a batch view, all history
        scanned = t.batch_view_rows_per_day * history_days * t.batch_view_row_bytes
    else:  # reference tables and batch.cutoff: a few rows
        scanned = 0.0
    return max(BQ_MIN_BILLED_BYTES_PER_TABLE, scanned)


def dashboard_query_bytes(
    events: float, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> float:
    """Bytes one dashboard query over ``serving.<dashboard_view>`` bills: each table the
    view reads, through every view beneath it, at least 10 MB each."""
    return sum(_table_bytes(tb, events, p, t, s, d) for tb in view_tables(t.dashboard_view))


def _bigquery(
    events: float, live_requests: float, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> tuple[float, dict[str, float], float]:
    """Storage GiB, query TiB (by what reads) and legacy-streamed GiB a month."""
    month = DAYS_PER_MONTH
    # -- BigQuery storage: master history + speed window + batch views ------------------
    row = s.row_logical_bytes
    master_bytes = events * row * month * t.horizon_months
    speed_bytes = events * row * p.speed_retention_days
    batch_bytes = t.batch_views * t.batch_view_rows_per_day * month * t.horizon_months
    bq_storage = (
        master_bytes * (1 + 0.05)
        + speed_bytes
        + batch_bytes * t.batch_view_row_bytes
        + _forecast_storage_bytes(t)
    ) / GIB

    # -- BigQuery queries: batch recomputation + serving reads ----------------------------
    avg_master = events * row * month * t.horizon_months / 2  # average size over the horizon
    batch_scan = p.batch_runs_per_day * t.batch_views * avg_master * t.batch_scan_fraction
    serving_scan = t.dashboard_queries_per_day * dashboard_query_bytes(events, p, t, s, d)
    purchasing_scan = t.purchasing_queries_per_day * max(
        BQ_MIN_BILLED_BYTES_PER_TABLE, avg_master * t.purchasing_scan_fraction
    )
    speed_scan = _speed_function_query_bytes(events, p, t, d)
    parts = {
        f"{t.dashboard_queries_per_day} dashboard queries a day": serving_scan,
        f"{t.purchasing_queries_per_day} purchasing-view queries a day": purchasing_scan,
        "the speed function's cold starts": speed_scan,
        "batch-view recomputation": batch_scan,
        "the forecast's reads": _forecast_query_bytes(avg_master, p, t),
    }
    query_parts = {k: v * month / TIB for k, v in parts.items()}
    # -- Row writes: the speed layer's rows and the ingest log's, streamed ----------------
    # salesphere/speed/sink.py and salesphere/ingest/ledger.py use tabledata.insertAll
    # (insertId makes a redelivered row collapse), billed per row at 1 KB at least.
    ledger_rows = (live_requests + t.files_per_day) * t.ledger_rows_per_request
    streamed_rows = events + ledger_rows
    streaming_gib = streamed_rows * max(BQ_STREAMING_MIN_ROW_BYTES, row) * month / GIB
    return bq_storage, query_parts, streaming_gib


def archive_objects_per_day(events: float, p: StackProfile, d: Design) -> float:
    """Objects the archive gains a day.

    A Cloud Storage subscription closes a file at least every ``archive_file_seconds``
    while messages flow. A batch run writes one object per receive date it drains: the
    messages since the previous run span one UTC midnight a day, so ``runs + 1`` a day.
    """
    if not events:
        return 0.0
    if d.archive_writer == "subscription":
        return 86400 / d.archive_file_seconds
    return max(1, p.batch_runs_per_day) + 1.0


def batch_seconds_per_run(v: _Volumes, p: StackProfile, t: Traffic, d: Design) -> float:
    """Seconds of one batch run: fixed work, the events, the forecast, the archive drain."""
    messages = (v.live_envelopes + v.file_envelopes) / max(1, p.batch_runs_per_day)
    drain = (
        t.archive_seconds_fixed + messages / 1000 * t.archive_seconds_per_1000_messages
        if d.archive_writer == "batch-pull"
        else 0.0
    )
    return (
        t.batch_seconds_fixed
        + v.events / max(1, p.batch_runs_per_day) / t.batch_events_per_second
        + forecast_seconds_per_run(t)
        + drain
    )


def report_share(v: _Volumes, t: Traffic) -> float:
    """Share of file drops with at least one rejected row (each writes a rejects report)."""
    drops = t.files_per_day
    if not drops or not v.file_events:
        return 0.0
    rows_per_file = v.file_events / drops
    return 1.0 - (1.0 - t.reject_share) ** rows_per_file


def _gcs_operations(v: _Volumes, p: StackProfile, t: Traffic, d: Design) -> tuple[float, float]:
    """Class A (writes, copies, listings) and class B (reads) operations a month."""
    month = DAYS_PER_MONTH
    archive_objects = archive_objects_per_day(v.events, p, d)
    archive_total = archive_objects * month * t.horizon_months / 2  # average over the horizon
    runs = p.batch_runs_per_day
    drops = t.files_per_day
    # The run lists the whole archive prefix (salesphere/batch/runner.py: list_archive).
    archive_listing = math.ceil(archive_total / GCS_LIST_PAGE) if archive_total else 1
    run_seconds = batch_seconds_per_run(v, p, t, d) if runs else 0.0
    lock_writes = 1 + math.ceil(run_seconds / (p.batch_lock_lease_seconds / 4))
    class_a = month * (
        archive_objects
        + drops * (1 + d.file_drop_writes + report_share(v, t))  # the drop, ingest's writes
        + drops * t.reject_share * 10  # quarantined copies
        + runs * (lock_writes + t.batch_staged_objects + t.batch_run_listings + archive_listing)
    ) + t.deploys_per_month * (3 + t.state_writes_per_deploy)
    # Each run reads every object of the partitions it rebuilds (two receive dates).
    read_per_run = min(archive_total, 2 * archive_objects / max(1, runs)) if runs else 0.0
    class_b = (
        month
        * (
            runs * (read_per_run + t.batch_staged_objects + 2)  # archive, parts, lock
            + drops * FILE_DROP_READS
        )
        + t.deploys_per_month * p.functions * t.functions_changed_per_deploy
    )
    return class_a, class_b


def _images_and_builds(p: StackProfile, t: Traffic, d: Design) -> tuple[float, float]:
    """Artifact Registry GB-months and Cloud Build minutes a month."""
    image_mb = sum(t.image_mb.values()) + d.batch_image_extra_mb
    per_version_gb = image_mb * 2 / 1000  # image + its build cache
    if d.image_keep_versions is None:  # every build kept: a year of changed builds
        versions = t.deploys_per_month * t.functions_changed_per_deploy * t.horizon_months
    else:
        versions = d.image_keep_versions
    builds = t.deploys_per_month * p.functions * t.functions_changed_per_deploy
    return t.image_base_mb / 1000 + per_version_gb * versions, builds * t.build_minutes_per_function


def _pubsub(
    v: _Volumes, p: StackProfile, t: Traffic, s: EventSizes, d: Design
) -> tuple[float, float]:
    """GiB a month through Pub/Sub (publishes + deliveries), and through its export."""
    billed_live = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(v.live_env_events))
    billed_file = max(PUBSUB_MIN_BILLED_BYTES, s.envelope_bytes(p.envelope_max_events))
    events_topic_bytes = v.live_envelopes * billed_live + v.file_envelopes * billed_file
    # events-speed (push, or Dataflow's pull) is basic delivery, billed per push at 1000 B
    # at least like the publish. events-archive pulled by the batch run is basic delivery
    # too, in pages of up to 1,000 messages (the minimum is per request, so only the
    # envelopes' real bytes count); written by a Cloud Storage subscription it is billed
    # apart, with no free tier.
    real_bytes = v.live_envelopes * s.envelope_bytes(v.live_env_events) + (
        v.file_envelopes * s.envelope_bytes(p.envelope_max_events)
    )
    pulls = math.ceil((v.live_envelopes + v.file_envelopes) / PUBSUB_PULL_PAGE) + 2
    archive_pull = (
        max(real_bytes, pulls * PUBSUB_MIN_BILLED_BYTES) if d.archive_writer == "batch-pull" else 0
    )
    other_messages = t.files_per_day * 2 + v.events * t.reject_share / 50  # drops + quarantine
    pubsub_bytes = (
        events_topic_bytes * 2 + archive_pull + other_messages * 2 * PUBSUB_MIN_BILLED_BYTES
    )
    export = real_bytes if d.archive_writer == "subscription" else 0.0
    return pubsub_bytes * DAYS_PER_MONTH / GIB, export * DAYS_PER_MONTH / GIB


def _functions_use(
    v: _Volumes, p: StackProfile, t: Traffic, d: Design
) -> tuple[float, float, float]:
    """Requests, vCPU-seconds and GiB-seconds a month: each function at its own size."""
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
        limits.BATCH: batch_invocations * batch_seconds_per_run(v, p, t, d),
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


def _window(days: float | None, whole: str) -> str:
    return whole if days is None else f"{days:g} days"


def _notes(p: StackProfile, t: Traffic, d: Design) -> list[str]:
    notes = [
        f"design '{d.name}': the archive is written by "
        + (
            f"a Cloud Storage subscription (a file every {d.archive_file_seconds} s)"
            if d.archive_writer == "subscription"
            else "the batch run (one object per receive date it drains)"
        )
        + "; the serving views read "
        + _window(d.speed_window_days, "all")
        + " of speed.events and "
        + _window(d.master_window_days, "all")
        + f" of master.events; a dashboard query over serving.{t.dashboard_view} reads "
        + ", ".join(sorted(view_tables(t.dashboard_view)))
        + " (each billed at least 10 MB).",
        f"BigQuery storage is after {t.horizon_months} months of history in master.events.",
        "Free allowances are per billing account (Cloud Logging: per project): add every "
        "stack billed to it.",
        f"The demand forecast ({t.forecast_series:,} series) adds about "
        f"{forecast_seconds_per_run(t):.0f} s to each batch run on average (a cheap refit "
        f"on most days, the full backtest {t.forecast_backtests_per_week:g}x a week).",
    ]
    if any(not q.verified for q in QUOTAS):
        notes.append("† price or allowance not verified on Google's own page (docs/infra.md).")
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
    v = _volumes(orders_per_day, p, t)
    pubsub_gib, export_gib = _pubsub(v, p, t, s, d)
    bq_storage, query_parts, streaming_gib = _bigquery(v.events, v.live_requests, p, t, s, d)
    bq_query_tib = sum(query_parts.values())
    invocations, vcpu_s, gib_s = _functions_use(v, p, t, d)
    class_a, class_b = _gcs_operations(v, p, t, d)
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
        query_tib=query_parts,
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
