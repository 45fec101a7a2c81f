"""``salesphere report``: the analysts' dashboard as one offline HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path(
            "out/salesphere-dashboard.html"
        ),
        check: Annotated[
            bool,
            typer.Option("--check", help="Open the page in headless Chromium and verify charts."),
        ] = False,
    ) -> None:
        """Render sales trend, products, stores, stock alerts, freshness and data quality."""
        from salesphere_tools.report.build import build_report

        path, problems = build_report(out, check=check)
        typer.echo(f"Dashboard written to {path.resolve()}")
        if problems:
            for problem in problems:
                typer.echo(f"  problem: {problem}", err=True)
            raise typer.Exit(1)
