"""Offline lint of the delivery workflows.

The issue names actionlint, which cannot be installed here (its PyPI package downloads a
binary at install time). What runs offline instead (FIELD_NOTES): the GitHub workflow
JSON schema bundled with check-jsonschema, and zizmor's offline security audits
(unpinned actions, credential persistence, template injection, excessive permissions).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is missing: run `make setup` (it is pinned in requirements.lock)"
    return found


def test_the_delivery_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "pr-stack.yml", "promote.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(workflow: Path) -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_audit_is_clean() -> None:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _uses(workflow: Path) -> list[str]:
    body = yaml.safe_load(workflow.read_text())
    found = []
    for job in body["jobs"].values():
        if "uses" in job:
            found.append(job["uses"])
        found += [step["uses"] for step in job.get("steps", []) if "uses" in step]
    return found


def test_third_party_actions_pinned_by_sha_and_no_keys() -> None:
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "credentials_json" not in text and "GOOGLE_APPLICATION_CREDENTIALS" not in text
        for uses in _uses(workflow):
            if uses.startswith("./"):
                continue
            ref = uses.split("@", 1)[1]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), uses
    auth = [u for w in WORKFLOWS for u in _uses(w) if u.startswith("google-github-actions/auth@")]
    assert auth, "deploys must authenticate with Workload Identity Federation"


def test_deploy_path_filters_map_services_to_layers() -> None:
    script = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())["jobs"]["changes"][
        "steps"
    ][1]["run"]
    for pattern, layer in (
        ("services/ingest/*)", "ingest"),
        ("services/stream/*)", "stream"),
        ("services/batch/*)", "batch"),
        ("salesphere/sql/*)", "serving"),
    ):
        line = next(line for line in script.splitlines() if pattern in line)
        assert f'layers="$layers {layer}"' in line
    assert "salesphere/*|infra/*" in script and "whole=true" in script
    up = (ROOT / ".github/workflows/pulumi-up.yml").read_text()
    assert "salesphere infra targets" in up and "pulumi up" in up


def test_pr_stack_always_destroys() -> None:
    body = yaml.safe_load((ROOT / ".github/workflows/pr-stack.yml").read_text())
    steps = body["jobs"]["pr-stack"]["steps"]
    destroy = steps[-1]
    assert destroy["if"] == "always()" and "pulumi destroy" in destroy["run"]
    assert body["jobs"]["pr-stack"]["env"]["STACK"].startswith("pr-")
