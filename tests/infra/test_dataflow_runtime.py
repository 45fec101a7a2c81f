"""The batch runtime setting reaches the batch function, and Dataflow costs need an opt-in."""

from __future__ import annotations

import pytest

from infra.mocking import run_program
from infra.settings import SettingsError, settings_from


def _env(run) -> dict[str, str]:
    fn = run.by_name("fn-batch").inputs
    return fn["serviceConfig"]["environmentVariables"]


def test_batch_on_dataflow_is_launched_by_the_function_not_a_standing_job() -> None:
    run = run_program(
        "pr-5", {"salesphere:batch_runtime": "dataflow", "salesphere:dataflow_opt_in": True}
    )
    env = _env(run)
    assert env["SALESPHERE_BATCH_RUNTIME"] == "dataflow"
    assert env["SALESPHERE_BATCH_TEMPLATE"].endswith("-artifacts/templates/batch.json")
    assert env["SALESPHERE_BATCH_TEMPLATE"].startswith("gs://")
    assert "@" in env["SALESPHERE_DATAFLOW_SERVICE_ACCOUNT"]
    # The forecast's job is submitted by the function; its workers install the wheel.
    assert env["SALESPHERE_WORKER_PACKAGE"].startswith("gs://")
    assert env["SALESPHERE_WORKER_PACKAGE"].endswith(
        "-artifacts/templates/salesphere_worker-0.1.0-py3-none-any.whl"
    )
    # A Pulumi-managed batch job would run once per deploy, with no plan and no commit.
    assert not run.of_type("gcp:dataflow/flexTemplateJob:FlexTemplateJob")


def test_batch_on_functions_says_so_and_carries_no_launch_settings() -> None:
    env = _env(run_program("pr-5", {}))
    assert env["SALESPHERE_BATCH_RUNTIME"] == "function"
    assert "SALESPHERE_BATCH_TEMPLATE" not in env
    assert "SALESPHERE_WORKER_PACKAGE" not in env


def test_batch_on_dataflow_without_the_cost_opt_in_is_refused() -> None:
    with pytest.raises(SettingsError, match="dataflow_opt_in=true"):
        settings_from("pr-5", {"batch_runtime": "dataflow"})
    assert settings_from("pr-5", {"batch_runtime": "dataflow", "dataflow_opt_in": True})


def test_the_streaming_job_waits_for_every_grant_its_account_needs() -> None:
    """Launched before its grants, the job cannot pull its image or its subscription."""
    run = run_program(
        "pr-5", {"salesphere:speed_runtime": "dataflow", "salesphere:dataflow_opt_in": True}
    )
    job = run.by_name("dataflow-stream")
    email = run.by_name("sa-speed-fn").outputs["email"]
    grants = {
        r.name: r.urn
        for r in run.resources
        if r.inputs.get("member") == f"serviceAccount:{email}" and r.name.startswith("speed-")
    }
    assert {"speed-pulls-template-image", "speed-is-dataflow-worker", "speed-pulls-events"} <= set(
        grants
    )
    missing = sorted(name for name, urn in grants.items() if urn not in job.dependencies)
    assert not missing, f"dataflow-stream does not wait for {missing}"
