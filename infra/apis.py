"""Which Google API each resource type needs, and the order a fresh project needs them in.

A resource whose API is still being enabled fails to create (``SERVICE_DISABLED`` /
``accessNotConfigured``), and Pulumi only orders what it knows depends on what. So every
resource the program declares must depend on the ``gcp.projects.Service`` of each API
its type calls, directly or through its parent component (a component registers only
after its dependencies exist, and its children only after it). ``API_FOR_TYPE`` is that
table; ``tests/infra/test_api_dependencies.py`` and ``salesphere infra check`` walk the
recorded graph of every stack and fail on a type missing from it or a resource that
does not wait for its APIs.

Two APIs cannot be enabled by the program itself: enabling any API *is* a Service Usage
call, and project IAM members and project reads are Resource Manager calls. Both are
switched on by the bootstrap (``scripts/bootstrap-project.sh``), before the first
``pulumi up`` (docs/infra.md, "Bootstrap").
"""

from __future__ import annotations

PUBSUB = "pubsub.googleapis.com"
STORAGE = "storage.googleapis.com"
BIGQUERY = "bigquery.googleapis.com"
FUNCTIONS = "cloudfunctions.googleapis.com"
RUN = "run.googleapis.com"
BUILD = "cloudbuild.googleapis.com"
ARTIFACTS = "artifactregistry.googleapis.com"
SCHEDULER = "cloudscheduler.googleapis.com"
SECRETS = "secretmanager.googleapis.com"
IAM = "iam.googleapis.com"
IAM_CREDENTIALS = "iamcredentials.googleapis.com"
LOGGING = "logging.googleapis.com"
DATAFLOW = "dataflow.googleapis.com"

#: Enabled by the bootstrap, never by the program (it needs them to enable anything).
RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com"
SERVICE_USAGE = "serviceusage.googleapis.com"
BOOTSTRAP_APIS = (RESOURCE_MANAGER, SERVICE_USAGE, IAM, IAM_CREDENTIALS, "sts.googleapis.com")

#: APIs every stack enables (Dataflow only when a stack opts in).
REQUIRED_APIS = (
    PUBSUB,
    STORAGE,
    BIGQUERY,
    FUNCTIONS,
    RUN,
    BUILD,
    ARTIFACTS,
    SCHEDULER,
    SECRETS,
    IAM,
    IAM_CREDENTIALS,
    LOGGING,
)

#: Resource type -> the APIs its create/read/update/delete calls go to. A type that calls
#: only bootstrap APIs maps to ``()``; a type missing here fails the check, so adding a
#: new kind of resource means deciding this first.
API_FOR_TYPE: dict[str, tuple[str, ...]] = {
    # Service Usage itself (bootstrap): enabling an API, creating a service agent.
    "gcp:projects/service:Service": (),
    # generateServiceIdentity is a Service Usage call, for an API that must be on.
    "gcp:projects/serviceIdentity:ServiceIdentity": (),
    # Project IAM policy: Resource Manager (bootstrap).
    "gcp:projects/iAMMember:IAMMember": (),
    "gcp:pubsub/topic:Topic": (PUBSUB,),
    "gcp:pubsub/subscription:Subscription": (PUBSUB,),
    "gcp:pubsub/topicIAMMember:TopicIAMMember": (PUBSUB,),
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": (PUBSUB,),
    "gcp:storage/bucket:Bucket": (STORAGE,),
    "gcp:storage/bucketObject:BucketObject": (STORAGE,),
    "gcp:storage/bucketIAMMember:BucketIAMMember": (STORAGE,),
    # Cloud Storage checks the topic when it creates the notification.
    "gcp:storage/notification:Notification": (STORAGE, PUBSUB),
    "gcp:bigquery/dataset:Dataset": (BIGQUERY,),
    "gcp:bigquery/table:Table": (BIGQUERY,),
    "gcp:bigquery/datasetIamMember:DatasetIamMember": (BIGQUERY,),
    "gcp:bigquery/datasetAccess:DatasetAccess": (BIGQUERY,),
    "gcp:serviceaccount/account:Account": (IAM,),
    "gcp:serviceaccount/iAMMember:IAMMember": (IAM,),
    "gcp:secretmanager/secret:Secret": (SECRETS,),
    "gcp:secretmanager/secretIamMember:SecretIamMember": (SECRETS,),
    "gcp:artifactregistry/repository:Repository": (ARTIFACTS,),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (ARTIFACTS,),
    # A 2nd-gen function is built by Cloud Build into Artifact Registry and runs on Cloud
    # Run; its build and runtime write logs.
    "gcp:cloudfunctionsv2/function:Function": (FUNCTIONS, RUN, BUILD, ARTIFACTS, LOGGING),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": (RUN,),
    # The job mints OIDC tokens for its caller account.
    "gcp:cloudscheduler/job:Job": (SCHEDULER, IAM_CREDENTIALS),
    "gcp:dataflow/flexTemplateJob:FlexTemplateJob": (DATAFLOW,),
}

#: Google-managed service agents the program grants roles to, and the API that owns each.
#: Pub/Sub's agent (dead letters, push tokens) exists
#: only once the API is on, and not always at once: it is created explicitly
#: (``gcp.projects.ServiceIdentity``) and every grant to it depends on that resource.
SERVICE_AGENTS = {"gcp-sa-pubsub": PUBSUB}


def needed(type_: str) -> tuple[str, ...]:
    """The APIs ``type_`` needs; a clear error for a type nobody has classified yet."""
    try:
        return API_FOR_TYPE[type_]
    except KeyError:
        raise KeyError(
            f"{type_} is not in infra/apis.py API_FOR_TYPE: add it with the Google APIs its "
            "calls go to, so every resource of that type waits for them"
        ) from None
