"""Speed layer: speed tables, the speed runtime and the alerts audit subscription.

Two runtimes, one logic (docs/architecture.md). ``function`` (free tier, the default): the
``events-speed`` subscription pushes envelopes to the ``speed`` Cloud Function.
``dataflow`` (opt-in, billed): ``events-speed`` is a pull subscription read by a
streaming flex-template job. Either way the subscription keeps its dead-letter policy.
"""

from __future__ import annotations

import pulumi

from infra import dataflow, functions
from infra.foundation import Foundation
from infra.iam import Grants, sa_member
from infra.schemas import TableSpec
from infra.settings import StackSettings
from infra.tables import create_tables
from salesphere import names

LAYER = "speed"
#: The component's type and name in deployed stacks. They predate the one name per layer;
#: renaming them would change the URN of every resource below and make ``pulumi up``
#: replace the speed layer (tables included), so they stay (``tests/infra/test_program.py``
#: checks they do). Labels are updated in place, so resources are labelled ``layer: speed``.
DEPLOYED_TYPE = "salesphere:infra:Stream"
DEPLOYED_NAME = "stream"
DATASETS = (names.DATASET_SPEED,)


class Speed(pulumi.ComponentResource):
    """Everything a targeted deploy of the speed layer (``services/stream``) touches."""

    def __init__(
        self, settings: StackSettings, base: Foundation, specs: dict[str, TableSpec]
    ) -> None:
        super().__init__(DEPLOYED_TYPE, DEPLOYED_NAME, opts=base.layer_options())
        grants = Grants(settings.project, settings.region, self)
        self.tables = create_tables(
            specs,
            DATASETS,
            settings,
            base.datasets,
            LAYER,
            self,
            partition_expiration={"speed.events": settings.speed_retention_days},
        )
        self.account = functions.service_account(
            "speed-fn", "SalesSphere speed layer", settings, self
        )
        member = sa_member(self.account)
        access = self._access(settings, base, grants, member)
        if settings.speed_runtime == "function":
            self._function_runtime(settings, base, access)
        else:
            self._dataflow_runtime(settings, base, grants, member, access)
        self.alerts_audit = base.subscription(names.SUB_ALERTS_AUDIT, LAYER, self)
        self.register_outputs({"tables": sorted(self.tables)})

    def _access(
        self, settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """What the speed account may do on either runtime, and nothing more."""
        return [
            grants.grant(
                "speed-writes-speed",
                "dataset",
                base.datasets[names.DATASET_SPEED].dataset_id,
                "roles/bigquery.dataEditor",
                member,
            ),
            grants.grant(
                "speed-reads-reference",
                "dataset",
                base.datasets[names.DATASET_REFERENCE].dataset_id,
                "roles/bigquery.dataViewer",
                member,
            ),
            grants.grant(
                "speed-publishes-alerts",
                "topic",
                base.topics[names.TOPIC_ALERTS].name,
                "roles/pubsub.publisher",
                member,
            ),
            # Every push reads speed.events / reference.products with a query job
            # (salesphere/speed/memory.py, reference.py): jobs run in the project.
            grants.grant(
                "speed-runs-queries", "project", settings.project, "roles/bigquery.jobUser", member
            ),
        ]

    def _function_runtime(
        self, settings: StackSettings, base: Foundation, access: list[pulumi.Resource]
    ) -> None:
        """Free tier: ``events-speed`` pushes envelopes to the speed Cloud Function."""
        _, source = functions.upload_source("stream", base.artifacts, self)
        self.function = functions.deploy(
            functions.SPEED,
            settings,
            LAYER,
            source,
            self.account,
            self,
            base,
            depends_on=access,
        )
        self.events = base.push_subscription(names.SUB_EVENTS_SPEED, self.function, LAYER, self)

    def _dataflow_runtime(
        self,
        settings: StackSettings,
        base: Foundation,
        grants: Grants,
        member: pulumi.Input[str],
        access: list[pulumi.Resource],
    ) -> None:
        """Opt-in: a streaming flex-template job pulls ``events-speed``."""
        self.events = base.subscription(names.SUB_EVENTS_SPEED, LAYER, self)
        self.dataflow_grants = [
            grants.grant(
                "speed-pulls-events",
                "subscription",
                self.events.name,
                "roles/pubsub.subscriber",
                member,
            ),
            grants.grant(
                "speed-is-dataflow-worker",
                "project",
                settings.project,
                "roles/dataflow.worker",
                member,
            ),
            # Staging and temp files of the job: read, write, list, delete objects.
            grants.grant(
                "speed-stages-artifacts",
                "bucket",
                base.artifacts.name,
                "roles/storage.objectUser",
                member,
            ),
            # Dataflow pulls the flex template's launcher image as the job's account.
            grants.grant(
                "speed-pulls-template-image",
                "repository",
                base.templates_repository.name,  # type: ignore[union-attr]
                "roles/artifactregistry.reader",
                member,
            ),
        ]
        self.job = dataflow.flex_job(
            "stream",
            settings,
            LAYER,
            base.artifacts,
            self.account,
            {
                "subscription": self.events.id,
                "project": settings.project,
                "env": settings.env,
            },
            self,
            streaming=True,
            depends_on=[*access, *self.dataflow_grants],
        )
