"""Is every permission a service was seen to use granted to it, and nothing more?

The record (``infra/iam_recorded.json``) lists what each service did against Google's APIs
in the twin and fault suites, as permissions on logical resources; this module checks a
stack's recorded Pulumi graph against it. The tests and ``salesphere infra check`` both
call :func:`missing_grants` (sufficient) and :func:`unused_grants` (least).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from infra import roles
from infra.iam import DATASET_ROLES
from infra.mocking import ProgramRun

RECORD = Path(__file__).resolve().parents[1] / "infra" / "iam_recorded.json"
DOCUMENT = json.loads(RECORD.read_text())
#: The services' own accounts (``functions.service_account`` ids); pubsub-push and
#: batch-scheduler only invoke functions and are pinned in test_iam.py.
SERVICE_ACCOUNTS = {
    "ingest-http": "ingest-fn",
    "ingest-files": "ingest-fn",
    "speed": "speed-fn",
    "speed-pipeline": "speed-fn",
    "batch": "batch-fn",
    "batch-pipeline": "batch-fn",
}
DATAFLOW = {
    "salesphere:speed_runtime": "dataflow",
    "salesphere:batch_runtime": "dataflow",
    "salesphere:dataflow_opt_in": True,
}
STACK_KINDS = {
    "dev": ("dev", {}),
    "staging": ("staging", {}),
    "prod": ("prod", {}),
    "pr": ("pr-7", {}),
    "dataflow": ("pr-9", DATAFLOW),
}
#: IAM member resource type -> (scope, input naming the resource).
MEMBER_TYPES = {
    "gcp:pubsub/topicIAMMember:TopicIAMMember": ("topic", "topic"),
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": ("subscription", "subscription"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("bucket", "bucket"),
    "gcp:bigquery/datasetAccess:DatasetAccess": ("dataset", "datasetId"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secret", "secretId"),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("run", "name"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("sa", "serviceAccountId"),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": ("repository", "repository"),
    "gcp:projects/iAMMember:IAMMember": ("project", "project"),
}

Resource = tuple[str, str]  # (scope, name in this stack)


@dataclass(frozen=True)
class Binding:
    role: str
    resource: Resource
    urn: str


def needs(document: dict, services: set[str]) -> dict[str, set[tuple[str, str]]]:
    """account -> {(permission, logical resource)} of the services a stack runs."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for section in ("recorded", "platform"):
        for service, ops in document.get(section, {}).items():
            if service in services:
                out[SERVICE_ACCOUNTS[service]] |= {(o["permission"], o["resource"]) for o in ops}
    return out


def services_of(run: ProgramRun) -> set[str]:
    """Which services this stack deploys (the function or the Dataflow runtime)."""
    names = {r.name for r in run.resources}
    found = {"ingest-http", "ingest-files", "batch"}
    found.add("speed" if "fn-speed" in names else "speed-pipeline")
    batch_env = run.by_name("fn-batch").inputs["serviceConfig"]["environmentVariables"]
    if batch_env.get("SALESPHERE_BATCH_RUNTIME") == "dataflow":
        found.add("batch-pipeline")
    return found


LEGACY_DATASET_ROLES = {legacy: role for role, legacy in DATASET_ROLES.items()}


def member_and_role(type_: str, inputs: dict) -> tuple[str, str]:
    """(member, predefined role) of any grant resource; a dataset ACL entry spells both
    its own way (``userByEmail``/``groupByEmail``, ``READER``/``WRITER``/``OWNER``)."""
    if type_ != "gcp:bigquery/datasetAccess:DatasetAccess":
        return str(inputs.get("member", "")), str(inputs.get("role", ""))
    role = LEGACY_DATASET_ROLES.get(inputs.get("role", ""), inputs.get("role", ""))
    if inputs.get("userByEmail"):
        email = inputs["userByEmail"]
        kind = "serviceAccount" if email.endswith(".gserviceaccount.com") else "user"
        return f"{kind}:{email}", role
    if inputs.get("groupByEmail"):
        return f"group:{inputs['groupByEmail']}", role
    if inputs.get("specialGroup"):
        return str(inputs["specialGroup"]), role
    if inputs.get("iamMember"):
        return str(inputs["iamMember"]), role
    return "", role


def bindings(run: ProgramRun) -> dict[str, list[Binding]]:
    """account id -> its role bindings, each on one resource."""
    out: dict[str, list[Binding]] = defaultdict(list)
    for r in run.resources:
        if r.type not in MEMBER_TYPES:
            continue
        scope, key = MEMBER_TYPES[r.type]
        member, role = member_and_role(r.type, r.inputs)
        if not member:
            continue  # an authorised dataset or view, not a principal
        account = member.split(":", 1)[1].split("@", 1)[0] if ":" in member else member
        out[account].append(Binding(role, (scope, str(r.inputs[key])), r.urn))
    return out


def resolve(logical: str, run: ProgramRun) -> list[Resource]:
    """A logical resource and its parents, innermost first, named as in this stack."""
    project = run.by_name("dataset-master").inputs["project"]
    kind, _, name = logical.partition(":")
    chain: list[Resource]
    if kind == "project":
        chain = []
    elif kind == "bucket":
        chain = [("bucket", run.by_name(f"bucket-{name}").inputs["name"])]
    elif kind == "table":
        chain = [("table", name), ("dataset", name.split(".", 1)[0])]
    elif kind in {"dataset", "topic", "subscription", "secret", "repository"}:
        chain = [(kind, name)]
    elif kind == "sa":
        chain = [
            ("sa", f"projects/{project}/serviceAccounts/{name}@{project}.iam.gserviceaccount.com")
        ]
    else:
        raise ValueError(f"unknown logical resource {logical!r} in {RECORD.name}")
    return [*chain, ("project", project)]


def missing_grants(run: ProgramRun, document: dict = DOCUMENT) -> list[str]:
    """Recorded permissions the stack grants to no binding of the service's own account."""
    granted = bindings(run)
    missing = []
    for account, perms in needs(document, services_of(run)).items():
        for permission, logical in sorted(perms):
            scopes = set(resolve(logical, run))
            if not any(
                b.resource in scopes and permission in roles.permissions(b.role)
                for b in granted[account]
            ):
                missing.append(f"{account}: {permission} on {logical}")
    return missing


def unused_grants(run: ProgramRun, document: dict = DOCUMENT) -> list[str]:
    """Bindings nothing recorded uses, or that a narrower cited role would cover."""
    wanted = needs(document, services_of(run))
    problems = []
    for account in set(SERVICE_ACCOUNTS.values()):
        for binding in bindings(run)[account]:
            used = {
                permission
                for permission, logical in wanted[account]
                if binding.resource in resolve(logical, run)
                and permission in roles.permissions(binding.role)
            }
            where = f"{account}: {binding.role} on {binding.resource[0]} {binding.resource[1]}"
            if not used:
                problems.append(f"{where} is used by nothing recorded")
                continue
            narrower = [
                role
                for role, perms in roles.ROLES.items()
                if perms < roles.permissions(binding.role) and used <= perms
            ]
            if narrower:
                problems.append(f"{where}: {sorted(narrower)[0]} covers {sorted(used)}")
    return problems
