"""The archive ``pulumi up`` uploads is the one the twin runs: one builder, the same bytes.

``infra.sources.SourceBundle.write_zip`` writes the zip; the program uploads that file as
a plain asset (an archive asset would be re-zipped by the engine), and the twin unpacks
the same file (``salesphere_tools.local.bundles``). The runtime both use is one constant.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from infra.functions import ALL_FUNCTIONS, RUNTIME
from infra.mocking import ProgramRun
from infra.settings import repo_root
from infra.sources import bundle, runtime_version
from salesphere_tools.local import bundles
from salesphere_tools.local.components import FUNCTIONS

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
OBJECT = "gcp:storage/bucketObject:BucketObject"


def test_zip_bytes_are_deterministic_and_ignore_file_times(tmp_path: Path) -> None:
    first = bundle("ingest", repo_root()).zip_bytes()
    copy = tmp_path / "repo"
    for part in ("services/ingest", "salesphere"):
        for path in (repo_root() / part).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = copy / path.relative_to(repo_root())
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
                os.utime(target, (1_000_000_000, 1_000_000_000))  # other mtimes, same bytes
    assert bundle("ingest", copy).zip_bytes() == first
    (copy / "salesphere" / "model.py").write_text("changed = True\n")
    assert bundle("ingest", copy).zip_bytes() != first


def test_zip_holds_exactly_the_bundle_files(tmp_path: Path) -> None:
    source = bundle("batch", repo_root())
    path = source.write_zip(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [name for name, _ in source.files]
        assert (
            archive.read("salesphere/model.py")
            == (repo_root() / "salesphere/model.py").read_bytes()
        )
        names = archive.namelist()
    assert "requirements.txt" in names and "main.py" in names
    assert any(n.startswith("salesphere/sql/batch/") and n.endswith(".sql") for n in names)
    assert not any(n.startswith("sql/") for n in names)  # serving views deploy through Pulumi
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("salesphere_tools/", "tests/", "infra/")) for n in names)


@pytest.mark.parametrize("service", ["ingest", "stream", "batch"])
def test_the_program_uploads_the_bytes_the_twin_unpacks(
    runs: dict[str, ProgramRun], service: str
) -> None:
    uploaded = runs["dev"].by_name(f"source-{service}").inputs["source"]
    assert type(uploaded).__name__ == "FileAsset", "upload the zip file itself, not an archive"
    data = Path(uploaded.path).read_bytes()
    source = bundle(service, repo_root())
    assert data == source.zip_bytes()
    twin = bundles.plan(source)
    assert twin.zip_sha256 == hashlib.sha256(data).hexdigest()
    assert runs["dev"].by_name(f"source-{service}").inputs["name"] == source.object_name


def test_functions_deploy_on_the_runtime_the_twin_installs(runs: dict[str, ProgramRun]) -> None:
    assert RUNTIME == "python312"
    for run in runs.values():
        for fn in run.of_type(FUNCTION):
            assert fn.inputs["buildConfig"]["runtime"] == RUNTIME
    python = bundles.function_python()
    assert python.name.startswith(f"python{runtime_version(RUNTIME)}")


def test_the_twin_serves_every_function_the_program_deploys() -> None:
    deployed = {(f.name, f.service, f.entry_point) for f in ALL_FUNCTIONS}
    assert {(f.name, f.service, f.entry_point) for f in FUNCTIONS} == deployed
