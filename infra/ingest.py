"""Ingest layer: landing and quarantine buckets, HMAC secret, both ingest functions.

File drops follow the same path as in the local twin: the landing bucket notifies the
``file-drops`` topic on object finalize, and the ``file-drops-ingest`` subscription
pushes each notification (OIDC-authenticated) to the ``ingest-files`` function, with a
dead-letter policy, so a file that keeps failing is parked instead of retried forever.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import functions
from infra.foundation import Foundation, bucket, delete_after
from infra.iam import Grants, sa_member
from infra.settings import StackSettings
from salesphere import names

LAYER = "ingest"
HMAC_SECRET_ID = "ingest-hmac-keys"


class Ingest(pulumi.ComponentResource):
    """Everything a targeted deploy of ``services/ingest`` touches."""

    def __init__(self, settings: StackSettings, base: Foundation) -> None:
        super().__init__("salesphere:infra:Ingest", LAYER)
        buckets = names.bucket_names(settings.project, settings.env)
        grants = Grants(settings.project, settings.region, self)
        self.landing = bucket(
            "landing",
            buckets.landing,
            settings,
            LAYER,
            self,
            [delete_after(settings.landing_retention_days)],
        )
        self.quarantine = bucket(
            "quarantine",
            buckets.quarantine,
            settings,
            LAYER,
            self,
            [delete_after(settings.quarantine_retention_days)],
        )
        self.secret = gcp.secretmanager.Secret(
            "secret-hmac-keys",
            secret_id=HMAC_SECRET_ID,
            project=settings.project,
            replication=gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[
                        gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                            location=settings.region
                        )
                    ]
                )
            ),
            deletion_protection=settings.deletion_protection,
            labels=settings.labels(LAYER),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=base.apis, protect=settings.protect
            ),
        )

        # Landing bucket -> file-drops topic, published by Cloud Storage's service agent.
        gcs_agent = gcp.storage.get_project_service_account_output(project=settings.project)
        notify_grant = grants.grant(
            "gcs-agent-publishes-file-drops",
            "topic",
            base.topics[names.TOPIC_FILE_DROPS].name,
            "roles/pubsub.publisher",
            gcs_agent.email_address.apply(lambda email: f"serviceAccount:{email}"),
        )
        gcp.storage.Notification(
            "landing-finalize-notification",
            bucket=self.landing.name,
            topic=base.topics[names.TOPIC_FILE_DROPS].id,
            payload_format="JSON_API_V1",
            event_types=["OBJECT_FINALIZE"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[notify_grant]),
        )

        self.account = functions.service_account("ingest-fn", "SalesSphere ingest", settings, self)
        member = sa_member(self.account)
        access = [
            grants.grant(
                "ingest-publishes-events",
                "topic",
                base.topics[names.TOPIC_EVENTS].name,
                "roles/pubsub.publisher",
                member,
            ),
            grants.grant(
                "ingest-publishes-quarantine",
                "topic",
                base.topics[names.TOPIC_QUARANTINE].name,
                "roles/pubsub.publisher",
                member,
            ),
            grants.grant(
                "ingest-reads-landing",
                "bucket",
                self.landing.name,
                "roles/storage.objectViewer",
                member,
            ),
            grants.grant(
                "ingest-writes-quarantine",
                "bucket",
                self.quarantine.name,
                "roles/storage.objectCreator",
                member,
            ),
            grants.grant(
                "ingest-reads-hmac-keys",
                "secret",
                self.secret.secret_id,
                "roles/secretmanager.secretAccessor",
                member,
            ),
            grants.grant(
                "ingest-writes-ops",
                "dataset",
                base.datasets[names.DATASET_OPS].dataset_id,
                "roles/bigquery.dataEditor",
                member,
            ),
        ]

        _, source = functions.upload_source("ingest", base.artifacts, self)
        secret_env = []
        if settings.hmac_secret_version:
            secret_env.append(
                gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs(
                    key="SALESPHERE_HMAC_KEYS",
                    project_id=settings.project,
                    secret=self.secret.secret_id,
                    version=settings.hmac_secret_version,
                )
            )
        self.http = functions.deploy(
            functions.INGEST_HTTP,
            settings,
            LAYER,
            source,
            self.account,
            self,
            secret_env=secret_env,
            depends_on=access,
        )
        self.files = functions.deploy(
            functions.INGEST_FILES,
            settings,
            LAYER,
            source,
            self.account,
            self,
            depends_on=access,
        )
        for index, invoker in enumerate(settings.ingest_invokers):
            grants.grant(
                f"ingest-http-invoker-{index}", "run", self.http.name, "roles/run.invoker", invoker
            )
        self.file_drops = base.push_subscription(
            names.SUB_FILE_DROPS_INGEST, self.files, LAYER, self
        )
        self.register_outputs({"ingest_url": self.http.url})
