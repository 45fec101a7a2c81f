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


def run_pipeline(
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    *,
    buckets: int = DEFAULT_BUCKETS,
    full_validation: bool = False,
    beam_args: list[str] | None = None,
) -> PipelineStats:
    """Run the pipeline to completion; raises if Beam reports a failure."""
    archive = settings.buckets.archive
    artifacts = settings.buckets.artifacts
    options = PipelineOptions(beam_args or [], save_main_session=False)
    pipeline = beam.Pipeline(options=options)
    files = [(f.name, f.received_date) for f in plan.files]
    _ = (
        pipeline
        | "ArchiveFiles" >> beam.Create(files, reshuffle=True)
        | "Parse" >> ParseArchiveFiles(settings, archive, buckets, full_validation)
        | "Deduplicate" >> DeduplicateByEventId()
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
