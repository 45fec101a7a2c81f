"""`salesphere ingest`: drop files into the landing bucket, or POST a live batch.

    salesphere ingest FILE... [--source NAME] [--wait]       (same as `ingest drop`)
    salesphere ingest post FILE.json... --source pos [--url URL]

Files go to ``gs://<landing>/<source>/<filename>``; the landing bucket's finalize
notification then triggers the file-drop function, exactly as in cloud. Without
``--source`` the source folder is taken from the mapping whose file-name pattern fits
(``vendas_*`` -> spreadsheet, ``estoque_*`` -> inventory). The sending itself lives in
:mod:`salesphere_tools.ingest.send`, shared with the demo and the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from salesphere.settings import Settings


class DropUnlessSubcommand(TyperGroup):
    """``salesphere ingest FILE...`` means ``ingest drop FILE...``: dropping files is the
    common case, and it keeps the command people already type."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["drop", *args]
        return super().parse_args(ctx, args)


ingest_app = typer.Typer(
    cls=DropUnlessSubcommand,
    help="Drop files into the landing bucket (default), or `post` a live batch to the HTTP API.",
    no_args_is_help=True,
)


@ingest_app.command("drop")
def drop(
    files: Annotated[list[Path], typer.Argument(help="Files to drop into the landing bucket.")],
    source: Annotated[
        str | None, typer.Option(help="Landing folder (default: from the file name).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for each file's outcome.")] = False,
) -> None:
    """Drop FILEs into the landing bucket, where the file-drop function picks them up."""
    from salesphere_tools.ingest.send import UnknownSource, upload_files, wait_for_marker

    settings = Settings.from_env()
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise typer.BadParameter(f"not a file: {', '.join(missing)}")
    try:
        uploaded = upload_files(settings, files, source)
    except UnknownSource as exc:
        raise typer.BadParameter(str(exc)) from exc
    for item in uploaded:
        typer.echo(f"{item['file']} -> gs://{settings.buckets.landing}/{item['object']}")
        if wait:
            outcome = wait_for_marker(settings, item["sha256"])
            typer.echo(f"  {json.dumps(outcome)}")


@ingest_app.command("post")
def post(
    files: Annotated[list[Path], typer.Argument(help="JSON batch files to POST.")],
    source: Annotated[str, typer.Option(help="Live source name (pos, ecommerce, inventory).")],
    url: Annotated[str | None, typer.Option(help="Ingest URL (default: the twin's).")] = None,
) -> None:
    """POST each JSON batch to the HTTP API, HMAC-signed; exits 1 if any was refused."""
    from salesphere_tools.ingest.send import post_batch

    settings = Settings.from_env()
    worst = 0
    for path in files:
        status, body = post_batch(settings, path, source, url)
        worst = max(worst, status)
        summary = body.get("summary") or body.get("message")
        typer.echo(f"{path}: HTTP {status} {json.dumps(summary)}")
    if worst >= 400:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach ``salesphere ingest`` to the main app."""
    app.add_typer(ingest_app, name="ingest")
