"""`salesphere generate`: write a realistic, seeded SalesSphere data set to a folder.

The heavy lifting is in :mod:`salesphere_tools.generate`; this module only parses options,
shows progress and prints what was written, so the demo and tests can call the same
function without a terminal.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from salesphere_tools.generate import GeneratorConfig, Manifest


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01"
        ) from exc


def generate_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder to write (created; must be empty or a previous output)."
        ),
    ],
    days: Annotated[int, typer.Option("--days", min=1, help="Days to simulate.")] = 7,
    stores: Annotated[
        int,
        typer.Option("--stores", min=1, max=200, help="Physical stores (plus the WEB channel)."),
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 42,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "2026-11-01",
    skus: Annotated[int, typer.Option("--skus", min=10, help="Catalog size.")] = 200,
    defects: Annotated[
        bool,
        typer.Option(
            "--defects/--no-defects", help="Inject duplicates, late and malformed records (~0.75%)."
        ),
    ] = True,
    xlsx: Annotated[
        bool,
        typer.Option(
            "--xlsx/--no-xlsx", help="Write the Excel store's exports as XLSX (slower) or CSV."
        ),
    ] = True,
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Demand with trend, seasons, the retail calendar, promotions and slow movers "
            "(for forecasting; see docs/data-generator.md).",
        ),
    ] = False,
) -> None:
    """Simulate a Brazilian retailer and write what its sources send, plus manifest.json."""
    from rich.console import Console

    from salesphere_tools.generate import GeneratorConfig

    console = Console()
    config = GeneratorConfig(
        out=out,
        days=days,
        stores=stores,
        seed=seed,
        start=_parse_date(start),
        skus=skus,
        defects=defects,
        xlsx=xlsx,
        history=history,
    )
    try:
        config.check()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _print_summary(console, _generate_with_progress(console, config), out)


def _generate_with_progress(console: Console, config: GeneratorConfig) -> Manifest:
    """Run the generator under a progress bar of simulated days; a refusal exits with 2."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from salesphere_tools.generate import generate

    columns = (
        TextColumn("[bold]simulating days"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("days", total=config.days)
        try:
            return generate(config, lambda done, _total: progress.update(task, completed=done))
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(code=2) from exc


def _print_summary(console: Console, manifest: Manifest, out: Path) -> None:
    """Events per source, files, defects: enough to see at a glance what was made."""
    from rich.table import Table

    table = Table(title=f"Generated into {out}")
    table.add_column("source")
    table.add_column("files", justify="right")
    table.add_column("records", justify="right")
    table.add_column("events", justify="right")
    for source, row in manifest.sources().items():
        table.add_row(source, f"{row['files']:,}", f"{row['records']:,}", f"{row['events']:,}")
    console.print(table)
    defects = Table(title="Defects injected (see manifest.json)")
    defects.add_column("kind")
    defects.add_column("count", justify="right")
    for kind, count in manifest.defect_counts().items():
        defects.add_row(kind, f"{count:,}")
    console.print(defects)
    expected = manifest.expected
    console.print(
        f"Expected after ingest: [bold]{expected['accepted_events']:,}[/bold] distinct events, "
        f"{expected['duplicate_events']:,} duplicates to drop, "
        f"{expected['rejected_events']:,} rejects."
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("generate")(generate_command)
