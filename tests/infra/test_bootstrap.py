"""The project bootstrap is idempotent: each step is guarded, a rerun changes nothing.

``scripts/bootstrap-project.sh`` runs against a fake ``gcloud`` that keeps the project's
state in a file: a check (describe, list, get-iam-policy) finds what an earlier apply
(create, enable, add-iam-policy-binding) made, keyed by the step being run.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import REPO_ROOT

ROOT = REPO_ROOT
SCRIPT = ROOT / "scripts/bootstrap-project.sh"
ENV = {"PROJECT": "salesphere-dev", "GITHUB_REPO": "acme/salesphere"}

FAKE_GCLOUD = r"""#!/usr/bin/env bash
# A project as a file of step ids: checks find them, applies add them.
state="$FAKE_STATE"; touch "$state"; echo "$*" >> "$FAKE_STATE.calls"
step="${BOOTSTRAP_STEP:?the script must say which step it runs}"
case " $* " in
  *" projects describe "*) echo 123456789012; exit 0 ;;
  *" describe "*) grep -qxF "$step" "$state"; exit ;;
  *" list "*|*" get-iam-policy "*) grep -qxF "$step" "$state" && echo present; exit 0 ;;
  *) echo "$step" >> "$state" ;;
esac
"""


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "gcloud"
    fake.write_text(FAKE_GCLOUD)
    fake.chmod(0o755)
    env = {
        **os.environ,
        **ENV,
        **extra,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_STATE": str(tmp_path / "state"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
    )


def test_a_rerun_changes_nothing(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    created = [line for line in first.stdout.splitlines() if line.startswith("create")]
    assert len(created) >= 20
    calls = (tmp_path / "state.calls").read_text().splitlines()
    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert not [line for line in second.stdout.splitlines() if line.startswith("create")]
    new_calls = (tmp_path / "state.calls").read_text().splitlines()[len(calls) :]
    mutating = [c for c in new_calls if re.search(r"\b(create|enable|add-iam-policy-binding)\b", c)]
    assert mutating == [] and new_calls


def test_a_partly_bootstrapped_project_gets_only_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("api serviceusage.googleapis.com\nkms keyring pulumi\n")
    out = _run(tmp_path).stdout
    assert "ok      api serviceusage.googleapis.com" in out
    assert "ok      kms keyring pulumi" in out
    assert "create  api cloudresourcemanager.googleapis.com" in out


def test_dry_run_is_a_stable_guarded_plan_and_touches_nothing(tmp_path: Path) -> None:
    one, two = _run(tmp_path, "--dry-run"), _run(tmp_path, "--dry-run")
    assert one.returncode == 0 and one.stdout == two.stdout
    assert not (tmp_path / "state.calls").exists()
    lines = one.stdout.splitlines()
    applies = [i for i, line in enumerate(lines) if line.startswith("  gcloud")]
    assert applies and all(lines[i - 1].startswith("if ! ") for i in applies)
    assert all(lines[i + 1] == "fi" for i in applies)


def test_the_bootstrap_apis_come_first_and_include_what_the_program_cannot_enable() -> None:
    from infra.apis import RESOURCE_MANAGER, SERVICE_USAGE

    text = SCRIPT.read_text()
    apis = re.search(r"BOOTSTRAP_APIS=\(\n(.*?)\n\)", text, re.S).group(1).split()  # type: ignore[union-attr]
    assert {RESOURCE_MANAGER, SERVICE_USAGE} <= set(apis)
    # the script itself creates the state bucket and the KMS key before any Pulumi run
    assert {"storage.googleapis.com", "cloudkms.googleapis.com"} <= set(apis)


def test_the_deploy_roles_are_the_ones_docs_list() -> None:
    text = SCRIPT.read_text()
    roles = re.search(r"DEPLOY_ROLES=\(\n(.*?)\n\)", text, re.S).group(1).split()  # type: ignore[union-attr]
    docs = (ROOT / "docs/infra.md").read_text()
    table = docs.split("### The CI deploy account's roles", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(roles/[A-Za-z.]+)` \|", table, re.M)
    assert sorted(documented) == sorted(roles)
    assert not {"roles/owner", "roles/editor"} & set(roles)


@pytest.mark.parametrize("missing", ["PROJECT", "GITHUB_REPO"])
def test_it_refuses_to_guess_the_project_or_repository(tmp_path: Path, missing: str) -> None:
    result = _run(tmp_path, **{missing: ""})
    assert result.returncode != 0 and missing in result.stderr
