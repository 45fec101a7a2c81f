"""Offline lint of the delivery workflows.

The issue names actionlint, which cannot be installed here (its PyPI package downloads a
binary at install time). What runs offline instead: the GitHub workflow
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

from tests import REPO_ROOT

ROOT = REPO_ROOT
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


def _layers(*paths: str) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/deploy-layers.sh")],
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("paths", "layers"),
    [
        (["services/ingest/main.py"], "ingest"),
        (["services/stream/pipeline.py"], "speed"),
        (["services/batch/main.py"], "batch"),
        (["services/worker/pyproject.toml"], ""),  # templates.yml, not a Pulumi layer
        (["sql/serving/generated/sales_daily.sql"], "serving"),
        (["salesphere/sql/batch/sales_daily.sql"], "batch"),  # the batch function's refills
        (["salesphere/sql/metrics/sales_daily.sql"], "batch serving"),
        (["salesphere/sql/tables/batch.cutoff.json"], "batch serving"),
        (["salesphere/sql/tables/master.events.json"], "batch serving"),
        (["salesphere/sql/tables/ops.batch_runs.json"], "batch serving"),
        (["salesphere/sql/tables/speed.events.json"], "serving speed"),
        (["salesphere/sql/tables/reference.products.json"], "serving"),
        (["salesphere/sql/__init__.py"], "whole"),
        (["salesphere/model.py"], "whole"),
        (["infra/batch.py", "services/ingest/main.py"], "whole"),
        (["Pulumi.dev.yaml"], "whole"),
        (["requirements.lock"], "whole"),
        (["services/ingest/main.py", "sql/serving/freshness.sql"], "ingest serving"),
        (["docs/infra.md", "tests/salesphere/test_model.py"], ""),
    ],
)
def test_deploy_redeploys_exactly_the_layers_that_bundle_or_provision_a_path(
    paths: list[str], layers: str
) -> None:
    assert _layers(*paths) == layers


def test_deploy_workflow_uses_the_rules_and_every_watched_path_has_one() -> None:
    body = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    script = body["jobs"]["changes"]["steps"][1]["run"]
    assert "set -euo pipefail" in script and "scripts/deploy-layers.sh" in script
    on = body.get("on") or body[True]  # PyYAML reads the key `on` as True
    assert set(on["push"]["paths"]) == {
        "services/**",
        "salesphere/**",
        "sql/**",
        "infra/**",
        "Pulumi*.yaml",
        "requirements.lock",
    }


def _up_script() -> str:
    body = yaml.safe_load((ROOT / ".github/workflows/pulumi-up.yml").read_text())
    step = next(s for s in body["jobs"]["up"]["steps"] if s.get("name") == "pulumi up")
    return step["run"]


def _run_up(tmp_path: Path, layers: str, salesphere: str) -> tuple[int, str, str]:
    """Run the workflow's `pulumi up` step with fake `pulumi` and `salesphere` commands."""
    bin_dir, venv = tmp_path / "bin", tmp_path / ".venv" / "bin"
    bin_dir.mkdir()
    venv.mkdir(parents=True)
    calls = tmp_path / "pulumi-calls"
    (bin_dir / "pulumi").write_text(f'#!/bin/bash\necho "$*" >> {calls}\n')
    (venv / "salesphere").write_text(f"#!/bin/bash\n{salesphere}\n")
    for tool in (bin_dir / "pulumi", venv / "salesphere"):
        tool.chmod(0o755)
    result = subprocess.run(
        ["bash", "-e", "-c", _up_script()],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "STACK": "dev",
            "LAYERS": layers,
            "PULUMI_BACKEND_URL": "gs://state",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, calls.read_text() if calls.exists() else "", result.stdout


def test_a_failing_target_listing_stops_the_deploy(tmp_path: Path) -> None:
    code, calls, _ = _run_up(tmp_path, "batch", "echo boom >&2; exit 3")
    assert code != 0
    assert " up " not in f" {calls}", "pulumi up ran although listing the targets failed"


def test_an_empty_target_listing_stops_the_deploy(tmp_path: Path) -> None:
    code, calls, out = _run_up(tmp_path, "batch", "exit 0")
    assert code != 0 and " up " not in f" {calls}"
    assert "refusing to deploy the whole stack" in out


def test_listed_targets_are_passed_to_pulumi_up(tmp_path: Path) -> None:
    urns = "urn:pulumi:dev::salesphere::a::fn-batch urn:pulumi:dev::salesphere::b::tbl"
    listing = "; ".join(f"echo --target={u}" for u in urns.split())
    code, calls, _ = _run_up(tmp_path, "batch", listing)
    assert code == 0
    up = next(line for line in calls.splitlines() if line.startswith("up "))
    assert all(f"--target={u}" in up for u in urns.split())


def test_no_layers_means_the_whole_stack_without_listing(tmp_path: Path) -> None:
    code, calls, _ = _run_up(tmp_path, "", "exit 1")  # the listing is not even asked for
    assert code == 0 and "--target" not in calls and "up --yes" in calls


def test_pr_smoke_test_checks_both_answers_exactly() -> None:
    body = yaml.safe_load((ROOT / ".github/workflows/pr-stack.yml").read_text())
    smoke = next(s for s in body["jobs"]["pr-stack"]["steps"] if s.get("name") == "Smoke test")
    assert "salesphere_tools.smoke" in smoke["run"] and "--bearer" in smoke["run"]
    assert "4*)" not in smoke["run"], "any 4xx must not count as serving"


def test_templates_workflow_builds_the_wheel_both_images_and_both_specs() -> None:
    text = (ROOT / ".github/workflows/templates.yml").read_text()
    body = yaml.safe_load(text)
    runs = "\n".join(s.get("run", "") for s in body["jobs"]["build"]["steps"])
    assert "salesphere_tools.local.worker_env wheel --out dist" in runs
    assert "for svc in stream batch" in runs and "gcloud dataflow flex-template build" in runs
    assert '--metadata-file "services/$svc/metadata.json"' in runs
    assert "docker push" in runs and "set -euo pipefail" in runs
    # The wheel the forecast's Dataflow workers install, where infra/dataflow.py points.
    assert "gcloud storage cp dist/salesphere_worker-0.1.0-py3-none-any.whl" in runs
    assert "artifacts/templates/salesphere_worker-0.1.0-py3-none-any.whl" in runs
    python = next(s for s in body["jobs"]["build"]["steps"] if "setup-python" in s.get("uses", ""))
    assert python["with"]["python-version"] == "3.12"
    for service in ("stream", "batch"):
        docker = (ROOT / "services" / service / "Dockerfile").read_text()
        assert "FROM gcr.io/dataflow-templates-base/python312-template-launcher-base" in docker
        assert f"COPY services/{service}/pipeline.py /template/pipeline.py" in docker
        assert "ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/pipeline.py" in docker
        assert "FLEX_TEMPLATE_PYTHON_EXTRA_PACKAGES=/template/${WHEEL}" in docker
        assert "ARG WHEEL=salesphere_worker-0.1.0-py3-none-any.whl" in docker
    worker = (ROOT / "services/worker/pyproject.toml").read_text()
    assert 'name = "salesphere-worker"' in worker and 'version = "0.1.0"' in worker


def test_templates_workflow_skips_the_cloud_steps_when_dataflow_is_not_set_up(
    tmp_path: Path,
) -> None:
    """Unset optional variables: the wheel is built, every cloud step skipped, no failure."""
    body = yaml.safe_load((ROOT / ".github/workflows/templates.yml").read_text())
    steps = body["jobs"]["build"]["steps"]
    gate = next(s for s in steps if s.get("id") == "dataflow")
    cloud = [s for s in steps if "auth@" in s.get("uses", "") or "docker push" in s.get("run", "")]
    assert cloud and all(s["if"] == "steps.dataflow.outputs.enabled == 'true'" for s in cloud)
    assert "exit 1" not in "\n".join(s.get("run", "") for s in steps)
    for project, expected in (("", "enabled=false"), ("salesphere-dev", "enabled=true")):
        out = tmp_path / f"out-{expected}"
        result = subprocess.run(
            ["bash", "-c", gate["run"]],
            env={
                "PROJECT": project,
                "REGION": "us-central1",
                "STACK": "dev",
                "GITHUB_OUTPUT": str(out),
                "PATH": "/usr/bin:/bin",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0 and out.read_text().strip() == expected


def test_pr_stack_always_destroys() -> None:
    body = yaml.safe_load((ROOT / ".github/workflows/pr-stack.yml").read_text())
    steps = body["jobs"]["pr-stack"]["steps"]
    destroy = steps[-1]
    assert destroy["if"] == "always()" and "pulumi destroy" in destroy["run"]
    assert body["jobs"]["pr-stack"]["env"]["STACK"].startswith("pr-")


def test_pr_stack_gives_the_hmac_secret_a_version_before_the_full_up() -> None:
    """Ingest cannot deploy against a secret with no version: the secret comes up alone,
    gets a key if it has none, and only then does the whole stack come up."""
    body = yaml.safe_load((ROOT / ".github/workflows/pr-stack.yml").read_text())
    up = next(
        s
        for s in body["jobs"]["pr-stack"]["steps"]
        if s.get("name") == "pulumi up (ephemeral stack)"
    )
    lines = [line.strip() for line in up["run"].splitlines()]
    targeted = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("pulumi up") and '"${secret_targets[@]}"' in line
    )
    version = next(
        i for i, line in enumerate(lines) if "gcloud secrets versions add ingest-hmac-keys" in line
    )
    full = max(
        i for i, line in enumerate(lines) if line == "pulumi up --yes --policy-pack infra/policy"
    )
    assert targeted < version < full
    assert any(
        'infra targets --stack "$STACK" --resource secret-hmac-keys' in line for line in lines
    )


def test_infra_targets_names_the_secret_by_its_program_urn() -> None:
    from typer.testing import CliRunner

    from salesphere_tools.cli.main import app

    result = CliRunner().invoke(
        app, ["infra", "targets", "--stack", "pr-7", "--resource", "secret-hmac-keys"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.split()
    assert all(line.startswith("--target=urn:pulumi:pr-7::salesphere::") for line in lines)
    assert lines[-1].endswith("gcp:secretmanager/secret:Secret::secret-hmac-keys")
    # ...with what `pulumi up --target` needs created first: its component and its APIs.
    assert any(line.endswith("salesphere:infra:Ingest::ingest") for line in lines)
    assert any(line.endswith("::api-secretmanager") for line in lines)
    exact = CliRunner().invoke(
        app, ["infra", "targets", "--stack", "pr-7", "--resource", "secret-hmac-keys", "--exact"]
    )
    (line,) = exact.output.split()
    assert line.endswith("gcp:secretmanager/secret:Secret::secret-hmac-keys")
    unknown = CliRunner().invoke(app, ["infra", "targets", "--stack", "pr-7", "--resource", "nope"])
    assert unknown.exit_code != 0 and "declares no resource named" in unknown.output
