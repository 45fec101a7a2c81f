"""``salesphere local up | down | status``: the local twin of the cloud."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from salesphere.settings import Settings
from salesphere_tools.local.prereqs import PrerequisiteError
from salesphere_tools.local.twin import Twin

console = Console(stderr=True)
local_app = typer.Typer(
    help=(
        "Run the platform on this machine: Google's Pub/Sub emulator, fake-gcs-server and a "
        "DuckDB-backed BigQuery emulator on 127.0.0.1, plus the platform's services. "
        "State, logs and data live under .twin/ (SALESPHERE_TWIN_DIR); ports are set with "
        "SALESPHERE_PORT_<NAME>."
    ),
    no_args_is_help=True,
)


def _twin() -> Twin:
    return Twin(Settings.from_env())


@local_app.command()
def up(
    speed_runtime: Annotated[
        str,
        typer.Option(
            help="Speed-layer runtime: 'function' (free-tier Cloud Function) or 'beam' "
            "(Beam streaming pipeline on DirectRunner)."
        ),
    ] = "function",
    emulators_only: Annotated[
        bool, typer.Option("--emulators-only", help="Start only the three emulators.")
    ] = False,
) -> None:
    """Start the emulators and services, create topics/buckets/datasets, wait until healthy."""
    if speed_runtime not in {"function", "beam"}:
        raise typer.BadParameter("use 'function' or 'beam'", param_hint="--speed-runtime")
    twin = _twin()
    try:
        with console.status("starting the local twin") as status:
            report = twin.up(
                speed_runtime=speed_runtime,
                with_services=not emulators_only,
                progress=status.update,
            )
    except PrerequisiteError as exc:
        console.print(f"[red]Cannot start the twin:[/red] {exc}")
        raise typer.Exit(2) from None
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]The twin failed to start and was stopped:[/red] {exc}")
        raise typer.Exit(1) from None
    for name, seconds in report.started.items():
        console.print(f"  [green]✓[/green] {name} ready in {seconds:.1f} s")
    for name in report.already_running:
        console.print(f"  [cyan]•[/cyan] {name} already running")
    console.print(
        f"Twin up in {report.total_seconds:.1f} s. `salesphere local status` shows endpoints; "
        "`salesphere local down` stops it."
    )


@local_app.command()
def down() -> None:
    """Stop every process the twin started (and nothing else)."""
    result = _twin().down()
    if not result:
        console.print("Nothing to stop: no twin is recorded in this directory.")
        return
    for name, stopped in result.items():
        mark = "[green]stopped[/green]" if stopped else "[red]still running[/red]"
        console.print(f"  {name}: {mark}")
    if not all(result.values()):
        raise typer.Exit(1)


@local_app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Endpoint and health of each component. Exit code 1 if any is unhealthy."""
    twin = _twin()
    report = twin.status()
    body = {
        "twin_dir": str(twin.settings.twin_dir.resolve()),
        "project": twin.settings.project,
        "components": report,
        "healthy": bool(report) and all(c["healthy"] for c in report.values()),
    }
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    else:
        if not report:
            console.print("No twin is running here. Start one with `salesphere local up`.")
        table = Table(title="SalesSphere local twin")
        for col in ("component", "kind", "endpoint", "pid", "healthy", "RSS MiB"):
            table.add_column(col)
        for name, comp in report.items():
            table.add_row(
                name,
                comp["kind"],
                comp["endpoint"] or "-",
                str(comp["pid"]),
                "[green]yes[/green]" if comp["healthy"] else "[red]no[/red]",
                f"{comp['rss_mib']:.0f}",
            )
        if report:
            Console().print(table)
    if not body["healthy"]:
        raise typer.Exit(1)


@local_app.command()
def bundles(
    smoke: Annotated[
        bool,
        typer.Option(help="Also start each function once from its bundle (no emulators needed)."),
    ] = True,
) -> None:
    """Build each Cloud Function's bundle and environment, as `up` does, and show them.

    The twin serves every function from the zip `pulumi up` uploads, unpacked, with its
    requirements.txt installed into a venv of the deployed Python. This builds what is
    missing (the first time takes a few minutes) and prints sizes and timings.
    """
    import time

    from infra import sources
    from salesphere_tools.local import bundles as bundle_envs
    from salesphere_tools.local.components import FUNCTIONS

    table = Table(title="Cloud Function bundles (as deployed, as the twin runs them)")
    for col in ("function", "zip", "python", "venv MB", "first install s", "ready now s"):
        table.add_column(col)
    try:
        with bundle_envs.rich_progress() as say:
            for target in FUNCTIONS:
                source = sources.bundle(target.service, bundle_envs.REPO)
                t0 = time.monotonic()
                env = bundle_envs.prepare(source, progress=say)
                ready = time.monotonic() - t0
                if smoke:
                    say(f"starting {target.name} from its bundle")
                    ready += bundle_envs.smoke_start(env, target.entry_point, target.signature)
                facts = env.facts()
                table.add_row(
                    target.name,
                    f"{env.zip_path.name} ({env.zip_path.stat().st_size / 1024:.0f} KB)",
                    facts.get("python", "?"),
                    f"{facts.get('size_mb', 0):.0f}",
                    f"{facts.get('install_seconds', 0):.0f}",
                    f"{ready:.1f}",
                )
    except (PrerequisiteError, bundle_envs.BundleError) as exc:
        console.print(f"[red]Bundle problem:[/red] {exc}")
        raise typer.Exit(1) from None
    Console().print(table)
    console.print(f"Cache: {bundle_envs.cache_dir()} (SALESPHERE_BUNDLE_CACHE moves it).")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local", help="Start, stop and inspect the local twin.")
