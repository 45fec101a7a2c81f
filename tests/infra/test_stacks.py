"""Per-stack differences: ephemeral pr-<n> stacks tear down cleanly, prod data is protected."""

from __future__ import annotations

import pytest

from infra.mocking import ProgramRun, run_program
from infra.settings import (
    DEFAULT_EPHEMERAL_PROJECT,
    SettingsError,
    settings_for_stack,
    settings_from,
)

DATA_TYPES = {
    "gcp:storage/bucket:Bucket",
    "gcp:bigquery/dataset:Dataset",
}
TABLE = "gcp:bigquery/table:Table"
SCHEDULER = "gcp:cloudscheduler/job:Job"


def _is_view(r) -> bool:  # type: ignore[no-untyped-def]
    return bool(r.inputs.get("view"))


def test_pr_stack_needs_no_yaml_and_tears_down_cleanly(runs: dict[str, ProgramRun]) -> None:
    run = runs["pr-7"]
    assert run.by_name("dataset-master").inputs["project"] == DEFAULT_EPHEMERAL_PROJECT
    assert not run.of_type(SCHEDULER)
    assert all(b.inputs["forceDestroy"] is True for b in run.of_type("gcp:storage/bucket:Bucket"))
    assert all(t.inputs["deletionProtection"] is False for t in run.of_type(TABLE))
    for ds in run.of_type("gcp:bigquery/dataset:Dataset"):
        assert ds.inputs["deleteContentsOnDestroy"] is True
        assert ds.inputs["defaultTableExpirationMs"] == 3 * 24 * 3600 * 1000
    assert not any(r.protect for r in run.resources)
    assert run.by_name("secret-hmac-keys").inputs["deletionProtection"] is False


def test_prod_protects_data_but_not_code(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    protected = {r.name for r in run.resources if r.protect}
    data = {
        r.name
        for r in run.resources
        if r.type in DATA_TYPES or (r.type == TABLE and not _is_view(r))
    }
    assert data and data <= protected
    assert not any(r.protect for r in run.resources if r.type.startswith("gcp:cloudfunctionsv2"))
    assert all(
        t.inputs["deletionProtection"] is True for t in run.of_type(TABLE) if not _is_view(t)
    )
    assert all(b.inputs["forceDestroy"] is False for b in run.of_type("gcp:storage/bucket:Bucket"))
    for ds in run.of_type("gcp:bigquery/dataset:Dataset"):
        assert "defaultTableExpirationMs" not in ds.inputs


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_long_lived_non_prod_stacks_are_not_protected(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    assert not any(r.protect for r in runs[stack].resources)
    assert all(
        t.inputs["deletionProtection"] for t in runs[stack].of_type(TABLE) if not _is_view(t)
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_long_lived_stacks_schedule_the_batch_with_oidc(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    (job,) = run.of_type(SCHEDULER)
    target = job.inputs["httpTarget"]
    assert target["uri"].startswith("https://batch-")
    assert target["oidcToken"]["audience"] == target["uri"]
    assert target["oidcToken"]["serviceAccountEmail"].startswith("batch-scheduler@")


def test_pr_stack_can_ask_for_a_scheduler_job() -> None:
    run = run_program("pr-8", {"salesphere:scheduler_enabled": True})
    assert len(run.of_type(SCHEDULER)) == 1


def test_scheduler_job_depends_on_its_invoker_grant(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    assert run.by_name("scheduler-invokes-batch").urn in run.by_name("scheduler-batch").dependencies


def test_stack_settings_are_typed_and_validated() -> None:
    prod = settings_for_stack("prod")
    assert prod.protect and prod.deletion_protection and not prod.force_destroy
    assert prod.function_max_instances == 10 and prod.project == "salesphere-prod"
    pr = settings_from("pr-12", {}, environ={})
    assert pr.ephemeral and pr.table_expiration_days == 3 and not pr.scheduler_enabled
    with pytest.raises(SettingsError, match="pr-<number>"):
        settings_from("feature-x", {}, environ={})
    with pytest.raises(SettingsError, match="gcp:project"):
        settings_from("dev", {}, environ={})
    with pytest.raises(SettingsError, match="unknown setting"):
        settings_from("pr-1", {"schedular_enabled": "true"}, environ={})
    with pytest.raises(SettingsError, match="true or false"):
        settings_from("pr-1", {"protect": "yes"}, environ={})
    with pytest.raises(SettingsError, match="function, dataflow"):
        settings_from("pr-1", {"speed_runtime": "flink"}, environ={})
    with pytest.raises(SettingsError, match=r"1\.\.7"):
        settings_from("pr-1", {"message_retention_days": "30"}, environ={})


def test_labels_on_every_labelable_resource(runs: dict[str, ProgramRun]) -> None:
    from infra.guardrails import LABELED_TYPES

    for stack, run in runs.items():
        labeled = [r for r in run.resources if r.type in LABELED_TYPES]
        assert len(labeled) > 30
        for r in labeled:
            labels = r.inputs["labels"]
            assert labels["env"] == stack and labels["managed-by"] == "pulumi"
            assert labels["layer"] == r.layer, r.name
