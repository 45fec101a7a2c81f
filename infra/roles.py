"""The predefined roles the program grants, and the permissions each one carries.

The IAM test (``tests/infra/test_iam_recorded.py``) expands every binding through this
table to decide whether the stack grants what the services use (sufficient) and nothing
they do not (least). Only roles listed here may be granted (:func:`permissions` raises
otherwise), so a new role needs its permissions looked up and written down first.

Sources (Google Cloud documentation, checked 2026-12-01):

* IAM predefined roles reference: https://cloud.google.com/iam/docs/understanding-roles
  and https://cloud.google.com/iam/docs/roles-permissions (per-service pages:
  ``/iam/docs/roles-permissions/storage``, ``.../bigquery``, ``.../pubsub``,
  ``.../secretmanager``, ``.../run``, ``.../dataflow``, ``.../iam``);
* Cloud Storage: https://cloud.google.com/storage/docs/access-control/iam-roles and
  https://cloud.google.com/storage/docs/access-control/iam-json (permission per method);
* BigQuery: https://cloud.google.com/bigquery/docs/access-control;
* Pub/Sub: https://cloud.google.com/pubsub/docs/access-control.

The lists hold each role's permissions on the resource types this platform uses; the
``resourcemanager.projects.get/list`` and ``*.managedFolders``/``*.folders`` entries some
roles also carry are left out because no service calls those APIs. ``*`` is not used:
every permission is spelled out so a diff shows exactly what a role change grants.
"""

from __future__ import annotations

ROLES: dict[str, frozenset[str]] = {
    # -- Cloud Storage --------------------------------------------------------------------
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/storage.objectCreator": frozenset(
        {
            "storage.objects.create",
            "storage.multipartUploads.create",
            "storage.multipartUploads.abort",
            "storage.multipartUploads.listParts",
        }
    ),
    "roles/storage.objectUser": frozenset(
        {
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.list",
            "storage.objects.restore",
            "storage.objects.update",
            "storage.multipartUploads.create",
            "storage.multipartUploads.abort",
            "storage.multipartUploads.list",
            "storage.multipartUploads.listParts",
        }
    ),
    "roles/storage.objectAdmin": frozenset(
        {
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.getIamPolicy",
            "storage.objects.list",
            "storage.objects.overrideUnlockedRetention",
            "storage.objects.restore",
            "storage.objects.setIamPolicy",
            "storage.objects.setRetention",
            "storage.objects.update",
            "storage.multipartUploads.create",
            "storage.multipartUploads.abort",
            "storage.multipartUploads.list",
            "storage.multipartUploads.listParts",
        }
    ),
    "roles/storage.legacyBucketReader": frozenset({"storage.buckets.get", "storage.objects.list"}),
    # -- BigQuery -------------------------------------------------------------------------
    "roles/bigquery.dataViewer": frozenset(
        {
            "bigquery.datasets.get",
            "bigquery.datasets.getIamPolicy",
            "bigquery.tables.createSnapshot",
            "bigquery.tables.export",
            "bigquery.tables.get",
            "bigquery.tables.getData",
            "bigquery.tables.getIamPolicy",
            "bigquery.tables.list",
        }
    ),
    "roles/bigquery.dataEditor": frozenset(
        {
            "bigquery.datasets.get",
            "bigquery.datasets.getIamPolicy",
            "bigquery.tables.create",
            "bigquery.tables.createSnapshot",
            "bigquery.tables.delete",
            "bigquery.tables.export",
            "bigquery.tables.get",
            "bigquery.tables.getData",
            "bigquery.tables.getIamPolicy",
            "bigquery.tables.list",
            "bigquery.tables.update",
            "bigquery.tables.updateData",
            "bigquery.tables.updateTag",
        }
    ),
    "roles/bigquery.jobUser": frozenset({"bigquery.config.get", "bigquery.jobs.create"}),
    # -- Pub/Sub --------------------------------------------------------------------------
    "roles/pubsub.publisher": frozenset({"pubsub.topics.publish"}),
    "roles/pubsub.subscriber": frozenset(
        {
            "pubsub.snapshots.seek",
            "pubsub.subscriptions.consume",
            "pubsub.topics.attachSubscription",
        }
    ),
    # -- Artifact Registry, Logging (the functions' build account, Dataflow images) -------
    # https://cloud.google.com/iam/docs/roles-permissions/artifactregistry (read 2026-12-05)
    "roles/artifactregistry.reader": frozenset(
        {
            "artifactregistry.dockerimages.get",
            "artifactregistry.dockerimages.list",
            "artifactregistry.files.download",
            "artifactregistry.files.get",
            "artifactregistry.files.list",
            "artifactregistry.packages.get",
            "artifactregistry.packages.list",
            "artifactregistry.repositories.downloadArtifacts",
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.list",
            "artifactregistry.repositories.listEffectiveTags",
            "artifactregistry.repositories.listTagBindings",
            "artifactregistry.repositories.readViaVirtualRepository",
            "artifactregistry.tags.get",
            "artifactregistry.tags.list",
            "artifactregistry.versions.get",
            "artifactregistry.versions.list",
        }
    ),
    "roles/artifactregistry.writer": frozenset(
        {
            "artifactregistry.dockerimages.get",
            "artifactregistry.dockerimages.list",
            "artifactregistry.files.download",
            "artifactregistry.files.get",
            "artifactregistry.files.list",
            "artifactregistry.packages.get",
            "artifactregistry.packages.list",
            "artifactregistry.repositories.downloadArtifacts",
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.list",
            "artifactregistry.repositories.listEffectiveTags",
            "artifactregistry.repositories.listTagBindings",
            "artifactregistry.repositories.readViaVirtualRepository",
            "artifactregistry.repositories.uploadArtifacts",
            "artifactregistry.tags.create",
            "artifactregistry.tags.get",
            "artifactregistry.tags.list",
            "artifactregistry.tags.update",
            "artifactregistry.versions.get",
            "artifactregistry.versions.list",
        }
    ),
    # https://cloud.google.com/iam/docs/roles-permissions/logging (read 2026-12-05)
    "roles/logging.logWriter": frozenset({"logging.logEntries.create", "logging.logEntries.route"}),
    # -- Secret Manager, Cloud Run, IAM, Dataflow -----------------------------------------
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/run.invoker": frozenset({"run.routes.invoke", "run.jobs.run"}),
    "roles/iam.serviceAccountTokenCreator": frozenset(
        {
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
            "iam.serviceAccounts.implicitDelegation",
            "iam.serviceAccounts.list",
            "iam.serviceAccounts.signBlob",
            "iam.serviceAccounts.signJwt",
        }
    ),
    # What a Dataflow worker VM's account needs to run work items (subset on this page:
    # https://cloud.google.com/dataflow/docs/concepts/access-control#roles).
    # Launching a job (the batch function starts its flex template per run, then polls it).
    "roles/dataflow.developer": frozenset(
        {
            "dataflow.jobs.cancel",
            "dataflow.jobs.create",
            "dataflow.jobs.get",
            "dataflow.jobs.list",
            "dataflow.jobs.snapshot",
            "dataflow.jobs.updateContents",
            "dataflow.messages.list",
            "dataflow.metrics.get",
            "dataflow.snapshots.delete",
            "dataflow.snapshots.get",
            "dataflow.snapshots.list",
        }
    ),
    # Starting a job that runs as a service account requires acting as that account.
    "roles/iam.serviceAccountUser": frozenset(
        {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"}
    ),
    "roles/dataflow.worker": frozenset(
        {
            "dataflow.jobs.get",
            "dataflow.shuffle.read",
            "dataflow.shuffle.write",
            "dataflow.streamingWorkItems.commitWork",
            "dataflow.streamingWorkItems.getData",
            "dataflow.streamingWorkItems.getWork",
            "dataflow.workItems.lease",
            "dataflow.workItems.sendMessage",
            "dataflow.workItems.update",
            "logging.logEntries.create",
            "storage.buckets.get",
            "storage.objects.create",
            "storage.objects.get",
        }
    ),
}


def permissions(role: str) -> frozenset[str]:
    """The permissions ``role`` grants; refuses roles nobody looked up yet."""
    try:
        return ROLES[role]
    except KeyError:
        raise KeyError(
            f"{role} is not in infra/roles.py: look its permissions up on "
            "https://cloud.google.com/iam/docs/roles-permissions and add it before granting it"
        ) from None
