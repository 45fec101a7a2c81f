"""Batch layer: master and batch tables, the batch trigger function and its schedule.

Cloud Scheduler delivers at least once, so the target (``batch_http``) must be
idempotent. Its job is created only when the stack enables it: the three free
jobs are per *billing account*, shared by every stack billed to it.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_gcp as gcp

from infra import dataflow, functions
from infra.foundation import Foundation
from infra.iam import Grants, sa_member
from infra.schemas import TableSpec
from infra.settings import StackSettings
from infra.tables import create_tables
from salesphere import limits, names

LAYER = "batch"
DATASETS = (names.DATASET_MASTER, names.DATASET_BATCH, names.DATASET_OPS)
SCHEDULER_JOB = "batch-nightly"


class Batch(pulumi.ComponentResource):
    """Everything a targeted deploy of ``services/batch`` touches."""

    def __init__(
        self, settings: StackSettings, base: Foundation, specs: dict[str, TableSpec]
    ) -> None:
        super().__init__("salesphere:infra:Batch", LAYER, opts=base.layer_options())
        grants = Grants(settings.project, settings.region, self)
        self.tables = create_tables(specs, DATASETS, settings, base.datasets, LAYER, self)
        self.account = functions.service_account(
            "batch-fn", "SalesSphere batch layer", settings, self
        )
        member = sa_member(self.account)
        access = self._access(settings, base, grants, member)
        if settings.batch_runtime == "dataflow":
            access += self._dataflow_access(settings, base, grants, member)
        _, source = functions.upload_source("batch", base.artifacts, self)
        self.function = functions.deploy(
            functions.BATCH,
            settings,
            LAYER,
            source,
            self.account,
            self,
            base,
            env=dataflow.batch_function_env(settings, base.artifacts, self.account),
            depends_on=access,
        )
        self.schedule: gcp.cloudscheduler.Job | None = None
        if settings.scheduler_enabled:
            self.schedule = self._schedule(settings, grants)
        self.register_outputs(
            {"tables": sorted(self.tables), "batch_url": functions.invoke_url(self.function)}
        )

    def _access(
        self, settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """What the batch account may do on either runtime, and nothing more."""
        return [
            *self._archive_access(base, grants, member),
            *self._warehouse_access(settings, base, grants, member),
            # The run lock and the staged Parquet/Arrow parts live in the artifacts bucket
            # on either runtime (salesphere/batch/lock.py, runner.py, transforms.py): create,
            # read, list, delete; BigQuery load jobs read the parts as this account too.
            grants.grant(
                "batch-uses-artifacts",
                "bucket",
                base.artifacts.name,
                "roles/storage.objectUser",
                member,
            ),
        ]

    @staticmethod
    def _archive_access(
        base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """Read the archive, and write the events the run drains from its subscription."""
        return [
            grants.grant(
                "batch-reads-archive",
                "bucket",
                base.archive.name,
                "roles/storage.objectViewer",
                member,
            ),
            # The run drains events-archive into the archive bucket before it lists it
            # (salesphere/batch/archive.py): pull and acknowledge that one subscription,
            # create objects (never overwrite or delete them: the archive is append-only).
            grants.grant(
                "batch-writes-archive",
                "bucket",
                base.archive.name,
                "roles/storage.objectCreator",
                member,
            ),
            grants.grant(
                "batch-drains-archive-subscription",
                "subscription",
                base.subscriptions[names.SUB_EVENTS_ARCHIVE].name,
                "roles/pubsub.subscriber",
                member,
            ),
        ]

    @staticmethod
    def _warehouse_access(
        settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """Write the batch datasets, read the reference data, run queries."""
        datasets = base.datasets
        return [
            *(
                grants.grant(
                    f"batch-writes-{ds}",
                    "dataset",
                    datasets[ds].dataset_id,
                    "roles/bigquery.dataEditor",
                    member,
                )
                for ds in DATASETS
            ),
            # The batch SQL (salesphere/sql/batch) reads master.events and, to book each
            # sale on the store's local business day, reference.stores (as does the
            # forecast's stock replay); the receipts it assumes for unconfirmed transfers
            # read reference.stores and transfer_lead_times (salesphere/batch/receipts.py);
            # nothing in speed.* (infra/iam_recorded.json).
            grants.grant(
                "batch-reads-reference",
                "dataset",
                base.datasets[names.DATASET_REFERENCE].dataset_id,
                "roles/bigquery.dataViewer",
                member,
            ),
            grants.grant(
                "batch-runs-queries", "project", settings.project, "roles/bigquery.jobUser", member
            ),
        ]

    def _dataflow_access(
        self, settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """With the Dataflow runtime: run as a worker, launch jobs, pull the template image."""
        return [
            grants.grant(
                "batch-is-dataflow-worker",
                "project",
                settings.project,
                "roles/dataflow.worker",
                member,
            ),
            # The function launches each run's job and polls it until it finishes...
            grants.grant(
                "batch-launches-dataflow-jobs",
                "project",
                settings.project,
                "roles/dataflow.developer",
                member,
            ),
            # Dataflow pulls the flex template's launcher image as the job's account.
            grants.grant(
                "batch-pulls-template-image",
                "repository",
                base.templates_repository.name,  # type: ignore[union-attr]
                "roles/artifactregistry.reader",
                member,
            ),
            # ...and the job runs as the function's own account.
            grants.grant(
                "batch-acts-as-itself-for-dataflow",
                "sa",
                self.account.name,
                "roles/iam.serviceAccountUser",
                member,
            ),
        ]

    def _schedule(self, settings: StackSettings, grants: Grants) -> gcp.cloudscheduler.Job:
        """A nightly OIDC-authenticated POST to the batch function."""
        caller = functions.service_account(
            "batch-scheduler", "SalesSphere batch schedule", settings, self
        )
        invoker = grants.grant(
            "scheduler-invokes-batch",
            "run",
            self.function.name,
            "roles/run.invoker",
            sa_member(caller),
        )
        body = json.dumps({"mode": "incremental", "trigger": "scheduler"}).encode()
        return gcp.cloudscheduler.Job(
            "scheduler-batch",
            name=SCHEDULER_JOB,
            project=settings.project,
            region=settings.region,
            schedule=settings.batch_schedule,
            time_zone=settings.batch_time_zone,
            attempt_deadline=f"{limits.SCHEDULE.attempt_deadline_s}s",
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(
                retry_count=limits.SCHEDULE.retry_count
            ),
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                uri=functions.invoke_url(self.function),
                http_method="POST",
                headers={"Content-Type": "application/json"},
                body=base64.b64encode(body).decode(),
                oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                    service_account_email=caller.email,
                    audience=functions.invoke_url(self.function),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoker]),
        )
