"""Ingest layer: landing and quarantine buckets, HMAC secret, both ingest functions.

File drops follow the same path as in the local twin: the landing bucket notifies the
``file-drops`` topic on object finalize, and the ``file-drops-ingest`` subscription
pushes each notification (OIDC-authenticated) to the ``ingest-files`` function, with a
dead-letter policy, so a file that keeps failing is parked instead of retried forever.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import apis, functions
from infra.foundation import Foundation, bucket, delete_after
from infra.iam import Grants, sa_member
from infra.settings import SettingsError, StackSettings
from salesphere import endpoints, names

LAYER = "ingest"
HMAC_SECRET_ID = "ingest-hmac-keys"
PUBLIC_INVOKER_GRANT = "ingest-http-public-invoker"
PUBLIC_MEMBER = "allUsers"


def oidc_callers(members: tuple[str, ...]) -> list[str]:
    """``salesphere:ingest_invokers`` -> the e-mails ingest-http accepts ID tokens from.

    These are checked in code (the platform lets everyone reach ingest-http), so only
    named identities make sense: a public member would let any Google account send.
    """
    emails = []
    for member in members:
        kind, _, email = member.partition(":")
        if kind not in {"serviceAccount", "user"} or "@" not in email:
            raise SettingsError(
                f"salesphere:ingest_invokers entry {member!r} must be "
                "'serviceAccount:<email>' or 'user:<email>' (public members are refused: "
                "ingest-http authenticates every request itself, see docs/infra.md)"
            )
        emails.append(email)
    return emails


class Ingest(pulumi.ComponentResource):
    """Everything a targeted deploy of ``services/ingest`` touches.

    Built in the order a file drop travels: buckets and the HMAC secret, the landing
    bucket's notifications, the function account and what it may do, then the functions.
    """

    def __init__(self, settings: StackSettings, base: Foundation) -> None:
        super().__init__("salesphere:infra:Ingest", LAYER, opts=base.layer_options())
        grants = Grants(settings.project, settings.region, self)
        self._storage(settings)
        self._secret(settings, base)
        self._notifications(settings, base, grants)
        self.account = functions.service_account("ingest-fn", "SalesSphere ingest", settings, self)
        access = self._access(settings, base, grants, sa_member(self.account))
        self._functions(settings, base, grants, access)
        self.register_outputs({"ingest_url": self.url})

    def _storage(self, settings: StackSettings) -> None:
        """The landing bucket files are dropped in, and quarantine for what is refused."""
        buckets = names.bucket_names(settings.project, settings.env)
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

    def _secret(self, settings: StackSettings, base: Foundation) -> None:
        """The HMAC keys of POS systems that cannot do OIDC (values added outside Pulumi)."""
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

    def _notifications(self, settings: StackSettings, base: Foundation, grants: Grants) -> None:
        """Every object finalized in landing is announced on the file-drops topic."""
        # Landing bucket -> file-drops topic, published by Cloud Storage's service agent.
        # The lookup itself creates the agent if needed: it waits for the Cloud Storage API.
        gcs_agent = gcp.storage.get_project_service_account_output(
            project=settings.project,
            opts=pulumi.InvokeOutputOptions(depends_on=[base.api[apis.STORAGE]]),
        )
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

    def _access(
        self, settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """What the ingest account may do, and nothing more (infra/iam_recorded.json)."""
        return [
            *self._publishing_access(base, grants, member),
            *self._file_access(grants, member),
            *self._warehouse_access(settings, base, grants, member),
        ]

    def _publishing_access(
        self, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """Publish accepted events and rejects."""
        return [
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
        ]

    def _file_access(self, grants: Grants, member: pulumi.Input[str]) -> list[pulumi.Resource]:
        """The buckets and the secret ingest reads and writes."""
        # Read a dropped file, write its marker and report, move it (copy + delete) in the
        # landing bucket; write rejects to quarantine, where a retried request rewrites the
        # same object (an overwrite needs storage.objects.delete too); read the HMAC keys
        # mounted from the secret.
        return [
            grants.grant(
                "ingest-uses-landing",
                "bucket",
                self.landing.name,
                "roles/storage.objectUser",
                member,
            ),
            grants.grant(
                "ingest-writes-quarantine",
                "bucket",
                self.quarantine.name,
                "roles/storage.objectUser",
                member,
            ),
            grants.grant(
                "ingest-reads-hmac-keys",
                "secret",
                self.secret.secret_id,
                "roles/secretmanager.secretAccessor",
                member,
            ),
        ]

    def _warehouse_access(
        self, settings: StackSettings, base: Foundation, grants: Grants, member: pulumi.Input[str]
    ) -> list[pulumi.Resource]:
        """Log every request and file to ops; read the reference catalog with a query job."""
        return [
            grants.grant(
                "ingest-writes-ops",
                "dataset",
                base.datasets[names.DATASET_OPS].dataset_id,
                "roles/bigquery.dataEditor",
                member,
            ),
            grants.grant(
                "ingest-reads-reference",
                "dataset",
                base.datasets[names.DATASET_REFERENCE].dataset_id,
                "roles/bigquery.dataViewer",
                member,
            ),
            grants.grant(
                "ingest-runs-queries",
                "project",
                settings.project,
                "roles/bigquery.jobUser",
                member,
            ),
        ]

    def _functions(
        self,
        settings: StackSettings,
        base: Foundation,
        grants: Grants,
        access: list[pulumi.Resource],
    ) -> None:
        """ingest-http and ingest-files from one bundle, the public invoker, the push."""
        secret_env = self._secret_env(settings)
        _, source = functions.upload_source("ingest", base.artifacts, self)
        callers = oidc_callers(settings.ingest_invokers)
        self._audiences(settings)
        self.http = functions.deploy(
            functions.INGEST_HTTP,
            settings,
            LAYER,
            source,
            self.account,
            self,
            base,
            env={
                "SALESPHERE_INGEST_OIDC_CALLERS": ",".join(callers),
                "SALESPHERE_INGEST_OIDC_AUDIENCES": self.audiences.apply(",".join),
            },
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
            base,
            secret_env=secret_env,
            depends_on=access,
        )
        self._entrances(base, grants)

    def _secret_env(
        self, settings: StackSettings
    ) -> list[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs]:
        """The HMAC keys, mounted in both functions (one bundle, one start-up check).

        Fail closed: without a secret version the deploy fails instead of starting open.
        """
        if not settings.hmac_secret_version:
            raise SettingsError(
                "salesphere:hmac_secret_version is empty; ingest always mounts its HMAC keys "
                "(use 'latest' or a version number, see docs/infra.md)"
            )
        return [
            gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs(
                key="SALESPHERE_HMAC_KEYS",
                project_id=settings.project,
                secret=self.secret.secret_id,
                version=settings.hmac_secret_version,
            )
        ]

    def _audiences(self, settings: StackSettings) -> None:
        """The token audiences ingest-http accepts, and ``url``, the one callers use.

        Its own two URLs, from the one definition the function and callers share
        (salesphere/endpoints.py); the run.app one is what callers mint tokens for (the
        ``ingest_url`` output).
        """
        number = gcp.organizations.get_project_output(project_id=settings.project).number
        self.audiences = number.apply(
            lambda n: endpoints.audiences(
                functions.INGEST_HTTP.name, settings.project, str(n), settings.region
            )
        )
        self.url = self.audiences.apply(lambda urls: urls[0])

    def _entrances(self, base: Foundation, grants: Grants) -> None:
        """How records reach the functions: anyone may call ingest-http, file drops push."""
        # The one public endpoint: an HMAC-only POS has no Google identity, and Cloud Run's
        # invoker check runs before any code, so ingest-http lets every caller through at
        # the platform and authenticates each request in code (HMAC, or an ID token of one
        # of the ``salesphere:ingest_invokers``). Guardrails allow this binding and no other
        # (infra/guardrails.py).
        grants.grant(
            PUBLIC_INVOKER_GRANT, "run", self.http.name, "roles/run.invoker", PUBLIC_MEMBER
        )
        self.file_drops = base.push_subscription(
            names.SUB_FILE_DROPS_INGEST, self.files, LAYER, self
        )
