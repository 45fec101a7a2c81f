"""Cloud Functions (2nd gen) deployed from content-hashed source bundles.

One place knows how a SalesSphere function is built and run (runtime, sizes, env vars
that point ``salesphere.settings.Settings.from_env`` at the stack), so the ingest, stream
and batch layers only say *which* function, *who* it runs as and *who* may call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_gcp as gcp

from infra.settings import StackSettings, repo_root
from infra.sources import RUNTIME, SourceBundle, build_dir, bundle
from salesphere import limits


class BuildSite(Protocol):
    """Where functions are built: the foundation provides it (the build account, its
    repository and the grants the account needs first). A protocol, so this module does
    not import the foundation that imports it."""

    build_account: gcp.serviceaccount.Account
    functions_repository: gcp.artifactregistry.Repository
    build_grants: Sequence[pulumi.Resource]


@dataclass(frozen=True)
class FunctionSpec:
    """A deployable entry point: function name, service folder and Python entry point."""

    name: str
    service: str
    entry_point: str
    description: str
    #: ALLOW_ALL only for the public ingest API; Pub/Sub push and Scheduler count as internal.
    ingress: str = "ALLOW_INTERNAL_ONLY"
    #: Overrides the stack's ``function_max_instances`` (None: use the stack's).
    max_instances: int | None = None


INGEST_HTTP = FunctionSpec(
    "ingest-http", "ingest", "ingest_http", "POS/e-commerce HTTP ingest", "ALLOW_ALL"
)
INGEST_FILES = FunctionSpec(
    "ingest-files", "ingest", "ingest_file", "File drops from the landing bucket (Pub/Sub push)"
)
#: One speed instance: its process memory (ids written, stock per store/SKU) is then the
#: only writer's, so alerts stay exact (salesphere/speed/memory.py). One instance handles
#: several 500-event envelopes a second, far above the free-tier stacks' volumes.
SPEED = FunctionSpec(
    "speed",
    "stream",
    "speed_push",
    "Speed layer, free-tier runtime (Pub/Sub push)",
    max_instances=1,
)
BATCH = FunctionSpec("batch", "batch", "batch_http", "Batch layer trigger (Cloud Scheduler, OIDC)")
ALL_FUNCTIONS = (INGEST_HTTP, INGEST_FILES, SPEED, BATCH)


def upload_source(
    service: str, bucket: gcp.storage.Bucket, parent: pulumi.Resource
) -> tuple[SourceBundle, gcp.storage.BucketObject]:
    """Upload the zip of ``services/<service>`` + ``salesphere/``, named by its content hash.

    The zip is written by :meth:`SourceBundle.write_zip` (the builder the local twin unpacks
    and installs) and uploaded as a plain file asset, so the object holds exactly those
    bytes: an archive asset would be re-zipped by the engine and could differ.
    """
    source = bundle(service, repo_root())
    zip_path = source.write_zip(build_dir(repo_root()) / "zips")
    obj = gcp.storage.BucketObject(
        f"source-{service}",
        bucket=bucket.name,
        name=source.object_name,
        source=pulumi.FileAsset(str(zip_path)),
        content_type="application/zip",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return source, obj


def _build_config(
    spec: FunctionSpec, source: gcp.storage.BucketObject, base: BuildSite
) -> gcp.cloudfunctionsv2.FunctionBuildConfigArgs:
    """Built from the uploaded bundle by the stack's own build account, into its repository."""
    return gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
        runtime=RUNTIME,
        entry_point=spec.entry_point,
        service_account=base.build_account.name,
        docker_repository=base.functions_repository.id,
        source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
            storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                bucket=source.bucket, object=source.name
            )
        ),
    )


def deploy(
    spec: FunctionSpec,
    settings: StackSettings,
    layer: str,
    source: gcp.storage.BucketObject,
    account: gcp.serviceaccount.Account,
    parent: pulumi.Resource,
    base: BuildSite,
    env: dict[str, pulumi.Input[str]] | None = None,
    secret_env: list[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs]
    | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> gcp.cloudfunctionsv2.Function:
    """Create the function; it runs as ``account`` and reads its stack from env vars.

    Its time, memory and CPU come from :data:`salesphere.limits.FUNCTIONS`, the one
    definition the push subscriptions and the schedule are derived from as well. It is
    built by ``base.build_account`` into ``base.functions_repository`` (which has a
    cleanup policy), after that account has its roles.
    """
    size = limits.FUNCTIONS[spec.name]
    variables: dict[str, pulumi.Input[str]] = {
        "SALESPHERE_PROJECT": settings.project,
        "SALESPHERE_ENV": settings.env,
        "SALESPHERE_REGION": settings.region,
        **(env or {}),
    }
    return gcp.cloudfunctionsv2.Function(
        f"fn-{spec.name}",
        name=spec.name,
        location=settings.region,
        project=settings.project,
        description=spec.description,
        labels=settings.labels(layer),
        build_config=_build_config(spec, source, base),
        service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
            available_memory=size.memory,
            available_cpu=size.cpu_text,
            max_instance_request_concurrency=size.concurrency,
            max_instance_count=spec.max_instances or settings.function_max_instances,
            timeout_seconds=size.timeout_s,
            ingress_settings=spec.ingress,
            all_traffic_on_latest_revision=True,
            service_account_email=account.email,
            environment_variables=variables,
            secret_environment_variables=secret_env or None,
        ),
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=[*base.build_grants, *(depends_on or [])]
        ),
    )


def invoke_url(function: gcp.cloudfunctionsv2.Function) -> pulumi.Output[str]:
    """The one address Pub/Sub pushes and Cloud Scheduler calls go to, and their token
    audience: the function's default ``run.app`` URL (``service_config.uri``).

    Cloud Run counts same-project Pub/Sub and Cloud Scheduler requests as internal only
    when they use the default ``run.app`` URL (docs/infra.md cites the ingress page), and
    every function but ingest-http accepts internal traffic only.
    """
    return function.service_config.apply(lambda config: config.uri if config else None)  # type: ignore[return-value]


def service_account(
    account_id: str, display: str, settings: StackSettings, parent: pulumi.Resource
) -> gcp.serviceaccount.Account:
    """One service account per service, so each gets only its own grants."""
    return gcp.serviceaccount.Account(
        f"sa-{account_id}",
        account_id=account_id,
        display_name=display,
        project=settings.project,
        opts=pulumi.ResourceOptions(parent=parent),
    )
