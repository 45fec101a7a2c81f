"""What the twin runs: three emulators, then the platform's own services.

Each component says how to start it (argv + environment), where it listens, and how to
tell that it is ready (a real protocol request, not a timer). Services are included
only when their code exists, so the twin is useful while the platform is being built.

The Cloud Functions (ingest-http, ingest-files, speed, batch) run from their deployable
bundles (:mod:`salesphere_tools.local.bundles`), not from this checkout; the Beam speed
pipeline stands in for Dataflow and runs from the checkout. Nothing stands in for the
archive writer: as in cloud, each batch run drains ``events-archive`` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra import sources
from salesphere.settings import Settings
from salesphere_tools.local import bundles, iamhook, prereqs

REPO = prereqs.REPO_ROOT


@dataclass(frozen=True)
class Component:
    name: str
    kind: str  # "emulator" or "service"
    port: int | None
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""
    start_timeout: float = 60.0
    #: Working directory (a function's unpacked bundle); None: the caller's.
    cwd: Path | None = None
    #: False: start from ``env`` alone, not the caller's environment (no PYTHONPATH).
    inherit_env: bool = True
    #: Builds what the process needs before it can start (a bundle's venv); idempotent.
    prepare: Callable[[Callable[[str], None]], object] | None = None
    #: Turns the log of a failed start into the fix, when the failure is recognised.
    explain: Callable[[str], str | None] | None = None


def _http_ok(url: str, accept: tuple[int, ...] = (200,)) -> Callable[[], bool]:
    def check() -> bool:
        return requests.get(url, timeout=1).status_code in accept

    return check


def emulators(settings: Settings) -> list[Component]:
    """Pub/Sub, GCS and BigQuery emulators bound to the settings' host and ports."""
    data = (settings.twin_dir / "data").resolve()
    return [_pubsub(settings), _gcs(settings, data / "gcs"), _bigquery(settings, data / "bigquery")]


def _pubsub(settings: Settings) -> Component:
    """Google's Pub/Sub emulator."""
    host, port = settings.host, settings.ports.pubsub
    return Component(
        name="pubsub",
        kind="emulator",
        port=port,
        argv=[str(prereqs.find_pubsub_emulator()), f"--host={host}", f"--port={port}"],
        env={"JAVA_OPTS": "-Xmx256m"},
        # The emulator answers its REST root with "Ok" once the gRPC/HTTP server is up.
        ready=_http_ok(f"http://{host}:{port}/"),
        endpoint=f"{host}:{port}",
    )


def _gcs(settings: Settings, root: Path) -> Component:
    """fake-gcs-server over the folder ``root``, announcing finalized objects on file-drops."""
    host, port = settings.host, settings.ports.gcs
    return Component(
        name="gcs",
        kind="emulator",
        port=port,
        argv=[
            str(prereqs.find_fake_gcs_server()),
            *("-scheme", "http", "-host", host, "-port", str(port)),
            *("-backend", "filesystem", "-filesystem-root", str(root)),
            *("-external-url", f"http://{host}:{port}", "-public-host", f"{host}:{port}"),
            *("-event.pubsub-project-id", settings.project, "-event.pubsub-topic", "file-drops"),
            *("-event.list", "finalize", "-log-level", "warn"),
        ],
        env={"PUBSUB_EMULATOR_HOST": settings.pubsub_endpoint},
        ready=_http_ok(f"http://{host}:{port}/storage/v1/b"),
        endpoint=f"http://{host}:{port}",
        start_timeout=20,
    )


def _bigquery(settings: Settings, data_dir: Path) -> Component:
    """local-bigquery (DuckDB-backed) keeping its tables under ``data_dir``."""
    host, ports = settings.host, settings.ports
    return Component(
        name="bigquery",
        kind="emulator",
        port=ports.bigquery,
        argv=[
            str(prereqs.find_bigquery_emulator()),
            *("serve", "--host", host, "--port", str(ports.bigquery)),
            *("--grpc-port", str(ports.bigquery_grpc), "--project", settings.project),
            *("--data-dir", str(data_dir)),
        ],
        # Load jobs read gs:// URIs from fake-gcs-server only when told where it is.
        env={"STORAGE_EMULATOR_HOST": settings.gcs_endpoint},
        ready=_http_ok(
            f"http://{host}:{ports.bigquery}/bigquery/v2/projects/{settings.project}/datasets"
        ),
        endpoint=f"http://{host}:{ports.bigquery}",
    )


def _recorded(service: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` plus, when the test session records IAM use, the recorder's launch hook."""
    return {**env, **iamhook.launch_environment(service, env.get("PYTHONPATH"))}


@dataclass(frozen=True)
class FunctionTarget:
    """One Cloud Function as the twin serves it (names match ``infra.functions``)."""

    name: str
    service: str
    entry_point: str
    signature: str
    port_name: str


#: Every Cloud Function of the platform; a test checks these against the Pulumi program.
FUNCTIONS = (
    FunctionTarget("ingest-http", "ingest", "ingest_http", "http", "ingest_http"),
    FunctionTarget("ingest-files", "ingest", "ingest_file", "cloudevent", "ingest_files"),
    FunctionTarget("speed", "stream", "speed_push", "cloudevent", "speed"),
    # Cloud Scheduler's target; on the twin, POST to it (its GET only answers health).
    FunctionTarget("batch", "batch", "batch_http", "http", "batch"),
)


def function(
    settings: Settings,
    target: FunctionTarget,
    *,
    source: object | None = None,
    port: int | None = None,
    name: str | None = None,
) -> Component:
    """A Cloud Function served by functions-framework from its own bundle, as in cloud.

    ``source`` (an ``infra.sources.SourceBundle``) overrides the bundle built from this
    checkout, and ``port``/``name`` the defaults: tests start broken variants with them.
    """
    built = source or sources.bundle(target.service, REPO)
    env = bundles.plan(built)  # type: ignore[arg-type]
    port = port or getattr(settings.ports, target.port_name)
    return Component(
        name=name or target.name,
        kind="service",
        port=port,
        argv=env.argv(target.entry_point, target.signature, settings.host, port),
        # calls are the deployed function's, whatever the test names its process
        env=_recorded(target.name, env.environ(settings.to_environ())),
        ready=_http_ok(f"http://{settings.host}:{port}/healthz", accept=(200, 400, 404, 405)),
        endpoint=f"http://{settings.host}:{port}",
        start_timeout=60,
        cwd=env.source_dir,
        inherit_env=False,
        prepare=lambda say: bundles.prepare(built, progress=say),  # type: ignore[arg-type]
        explain=env.explain,
    )


def services(settings: Settings, *, speed_runtime: str = "function") -> list[Component]:
    """The platform's services whose code exists in this checkout."""
    found: list[Component] = []
    present = {t.service for t in FUNCTIONS if (REPO / "services" / t.service / "main.py").exists()}
    for target in FUNCTIONS:
        if target.service not in present or (
            target.name == "speed" and speed_runtime != "function"
        ):
            continue
        found.append(function(settings, target))
    pipeline = REPO / "services/stream/pipeline.py"
    if speed_runtime == "beam" and pipeline.exists():
        found.append(
            Component(
                name="speed-beam",
                kind="service",
                port=None,
                argv=[sys.executable, str(pipeline), "--local-twin"],
                env=_recorded("speed-pipeline", {**settings.to_environ(), "PYTHONPATH": str(REPO)}),
                ready=lambda: True,
            )
        )
    return found
