"""Least privilege: each service account gets exactly its grants, on specific resources."""

from __future__ import annotations

from collections import defaultdict

import pytest

from infra.guardrails import Resource, evaluate
from infra.mocking import ProgramRun, run_program
from salesphere_tools.iam_check import member_and_role

from .conftest import STACKS, policy_view

SCOPE_KEYS = (
    "topic",
    "subscription",
    "bucket",
    "datasetId",
    "secretId",
    "serviceAccountId",
    "repository",
    "name",
    "project",
)

# service account -> {(role, target)}; targets are resource names as the program passes them
EXPECTED = {
    "ingest-fn": {
        ("roles/pubsub.publisher", "events"),
        ("roles/pubsub.publisher", "quarantine"),
        ("roles/storage.objectUser", "{p}-{e}-landing"),
        ("roles/storage.objectUser", "{p}-{e}-quarantine"),
        ("roles/secretmanager.secretAccessor", "ingest-hmac-keys"),
        ("roles/bigquery.dataEditor", "ops"),
        ("roles/bigquery.dataViewer", "reference"),
        ("roles/bigquery.jobUser", "{p}"),
    },
    "speed-fn": {
        ("roles/bigquery.dataEditor", "speed"),
        ("roles/bigquery.dataViewer", "reference"),
        ("roles/pubsub.publisher", "alerts"),
        ("roles/bigquery.jobUser", "{p}"),
    },
    "batch-fn": {
        ("roles/storage.objectViewer", "{p}-{e}-archive"),
        # the run drains events-archive into the archive (salesphere/batch/archive.py)
        ("roles/storage.objectCreator", "{p}-{e}-archive"),
        ("roles/pubsub.subscriber", "events-archive"),
        ("roles/storage.objectUser", "{p}-{e}-artifacts"),
        ("roles/bigquery.dataEditor", "master"),
        ("roles/bigquery.dataEditor", "batch"),
        ("roles/bigquery.dataEditor", "ops"),
        # each store's clock for the local-day views and the forecast's stock replay
        ("roles/bigquery.dataViewer", "reference"),
        ("roles/bigquery.jobUser", "{p}"),
    },
    "pubsub-push": {("roles/run.invoker", "speed"), ("roles/run.invoker", "ingest-files")},
    "batch-scheduler": {("roles/run.invoker", "batch")},
    "functions-build": {
        ("roles/logging.logWriter", "{p}"),
        ("roles/storage.objectViewer", "{p}"),
        ("roles/artifactregistry.writer", "functions"),
    },
    # The one public binding: ingest-http authenticates every request in code.
    "allUsers": {("roles/run.invoker", "ingest-http")},
}


def _grants(run: ProgramRun) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in run.resources:
        member, role = member_and_role(r.type, r.inputs)
        if not member or not role:
            continue
        target = next(r.inputs[k] for k in SCOPE_KEYS if k in r.inputs)
        account = member.split(":", 1)[-1].split("@", 1)[0]
        found[account].add((role, target))
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_service_account_has_exactly_its_grants(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    project = run.by_name("dataset-master").inputs["project"]
    grants = _grants(run)
    for account, expected in EXPECTED.items():
        want = {(role, t.format(p=project, e=stack)) for role, t in expected}
        assert grants[account] == want, account


def test_pr_stack_has_no_scheduler_identity(runs: dict[str, ProgramRun]) -> None:
    assert "batch-scheduler" not in _grants(runs["pr-7"])
    accounts = {
        r.inputs["accountId"] for r in runs["pr-7"].of_type("gcp:serviceaccount/account:Account")
    }
    assert accounts == {"ingest-fn", "speed-fn", "batch-fn", "pubsub-push", "functions-build"}


@pytest.mark.parametrize("stack", STACKS)
def test_project_level_grants_are_only_job_runner_roles(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    roles = {
        (r.inputs["role"], r.inputs["member"].split("@")[0])
        for r in runs[stack].of_type("gcp:projects/iAMMember:IAMMember")
    }
    services = {"serviceAccount:ingest-fn", "serviceAccount:speed-fn", "serviceAccount:batch-fn"}
    assert {role for role, member in roles if member in services} == {"roles/bigquery.jobUser"}
    # Cloud Build's account: logs (project-only role) and sources in Google's own bucket,
    # which exists only after the first deploy (infra/foundation.py).
    assert {role for role, member in roles if member not in services} == {
        "roles/logging.logWriter",
        "roles/storage.objectViewer",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_no_public_member_and_no_primitive_role(runs: dict[str, ProgramRun], stack: str) -> None:
    public = [
        (r.type, r.inputs.get("name"), r.inputs["role"])
        for r in runs[stack].resources
        if r.inputs.get("member") in {"allUsers", "allAuthenticatedUsers"}
    ]
    assert public == [
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "ingest-http", "roles/run.invoker")
    ]
    for r in runs[stack].resources:
        assert r.inputs.get("role") not in {"roles/owner", "roles/editor", "roles/viewer"}
    assert [v for v in evaluate(policy_view(runs[stack])) if v.enforcement == "mandatory"] == []


def test_public_ingest_invokers_are_refused_by_the_program() -> None:
    """ingest_invokers are OIDC callers checked in code: a public member makes no sense."""
    with pytest.raises(Exception, match="public members are refused"):
        run_program("dev", {"salesphere:ingest_invokers": ["allUsers"]})


def test_ingest_invokers_become_the_functions_oidc_allowlist() -> None:
    member = "serviceAccount:pos-gateway@salesphere-dev.iam.gserviceaccount.com"
    run = run_program("dev", {"salesphere:ingest_invokers": [member]})
    env = run.by_name("fn-ingest-http").inputs["serviceConfig"]["environmentVariables"]
    assert env["SALESPHERE_INGEST_OIDC_CALLERS"] == member.split(":", 1)[1]
    invokers = [
        r.inputs["member"]
        for r in run.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
        if r.inputs["name"] == "ingest-http"
    ]
    assert invokers == ["allUsers"]


@pytest.mark.parametrize("stack", STACKS)
def test_both_ingest_functions_always_mount_the_hmac_secret(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    for fn in ("fn-ingest-http", "fn-ingest-files"):
        config = runs[stack].by_name(fn).inputs["serviceConfig"]
        (mounted,) = config["secretEnvironmentVariables"]
        assert (mounted["key"], mounted["secret"], mounted["version"]) == (
            "SALESPHERE_HMAC_KEYS",
            "ingest-hmac-keys",
            "latest",
        )
    accessors = {
        r.inputs["member"]
        for r in runs[stack].of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    }
    assert accessors == {
        f"serviceAccount:ingest-fn@{runs[stack].by_name('dataset-master').inputs['project']}.iam.gserviceaccount.com"
    }


def test_policy_fails_when_a_primitive_role_is_injected(runs: dict[str, ProgramRun]) -> None:
    graph = policy_view(runs["prod"])
    graph.append(
        Resource(
            "urn:pulumi:prod::salesphere::gcp:projects/iAMMember:IAMMember::oops",
            "gcp:projects/iAMMember:IAMMember",
            "oops",
            {
                "project": "salesphere-prod",
                "role": "roles/editor",
                "member": "serviceAccount:batch-fn@salesphere-prod.iam.gserviceaccount.com",
            },
        )
    )
    violations = evaluate(graph)
    assert [(v.policy, v.urn.rsplit("::", 1)[1]) for v in violations] == [
        ("no-primitive-roles", "oops")
    ]


def test_policy_fails_on_public_member_in_a_policy_document() -> None:
    doc = Resource(
        "urn:x::y",
        "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
        "pol",
        {
            "policyData": '{"bindings":[{"role":"roles/storage.objectViewer",'
            '"members":["allUsers"]}]}'
        },
    )
    assert [v.policy for v in evaluate([doc])] == ["no-public-members"]


def test_project_grant_of_a_resource_role_is_refused_in_code() -> None:
    from infra.iam import Grants

    grants = Grants("p", "us-central1", parent=None)  # type: ignore[arg-type]  # refused first
    with pytest.raises(ValueError, match="specific resource"):
        grants.grant("x", "project", "p", "roles/bigquery.dataEditor", "user:a@b.c")
