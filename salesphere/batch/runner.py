"""``run_batch``: plan, run the Beam pipeline, commit; the one entry point of the batch layer.

Used by ``salesphere batch run``, the scheduled HTTP function (``services/batch``), the demo
and the benchmark. The run is safe to repeat at any moment: it holds a lock, every write
is a replace, and nothing analysts read changes until the final transaction commits.

Each run first drains the ``events-archive`` pull subscription into the archive bucket
(:func:`salesphere.batch.archive.drain_archive`), then lists the archive. The cutoff is the
run's start time minus ``archive_lag``: an envelope published just before the drain's last
pull may not have been delivered to it, so only events received at least ``archive_lag``
before the run started are taken as complete. Everything received later stays with the
speed layer until the next run. Choosing "the newest receive time absorbed" instead would
silently skip events the drain has not seen yet.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from salesphere.batch import commit as warehouse
from salesphere.batch.archive import drain_archive
from salesphere.batch.forecast import run_forecast
from salesphere.batch.lock import run_lock
from salesphere.batch.pipeline import (
    TemplateLauncher,
    parts_prefix,
    run_pipeline,
    staging_prefix,
)
from salesphere.batch.plan import ArchiveFile, RunPlan, partition_of, plan_run
from salesphere.gcp import clients
from salesphere.model import utcnow
from salesphere.names import ARCHIVE_PREFIX
from salesphere.settings import Settings
from salesphere.warehouse.schemas import BATCH_RUNS, DEMAND_FORECAST

log = logging.getLogger("salesphere.batch")


@dataclass
class RunReport:
    """What a run did.

    ``status`` is succeeded, nothing_new, already_done, or forecast_failed: the batch views
    and the cutoff were committed but the demand forecast was not refreshed, so the previous
    forecast keeps serving and purchasing reads an older one (``serving.freshness`` says how
    old). Callers treat forecast_failed as a failure (non-zero exit, HTTP 500, an error log).
    """

    run_id: str
    status: str
    mode: str = ""
    partitions: list[str] = field(default_factory=list)
    files: int = 0
    envelopes: int = 0
    events_read: int = 0
    events_distinct: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    bad_lines: int = 0
    cutoff: datetime | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    #: The forecast step's own report (salesphere.batch.forecast), after the commit.
    forecast: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when part of the run's work did not happen (today: the forecast step)."""
        return self.status == "forecast_failed"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat() if self.cutoff else None
        return out


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
    return f"run-{stamp}-{uuid.uuid4().hex[:6]}"


def list_archive(settings: Settings) -> list[ArchiveFile]:
    """Every archive object under ``events/received_date=*/``."""
    client = clients.storage_client(settings)
    out = []
    for blob in client.list_blobs(settings.buckets.archive, prefix=f"{ARCHIVE_PREFIX}/"):
        day = partition_of(blob.name)
        if day is not None and not blob.name.endswith("/"):
            out.append(
                ArchiveFile(blob.name, day, blob.time_created, blob.size or 0, blob.generation)
            )
    return out


def _scalar(settings: Settings, sql: str, params: list | None = None) -> Any:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=params or [])
    rows = list(clients.bigquery_client(settings).query_and_wait(sql, job_config=config))
    return rows[0][0] if rows else None


def last_success_started_at(settings: Settings) -> datetime | None:
    return _scalar(
        settings, f"SELECT MAX(started_at) FROM {BATCH_RUNS.ref} WHERE status = 'succeeded'"
    )


#: The newest committed run, when the forecast serving is not its own (its step failed).
FORECAST_BEHIND_SQL = f"""
WITH newest AS (
    SELECT run_id, cutoff, started_at
    FROM {BATCH_RUNS.ref}
    WHERE status = 'succeeded'
    ORDER BY started_at DESC
    LIMIT 1
)
SELECT n.run_id, n.cutoff, n.started_at
FROM newest AS n
WHERE NOT EXISTS (SELECT 1 FROM {DEMAND_FORECAST.ref} AS f WHERE f.run_id = n.run_id)
"""


def _forecast_behind(settings: Settings) -> dict[str, Any] | None:
    """The newest committed run whose forecast step did not replace the forecast, if any."""
    rows = clients.query_rows(settings, FORECAST_BEHIND_SQL)
    return rows[0] if rows else None


def _already_succeeded(settings: Settings, run_id: str) -> bool:
    from google.cloud import bigquery

    count = _scalar(
        settings,
        f"SELECT COUNT(*) FROM {BATCH_RUNS.ref} WHERE run_id = @run_id AND status = 'succeeded'",
        [bigquery.ScalarQueryParameter("run_id", "STRING", run_id)],
    )
    return bool(count)


def _record_start(settings: Settings, run_id: str, started: datetime) -> None:
    from google.cloud import bigquery

    _scalar(
        settings,
        f"INSERT INTO {BATCH_RUNS.ref} (run_id, started_at, status) "
        "VALUES (@run_id, @started, 'running')",
        [
            bigquery.ScalarQueryParameter("run_id", "STRING", run_id),
            bigquery.ScalarQueryParameter("started", "TIMESTAMP", started),
        ],
    )


def _record_failure(settings: Settings, run_id: str, error: str) -> None:
    from google.cloud import bigquery

    _scalar(
        settings,
        f"UPDATE {BATCH_RUNS.ref} SET status = 'failed', finished_at = CURRENT_TIMESTAMP(), "
        "error = @error WHERE run_id = @run_id AND status = 'running'",
        [
            bigquery.ScalarQueryParameter("run_id", "STRING", run_id),
            bigquery.ScalarQueryParameter("error", "STRING", error[:2000]),
        ],
    )


def _staged_uris(settings: Settings, run_id: str) -> list[str]:
    client = clients.storage_client(settings)
    bucket = settings.buckets.artifacts
    return [
        f"gs://{bucket}/{blob.name}"
        for blob in client.list_blobs(bucket, prefix=f"{staging_prefix(run_id)}/")
        if blob.name.endswith(".parquet") and not blob.name.startswith(f"{parts_prefix(run_id)}/")
    ]


def _clean_staging(settings: Settings, run_id: str) -> None:
    client = clients.storage_client(settings)
    for blob in client.list_blobs(settings.buckets.artifacts, prefix=f"{staging_prefix(run_id)}/"):
        blob.delete()
    warehouse.drop_staging(settings, run_id)


def _forecast(
    settings: Settings,
    run_id: str,
    cutoff: datetime,
    started: datetime,
    mode: str | None,
    lease: Any,
) -> dict[str, Any]:
    """The forecast step, once per committed run; its failure never undoes the commit."""
    if not settings.forecast_enabled:
        return {"status": "disabled"}
    try:
        return run_forecast(
            settings, run_id=run_id, cutoff=cutoff, started=started, mode=mode, check=lease.check
        ).to_dict()
    except Exception as exc:
        log.exception("forecast step of %s failed; the previous forecast keeps serving", run_id)
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}


def _catch_up(report: RunReport, settings: Settings, mode: str | None, lease: Any) -> RunReport:
    """A run with nothing to commit (a retry of a committed run, or nothing new) still
    makes the newest committed run's forecast when that run's forecast step failed: a
    scheduler retry or a rerun after a fix refreshes it instead of answering success over
    a stale forecast."""
    if not settings.forecast_enabled:
        return report
    behind = _forecast_behind(settings)
    if behind is None:
        return report
    log.warning("forecast of committed run %s is missing; making it now", behind["run_id"])
    report.forecast = _forecast(
        settings, behind["run_id"], behind["cutoff"], behind["started_at"], mode, lease
    )
    report.forecast["for_run"] = behind["run_id"]
    if report.forecast.get("status") == "failed":
        report.status = "forecast_failed"
    return report


# Long for its keyword options and docstring (the batch layer's one entry point); body is short.
def run_batch(
    settings: Settings,
    *,
    full: bool = False,
    date_from: date | None = None,
    date_to: date | None = None,
    archive_lag: timedelta | None = None,
    run_id: str | None = None,
    shards: int | None = None,
    full_validation: bool = False,
    beam_args: list[str] | None = None,
    launcher: TemplateLauncher | None = None,
    forecast_mode: str | None = None,
) -> RunReport:
    """Rebuild what changed in master, refill the batch views, move the cutoff; atomically.

    ``archive_lag`` defaults to ``settings.batch_archive_lag_seconds``. ``run_id`` makes a
    retried request idempotent: a run id that already succeeded
    returns ``already_done`` without touching the batch views (but makes the forecast of the
    newest committed run if its step failed, :func:`_catch_up`; so does a run with nothing
    new). Raises
    :class:`~salesphere.batch.lock.RunInProgress` when another run holds the lock, and
    :class:`~salesphere.batch.lock.LockLost` (before committing anything) when this run
    stalled past its lease and another run took the lock over.

    ``launcher`` runs the pipeline stage elsewhere (the Dataflow runtime,
    :func:`salesphere.batch.dataflow.launcher_for`); the lock, plan, load and commit
    always happen here, so a run is committed by the process that waited for it.

    After the commit, still holding the lock, the demand forecast is made from the tables
    just committed and swapped in by its own transaction (:func:`_forecast`); a failure
    there is reported in ``report.forecast`` and leaves the batch views and the previous
    forecast serving. ``forecast_mode`` forces ``backtest`` or ``update``.
    """
    started = utcnow()
    run_id = run_id or new_run_id(started)
    clock = _Stopwatch()
    with run_lock(settings, run_id, timedelta(seconds=settings.batch_lock_lease_seconds)) as lease:
        if _already_succeeded(settings, run_id):
            return _catch_up(
                RunReport(run_id=run_id, status="already_done"), settings, forecast_mode, lease
            )
        with clock("archive"):
            drain_archive(settings)
        with clock("plan"):
            plan: RunPlan = plan_run(
                list_archive(settings),
                last_success_started_at=last_success_started_at(settings),
                full=full,
                date_from=date_from,
                date_to=date_to,
            )
        report = RunReport(run_id=run_id, status="nothing_new", mode=plan.mode)
        if plan.empty and plan.mode != "full":
            return _catch_up(report, settings, forecast_mode, lease)
        if archive_lag is None:
            archive_lag = timedelta(seconds=settings.batch_archive_lag_seconds)
        cutoff = started - archive_lag
        _record_start(settings, run_id, started)
        stats = _rebuild(
            settings,
            plan,
            run_id,
            cutoff,
            lease,
            clock,
            PipelineOptions(shards, full_validation, beam_args, launcher),
        )
        with clock("forecast"):
            report.forecast = _forecast(settings, run_id, cutoff, started, forecast_mode, lease)
    return _succeeded(report, plan, stats, cutoff, clock.done())


@dataclass(frozen=True)
class PipelineOptions:
    """How the Beam stage runs: shards, full validation, extra Beam flags, elsewhere."""

    shards: int | None = None
    full_validation: bool = False
    beam_args: list[str] | None = None
    launcher: TemplateLauncher | None = None


class _Stopwatch:
    """Seconds per stage of a run (``with clock("load"): ...``) and in total."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.seconds[stage] = time.monotonic() - began

    def done(self) -> dict[str, float]:
        total = {**self.seconds, "total": time.monotonic() - self.start}
        return {k: round(v, 3) for k, v in total.items()}


def _rebuild(
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    cutoff: datetime,
    lease: Any,
    clock: _Stopwatch,
    options: PipelineOptions,
) -> Any:
    """Archive -> staged parts -> staging tables -> one committed transaction.

    Any failure records the run as failed, removes what it staged and re-raises: the batch
    views and the cutoff stay as the last committed run left them.
    """
    try:
        with clock("pipeline"):
            stats = run_pipeline(
                settings,
                plan,
                run_id,
                shards=options.shards,
                full_validation=options.full_validation,
                beam_args=options.beam_args,
                launcher=options.launcher,
            )
        with clock("load"):
            staging = warehouse.load_staging(settings, _staged_uris(settings, run_id), run_id)
        with clock("commit"):
            lease.check()  # a run that stalled past its lease must not commit over a newer one
            warehouse.commit(
                settings,
                staging,
                run_id=run_id,
                cutoff=cutoff,
                dates=list(plan.dates),
                full=plan.mode == "full",
            )
    except Exception as exc:
        _record_failure(settings, run_id, f"{type(exc).__name__}: {exc}")
        _clean_staging(settings, run_id)
        raise
    _clean_staging(settings, run_id)
    return stats


def _succeeded(
    report: RunReport, plan: RunPlan, stats: Any, cutoff: datetime, seconds: dict[str, float]
) -> RunReport:
    """The report of a committed run (forecast_failed when its forecast step failed)."""
    report.status = "forecast_failed" if report.forecast.get("status") == "failed" else "succeeded"
    report.partitions = list(plan.dates)
    report.files = stats.files
    report.envelopes = stats.envelopes
    report.events_read = stats.rows_read
    report.events_distinct = stats.rows_distinct
    report.invalid = dict(stats.invalid)
    report.bad_lines = stats.bad_lines
    report.cutoff = cutoff
    report.seconds = seconds
    return report
