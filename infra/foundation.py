"""Foundation layer: APIs, the Pub/Sub bus, the warehouse datasets and the master dataset.

Everything here is shared by more than one layer, so it is deployed with the stack and
never by a single service's targeted deploy. The archive subscription lives here too:
it is a Cloud Storage subscription that writes every accepted envelope to the archive
bucket, i.e. it *is* the master dataset writer, and no service owns it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.iam import Grants
from infra.settings import StackSettings
from salesphere import limits, names

LAYER = "foundation"
#: APIs the free-tier platform calls. Dataflow is added only when a stack opts in.
REQUIRED_APIS = (
    "pubsub.googleapis.com",
    "storage.googleapis.com",
    "bigquery.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
)
DATAFLOW_API = "dataflow.googleapis.com"
DAY_MS = 24 * 3600 * 1000


def days(n: int) -> str:
    """Pub/Sub duration string for ``n`` days."""
    return f"{n * 86400}s"


def bucket(
    key: str,
    name: str,
    settings: StackSettings,
    layer: str,
    parent: pulumi.Resource,
    lifecycle: list[gcp.storage.BucketLifecycleRuleArgs],
) -> gcp.storage.Bucket:
    """A private, uniform-access bucket in the stack's (free-tier) region."""
    return gcp.storage.Bucket(
        f"bucket-{key}",
        name=name,
        project=settings.project,
        location=settings.region.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        force_destroy=settings.force_destroy,
        # Soft-deleted bytes are billed; the archive keeps its own history, the rest is transient.
        soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(retention_duration_seconds=0),
        lifecycle_rules=lifecycle,
        labels=settings.labels(layer),
        opts=pulumi.ResourceOptions(parent=parent, protect=settings.protect),
    )


def delete_after(days_: int) -> gcp.storage.BucketLifecycleRuleArgs:
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=days_),
    )


def move_after(days_: int, storage_class: str) -> gcp.storage.BucketLifecycleRuleArgs:
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(
            type="SetStorageClass", storage_class=storage_class
        ),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=days_),
    )


class Foundation(pulumi.ComponentResource):
    """APIs, topics, datasets, the archive (master dataset) and the artifacts bucket."""

    def __init__(self, settings: StackSettings) -> None:
        super().__init__("salesphere:infra:Foundation", LAYER)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        buckets = names.bucket_names(settings.project, settings.env)
        uses_dataflow = "dataflow" in (settings.speed_runtime, settings.batch_runtime)
        apis = REQUIRED_APIS + ((DATAFLOW_API,) if uses_dataflow else ())
        self.apis = [
            gcp.projects.Service(
                f"api-{api.split('.')[0]}",
                project=settings.project,
                service=api,
                disable_on_destroy=False,
                opts=child,
            )
            for api in apis
        ]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=self.apis)

        project = gcp.organizations.get_project_output(project_id=settings.project)
        self.pubsub_agent = project.number.apply(
            lambda number: f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        self.grants = Grants(settings.project, settings.region, self)

        self.topics = {
            topic: gcp.pubsub.Topic(
                f"topic-{topic}",
                name=topic,
                project=settings.project,
                labels=settings.labels(LAYER),
                opts=after_apis,
            )
            for topic in names.TOPICS
        }
        # Pub/Sub forwards undeliverable messages as its own service agent.
        for topic in names.DEAD_LETTERS:
            self.grants.grant(
                "pubsub-agent-publishes-dead-letters"
                if topic == names.TOPIC_EVENTS_DEAD_LETTER
                else f"pubsub-agent-publishes-{topic}",
                "topic",
                self.topics[topic].name,
                "roles/pubsub.publisher",
                self.pubsub_agent,
            )

        self.datasets = {
            dataset: gcp.bigquery.Dataset(
                f"dataset-{dataset}",
                dataset_id=dataset,
                project=settings.project,
                location=settings.region,
                default_table_expiration_ms=(
                    settings.table_expiration_days * DAY_MS
                    if settings.table_expiration_days
                    else None
                ),
                delete_contents_on_destroy=settings.ephemeral,
                labels=settings.labels(LAYER),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=self.apis, protect=settings.protect
                ),
            )
            for dataset in names.DATASETS
        }

        self.artifacts = bucket(
            "artifacts",
            buckets.artifacts,
            settings,
            LAYER,
            self,
            [delete_after(settings.artifacts_retention_days)],
        )
        self.archive = bucket(
            "archive",
            buckets.archive,
            settings,
            LAYER,
            self,
            [
                move_after(settings.archive_nearline_after_days, "NEARLINE"),
                move_after(settings.archive_coldline_after_days, "COLDLINE"),
            ],
        )
        writer_grants = [
            self.grants.grant(
                f"pubsub-agent-{short}-archive",
                "bucket",
                self.archive.name,
                role,
                self.pubsub_agent,
            )
            for short, role in (
                ("writes", "roles/storage.objectCreator"),
                ("reads-bucket", "roles/storage.legacyBucketReader"),
            )
        ]
        # One identity signs every Pub/Sub push (OIDC); it may invoke only the push targets.
        self.push_account = gcp.serviceaccount.Account(
            "sa-pubsub-push",
            account_id="pubsub-push",
            display_name="SalesSphere Pub/Sub push (OIDC)",
            project=settings.project,
            opts=child,
        )
        self.grants.grant(
            "pubsub-agent-signs-push-tokens",
            "sa",
            self.push_account.name,
            "roles/iam.serviceAccountTokenCreator",
            self.pubsub_agent,
        )
        self.subscriptions: dict[str, gcp.pubsub.Subscription] = {}
        self.subscriptions[names.SUB_EVENTS_ARCHIVE] = self.subscription(
            names.SUB_EVENTS_ARCHIVE,
            LAYER,
            self,
            cloud_storage_config=gcp.pubsub.SubscriptionCloudStorageConfigArgs(
                bucket=self.archive.name,
                # -> events/received_date=2026-11-28/14_03_00Z<uuid>.jsonl (one envelope a line)
                filename_prefix=f"{names.ARCHIVE_PREFIX}/received_date=",
                filename_suffix=".jsonl",
                filename_datetime_format="YYYY-MM-DD/hh_mm_ssZ",
                text_config=gcp.pubsub.SubscriptionCloudStorageConfigTextConfigArgs(),
                max_duration="300s",
                max_bytes=100 * 1024 * 1024,
            ),
            depends_on=writer_grants,
        )
        for audit, _replay_to in names.DEAD_LETTERS.values():
            self.subscriptions[audit] = self.subscription(audit, LAYER, self)
        self.register_outputs(
            {
                "topics": {k: v.id for k, v in self.topics.items()},
                "archive": self.archive.url,
            }
        )

    def push_subscription(
        self,
        name: str,
        target: gcp.cloudfunctionsv2.Function,
        layer: str,
        parent: pulumi.Resource,
    ) -> gcp.pubsub.Subscription:
        """Push ``name``'s messages to a function, authenticated with an OIDC token.

        The push identity gets ``run.invoker`` on that one function only.
        """
        invoker = Grants(self.settings.project, self.settings.region, parent).grant(
            f"pubsub-push-invokes-for-{name}",
            "run",
            target.name,
            "roles/run.invoker",
            self.push_account.email.apply(lambda email: f"serviceAccount:{email}"),
        )
        return self.subscription(
            name,
            layer,
            parent,
            push_config=gcp.pubsub.SubscriptionPushConfigArgs(
                push_endpoint=target.url,
                oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=self.push_account.email, audience=target.url
                ),
            ),
            depends_on=[invoker],
        )

    def subscription(
        self,
        name: str,
        layer: str,
        parent: pulumi.Resource,
        *,
        push_config: gcp.pubsub.SubscriptionPushConfigArgs | None = None,
        cloud_storage_config: gcp.pubsub.SubscriptionCloudStorageConfigArgs | None = None,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> gcp.pubsub.Subscription:
        """A subscription from ``names.SUBSCRIPTIONS``, delivered as ``salesphere.limits`` says.

        Used by the other layers too, so every subscription gets the same retention
        bounds, labels, never-expiring policy and dead-letter wiring.
        """
        settings = self.settings
        topic = self.topics[names.SUBSCRIPTIONS[name]]
        policy = limits.SUBSCRIPTIONS[name]
        dead_letter_policy = policy.dead_letter_topic is not None
        sub = gcp.pubsub.Subscription(
            f"sub-{name}",
            name=name,
            project=settings.project,
            topic=topic.id,
            ack_deadline_seconds=policy.ack_deadline_s,
            message_retention_duration=days(settings.message_retention_days),
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
            retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(
                minimum_backoff=f"{policy.min_backoff_s}s",
                maximum_backoff=f"{policy.max_backoff_s}s",
            ),
            dead_letter_policy=(
                gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
                    dead_letter_topic=self.topics[policy.dead_letter_topic].id,
                    max_delivery_attempts=policy.max_delivery_attempts,
                )
                if dead_letter_policy
                else None
            ),
            push_config=push_config,
            cloud_storage_config=cloud_storage_config,
            labels=settings.labels(layer),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
        )
        if dead_letter_policy:
            # The service agent must be able to pull from the source to forward dead letters.
            Grants(settings.project, settings.region, parent).grant(
                f"pubsub-agent-subscribes-{name}",
                "subscription",
                sub.name,
                "roles/pubsub.subscriber",
                self.pubsub_agent,
            )
        return sub
