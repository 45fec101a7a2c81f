"""`salesphere infra preview` and `targets`: the real program, offline."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from salesphere_tools.cli.main import app


def test_preview_json_pr_stack_without_yaml() -> None:
    result = CliRunner().invoke(app, ["infra", "preview", "--stack", "pr-7", "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    types = [r["type"] for r in body["resources"]]
    assert body["resource_count"] == len(types)
    assert "gcp:cloudscheduler/job:Job" not in types
    assert {r["layer"] for r in body["resources"]} == {
        "foundation",
        "ingest",
        "speed",
        "batch",
        "serving",
    }
    assert not any(r["protect"] for r in body["resources"])
    tables = [r for r in body["resources"] if r["type"] == "gcp:bigquery/table:Table"]
    assert all(t["key_inputs"]["deletionProtection"] == "False" for t in tables)
    assert body["violations"] == []


def test_preview_tree_prod_lists_all_layers() -> None:
    result = CliRunner().invoke(app, ["infra", "preview", "--stack", "prod"])
    assert result.exit_code == 0, result.output
    for layer in ("foundation", "ingest", "speed", "batch", "serving"):
        assert layer in result.output
    assert "protect" in result.output and "all policies pass" in result.output


def test_preview_fails_on_mandatory_violation() -> None:
    result = CliRunner().invoke(
        app,
        [
            "infra",
            "preview",
            "--stack",
            "pr-7",
            "--set",
            "salesphere:speed_runtime=dataflow",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert [v["policy"] for v in body["violations"]] == ["dataflow-opt-in"]


def test_targets_lists_only_the_layer() -> None:
    result = CliRunner().invoke(
        app, ["infra", "targets", "--stack", "dev", "--layer", "ingest", "--exact"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.split()
    assert lines and all(line.startswith("--target=urn:pulumi:dev::salesphere::") for line in lines)
    assert all("salesphere:infra:Ingest" in line for line in lines)
    assert any(line.endswith("::fn-ingest-http") for line in lines)
