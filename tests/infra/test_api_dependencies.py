"""A fresh project's first `pulumi up`: nothing races the API it calls or the agent it grants.

Checked on the graph the real program declares under mocks, for every stack kind and a
Dataflow stack: each resource waits (itself or through its component) for the APIs of
its type, grants to Pub/Sub's agent wait for the agent, accounts wait for IAM, functions
build as their own account, and `infra targets` lists what a targeted up needs.
"""

from __future__ import annotations

import dataclasses

import pytest

from infra import apis
from infra.mocking import ProgramRun, run_program
from salesphere_tools.infra_graph import account_problems, agent_problems, api_problems, closure

from .conftest import STACKS

DATAFLOW = {
    "salesphere:speed_runtime": "dataflow",
    "salesphere:batch_runtime": "dataflow",
    "salesphere:dataflow_opt_in": True,
}


@pytest.fixture(scope="module")
def dataflow_run() -> ProgramRun:
    return run_program("pr-9", DATAFLOW)


def _all(runs: dict[str, ProgramRun], dataflow_run: ProgramRun) -> list[ProgramRun]:
    return [*(runs[s] for s in STACKS), dataflow_run]


def test_every_resource_waits_for_the_apis_of_its_type(
    runs: dict[str, ProgramRun], dataflow_run: ProgramRun
) -> None:
    for run in _all(runs, dataflow_run):
        assert api_problems(run) == [], run.stack
        types = {r.type for r in run.resources if r.type.startswith("gcp:")}
        assert types <= set(apis.API_FOR_TYPE), types - set(apis.API_FOR_TYPE)


def test_the_check_fails_when_a_resource_no_longer_waits(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    bucket = run.by_name("bucket-archive")
    cut = dataclasses.replace(bucket, dependencies=())
    broken = ProgramRun(run.stack, [cut if r is bucket else r for r in run.resources])
    assert api_problems(broken) == [
        "bucket-archive (Bucket) does not wait for ['storage.googleapis.com']"
    ]
    # A bucket in a layer waits through its component; cutting the component's wait shows.
    ingest = run.by_name("ingest")
    loose = dataclasses.replace(ingest, dependencies=())
    broken = ProgramRun(run.stack, [loose if r is ingest else r for r in run.resources])
    assert any(p.startswith("bucket-landing ") for p in api_problems(broken))


def test_an_unclassified_type_is_reported(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    odd = dataclasses.replace(run.resources[-1], type="gcp:compute/instance:Instance")
    assert api_problems(ProgramRun(run.stack, [*run.resources[:-1], odd])) == [
        f"{odd.name}: type gcp:compute/instance:Instance is not in infra/apis.py API_FOR_TYPE"
    ]


def test_the_program_never_enables_the_bootstrap_apis(runs: dict[str, ProgramRun]) -> None:
    enabled = {r.inputs["service"] for r in runs["dev"].of_type("gcp:projects/service:Service")}
    assert apis.RESOURCE_MANAGER not in enabled and apis.SERVICE_USAGE not in enabled


def test_pubsub_agent_is_created_before_anything_is_granted_to_it(
    runs: dict[str, ProgramRun], dataflow_run: ProgramRun
) -> None:
    for run in _all(runs, dataflow_run):
        assert agent_problems(run) == [], run.stack
        (identity,) = run.of_type("gcp:projects/serviceIdentity:ServiceIdentity")
        assert identity.inputs["service"] == "pubsub.googleapis.com"
        to_agent = [r for r in run.resources if "gcp-sa-pubsub" in str(r.inputs.get("member"))]
        # dead letters (2 topics + 3 subscriptions) and the push token signer; the archive
        # is written by the batch run, so the agent holds nothing on the archive bucket
        assert len(to_agent) == 6
        assert all(identity.urn in r.dependencies for r in to_agent)


def test_a_grant_to_an_agent_not_yet_created_is_reported(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    grant = run.by_name("pubsub-agent-signs-push-tokens")
    loose = dataclasses.replace(
        grant, dependencies=tuple(d for d in grant.dependencies if "ServiceIdentity" not in d)
    )
    broken = ProgramRun(run.stack, [loose if r is grant else r for r in run.resources])
    assert agent_problems(broken) == [
        "pubsub-agent-signs-push-tokens grants roles/iam.serviceAccountTokenCreator to the "
        "gcp-sa-pubsub agent before gcp.projects.ServiceIdentity creates it"
    ]


def test_service_accounts_wait_for_iam(
    runs: dict[str, ProgramRun], dataflow_run: ProgramRun
) -> None:
    for run in _all(runs, dataflow_run):
        assert account_problems(run) == []


def test_functions_build_as_their_own_account_with_the_roles_cloud_build_needs(
    runs: dict[str, ProgramRun],
) -> None:
    run = runs["prod"]
    email = "functions-build@salesphere-prod.iam.gserviceaccount.com"
    for fn in run.of_type("gcp:cloudfunctionsv2/function:Function"):
        build = fn.inputs["buildConfig"]
        assert build["serviceAccount"] == f"projects/salesphere-prod/serviceAccounts/{email}"
        assert build["dockerRepository"].endswith("/repositories/functions")
    grants = {
        (r.inputs["role"], r.type.split(":")[-1])
        for r in run.resources
        if r.inputs.get("member") == f"serviceAccount:{email}"
    }
    assert grants == {
        ("roles/logging.logWriter", "IAMMember"),
        ("roles/storage.objectViewer", "IAMMember"),
        ("roles/artifactregistry.writer", "RepositoryIamMember"),
    }
    # each function is built only after its build account holds those roles
    build_grants = {
        r.urn for r in run.resources if r.inputs.get("member") == f"serviceAccount:{email}"
    }
    for fn in run.of_type("gcp:cloudfunctionsv2/function:Function"):
        assert build_grants <= set(fn.dependencies), fn.name


def test_function_images_have_a_cleanup_policy(runs: dict[str, ProgramRun]) -> None:
    (repo,) = runs["pr-7"].of_type("gcp:artifactregistry/repository:Repository")
    policies = {p["id"]: p for p in repo.inputs["cleanupPolicies"]}
    assert policies["keep-recent"]["mostRecentVersions"]["keepCount"] == 1
    assert policies["delete-older"]["action"] == "DELETE"
    assert repo.inputs["cleanupPolicyDryRun"] is False


def test_targets_closure_holds_every_dependency_and_parent(runs: dict[str, ProgramRun]) -> None:
    run = runs["pr-7"]
    listed = closure(run, ["secret-hmac-keys"])
    urns = {r.urn for r in listed}
    for r in listed:
        assert set(r.dependencies) <= urns, r.name
        assert not r.parent or r.parent in urns or r.parent.endswith("::salesphere-pr-7")
    names = {r.name for r in listed}
    assert {"secret-hmac-keys", "ingest", "foundation", "api-secretmanager"} <= names
    # nothing the secret does not need: no function, no other layer
    assert not names & {"fn-ingest-http", "stream", "batch", "serving"}


def test_dataflow_job_accounts_may_pull_the_template_images(dataflow_run: ProgramRun) -> None:
    (repo,) = [
        r
        for r in dataflow_run.of_type("gcp:artifactregistry/repository:Repository")
        if r.inputs["repositoryId"] == "templates"
    ]
    readers = {
        r.inputs["member"].split(":")[1].split("@")[0]
        for r in dataflow_run.of_type(
            "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
        )
        if r.inputs["role"] == "roles/artifactregistry.reader"
        and r.inputs["repository"] == repo.inputs["repositoryId"]
    }
    assert readers == {"speed-fn", "batch-fn"}


def test_free_tier_stacks_have_no_template_repository(runs: dict[str, ProgramRun]) -> None:
    repos = {
        r.inputs["repositoryId"]
        for r in runs["prod"].of_type("gcp:artifactregistry/repository:Repository")
    }
    assert repos == {"functions"}
