"""Foundation layer: APIs, the Pub/Sub bus, the warehouse datasets and the master dataset.

Everything here is shared by more than one layer, so it is deployed with the stack and
never by a single service's targeted deploy. The archive subscription lives here too: a
pull subscription on ``events`` that keeps every accepted envelope until the batch run
drains it into the archive bucket (salesphere/batch/archive.py); the batch layer is
granted its messages (infra/batch.py).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import apis as api_table
from infra.apis import REQUIRED_APIS
from infra.functions import invoke_url
from infra.iam import Grants, sa_member
from infra.settings import StackSettings
from salesphere import limits, names

LAYER = "foundation"
DATAFLOW_API = api_table.DATAFLOW
DAY_MS = 24 * 3600 * 1000
#: Artifact Registry repository the functions' images are built into (instead of the
#: ``gcf-artifacts`` one Cloud Functions would create without a cleanup policy).
FUNCTIONS_REPOSITORY = "functions"
#: Image versions kept per function image (the live one); older ones are deleted after a
#: day. Artifact Registry's free storage is 0.5 GB and one set of images with their build
#: caches already fills more than that (docs/infra.md, "What a month costs"); a rollback
#: is a deploy of the previous commit, which rebuilds.
KEEP_IMAGE_VERSIONS = 1
#: Cloud Build's account for building the functions (``build_config.service_account``).
BUILD_ACCOUNT = "functions-build"
#: Artifact Registry repository of the Dataflow launcher images (templates.yml pushes to it).
TEMPLATES_REPOSITORY = "templates"


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
    depends_on: list[pulumi.Resource] | None = None,
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
        opts=pulumi.ResourceOptions(
            parent=parent, protect=settings.protect, depends_on=depends_on or []
        ),
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
    """APIs, topics, datasets, the archive (master dataset) and the artifacts bucket.

    Every child waits for the APIs its type needs (:data:`infra.apis.API_FOR_TYPE`); the
    other layers wait for all of them through their component (``layer_options``).
    """

    def __init__(self, settings: StackSettings) -> None:
        super().__init__("salesphere:infra:Foundation", LAYER)
        self.settings = settings
        uses_dataflow = "dataflow" in (settings.speed_runtime, settings.batch_runtime)
        self._apis(settings, uses_dataflow)
        self._pubsub_agent(settings)
        self._topics(settings)
        self._datasets(settings)
        self._buckets(settings)
        self._push_identity(settings)
        self._functions_build(settings)
        self._templates(settings, uses_dataflow)
        self._subscriptions()
        self.register_outputs(
            {
                "topics": {k: v.id for k, v in self.topics.items()},
                "archive": self.archive.url,
            }
        )

    def _apis(self, settings: StackSettings, uses_dataflow: bool) -> None:
        """The Google APIs the stack needs; every resource waits for those of its type."""
        enabled = REQUIRED_APIS + ((DATAFLOW_API,) if uses_dataflow else ())
        self.api = {
            api: gcp.projects.Service(
                f"api-{api.split('.')[0]}",
                project=settings.project,
                service=api,
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for api in enabled
        }
        self.apis = list(self.api.values())
        self.grants = Grants(settings.project, settings.region, self, apis=self.api)

    def _pubsub_agent(self, settings: StackSettings) -> None:
        # Pub/Sub's service agent forwards dead letters and signs push tokens. It exists only once the API is on (sometimes later), so it is created
        # explicitly and every grant to it depends on it through its ``member`` output.
        self.pubsub_identity = gcp.projects.ServiceIdentity(
            "agent-pubsub",
            project=settings.project,
            service=api_table.PUBSUB,
            opts=self.after(
                "gcp:projects/serviceIdentity:ServiceIdentity", self.api[api_table.PUBSUB]
            ),
        )
        self.pubsub_agent = self.pubsub_identity.member

    def _topics(self, settings: StackSettings) -> None:
        """Every topic, and the dead-letter topics Pub/Sub's agent may publish to."""
        self.topics = {
            topic: gcp.pubsub.Topic(
                f"topic-{topic}",
                name=topic,
                project=settings.project,
                labels=settings.labels(LAYER),
                opts=self.after("gcp:pubsub/topic:Topic"),
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

    def _datasets(self, settings: StackSettings) -> None:
        """Every BigQuery dataset (tables and views belong to the layers)."""
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
                opts=self.after("gcp:bigquery/dataset:Dataset", protect=settings.protect),
            )
            for dataset in names.DATASETS
        }

    def _buckets(self, settings: StackSettings) -> None:
        """Artifacts and the archive (the master dataset, written by the batch run)."""
        buckets = names.bucket_names(settings.project, settings.env)
        storage_api = [self.api[api_table.STORAGE]]
        self.artifacts = bucket(
            "artifacts",
            buckets.artifacts,
            settings,
            LAYER,
            self,
            [delete_after(settings.artifacts_retention_days)],
            depends_on=storage_api,
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
            depends_on=storage_api,
        )

    def _push_identity(self, settings: StackSettings) -> None:
        # One identity signs every Pub/Sub push (OIDC); it may invoke only the push targets.
        self.push_account = gcp.serviceaccount.Account(
            "sa-pubsub-push",
            account_id="pubsub-push",
            display_name="SalesSphere Pub/Sub push (OIDC)",
            project=settings.project,
            opts=self.after("gcp:serviceaccount/account:Account"),
        )
        self.grants.grant(
            "pubsub-agent-signs-push-tokens",
            "sa",
            self.push_account.name,
            "roles/iam.serviceAccountTokenCreator",
            self.pubsub_agent,
        )

    def _templates(self, settings: StackSettings, uses_dataflow: bool) -> None:
        # The Dataflow launcher images (templates.yml pushes them): only with the opt-in.
        self.templates_repository = (
            self._repository(
                "repo-templates",
                TEMPLATES_REPOSITORY,
                "Dataflow flex template launcher images (kept: the newest)",
                settings,
            )
            if uses_dataflow
            else None
        )

    def _subscriptions(self) -> None:
        """The archive subscription and the dead-letter audits.

        ``events-archive`` is a plain pull subscription (same resource, same URN as when it
        was a Cloud Storage subscription: Pub/Sub updates it in place): each batch run
        drains it into one archive object per receive date. Pub/Sub's own Cloud Storage
        writer closed a file at least every 10 minutes, thousands of class A operations
        a month, and its throughput has no free tier (docs/infra.md, "What a month costs").
        """
        self.subscriptions: dict[str, gcp.pubsub.Subscription] = {}
        self.subscriptions[names.SUB_EVENTS_ARCHIVE] = self.subscription(
            names.SUB_EVENTS_ARCHIVE, LAYER, self
        )
        for audit, _replay_to in names.DEAD_LETTERS.values():
            self.subscriptions[audit] = self.subscription(audit, LAYER, self)

    def after(
        self, type_: str, *extra: pulumi.Resource, protect: bool = False
    ) -> pulumi.ResourceOptions:
        """Options for a child of this component of ``type_``: it waits for its APIs."""
        deps: list[pulumi.Resource] = [self.api[a] for a in api_table.needed(type_)]
        return pulumi.ResourceOptions(parent=self, depends_on=[*deps, *extra], protect=protect)

    def layer_options(self) -> pulumi.ResourceOptions:
        """Options of another layer's component: it, and so each child, waits for every API."""
        return pulumi.ResourceOptions(depends_on=self.apis)

    def _functions_build(self, settings: StackSettings) -> None:
        """The repository the functions' images go to, and the account that builds them.

        Since mid-2024 a new project's default Cloud Build account may lack the permissions
        to build a function, so every function names this account in
        ``build_config.service_account``. It gets the roles Google lists for a custom build
        account (docs/infra.md cites the page): write build logs, push images to this one
        repository, read the function sources.
        """
        self.functions_repository = self._repository(
            "repo-functions",
            FUNCTIONS_REPOSITORY,
            f"Cloud Functions images (kept: the newest {KEEP_IMAGE_VERSIONS} per function)",
            settings,
        )
        self.build_account = gcp.serviceaccount.Account(
            f"sa-{BUILD_ACCOUNT}",
            account_id=BUILD_ACCOUNT,
            display_name="SalesSphere function builds (Cloud Build)",
            project=settings.project,
            opts=self.after("gcp:serviceaccount/account:Account"),
        )
        member = sa_member(self.build_account)
        self.build_grants = [
            self.grants.grant(
                "build-writes-logs", "project", settings.project, "roles/logging.logWriter", member
            ),
            self.grants.grant(
                "build-pushes-images",
                "repository",
                self.functions_repository.name,
                "roles/artifactregistry.writer",
                member,
            ),
            # Cloud Functions copies each source zip into a bucket of its own
            # (gcf-v2-sources-<project number>-<region>) that exists only after the first
            # deploy, so reading sources cannot be granted on a named bucket.
            self.grants.grant(
                "build-reads-sources",
                "project",
                settings.project,
                "roles/storage.objectViewer",
                member,
                project_reason="Cloud Functions' own source bucket is created at first deploy",
            ),
        ]

    def _repository(
        self, key: str, repository_id: str, description: str, settings: StackSettings
    ) -> gcp.artifactregistry.Repository:
        """A Docker repository that keeps the newest images and deletes the rest."""
        return gcp.artifactregistry.Repository(
            key,
            repository_id=repository_id,
            project=settings.project,
            location=settings.region,
            format="DOCKER",
            description=description,
            labels=settings.labels(LAYER),
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=(
                        gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                            keep_count=KEEP_IMAGE_VERSIONS
                        )
                    ),
                ),
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-older",
                    action="DELETE",
                    condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="ANY", older_than="86400s"
                    ),
                ),
            ],
            opts=self.after("gcp:artifactregistry/repository:Repository"),
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
        invoker = Grants(self.settings.project, self.settings.region, parent, apis=self.api).grant(
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
                push_endpoint=invoke_url(target),
                oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=self.push_account.email, audience=invoke_url(target)
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
            labels=settings.labels(layer),
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[self.api[api_table.PUBSUB], *(depends_on or [])]
            ),
        )
        if dead_letter_policy:
            # The service agent must be able to pull from the source to forward dead letters.
            Grants(settings.project, settings.region, parent, apis=self.api).grant(
                f"pubsub-agent-subscribes-{name}",
                "subscription",
                sub.name,
                "roles/pubsub.subscriber",
                self.pubsub_agent,
            )
        return sub
