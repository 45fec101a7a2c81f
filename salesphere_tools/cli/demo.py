"""``salesphere demo``: the whole platform on this machine, on realistic data, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        days: Annotated[int, typer.Option(help="Days of business to generate.")] = 7,
        stores: Annotated[int, typer.Option(help="Physical stores (plus the web shop).")] = 4,
        seed: Annotated[int, typer.Option(help="Generator seed: same seed, same data.")] = 42,
        out: Annotated[Path, typer.Option(help="Where generated data and the report go.")] = Path(
            "out/demo"
        ),
        keep_running: Annotated[
            bool, typer.Option("--keep-running", help="Leave the twin up afterwards to explore.")
        ] = False,
    ) -> None:
        """Start the twin, feed it generated SalesSphere data through every layer, show results."""
        from salesphere_tools.demo import DemoOptions, run_demo

        ok = run_demo(
            DemoOptions(days=days, stores=stores, seed=seed, out=out, keep_running=keep_running)
        )
        if not ok:
            raise typer.Exit(1)
