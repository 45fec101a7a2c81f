"""Build and run the batch Beam pipeline for one :class:`~salesphere.batch.plan.RunPlan`.

The pipeline only turns archive files into deduplicated Parquet under a staging prefix;
replacing master partitions and the batch views happens afterwards, in one warehouse
transaction (``commit``), so a pipeline that dies midway changes nothing analysts see.
Runner options (``--runner DataflowRunner --project ...``) pass straight through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from salesphere.batch.plan import RunPlan
from salesphere.batch.transforms import (
    NAMESPACE,
    DeduplicateByEventId,
    ParseArchiveFiles,
    StageParquet,
)
from salesphere.settings import Settings

DEFAULT_BUCKETS = 8
#: Archive bytes per bucket (~410 bytes of NDJSON per event).
BUCKET_BYTES = 128 * 1024 * 1024


@dataclass
class PipelineStats:
    """Counters the pipeline reports (Beam metrics, so they work on Dataflow too)."""

    files: int = 0
    envelopes: int = 0
    bad_lines: int = 0
    rows_read: int = 0
    rows_distinct: int = 0
    rows_staged: int = 0
    invalid: Counter[str] = field(default_factory=Counter)


def staging_prefix(run_id: str) -> str:
    return f"batch/staging/{run_id}"


def parts_prefix(run_id: str) -> str:
    """Where parsing leaves per-bucket parts for deduplication (cleaned with staging)."""
    return f"{staging_prefix(run_id)}/parts"


def buckets_for(plan: RunPlan, minimum: int = DEFAULT_BUCKETS) -> int:
    """Enough hash buckets that one holds ~BUCKET_BYTES of archive text (~300k events).

    Deduplication holds one bucket in memory, so the bucket count grows with the data
    instead of the memory: 8 buckets up to ~2.4M events, 16 at 5M.
    """
    total = sum(f.size for f in plan.files)
    return max(minimum, -(-total // BUCKET_BYTES))


def run_pipeline(
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    *,
    buckets: int | None = None,
    full_validation: bool = False,
    beam_args: list[str] | None = None,
) -> PipelineStats:
    """Run the pipeline to completion; raises if Beam reports a failure.

    ``buckets`` defaults to :func:`buckets_for` the plan's archive size.
    """
    archive = settings.buckets.archive
    artifacts = settings.buckets.artifacts
    options = PipelineOptions(beam_args or [], save_main_session=False)
    pipeline = beam.Pipeline(options=options)
    files = [(f.name, f.received_date) for f in plan.files]
    _ = (
        pipeline
        | "ArchiveFiles" >> beam.Create(files, reshuffle=True)
        | "Parse"
        >> ParseArchiveFiles(
            settings,
            archive,
            buckets or buckets_for(plan),
            artifacts=artifacts,
            parts_prefix=parts_prefix(run_id),
            full_validation=full_validation,
        )
        | "Deduplicate" >> DeduplicateByEventId(settings, artifacts)
        | "Stage" >> StageParquet(settings, artifacts, staging_prefix(run_id))
    )
    result = pipeline.run()
    result.wait_until_finish()
    return _stats(result)


def _stats(result) -> PipelineStats:  # result: beam.runners.runner.PipelineResult
    stats = PipelineStats()
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    for counter in counters:
        name, value = counter.key.metric.name, counter.committed or counter.attempted or 0
        if name.startswith("invalid:"):
            stats.invalid[name.split(":", 1)[1]] += value
        elif hasattr(stats, name):
            setattr(stats, name, getattr(stats, name) + value)
    return stats
