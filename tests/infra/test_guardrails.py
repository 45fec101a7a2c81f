"""Free-tier guardrails fail stacks whose config would leave the free tier."""

from __future__ import annotations

from infra.guardrails import Resource, evaluate
from infra.mocking import ProgramRun, run_program
from tests import REPO_ROOT

from .conftest import policy_view


def _mandatory(run: ProgramRun) -> list[tuple[str, str]]:
    return [
        (v.policy, v.urn.rsplit("::", 1)[1])
        for v in evaluate(policy_view(run))
        if v.enforcement == "mandatory"
    ]


def test_every_configured_stack_passes(runs: dict[str, ProgramRun]) -> None:
    for run in runs.values():
        assert evaluate(policy_view(run)) == []


def test_dataflow_without_opt_in_fails_and_with_opt_in_passes() -> None:
    without = run_program("pr-3", {"salesphere:speed_runtime": "dataflow"})
    assert _mandatory(without) == [("dataflow-opt-in", "dataflow-stream")]
    assert without.of_type("gcp:cloudfunctionsv2/function:Function")  # ingest/batch remain
    assert "fn-speed" not in {r.name for r in without.resources}
    sub = without.by_name("sub-events-speed").inputs
    assert "pushConfig" not in sub and "deadLetterPolicy" in sub  # pull for Dataflow
    with_opt_in = run_program(
        "pr-3", {"salesphere:speed_runtime": "dataflow", "salesphere:dataflow_opt_in": True}
    )
    assert _mandatory(with_opt_in) == []
    assert "dataflow.googleapis.com" in {
        r.inputs["service"] for r in with_opt_in.of_type("gcp:projects/service:Service")
    }


def test_non_free_storage_region_fails() -> None:
    run = run_program("pr-4", {"gcp:region": "europe-west1"})
    failures = _mandatory(run)
    assert {p for p, _ in failures} == {"free-tier-storage-region"}
    assert len(failures) == 4  # every bucket


def test_more_than_three_scheduler_jobs_fail(runs: dict[str, ProgramRun]) -> None:
    graph = policy_view(runs["dev"])
    job = next(r for r in graph if r.type == "gcp:cloudscheduler/job:Job")
    extra = [Resource(f"{job.urn}-{i}", job.type, f"{job.name}-{i}", job.props) for i in range(3)]
    assert [v.policy for v in evaluate(graph + extra[:2])] == []  # 3 jobs: still free
    assert [v.policy for v in evaluate(graph + extra)] == ["free-tier-scheduler-jobs"]


def test_unbounded_retention_fails(runs: dict[str, ProgramRun]) -> None:
    graph = policy_view(runs["dev"])
    sub = next(r for r in graph if r.type == "gcp:pubsub/subscription:Subscription")
    bucket = next(r for r in graph if r.type == "gcp:storage/bucket:Bucket")
    no_retention = {k: v for k, v in sub.props.items() if k != "messageRetentionDuration"}
    bad = [
        Resource("urn:a", sub.type, "a", no_retention),
        Resource("urn:b", sub.type, "b", {**sub.props, "retainAckedMessages": True}),
        Resource("urn:c", bucket.type, "c", {**bucket.props, "lifecycleRules": []}),
        Resource(
            "urn:d",
            "gcp:pubsub/topic:Topic",
            "d",
            {"messageRetentionDuration": f"{40 * 86400}s", "labels": sub.props["labels"]},
        ),
    ]
    found = [(v.policy, v.urn) for v in evaluate(bad)]
    assert found == [("bounded-retention", u) for u in ("urn:a", "urn:b", "urn:c", "urn:d")]


def test_public_bucket_settings_fail(runs: dict[str, ProgramRun]) -> None:
    bucket = next(r for r in policy_view(runs["dev"]) if r.type == "gcp:storage/bucket:Bucket")
    open_bucket = Resource(
        "urn:o", bucket.type, "o", {**bucket.props, "publicAccessPrevention": "inherited"}
    )
    assert [v.policy for v in evaluate([open_bucket])] == ["no-public-members"]


def test_missing_labels_are_advisory(runs: dict[str, ProgramRun]) -> None:
    topic = next(r for r in policy_view(runs["dev"]) if r.type == "gcp:pubsub/topic:Topic")
    bare = Resource("urn:t", topic.type, "t", {"name": "t"})
    (violation,) = evaluate([bare])
    assert (violation.policy, violation.enforcement) == ("labels-everywhere", "advisory")


def test_policy_pack_wraps_the_same_functions() -> None:

    import yaml

    from infra.guardrails import POLICIES

    pack = REPO_ROOT / "infra" / "policy"
    assert yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"]["name"] == "python"
    source = (pack / "__main__.py").read_text()
    assert "from infra.guardrails import" in source and "POLICIES" in source
    assert len({p.name for p in POLICIES}) == len(POLICIES) == 8


def _invoker(run: ProgramRun, function: str) -> Resource:
    return next(
        r
        for r in policy_view(run)
        if r.type == "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
        and r.props["name"] == function
    )


def test_only_ingest_http_may_be_invoked_by_all_users(runs: dict[str, ProgramRun]) -> None:
    """The HMAC path needs exactly one public binding; any other one is refused."""
    from infra import functions
    from infra.guardrails import PUBLIC_FUNCTION

    assert functions.INGEST_HTTP.name == PUBLIC_FUNCTION
    public = _invoker(runs["prod"], "ingest-http")
    assert public.props["member"] == "allUsers"
    assert evaluate([public]) == []
    speed = _invoker(runs["prod"], "speed")
    bad = [
        Resource("urn:speed-public", speed.type, "x", {**speed.props, "member": "allUsers"}),
        Resource(
            "urn:any-google", public.type, "y", {**public.props, "member": "allAuthenticatedUsers"}
        ),
        Resource("urn:admin", public.type, "z", {**public.props, "role": "roles/run.admin"}),
    ]
    assert [(v.policy, v.urn) for v in evaluate(bad)] == [
        ("no-public-members", "urn:admin"),
        ("no-public-members", "urn:any-google"),
        ("no-public-members", "urn:speed-public"),
    ]


def test_every_function_but_ingest_http_is_internal_only(runs: dict[str, ProgramRun]) -> None:
    graph = policy_view(runs["dev"])
    fns = {r.props["name"]: r for r in graph if r.type == "gcp:cloudfunctionsv2/function:Function"}
    assert fns["ingest-http"].props["serviceConfig"]["ingressSettings"] == "ALLOW_ALL"
    for name in ("ingest-files", "speed", "batch"):
        assert fns[name].props["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    opened = Resource(
        "urn:open-batch",
        fns["batch"].type,
        "fn-batch",
        {
            **fns["batch"].props,
            "serviceConfig": {
                **fns["batch"].props["serviceConfig"],
                "ingressSettings": "ALLOW_ALL",
            },
        },
    )
    assert [(v.policy, v.urn) for v in evaluate([opened])] == [
        ("private-functions", "urn:open-batch")
    ]
