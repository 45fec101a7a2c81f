"""IAM is sufficient and least, measured against what the services actually do.

``iam_recorded.json`` lists every permission each service used in the twin and fault
suites (recorded at the client transports, ``salesphere_tools/local/iamhook.py``; a
session that sees one not listed fails, ``tests/conftest.py``) plus the few the platform
uses on a service's behalf. Here the real Pulumi program runs under mocks for each kind
of stack, every binding is expanded through ``infra/roles.py``, and:

* **sufficient**: each permission is granted to the service's own account on the
  resource it is checked on, or on a parent (table -> dataset -> project);
* **least**: each binding to a service account is needed by some recorded permission,
  and no narrower role from the table would cover what it is needed for.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import roles
from infra.mocking import ProgramRun, run_program

RECORD = Path(__file__).with_name("iam_recorded.json")
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
    "gcp:bigquery/datasetIamMember:DatasetIamMember": ("dataset", "datasetId"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secret", "secretId"),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("run", "name"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("sa", "serviceAccountId"),
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
    if "dataflow-batch" in names:
        found.add("batch-pipeline")
    return found


def bindings(run: ProgramRun) -> dict[str, list[Binding]]:
    """account id -> its role bindings, each on one resource."""
    out: dict[str, list[Binding]] = defaultdict(list)
    for r in run.resources:
        if r.type not in MEMBER_TYPES:
            continue
        scope, key = MEMBER_TYPES[r.type]
        member = r.inputs["member"]
        account = member.split(":", 1)[1].split("@", 1)[0] if ":" in member else member
        out[account].append(Binding(r.inputs["role"], (scope, str(r.inputs[key])), r.urn))
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
    elif kind in {"dataset", "topic", "subscription", "secret"}:
        chain = [(kind, name)]
    else:
        raise ValueError(f"unknown logical resource {logical!r} in {RECORD.name}")
    return [*chain, ("project", project)]


@pytest.fixture(scope="module")
def stacks() -> dict[str, ProgramRun]:
    return {kind: run_program(stack, overrides) for kind, (stack, overrides) in STACK_KINDS.items()}


@pytest.mark.parametrize("kind", STACK_KINDS)
def test_every_recorded_permission_is_granted_to_the_services_own_account(
    stacks: dict[str, ProgramRun], kind: str
) -> None:
    run = stacks[kind]
    granted = bindings(run)
    missing = []
    for account, perms in needs(DOCUMENT, services_of(run)).items():
        for permission, logical in sorted(perms):
            scopes = set(resolve(logical, run))
            if not any(
                b.resource in scopes and permission in roles.permissions(b.role)
                for b in granted[account]
            ):
                missing.append(f"{account}: {permission} on {logical}")
    assert missing == [], "granted nowhere (add a grant in infra/):\n" + "\n".join(missing)


@pytest.mark.parametrize("kind", STACK_KINDS)
def test_no_service_account_holds_a_binding_it_never_uses(
    stacks: dict[str, ProgramRun], kind: str
) -> None:
    run = stacks[kind]
    wanted = needs(DOCUMENT, services_of(run))
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
    assert problems == [], "\n".join(problems)


def test_every_granted_role_is_in_the_cited_table(stacks: dict[str, ProgramRun]) -> None:
    for run in stacks.values():
        for binding_list in bindings(run).values():
            for binding in binding_list:
                assert roles.permissions(binding.role)  # raises for an unlisted role


def test_the_record_covers_every_service_and_names_known_resources(
    stacks: dict[str, ProgramRun],
) -> None:
    recorded = DOCUMENT["recorded"]
    assert {"ingest-http", "ingest-files", "speed", "batch"} <= set(recorded)
    for section in ("recorded", "platform"):
        for service, ops in DOCUMENT[section].items():
            assert service in SERVICE_ACCOUNTS, service
            for op in ops:
                resolve(op["resource"], stacks["dev"])  # raises for an unknown kind
                assert "." in op["permission"], op


def test_least_check_refuses_an_unused_and_an_oversized_grant(
    stacks: dict[str, ProgramRun],
) -> None:
    """The least test can fail: an admin role where a viewer would do is caught."""
    run = stacks["dev"]
    wanted = needs(DOCUMENT, services_of(run))
    archive = ("bucket", run.by_name("bucket-archive").inputs["name"])
    used = {
        p
        for p, logical in wanted["batch-fn"]
        if archive in resolve(logical, run) and p in roles.permissions("roles/storage.objectAdmin")
    }
    assert used and used <= roles.permissions("roles/storage.objectViewer")
    assert roles.permissions("roles/storage.objectViewer") < roles.permissions(
        "roles/storage.objectAdmin"
    )
