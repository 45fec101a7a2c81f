"""`salesphere forecast`: the demand forecast measured on real sales."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

forecast_app = typer.Typer(help="The demand forecast, evaluated on real retail data.")

DATASETS = ("m5",)


def _fmt(value: float, pct: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.1%}" if pct else f"{value:.4f}"


def print_evaluation(result, console=None) -> None:
    """One rich table: a row per method and origin, the pooled row last for each method."""
    from rich.console import Console
    from rich.table import Table

    from salesphere_tools.forecast.evaluate import MA28_WEEKDAY, targets

    console = console or Console(width=120)
    table = Table(
        title=f"{result.dataset}: {result.series:,} series, horizon {result.horizon} days, "
        f"origins {', '.join(str(o) for o in result.origins)} days before the last day"
    )
    for col in (
        "method",
        "origin",
        "series",
        "WAPE",
        "bias",
        "RMSSE ($-weighted)",
        "WAPE / ma28_wd",
    ):
        table.add_column(col, justify="left" if col in ("method", "origin") else "right")
    for method, by_origin in result.tallies.items():
        for col in result.columns():
            t = by_origin[col]
            ref = result.tallies[MA28_WEEKDAY][col].wape
            table.add_row(
                method,
                col,
                f"{t.series:,}",
                _fmt(t.wape),
                _fmt(t.bias, pct=True),
                _fmt(t.rmsse),
                f"{t.wape / ref:.3f}" if ref else "–",
                style="bold" if col == "pooled" else None,
                end_section=col == "pooled",
            )
    console.print(table)
    for name, ok in targets(result).items():
        console.print(f"  {'[green]pass[/green]' if ok else '[red]miss[/red]'}  engine {name}")


@forecast_app.command("evaluate")
def evaluate(
    dataset: Annotated[str, typer.Option(help="Real data to evaluate on: m5.")] = "m5",
    origins: Annotated[
        str,
        typer.Option(help="Forecast origins as days before the data's last day, comma separated."),
    ] = "28,56,84",
    series: Annotated[
        int | None, typer.Option(help="Score a random sample of this many series (default all).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    horizon: Annotated[int, typer.Option(help="Days scored after each origin.")] = 28,
    workers: Annotated[
        int | None, typer.Option(help="Processes for the engine (default: every CPU).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores to this JSON file.")
    ] = None,
) -> None:
    """Run the engine as the batch layer configures it against four baselines, per origin."""
    from salesphere.forecast.engine import default_workers
    from salesphere_tools.forecast import m5
    from salesphere_tools.forecast.evaluate import evaluate as run

    if dataset not in DATASETS:
        raise typer.BadParameter(f"--dataset must be one of {', '.join(DATASETS)}")
    try:
        days = [int(o) for o in origins.split(",") if o.strip()]
    except ValueError:
        raise typer.BadParameter("--origins takes whole days, e.g. 28,56,84") from None
    try:
        data = m5.load()
    except m5.DatasetMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        result = run(
            data,
            series=series,
            seed=seed,
            origins=days,
            horizon=horizon,
            workers=workers or default_workers(),
            dataset=dataset,
            progress=lambda msg: typer.echo(msg, err=True),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    print_evaluation(result)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {json_path}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(forecast_app, name="forecast")
