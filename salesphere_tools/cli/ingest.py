"""`salesphere ingest`: drop files into the landing bucket, or POST a live batch.

    salesphere ingest FILE... [--source NAME] [--wait]
    salesphere ingest post FILE.json --source pos [--url URL]

Files go to ``gs://<landing>/<source>/<filename>``; the landing bucket's finalize
notification then triggers the file-drop function, exactly as in cloud. Without
``--source`` the source folder is taken from the mapping whose file-name pattern fits
(``vendas_*`` -> spreadsheet, ``estoque_*`` -> inventory).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from salesphere.settings import Settings

WAIT_SECONDS = 120.0


def guess_source(path: Path) -> str:
    """The landing folder for a file, from the first mapping whose pattern fits its name."""
    from salesphere.ingest.mapping import builtin_mappings

    for mapping in builtin_mappings():
        if (
            mapping.filenames
            and mapping.folders
            and mapping.matches_object(mapping.folders[0], path.name)
        ):
            return mapping.folders[0]
    raise typer.BadParameter(
        f"cannot tell which source {path.name} belongs to; pass --source "
        "(e.g. spreadsheet, inventory, pos, ecommerce)"
    )


def upload_files(
    settings: Settings, paths: list[Path], source: str | None = None
) -> list[dict[str, str]]:
    """Upload each file to ``<source>/<name>`` in the landing bucket; returns what went where."""
    from salesphere.io import clients

    bucket = clients.storage_client(settings).bucket(settings.buckets.landing)
    out = []
    for path in paths:
        folder = source or guess_source(path)
        name = f"{folder}/{path.name}"
        bucket.blob(name).upload_from_filename(str(path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append({"file": str(path), "object": name, "sha256": digest})
    return out


def wait_for_marker(
    settings: Settings, digest: str, timeout: float = WAIT_SECONDS
) -> dict[str, Any]:
    """The file-drop function's outcome for content ``digest`` once it has been processed."""
    from salesphere.ingest.files import MARKER_PREFIX
    from salesphere.io import clients

    blob = (
        clients.storage_client(settings)
        .bucket(settings.buckets.landing)
        .blob(MARKER_PREFIX + digest)
    )
    deadline = time.monotonic() + timeout
    while not blob.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no outcome for {digest[:12]} after {timeout:.0f} s; is the twin up with "
                "ingest-files (`salesphere local status`)? See its log in .twin/logs/"
            )
        time.sleep(0.25)
    return json.loads(blob.download_as_bytes())


def post_batch(
    settings: Settings, path: Path, source: str, url: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST a live batch file, HMAC-signed with the first configured key."""
    import requests

    from salesphere.ingest import signing

    body = path.read_bytes()
    key_id, secret = settings.hmac_keys[0]
    headers = {"Content-Type": "application/json", **signing.sign(key_id, secret, body)}
    target = f"{(url or settings.ingest_url).rstrip('/')}/?source={source}"
    response = requests.post(target, data=body, headers=headers, timeout=120)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"error": response.text[:500]}


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
        for item in upload_files(settings, files, source):
            typer.echo(f"{item['file']} -> gs://{settings.buckets.landing}/{item['object']}")
            if wait:
                outcome = wait_for_marker(settings, item["sha256"])
                typer.echo(f"  {json.dumps(outcome)}")
