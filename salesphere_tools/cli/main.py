"""The ``salesphere`` command: one entry point for data engineers and analysts.

Each group of commands lives in its own module (``salesphere_tools/cli/<group>.py``) exposing
``register(app)``; this module only wires them together, so adding a command never
touches another's code.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="salesphere",
    help=(
        "SalesSphere data platform: generate data, run the local twin, ingest, "
        "run the batch layer, query the serving views and check the books.\n\n"
        "New here? Try `salesphere demo`, or `salesphere local up` then `salesphere local status`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

#: Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "demo",
    "generate",
    "local",
    "ingest",
    "speed",
    "batch",
    "history",
    "query",
    "reconcile",
    "forecast",
    "replenishment",
    "report",
    "docs",
    "infra",
    "cost",
    "bench",
)

for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"salesphere_tools.cli.{_name}")
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # allows `python -m salesphere_tools.cli.main`
    main()
