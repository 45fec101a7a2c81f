"""The demo script: one readable walk through the Lambda loop on the local twin.

Each step prints what it did; the run ends with a summary a person can read. The twin is
always stopped at the end (unless ``--keep-running``), even when a step fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from salesphere.local.twin import Twin
from salesphere.settings import Settings

console = Console()


@dataclass
class DemoOptions:
    days: int = 7
    stores: int = 4
    seed: int = 42
    out: Path = Path("out/demo")
    keep_running: bool = False


@dataclass
class DemoState:
    options: DemoOptions
    settings: Settings
    twin: Twin
    facts: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


Step = Callable[[DemoState], None]


def _step(title: str, fn: Step, state: DemoState) -> None:
    console.rule(f"[bold]{title}")
    start = time.perf_counter()
    fn(state)
    state.timings[title] = time.perf_counter() - start


def step_twin_up(state: DemoState) -> None:
    with console.status("starting emulators and services") as status:
        report = state.twin.up(progress=status.update)
    table = Table("component", "endpoint", "ready in")
    status_now = state.twin.status()
    for name, seconds in report.started.items():
        table.add_row(name, status_now.get(name, {}).get("endpoint") or "(worker)", f"{seconds:.1f} s")
    console.print(table)
    state.facts["twin_start_s"] = round(report.total_seconds, 1)


def step_generate(state: DemoState) -> None:
    from salesphere.generate import GeneratorConfig, generate

    opts = state.options
    config = GeneratorConfig(out=opts.out / "data", days=opts.days, stores=opts.stores, seed=opts.seed)
    manifest = generate(config)
    state.facts["manifest"] = manifest
    console.print(f"Generated {opts.days} days for {opts.stores} stores + web shop in {config.out}")


def run_demo(options: DemoOptions) -> bool:
    """Run every step; return True if all succeeded."""
    settings = Settings.from_env()
    state = DemoState(options=options, settings=settings, twin=Twin(settings))
    options.out.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, Step]] = [
        ("1. Local twin up", step_twin_up),
        ("2. Generate SalesSphere data", step_generate),
    ]
    ok = True
    try:
        for title, fn in steps:
            _step(title, fn, state)
    except Exception as exc:
        ok = False
        console.print_exception(max_frames=5)
        console.print(f"[red]Demo step failed:[/red] {exc}")
    finally:
        if not options.keep_running:
            console.rule("[bold]Stopping the twin")
            state.twin.down()
    timing = "\n".join(f"{name}: {sec:.1f} s" for name, sec in state.timings.items())
    console.print(Panel(timing or "(no steps ran)", title="Demo timings"))
    return ok
