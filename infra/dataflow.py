"""Opt-in Dataflow: the scale runtimes of the stream and batch layers.

Dataflow has no free tier, so nothing runs on it unless the stack chose the ``dataflow``
runtime. The streaming job is a Pulumi resource (it runs until drained); its
``cost-opt-in`` label records whether the stack *also* set ``salesphere:dataflow_opt_in``,
and the guardrails fail any Dataflow job without it. The batch layer has no standing job:
each run's pipeline stage is launched by the batch function from the batch template
(``salesphere/batch/dataflow.py``), so the settings refuse ``batch_runtime: dataflow``
without the opt-in instead (``infra/settings.py``).

Both templates (``gs://<artifacts>/templates/{stream,batch}.json``) are built by
``.github/workflows/templates.yml`` from ``services/*/Dockerfile`` and ``metadata.json``.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.settings import StackSettings

OPT_IN_LABEL = "cost-opt-in"


#: The worker wheel ``templates.yml`` builds (services/worker/pyproject.toml's version).
WORKER_WHEEL = "salesphere_worker-0.1.0-py3-none-any.whl"


def template_uri(bucket: str, service: str) -> str:
    return f"gs://{bucket}/templates/{service}.json"


def worker_package_uri(bucket: str) -> str:
    """Where ``templates.yml`` stores the worker wheel beside the template specs."""
    return f"gs://{bucket}/templates/{WORKER_WHEEL}"


def batch_function_env(
    settings: StackSettings, artifacts: gcp.storage.Bucket, account: gcp.serviceaccount.Account
) -> dict[str, pulumi.Input[str]]:
    """What the batch function needs to pick its runtime (and, on Dataflow, to launch)."""
    env: dict[str, pulumi.Input[str]] = {"SALESPHERE_BATCH_RUNTIME": settings.batch_runtime}
    if settings.batch_runtime == "dataflow":
        env["SALESPHERE_BATCH_TEMPLATE"] = artifacts.name.apply(
            lambda bucket: template_uri(bucket, "batch")
        )
        env["SALESPHERE_DATAFLOW_SERVICE_ACCOUNT"] = account.email
        # The forecast's Dataflow job is submitted by the function with DataflowRunner
        # (salesphere/batch/forecast_beam.py); its workers install this wheel.
        env["SALESPHERE_WORKER_PACKAGE"] = artifacts.name.apply(worker_package_uri)
    return env


def flex_job(
    service: str,
    settings: StackSettings,
    layer: str,
    artifacts: gcp.storage.Bucket,
    account: gcp.serviceaccount.Account,
    parameters: dict[str, pulumi.Input[str]],
    parent: pulumi.Resource,
    streaming: bool,
    depends_on: list[pulumi.Resource] | None = None,
) -> gcp.dataflow.FlexTemplateJob:
    """Launch ``gs://<artifacts>/templates/<service>.json`` (built by the deploy workflow).

    ``depends_on``: the grants the job's account needs. A job launched before them fails
    to pull its image or its subscription, so it waits for them.
    """
    labels = settings.labels(layer)
    if settings.dataflow_opt_in:
        labels[OPT_IN_LABEL] = "dataflow"
    return gcp.dataflow.FlexTemplateJob(
        f"dataflow-{service}",
        name=f"salesphere-{service}-{settings.env}",
        project=settings.project,
        region=settings.region,
        container_spec_gcs_path=artifacts.name.apply(lambda bucket: template_uri(bucket, service)),
        parameters=parameters,
        service_account_email=account.email,
        temp_location=artifacts.name.apply(lambda bucket: f"gs://{bucket}/dataflow/tmp"),
        staging_location=artifacts.name.apply(lambda bucket: f"gs://{bucket}/dataflow/staging"),
        max_workers=2,
        machine_type="e2-standard-2",
        enable_streaming_engine=streaming,
        on_delete="drain" if streaming else "cancel",
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )
