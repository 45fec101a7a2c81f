"""`salesphere batch`: run the batch layer now, and load reference data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

batch_app = typer.Typer(help="Batch layer: rebuild master and the batch views, move the cutoff.")


def _date(value: str | None, flag: str):
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{flag} must be a date like 2026-11-28, got {value!r}") from None


@batch_app.command("run")
def run(
    date_from: str | None = typer.Option(None, "--from", help="Backfill from this receive date."),
    date_to: str | None = typer.Option(None, "--to", help="Backfill up to this receive date."),
    full: bool = typer.Option(False, "--full", help="Rebuild every partition."),
    archive_lag: float | None = typer.Option(
        None,
        help="Seconds the archive may lag ingest; the cutoff is run start minus this "
        "(default: Settings.batch_archive_lag_seconds, 660).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run report as JSON."),
) -> None:
    """Run the batch layer now (incremental unless --full or --from/--to)."""
    from salesphere.batch.lock import RunInProgress
    from salesphere.batch.runner import run_batch
    from salesphere.settings import Settings

    try:
        report = run_batch(
            Settings.from_env(),
            full=full,
            date_from=_date(date_from, "--from"),
            date_to=_date(date_to, "--to"),
            archive_lag=None if archive_lag is None else timedelta(seconds=archive_lag),
        )
    except RunInProgress as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(75) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    if report.failed:
        typer.echo(
            f"the batch views were committed but the forecast step failed: "
            f"{report.forecast.get('error', 'no reason recorded')}. The previous forecast keeps "
            "serving; fix the cause and run `salesphere batch run` again.",
            err=True,
        )
        raise typer.Exit(1)


def _print_report(report) -> None:  # report: RunReport
    typer.echo(
        f"{report.status}: {report.mode} run {report.run_id}, "
        f"{len(report.partitions)} partition(s), {report.files} file(s), "
        f"{report.events_read} events read, {report.events_distinct} distinct"
    )
    if report.cutoff:
        typer.echo(f"cutoff: {report.cutoff:%Y-%m-%d %H:%M:%S} UTC")
    if report.invalid or report.bad_lines:
        typer.echo(f"refused rows: {report.invalid}, unreadable lines: {report.bad_lines}")


@batch_app.command("load-reference")
def load_reference(
    directory: Annotated[Path, typer.Argument(help="Folder with products.csv and stores.csv.")],
) -> None:
    """Replace reference.products and reference.stores from CSV files (idempotent)."""
    from salesphere.settings import Settings
    from salesphere_tools.warehouse.reference import load_reference_files as load

    try:
        loaded = load(Settings.from_env(), directory)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for table, rows in loaded.items():
        typer.echo(f"{table}: {rows} rows")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(batch_app, name="batch")
