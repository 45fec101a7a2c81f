"""Both pipelines run from the worker wheel alone, in a clean venv, against the twin.

This is the nearest offline proof that a Dataflow worker (or a flex-template launcher)
has everything it needs: the venv (Python 3.12, the images' version) holds only the
wheel's declared dependencies and the wheel; the pipeline files are copied to a scratch
folder and run with no ``PYTHONPATH``, so nothing from the repository can be imported.
``--direct_running_mode=multi_processing`` makes DirectRunner unpickle the batch DoFns in
separate worker processes, as Dataflow workers do.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesphere.gcp import clients
from salesphere_tools.local import worker_env
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.speed import probe
from salesphere_tools.speed.samples import envelope, sale
from tests import REPO_ROOT
from tests.support import batch as h

# The first test also builds the venv when its cache is cold (~110 s measured, more on a busy
# machine); the limit covers that, not the runs themselves (~10-20 s each).
pytestmark = [pytest.mark.twin, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = REPO_ROOT
MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> worker_env.WorkerEnv:
    t0 = time.monotonic()
    wheel = worker_env.build_wheel(tmp_path_factory.mktemp("wheel"))
    built = time.monotonic() - t0
    out = worker_env.ensure_env(wheel)
    print(
        f"\nworker wheel built in {built:.1f} s; venv "
        f"{'reused' if out.cached else 'built'} + wheel installed in {out.install_seconds:.1f} s"
    )
    return out


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The pipeline programs alone, as the template images hold them."""
    for service in ("stream", "batch"):
        shutil.copy2(ROOT / "services" / service / "pipeline.py", tmp_path / f"{service}.py")
    return tmp_path


def test_the_wheel_holds_the_runtime_library_and_its_data_only(env) -> None:
    names = worker_env.wheel_contents(env.wheel)
    assert not [n for n in names if n.startswith(("salesphere_tools/", "services/", "tests/"))]
    for data in (
        "salesphere/sql/batch/sales_daily.sql",
        "salesphere/mappings/pos.yaml",
        "salesphere/schema/canonical_event.v1.json",
    ):
        assert data in names
    probe_code = (
        "import importlib.util, sys, salesphere, salesphere.batch.transforms, "
        "salesphere.speed.transforms; "
        "print(salesphere.__file__); "
        "print(importlib.util.find_spec('salesphere_tools')); print(sys.version_info[:2])"
    )
    result = subprocess.run(
        [str(env.python), "-c", probe_code],
        capture_output=True,
        text=True,
        env=env.environ(),
        cwd="/",
        check=True,
    )
    where, tools, version = result.stdout.split("\n")[:3]
    assert where.startswith(str(env.root)) and "site-packages" in where
    assert tools == "None" and version == "(3, 12)"


def _report(stdout: str) -> dict:
    """The JSON report the batch program prints last."""
    return json.loads(stdout[stdout.rindex("\n{") + 1 :] if "\n{" in stdout else stdout)


def test_batch_pipeline_runs_from_the_wheel_on_two_worker_processes(
    env, scratch: Path, quiet_twin: Twin
) -> None:
    s = quiet_twin.settings
    h.reset(s)
    received = datetime.now(UTC) - timedelta(hours=2)
    live = [h.sale(i, received) for i in range(40)]
    h.archive(s, live, "live")
    h.archive(s, live[:10], "redelivered")
    h.archive(s, [h.sale(i, received + timedelta(minutes=5)) for i in range(30, 50)], "sheet")
    t0 = time.monotonic()
    result = subprocess.run(
        [str(env.python), str(scratch / "batch.py"), "--full", "--archive-lag", "0", *MULTI],
        capture_output=True,
        text=True,
        env=env.environ(s.to_environ()),
        cwd=scratch,
        timeout=240,
        check=False,
    )
    seconds = time.monotonic() - t0
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    report = _report(result.stdout)
    print(f"\nbatch run from the wheel (multi_processing x2): {seconds:.1f} s, {report['seconds']}")
    assert report["status"] == "succeeded"
    assert (report["files"], report["events_read"], report["events_distinct"]) == (3, 70, 50)
    count = clients.query_rows(s, "SELECT COUNT(*) AS n FROM master.events")[0]["n"]
    assert count == 50
    everything = live + [h.sale(i, received + timedelta(minutes=5)) for i in range(30, 50)]
    assert h.sales_daily_actual(s) == h.sales_daily_expected(everything)


@pytest.fixture
def stream_process(env, scratch: Path, quiet_twin: Twin) -> Iterator[subprocess.Popen]:
    log = (scratch / "stream.log").open("w")
    process = subprocess.Popen(
        [str(env.python), str(scratch / "stream.py"), "--local-twin", *MULTI],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env.environ(quiet_twin.settings.to_environ()),
        cwd=scratch,
        start_new_session=True,  # its own process group: stopped whole below
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def test_stream_pipeline_runs_from_the_wheel(stream_process, scratch: Path, quiet_twin) -> None:
    s = quiet_twin.settings
    store, sku = f"S{uuid.uuid4().hex[:8]}", f"P{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    envelopes = [
        envelope([sale(store, sku, 1, now - timedelta(minutes=3), f"o{n}-{i}") for i in range(5)])
        for n in range(4)
    ]
    ids = [e["event_id"] for env_ in envelopes for e in env_.events]
    t0 = time.monotonic()
    probe.publish(s, envelopes)
    probe.publish(s, envelopes[:1])  # a POS retry: the same envelope again

    def landed() -> dict[str, int] | None:
        assert stream_process.poll() is None, (scratch / "stream.log").read_text()[-4000:]
        counts = probe.id_counts(s, ids)
        return counts if len(counts) == len(ids) else None

    counts = eventually(landed, timeout=150, what=f"{len(ids)} rows in speed.events")
    print(
        f"\nstream from the wheel: {len(ids)} events queryable {time.monotonic() - t0:.1f} s after publish"
    )
    assert counts == dict.fromkeys(ids, 1)
