"""Analysts query every serving view and no table beneath it (the program's IAM graph)."""

from __future__ import annotations

import dataclasses

import pytest

from infra.mocking import ProgramRun, run_program
from infra.settings import SettingsError, settings_for_stack
from salesphere_tools.infra_graph import analyst_problems

GROUP = "group:analysts@salesphere.example"


@pytest.fixture(scope="module")
def with_group() -> ProgramRun:
    return run_program("prod", {"salesphere:analyst_group": GROUP})


def test_an_analyst_reads_every_view_and_no_table(with_group: ProgramRun) -> None:
    problems, views, tables = analyst_problems(with_group, GROUP)
    assert problems == []
    declared = with_group.of_type("gcp:bigquery/table:Table")
    assert views == sum(1 for t in declared if t.inputs.get("view")) > 0
    assert tables == len(declared) - views > 0


def test_the_group_gets_two_grants_only(with_group: ProgramRun) -> None:
    from salesphere_tools.iam_check import member_and_role

    grants = {
        (member_and_role(r.type, r.inputs)[1], r.inputs.get("datasetId") or r.inputs["project"])
        for r in with_group.resources
        if member_and_role(r.type, r.inputs)[0] == GROUP
    }
    assert grants == {
        ("roles/bigquery.dataViewer", "serving"),
        ("roles/bigquery.jobUser", "salesphere-prod"),
    }


def test_without_authorisation_the_views_fail_for_analysts(with_group: ProgramRun) -> None:
    kept = [r for r in with_group.resources if r.name != "serving-reads-master"]
    problems, _, _ = analyst_problems(ProgramRun("prod", kept), GROUP)
    assert problems and all("master" in p and "does not authorise" in p for p in problems)


def test_a_grant_beneath_serving_is_caught(with_group: ProgramRun) -> None:
    grant = with_group.by_name("analysts-read-serving")
    leak = dataclasses.replace(
        grant, name="leak", urn=grant.urn + "-leak", inputs={**grant.inputs, "datasetId": "batch"}
    )
    problems, _, _ = analyst_problems(ProgramRun("prod", [*with_group.resources, leak]), GROUP)
    assert problems and all(p.startswith(f"{GROUP} can read batch.") for p in problems)


def test_no_group_no_grants_but_views_stay_authorised(runs: dict[str, ProgramRun]) -> None:
    problems, _, _ = analyst_problems(runs["dev"], GROUP)
    assert f"{GROUP} cannot run query jobs in the project" in problems
    assert not any("does not authorise" in p for p in problems)


def test_dataset_grants_are_acl_entries_so_authorisations_survive(
    with_group: ProgramRun,
) -> None:
    """Dataset IAM members would rewrite the policy and drop authorised datasets."""
    assert not with_group.of_type("gcp:bigquery/datasetIamMember:DatasetIamMember")
    assert not with_group.of_type("gcp:bigquery/datasetIamBinding:DatasetIamBinding")


@pytest.mark.parametrize("value", ["analysts@x.com", "user:someone@x.com", "group:nobody"])
def test_the_setting_must_be_a_group(value: str) -> None:
    with pytest.raises(SettingsError, match="analyst_group"):
        settings_for_stack("dev", {"salesphere:analyst_group": value})
