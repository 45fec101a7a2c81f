"""Opt-in Dataflow flex-template jobs: the scale runtimes of the stream and batch layers.

Dataflow has no free tier, so a job exists only when the stack chose the ``dataflow``
runtime; the ``cost-opt-in`` label records whether the stack *also* set
``salesphere:dataflow_opt_in``. The guardrails fail any Dataflow job without it, so a
typo in a runtime setting can never start billing silently.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.settings import StackSettings

OPT_IN_LABEL = "cost-opt-in"


def flex_job(
    service: str,
    settings: StackSettings,
    layer: str,
    artifacts: gcp.storage.Bucket,
    account: gcp.serviceaccount.Account,
    parameters: dict[str, pulumi.Input[str]],
    parent: pulumi.Resource,
    streaming: bool,
) -> gcp.dataflow.FlexTemplateJob:
    """Launch ``gs://<artifacts>/templates/<service>.json`` (built by the deploy workflow)."""
    labels = settings.labels(layer)
    if settings.dataflow_opt_in:
        labels[OPT_IN_LABEL] = "dataflow"
    return gcp.dataflow.FlexTemplateJob(
        f"dataflow-{service}",
        name=f"salesphere-{service}-{settings.env}",
        project=settings.project,
        region=settings.region,
        container_spec_gcs_path=artifacts.name.apply(
            lambda bucket: f"gs://{bucket}/templates/{service}.json"
        ),
        parameters=parameters,
        service_account_email=account.email,
        temp_location=artifacts.name.apply(lambda bucket: f"gs://{bucket}/dataflow/tmp"),
        staging_location=artifacts.name.apply(lambda bucket: f"gs://{bucket}/dataflow/staging"),
        max_workers=2,
        machine_type="e2-standard-2",
        enable_streaming_engine=streaming,
        on_delete="drain" if streaming else "cancel",
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )
