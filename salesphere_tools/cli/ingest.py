"""`salesphere ingest`: drop files into the landing bucket, or POST a live batch.

    salesphere ingest FILE... [--source NAME] [--wait]
    salesphere ingest post FILE.json --source pos [--url URL]

Files go to ``gs://<landing>/<source>/<filename>``; the landing bucket's finalize
notification then triggers the file-drop function, exactly as in cloud. Without
``--source`` the source folder is taken from the mapping whose file-name pattern fits
(``vendas_*`` -> spreadsheet, ``estoque_*`` -> inventory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from salesphere.settings import Settings


def register(app: typer.Typer) -> None:
    """Attach ``salesphere ingest`` to the main app."""

    @app.command("ingest")
    def ingest(
        files: Annotated[list[Path], typer.Argument(help="Files to drop; or `post FILE.json`.")],
        source: Annotated[
            str | None, typer.Option(help="Source folder / live source name.")
        ] = None,
        wait: Annotated[bool, typer.Option(help="Wait for each file's outcome.")] = False,
        url: Annotated[
            str | None, typer.Option(help="Ingest URL for `post` (default: twin).")
        ] = None,
    ) -> None:
        """Drop FILEs into the landing bucket, or `post FILE.json --source pos` to the HTTP API."""
        from salesphere_tools.ingest.send import (
            UnknownSource,
            post_batch,
            upload_files,
            wait_for_marker,
        )

        settings = Settings.from_env()
        if files and str(files[0]) == "post":
            if not source:
                raise typer.BadParameter("`ingest post` needs --source (pos, ecommerce, inventory)")
            worst = 0
            for path in files[1:]:
                status, body = post_batch(settings, path, source, url)
                worst = max(worst, status)
                summary = body.get("summary") or body.get("message")
                typer.echo(f"{path}: HTTP {status} {json.dumps(summary)}")
            if worst >= 400:
                raise typer.Exit(1)
            return
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
