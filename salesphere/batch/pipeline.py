"""Build and run the batch Beam pipeline for one :class:`~salesphere.batch.plan.RunPlan`.

The pipeline only turns archive files into deduplicated Parquet under a staging prefix;
replacing master partitions and the batch views happens afterwards, in one warehouse
transaction (``commit``), so a pipeline that dies midway changes nothing analysts see.
Runner options (``--runner DataflowRunner --project ...``) pass straight through.

Two ways to run it. In process (DirectRunner, or DataflowRunner from a workstation, where
``wait_until_finish`` really waits): :func:`run_pipeline` without a launcher. As a
Dataflow flex template: the batch function writes the run's :class:`StageSpec` next to
its staging prefix and a :class:`TemplateLauncher` starts ``services/batch/pipeline.py
--spec gs://...`` and waits for the job. The template's launcher VM only *builds* the job
graph (Beam writes it to ``--template_location`` and returns without a job), so nothing
after ``pipeline.run()`` may commit there: :func:`run_pipeline` refuses to report a run
that produced no job, and the commit stays with the caller that waited for the job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

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
from salesphere.gcp import clients
from salesphere.settings import Settings

#: Hash shards of event_id the deduplication splits a run into (at least).
DEFAULT_SHARDS = 8
#: Archive bytes per shard (~410 bytes of NDJSON per event).
SHARD_BYTES = 128 * 1024 * 1024


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
    """Where parsing leaves per-shard parts for deduplication (cleaned with staging)."""
    return f"{staging_prefix(run_id)}/parts"


def spec_name(run_id: str) -> str:
    """Object name (in the artifacts bucket) of a run's stage spec."""
    return f"{staging_prefix(run_id)}/spec.json"


@dataclass(frozen=True)
class StageSpec:
    """Everything the pipeline stage of one run needs, so a template can run it alone."""

    run_id: str
    files: tuple[tuple[str, str], ...]  # (archive object name, received_date)
    shards: int
    full_validation: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "files": [list(f) for f in self.files],
                "shards": self.shards,
                "full_validation": self.full_validation,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StageSpec:
        data = json.loads(text)
        return cls(
            run_id=str(data["run_id"]),
            files=tuple((str(n), str(d)) for n, d in data["files"]),
            # a spec written before the field was named shards says "buckets"
            shards=int(data["shards"] if "shards" in data else data["buckets"]),
            full_validation=bool(data.get("full_validation", False)),
        )


def write_spec(settings: Settings, spec: StageSpec) -> str:
    """Store ``spec`` under the run's staging prefix; return its ``gs://`` URI."""
    bucket = settings.buckets.artifacts
    name = spec_name(spec.run_id)
    blob = clients.storage_client(settings).bucket(bucket).blob(name)
    blob.upload_from_string(spec.to_json(), content_type="application/json")
    return f"gs://{bucket}/{name}"


def read_spec(settings: Settings, uri: str) -> StageSpec:
    """Read a spec written by :func:`write_spec` (it must be in this stack's artifacts bucket)."""
    prefix = f"gs://{settings.buckets.artifacts}/"
    if not uri.startswith(prefix):
        raise ValueError(
            f"--spec must be an object in this stack's artifacts bucket ({prefix}...), "
            f"got {uri!r}: check --project and --env"
        )
    blob = (
        clients.storage_client(settings).bucket(settings.buckets.artifacts).blob(uri[len(prefix) :])
    )
    return StageSpec.from_json(blob.download_as_bytes())


class TemplateLauncher(Protocol):
    """Runs the pipeline stage of a run as a Dataflow job and waits for it.

    ``parameters`` are the batch template's (``services/batch/metadata.json``). The real
    one is :class:`salesphere.batch.dataflow.FlexTemplateLauncher`; tests pass a fake.
    """

    def run_stage(
        self, settings: Settings, run_id: str, parameters: dict[str, str]
    ) -> PipelineStats: ...


def stage_parameters(settings: Settings, spec_uri: str) -> dict[str, str]:
    """The batch template's parameters for one run's stage."""
    return {"project": settings.project, "env": settings.env, "spec": spec_uri}


def shards_for(plan: RunPlan, minimum: int = DEFAULT_SHARDS) -> int:
    """Enough hash shards that one holds ~SHARD_BYTES of archive text (~300k events).

    Deduplication holds one shard in memory, so the shard count grows with the data
    instead of the memory: 8 shards up to ~2.4M events, 16 at 5M.
    """
    total = sum(f.size for f in plan.files)
    return max(minimum, -(-total // SHARD_BYTES))


def run_pipeline(
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    *,
    shards: int | None = None,
    full_validation: bool = False,
    beam_args: list[str] | None = None,
    launcher: TemplateLauncher | None = None,
) -> PipelineStats:
    """Run the pipeline to completion; raises if Beam reports a failure.

    ``shards`` defaults to :func:`shards_for` the plan's archive size. With a
    ``launcher`` the stage runs as a Dataflow flex-template job (the spec is stored for
    it first); without one, in this process with ``beam_args``.
    """
    spec = StageSpec(
        run_id=run_id,
        files=tuple((f.name, f.received_date) for f in plan.files),
        shards=shards or shards_for(plan),
        full_validation=full_validation,
    )
    if launcher is not None:
        uri = write_spec(settings, spec)
        return launcher.run_stage(settings, run_id, stage_parameters(settings, uri))
    stats = run_stage(settings, spec, beam_args)
    assert stats is not None  # without allow_template, run_stage raises instead
    return stats


def build(pipeline: beam.Pipeline, settings: Settings, spec: StageSpec) -> None:
    """Archive files -> parsed parts -> deduplicated shards -> staged Parquet."""
    artifacts = settings.buckets.artifacts
    _ = (
        pipeline
        | "ArchiveFiles" >> beam.Create(list(spec.files), reshuffle=True)
        | "Parse"
        >> ParseArchiveFiles(
            settings,
            settings.buckets.archive,
            spec.shards,
            artifacts=artifacts,
            parts_prefix=parts_prefix(spec.run_id),
            full_validation=spec.full_validation,
        )
        | "Deduplicate" >> DeduplicateByEventId(settings, artifacts)
        | "Stage" >> StageParquet(settings, artifacts, staging_prefix(spec.run_id))
    )


def run_stage(
    settings: Settings,
    spec: StageSpec,
    beam_args: Sequence[str] | None = None,
    *,
    allow_template: bool = False,
) -> PipelineStats | None:
    """Build and run the stage with ``beam_args``; wait for it; return its counters.

    In a flex template's launcher Beam only writes the job graph: with ``allow_template``
    that returns None (the job runs afterwards); without it, it raises
    :class:`TemplateOnly`, because a caller that goes on to commit would commit nothing.
    """
    pipeline = beam.Pipeline(
        options=PipelineOptions(list(beam_args or []), save_main_session=False)
    )
    build(pipeline, settings, spec)
    result = pipeline.run()
    result.wait_until_finish()
    if getattr(result, "has_job", True) is False:
        if allow_template:
            return None
        raise TemplateOnly(
            "Beam built a job graph (a template launch) instead of running the job, so this "
            "process cannot know when the staged files are complete; run the batch layer "
            "through the batch function (SALESPHERE_BATCH_RUNTIME=dataflow), which waits "
            "for the job before committing"
        )
    return _stats(result)


class TemplateOnly(RuntimeError):
    """The pipeline was turned into a template/job graph, not run: there are no results."""


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
