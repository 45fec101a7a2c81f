"""``SALESPHERE_BATCH_RUNTIME`` selects where the batch stage runs; no network needed.

With ``dataflow`` the batch function must launch the batch flex template and commit what
its job staged; with ``function`` it runs Beam itself. The Dataflow API is replaced by a
fake launcher that does what the template's job would do: run ``services/batch/pipeline.py``
with exactly the parameters it was given (DirectRunner, against the twin).
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from salesphere.batch import dataflow
from salesphere.batch.pipeline import PipelineStats
from salesphere.gcp import clients
from salesphere.settings import Settings
from tests import REPO_ROOT
from tests.support import batch as h

pytestmark = pytest.mark.twin
ROOT = REPO_ROOT
TEMPLATE_PARAMETERS = {
    p["name"] for p in json.loads((ROOT / "services/batch/metadata.json").read_text())["parameters"]
}


def _load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BATCH_MAIN = _load("services/batch/main.py", "batch_main")
BATCH_PROGRAM = _load("services/batch/pipeline.py", "batch_program")


class TemplateJobOnTheTwin:
    """Stands in for Dataflow: runs the template program with the launch parameters."""

    def __init__(self) -> None:
        self.launches: list[tuple[str, dict[str, str]]] = []

    def run_stage(self, settings: Settings, run_id: str, parameters: dict[str, str]):
        self.launches.append((dataflow.job_name(settings, run_id), dict(parameters)))
        out = BATCH_PROGRAM.run([f"--{k}={v}" for k, v in parameters.items()])
        stats = PipelineStats(
            **{k: out[k] for k in ("files", "envelopes", "bad_lines", "rows_read")},
            rows_distinct=out["rows_distinct"],
            rows_staged=out["rows_staged"],
        )
        stats.invalid.update(out["invalid"])
        return stats


@pytest.fixture
def settings(quiet_twin, monkeypatch):
    h.reset(quiet_twin.settings)
    for key, value in quiet_twin.settings.to_environ().items():
        monkeypatch.setenv(key, value)
    return quiet_twin.settings


def test_dataflow_runtime_launches_the_template_and_commits_its_job(settings, monkeypatch):
    job = TemplateJobOnTheTwin()
    monkeypatch.setattr(
        dataflow.FlexTemplateLauncher, "run_stage", lambda self, *a: job.run_stage(*a)
    )
    monkeypatch.setenv("SALESPHERE_BATCH_RUNTIME", "dataflow")
    monkeypatch.setenv("SALESPHERE_DATAFLOW_SERVICE_ACCOUNT", "batch-fn@p.iam.gserviceaccount.com")
    received = datetime.now(UTC) - timedelta(hours=1)
    h.archive(settings, [h.sale(i, received) for i in range(12)], "live")
    h.archive(settings, [h.sale(i, received) for i in range(4)], "redelivered")
    body = {"mode": "full", "archive_lag_seconds": 0, "run_id": "slot-A"}
    payload, status = BATCH_MAIN.handle(body, {}, settings)
    # The forecast goes to Dataflow too; without the worker wheel's URI it cannot be
    # submitted: the run answers 500 (what Scheduler and the logs show) and says why,
    # while the batch stage's commit stands.
    assert (status, payload["status"], payload["events_distinct"]) == (500, "forecast_failed", 12)
    assert payload["events_read"] == 16
    assert len(job.launches) == 1
    name, parameters = job.launches[0]
    assert set(parameters) == TEMPLATE_PARAMETERS
    assert parameters["spec"] == f"gs://{settings.buckets.artifacts}/batch/staging/slot-A/spec.json"
    assert name == "salesphere-batch-local-slot-a"
    rows = clients.query_rows(settings, "SELECT COUNT(*) AS n FROM master.events")
    assert rows[0]["n"] == 12
    assert h.sales_daily_actual(settings) == h.sales_daily_expected(
        [h.sale(i, received) for i in range(12)]
    )
    assert payload["forecast"]["status"] == "failed"
    assert "SALESPHERE_WORKER_PACKAGE" in payload["forecast"]["error"]


def test_function_runtime_runs_beam_in_process_and_never_launches(settings, monkeypatch):
    launched = []
    monkeypatch.setattr(
        dataflow.FlexTemplateLauncher, "run_stage", lambda self, *a: launched.append(a)
    )
    monkeypatch.setenv("SALESPHERE_BATCH_RUNTIME", "function")
    h.archive(settings, [h.sale(i, datetime.now(UTC) - timedelta(hours=1)) for i in range(5)], "a")
    payload, status = BATCH_MAIN.handle({"mode": "full", "archive_lag_seconds": 0}, {}, settings)
    assert (status, payload["events_distinct"], launched) == (200, 5, [])


def test_launcher_selection_follows_the_setting() -> None:
    s = Settings()
    assert dataflow.launcher_for(s, {}) is None
    assert dataflow.launcher_for(s, {"SALESPHERE_BATCH_RUNTIME": "function"}) is None
    chosen = dataflow.launcher_for(
        s,
        {"SALESPHERE_BATCH_RUNTIME": "dataflow", "SALESPHERE_DATAFLOW_SERVICE_ACCOUNT": "sa@x"},
    )
    assert isinstance(chosen, dataflow.FlexTemplateLauncher) and chosen.service_account == "sa@x"
    with pytest.raises(ValueError, match="SALESPHERE_DATAFLOW_SERVICE_ACCOUNT"):
        dataflow.launcher_for(s, {"SALESPHERE_BATCH_RUNTIME": "dataflow"})
    with pytest.raises(ValueError, match="function, dataflow"):
        dataflow.launcher_for(s, {"SALESPHERE_BATCH_RUNTIME": "dataflw"})


class FakeDataflowApi:
    """The three Dataflow API calls the launcher makes, recorded; job states scripted."""

    def __init__(self, states: list[str]) -> None:
        self.states = states
        self.requests: list[tuple[str, object]] = []

    def install(self, monkeypatch) -> None:
        from google.cloud import dataflow_v1beta3 as df

        api = self

        class Flex:
            def launch_flex_template(self, request):
                api.requests.append(("launch", request))
                return SimpleNamespace(job=SimpleNamespace(id="job-1"))

        class Jobs:
            def get_job(self, request):
                api.requests.append(("get", request))
                return SimpleNamespace(current_state=df.JobState[api.states.pop(0)])

        counter = lambda name, value, **ctx: SimpleNamespace(  # noqa: E731
            name=SimpleNamespace(name=name, context={"namespace": "salesphere.batch", **ctx}),
            scalar=value,
        )

        class Metrics:
            def get_job_metrics(self, request):
                api.requests.append(("metrics", request))
                return SimpleNamespace(
                    metrics=[
                        counter("rows_read", 10, step="s1"),
                        counter("rows_read", 99, step="s1", tentative="true"),
                        counter("rows_distinct", 7, step="s2"),
                        counter("invalid:bad_sku", 2, step="s1"),
                    ]
                )

        monkeypatch.setattr(df, "FlexTemplatesServiceClient", Flex)
        monkeypatch.setattr(df, "JobsV1Beta3Client", Jobs)
        monkeypatch.setattr(df, "MetricsV1Beta3Client", Metrics)


def test_flex_launcher_waits_for_the_job_and_reads_committed_counters(monkeypatch) -> None:
    from salesphere.batch.transforms import NAMESPACE

    assert NAMESPACE == "salesphere.batch"
    api = FakeDataflowApi(["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    api.install(monkeypatch)
    sleeps: list[float] = []
    s = Settings(project="acme", env="dev")
    launcher = dataflow.FlexTemplateLauncher("batch-fn@acme", sleep=sleeps.append)
    stats = launcher.run_stage(s, "sched-0a1b", {"project": "acme", "env": "dev", "spec": "gs://x"})
    assert (stats.rows_read, stats.rows_distinct, dict(stats.invalid)) == (10, 7, {"bad_sku": 2})
    kinds = [kind for kind, _ in api.requests]
    assert kinds == ["launch", "get", "get", "get", "metrics"] and len(sleeps) == 2
    launch = api.requests[0][1].launch_parameter
    assert launch.container_spec_gcs_path == "gs://acme-dev-artifacts/templates/batch.json"
    assert launch.environment.service_account_email == "batch-fn@acme"
    assert launch.job_name == "salesphere-batch-dev-sched-0a1b"
    assert dict(launch.parameters) == {"project": "acme", "env": "dev", "spec": "gs://x"}


def test_flex_launcher_raises_when_the_job_fails(monkeypatch) -> None:
    FakeDataflowApi(["JOB_STATE_RUNNING", "JOB_STATE_FAILED"]).install(monkeypatch)
    launcher = dataflow.FlexTemplateLauncher("sa@x", sleep=lambda _: None)
    with pytest.raises(dataflow.DataflowJobFailed, match="ended JOB_STATE_FAILED"):
        launcher.run_stage(Settings(project="acme", env="dev"), "r1", {})
