"""The twin runs every Cloud Function from the archive that deploys, so a broken bundle fails here.

Each function is served from its zip (written by the Pulumi program's own builder),
unpacked into its own folder, with its ``requirements.txt`` installed into a Python 3.12
venv, and nothing of this checkout on ``sys.path``. These tests prove that, and that a
bundle lacking a dependency or a data file fails a test instead of a deploy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from infra.sources import bundle, runtime_version
from salesphere.gcp import clients
from salesphere_tools.local import bundles, components, iamhook, processes
from salesphere_tools.local.components import FUNCTIONS, FunctionTarget
from salesphere_tools.local.prereqs import REPO_ROOT, free_port
from salesphere_tools.local.twin import Twin
from tests.conftest import make_settings
from tests.support import batch as h

pytestmark = pytest.mark.twin
BATCH = next(t for t in FUNCTIONS if t.name == "batch")
BATCH_RUN = {"mode": "incremental", "archive_lag_seconds": 0}


def _variant_repo(tmp_path: Path, service: str, edit: Callable[[Path], None]) -> Path:
    """A copy of the shipped folders, edited: the source of a deliberately broken bundle."""
    root = tmp_path / "variant"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "salesphere", root / "salesphere", ignore=skip)
    shutil.copytree(REPO_ROOT / "services" / service, root / "services" / service, ignore=skip)
    edit(root)
    return root


def _recorder_paths() -> set[Path]:
    """The one folder a function may get on PYTHONPATH: the IAM recorder's hook (a copy of
    ``iamhook.py`` and a ``sitecustomize.py``), present only while the session records."""
    extra = iamhook.launch_environment("probe").get("PYTHONPATH", "")
    paths = {Path(p).resolve() for p in extra.split(os.pathsep) if p}
    for path in paths:
        shipped = {p.name for p in path.iterdir()} - {"__pycache__"}
        assert shipped == {"iamhook.py", "sitecustomize.py"}, shipped
    return paths


def _cutoffs(settings) -> list[dict]:
    return clients.query_rows(settings, "SELECT c.cutoff, c.run_id FROM batch.cutoff AS c")


@pytest.fixture(scope="module")
def batch_twin(tmp_path_factory: pytest.TempPathFactory, function_bundles) -> Iterator[Twin]:
    """Emulators plus the batch function only: its runs own the warehouse here."""
    twin = Twin(make_settings(tmp_path_factory.mktemp("batch-twin")))
    try:
        twin.up(only={"batch"})
        yield twin
    finally:
        twin.down()


@pytest.mark.parametrize("target", FUNCTIONS, ids=lambda t: t.name)
def test_every_function_starts_from_its_bundle(target: FunctionTarget, function_bundles) -> None:
    env = bundles.prepare(bundle(target.service, REPO_ROOT))
    assert env.installed and env.facts()["python"].startswith(runtime_version() + ".")
    assert bundles.smoke_start(env, target.entry_point, target.signature) < 60


def test_infra_check_starts_every_function_from_its_bundle(function_bundles) -> None:
    """`salesphere infra check --only bundles`: one passing row per deployed function."""
    from salesphere_tools.cli.infra_check import check_bundles

    rows = check_bundles([])
    assert [r.subject for r in rows] == [t.name for t in FUNCTIONS]
    assert all(r.ok for r in rows), [r for r in rows if not r.ok]
    assert all(f"Python {runtime_version()}." in r.detail for r in rows)


def test_a_missing_dependency_fails_the_smoke_start_naming_the_module(tmp_path: Path) -> None:
    """The defect ingest shipped with: orjson imported at load time, not in requirements."""

    def drop_orjson(root: Path) -> None:
        path = root / "services/ingest/requirements.txt"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if not line.startswith("orjson==")))

    env = bundles.prepare(bundle("ingest", _variant_repo(tmp_path, "ingest", drop_orjson)))
    assert b"orjson" not in env.requirements
    with pytest.raises(bundles.BundleError) as failure:
        bundles.smoke_start(env, "ingest_http", "http")
    message = str(failure.value)
    assert "No module named 'orjson'" in message
    assert "services/ingest/requirements.txt" in message and "requirements.lock" in message


def test_a_batch_bundle_without_its_sql_fails_the_run_and_keeps_the_cutoff(
    batch_twin: Twin, tmp_path: Path
) -> None:
    """A bundle built without the SQL package data must fail loudly, never move the cutoff
    while refilling nothing (what a zip without ``salesphere/sql`` files used to do)."""
    settings = batch_twin.settings
    h.reset(settings)
    h.archive(settings, [h.sale(i, datetime.now(UTC) - timedelta(hours=1)) for i in range(5)], "a")
    data = [p.name for p in (REPO_ROOT / "salesphere/sql").iterdir() if p.is_dir()]
    variant = bundle("batch", REPO_ROOT, without=tuple(f"salesphere/sql/{d}/" for d in data))
    assert not [name for name, _ in variant.files if name.endswith(".sql")]
    comp = components.function(
        settings, BATCH, source=variant, port=free_port(), name="batch-without-sql"
    )
    Twin.prepare([comp])
    record = processes.spawn(
        comp.name,
        comp.argv,
        log_dir=tmp_path,
        env=comp.env,
        cwd=comp.cwd,
        inherit_env=False,
    )
    try:
        processes.wait_until(comp.ready, timeout=60, what=comp.name, record=record)
        response = requests.post(f"{comp.endpoint}/", json=BATCH_RUN, timeout=300)
    finally:
        processes.stop(record)
    assert response.status_code == 500
    log = processes.read_log(record.log)
    assert "no batch SQL under" in log and "package data" in log
    assert comp.explain is not None and "package data" in (comp.explain(log) or "")
    assert _cutoffs(settings) == []  # nothing committed: serving still reads the speed layer
    assert clients.query_rows(settings, "SELECT COUNT(*) AS n FROM master.events")[0]["n"] == 0


def test_the_batch_function_runs_over_http_from_its_bundle(batch_twin: Twin) -> None:
    """POST as Cloud Scheduler does; the run rebuilds master and the views, once."""
    settings = batch_twin.settings
    h.reset(settings)
    received = datetime.now(UTC) - timedelta(hours=2)
    live = [h.sale(i, received) for i in range(30)]
    h.archive(settings, live, "live")
    h.archive(settings, live[:10], "redelivered")
    url = f"http://{settings.host}:{settings.ports.batch}"
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
    assert clients.query_rows(settings, "SELECT COUNT(*) AS n FROM ops.batch_runs")[0]["n"] == 0

    response = requests.post(f"{url}/", json=BATCH_RUN, timeout=300)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "succeeded"
    assert report["events_read"] == 40 and report["events_distinct"] == 30
    assert h.sales_daily_actual(settings) == h.sales_daily_expected(live)
    assert [row["run_id"] for row in _cutoffs(settings)] == [report["run_id"]]

    # Scheduler redelivers at least once: the same run id does nothing the second time.
    again = requests.post(f"{url}/", json={**BATCH_RUN, "run_id": report["run_id"]}, timeout=300)
    assert again.status_code == 200 and again.json()["status"] == "already_done"
    assert requests.get(f"{url}/", timeout=5).status_code == 405  # only POST runs a batch
    bad = requests.post(f"{url}/", json={"archive_lag_seconds": "soon"}, timeout=30)
    assert bad.status_code == 400 and "archive_lag_seconds" in bad.json()["error"]
    assert clients.query_rows(settings, "SELECT COUNT(*) AS n FROM ops.batch_runs")[0]["n"] == 1


@pytest.mark.parametrize("target", FUNCTIONS, ids=lambda t: t.name)
def test_the_twin_serves_each_function_from_its_unpacked_bundle(
    twin: Twin, target: FunctionTarget
) -> None:
    """cwd, interpreter, environment and loaded libraries of the running process."""
    record = twin.state.load()[target.name]
    source = bundle(target.service, REPO_ROOT)
    env = bundles.plan(source)
    proc = Path(f"/proc/{record.pid}")
    cwd = (proc / "cwd").readlink()
    assert cwd == env.source_dir
    with zipfile.ZipFile(env.zip_path) as archive:
        assert (cwd / "main.py").read_bytes() == archive.read("main.py")
    assert env.zip_path.read_bytes() == source.zip_bytes()
    environ = dict(
        v.decode().split("=", 1) for v in (proc / "environ").read_bytes().split(b"\0") if v
    )
    assert "VIRTUAL_ENV" not in environ
    extra = {Path(p).resolve() for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    assert extra <= _recorder_paths(), f"nothing of the checkout on PYTHONPATH: {extra}"
    argv = (proc / "cmdline").read_bytes().split(b"\0")
    assert Path(argv[1].decode()) == env.functions_framework
    exe = (proc / "exe").readlink()
    version = subprocess.run(
        [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == runtime_version() == "3.12"
    # Every third-party extension the function process (and its workers) loaded comes from
    # the bundle's venv; none from the checkout's .venv.
    libraries = set()
    for pid in processes.group_members({record.pid}):
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            path = line.split(maxsplit=5)[-1]
            if "site-packages" in path:
                libraries.add(path)
    assert libraries, "expected compiled extensions (pydantic-core, grpc) to be loaded"
    assert all(path.startswith(f"{env.venv}/") for path in libraries), sorted(libraries)[:5]


def test_a_function_imports_the_library_from_its_bundle_only(twin: Twin) -> None:
    """What ``sys.path`` holds for a function: its folder, its venv, the interpreter."""
    comp = next(c for c in components.services(twin.settings) if c.name == "batch")
    env = bundles.plan(bundle("batch", REPO_ROOT))
    probe = (
        "import json, sys, salesphere, salesphere.sql, apache_beam;"
        "print(json.dumps({'path': sys.path, 'lib': salesphere.__file__,"
        " 'sql': str(salesphere.sql.SQL_DIR), 'beam': apache_beam.__file__}))"
    )
    out = subprocess.run(
        [str(env.python), "-c", probe],
        cwd=comp.cwd,
        env=comp.env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(out.stdout)
    assert seen["lib"].startswith(f"{env.source_dir}/")
    assert seen["sql"] == str(env.source_dir / "salesphere" / "sql")
    assert seen["beam"].startswith(f"{env.venv}/")
    base = Path(env.interpreter).resolve().parents[1]
    recorder = _recorder_paths()
    for entry in filter(None, seen["path"]):
        where = Path(entry).resolve()
        assert where.is_relative_to(env.venv) or where.is_relative_to(base) or where in recorder, (
            entry
        )
    assert str(REPO_ROOT) not in seen["path"]
