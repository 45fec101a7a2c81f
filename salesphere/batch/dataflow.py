"""The batch layer's Dataflow runtime: launch the batch flex template and wait for its job.

Chosen by ``SALESPHERE_BATCH_RUNTIME=dataflow`` (the Pulumi program sets it from
``salesphere:batch_runtime``). The batch function keeps what must happen exactly once per
run — the lock, the plan, the load and the commit — and hands only the pipeline stage to
Dataflow, because a flex template's launcher VM builds the job graph and exits without
waiting for the job (see :mod:`salesphere.batch.pipeline`). While it waits, the run lock
keeps being renewed by the function, so a second run still refuses.

Only the Dataflow API client (``google-cloud-dataflow-client``, installed with
``apache-beam[gcp]``) is used; there is no network access until :meth:`run_stage`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from salesphere.batch.pipeline import NAMESPACE, PipelineStats, TemplateLauncher
from salesphere.settings import Settings

RUNTIMES = ("function", "dataflow")
#: Seconds between job-state polls (a batch job needs minutes just to start workers).
POLL_SECONDS = 15.0
#: Give up waiting after this long; the Scheduler's attempt deadline is 30 minutes.
WAIT_SECONDS = 25 * 60.0
_TERMINAL_OK = "JOB_STATE_DONE"
_TERMINAL_BAD = frozenset(
    {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_DRAINED", "JOB_STATE_STOPPED"}
)


class DataflowJobFailed(RuntimeError):
    """The stage's Dataflow job ended in a state other than done (or never ended)."""


def batch_runtime(environ: Mapping[str, str] | None = None) -> str:
    """``SALESPHERE_BATCH_RUNTIME`` (default ``function``); anything else is refused."""
    env = os.environ if environ is None else environ
    runtime = env.get("SALESPHERE_BATCH_RUNTIME", "function") or "function"
    if runtime not in RUNTIMES:
        raise ValueError(
            f"SALESPHERE_BATCH_RUNTIME must be one of {', '.join(RUNTIMES)}, got {runtime!r}: "
            "set salesphere:batch_runtime in the stack and run `pulumi up`"
        )
    return runtime


def job_name(settings: Settings, run_id: str, step: str = "batch") -> str:
    """A valid Dataflow job name (lower-case letters, digits, hyphens) naming the run."""
    slug = re.sub(r"[^a-z0-9-]+", "-", run_id.lower()).strip("-")
    return f"salesphere-{step}-{settings.env}-{slug}"[:63].rstrip("-")


def forecast_beam_args(
    settings: Settings, run_id: str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Beam options that run one run's forecast (:mod:`.forecast_beam`) as a Dataflow job.

    Unlike the stage, the forecast job is submitted from the batch function itself with
    ``DataflowRunner`` (its inputs are the series the function just read, and Beam waits
    for the job), so the workers need the library as a package:
    ``SALESPHERE_WORKER_PACKAGE`` is the ``gs://`` URI of the worker wheel
    (``services/worker/``). Same identity, locations, machine type, worker cap and labels
    as the stage's job.
    """
    env = os.environ if environ is None else environ
    account = env.get("SALESPHERE_DATAFLOW_SERVICE_ACCOUNT", "")
    package = env.get("SALESPHERE_WORKER_PACKAGE", "")
    if not account or not package:
        raise ValueError(
            "the forecast on Dataflow needs SALESPHERE_DATAFLOW_SERVICE_ACCOUNT (the job's "
            "service account) and SALESPHERE_WORKER_PACKAGE (gs:// URI of the worker wheel "
            "the workers install)"
        )
    artifacts = f"gs://{settings.buckets.artifacts}"
    return [
        "--runner=DataflowRunner",
        f"--project={settings.project}",
        f"--region={settings.region}",
        f"--job_name={job_name(settings, run_id, 'forecast')}",
        f"--temp_location={artifacts}/dataflow/tmp",
        f"--staging_location={artifacts}/dataflow/staging",
        f"--service_account_email={account}",
        "--machine_type=e2-standard-2",
        "--max_num_workers=2",
        f"--extra_package={package}",
        f"--labels=env={settings.env}",
        "--labels=layer=batch",
        "--labels=cost-opt-in=dataflow",
    ]


def template_path(settings: Settings) -> str:
    """Where ``.github/workflows/templates.yml`` stores the batch template spec."""
    return f"gs://{settings.buckets.artifacts}/templates/batch.json"


def stats_from_metrics(metrics: list[Any]) -> PipelineStats:
    """Sum the pipeline's user counters (committed values only) from a job's metrics.

    Dataflow reports each counter per step, and once more with ``tentative=true`` while
    attempts may still be retried; only the committed ones count, as in Beam's metrics.
    """
    stats = PipelineStats()
    for update in metrics:
        context = dict(update.name.context)
        if context.get("namespace") != NAMESPACE or context.get("tentative") == "true":
            continue
        name = update.name.name
        value = int(_number(update.scalar))
        if name.startswith("invalid:"):
            stats.invalid[name.split(":", 1)[1]] += value
        elif hasattr(stats, name):
            setattr(stats, name, getattr(stats, name) + value)
    return stats


def _number(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return float(getattr(value, "number_value", 0) or 0)


@dataclass
class FlexTemplateLauncher:
    """Launch ``templates/batch.json`` through the Dataflow API, poll it, read its counters.

    ``service_account`` is the identity of the job's launcher and workers (the batch
    function's own account, ``SALESPHERE_DATAFLOW_SERVICE_ACCOUNT``); the caller needs
    ``dataflow.jobs.create`` and ``iam.serviceAccounts.actAs`` on it.
    """

    service_account: str
    template: str | None = None
    poll_seconds: float = POLL_SECONDS
    wait_seconds: float = WAIT_SECONDS
    sleep: Callable[[float], None] = time.sleep

    def run_stage(
        self, settings: Settings, run_id: str, parameters: dict[str, str]
    ) -> PipelineStats:
        from google.cloud import dataflow_v1beta3 as df

        artifacts = f"gs://{settings.buckets.artifacts}"
        launch = df.FlexTemplatesServiceClient().launch_flex_template(
            request=df.LaunchFlexTemplateRequest(
                project_id=settings.project,
                location=settings.region,
                launch_parameter=df.LaunchFlexTemplateParameter(
                    job_name=job_name(settings, run_id),
                    container_spec_gcs_path=self.template or template_path(settings),
                    parameters=parameters,
                    environment=df.FlexTemplateRuntimeEnvironment(
                        service_account_email=self.service_account,
                        temp_location=f"{artifacts}/dataflow/tmp",
                        staging_location=f"{artifacts}/dataflow/staging",
                        max_workers=2,
                        machine_type="e2-standard-2",
                        additional_user_labels={
                            "env": settings.env,
                            "layer": "batch",
                            "cost-opt-in": "dataflow",
                        },
                    ),
                ),
            )
        )
        job_id = launch.job.id
        jobs = df.JobsV1Beta3Client()
        waited = 0.0
        while True:
            job = jobs.get_job(
                request=df.GetJobRequest(
                    project_id=settings.project, job_id=job_id, location=settings.region
                )
            )
            state = df.JobState(job.current_state).name
            if state == _TERMINAL_OK:
                break
            if state in _TERMINAL_BAD:
                raise DataflowJobFailed(
                    f"Dataflow job {job_id} ({job_name(settings, run_id)}) ended {state}; its "
                    f"logs are in the console (Dataflow > Jobs, region {settings.region})"
                )
            if waited >= self.wait_seconds:
                raise DataflowJobFailed(
                    f"Dataflow job {job_id} still {state} after {waited:.0f} s; nothing was "
                    "committed. Cancel it or let it finish, then rerun the batch layer"
                )
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
        metrics = df.MetricsV1Beta3Client().get_job_metrics(
            request=df.GetJobMetricsRequest(
                project_id=settings.project, job_id=job_id, location=settings.region
            )
        )
        return stats_from_metrics(list(metrics.metrics))


def launcher_for(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> TemplateLauncher | None:
    """The stage launcher the stack chose: None runs Beam in process (``function``)."""
    env = os.environ if environ is None else environ
    if batch_runtime(env) == "function":
        return None
    account = env.get("SALESPHERE_DATAFLOW_SERVICE_ACCOUNT", "")
    if not account:
        raise ValueError(
            "SALESPHERE_BATCH_RUNTIME=dataflow needs SALESPHERE_DATAFLOW_SERVICE_ACCOUNT (the "
            "job's service account); the Pulumi program sets both, so run `pulumi up`"
        )
    return FlexTemplateLauncher(
        service_account=account, template=env.get("SALESPHERE_BATCH_TEMPLATE") or None
    )
