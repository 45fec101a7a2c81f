"""``salesphere docs``: regenerate the data dictionary from the SQL files' doc blocks, or
(``--openapi``) the ingest API's OpenAPI document from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from salesphere_tools.local.prereqs import REPO_ROOT

DICTIONARY = REPO_ROOT / "docs/data-dictionary.md"
OPENAPI = REPO_ROOT / "docs/openapi.json"


def render_openapi() -> str:
    from salesphere.ingest import openapi

    return openapi.render()


def render_dictionary() -> str:
    from salesphere.sqldocs import TableDoc, data_dictionary, parse_dir
    from salesphere.warehouse.schemas import PRODUCTS, STORES

    tables = tuple(
        TableDoc(t.ref, t.description, tuple((c.name, c.type, c.description) for c in t.columns))
        for t in (PRODUCTS, STORES)
    )
    from sql import VIEW_DIRS

    return data_dictionary(parse_dir(*VIEW_DIRS), tables)


def register(app: typer.Typer) -> None:
    @app.command()
    def docs(
        out: Annotated[
            Path | None,
            typer.Option(
                help="Where to write (default docs/data-dictionary.md or docs/openapi.json)."
            ),
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Fail if the file is out of date; write nothing.")
        ] = False,
        openapi: Annotated[
            bool,
            typer.Option("--openapi", help="The ingest HTTP API's OpenAPI 3.1 document instead."),
        ] = False,
    ) -> None:
        """Write docs/data-dictionary.md (every serving view, its columns and an example query)
        or, with --openapi, docs/openapi.json (the ingest HTTP API's contract)."""
        text = render_openapi() if openapi else render_dictionary()
        out = out or (OPENAPI if openapi else DICTIONARY)
        command = "salesphere docs --openapi" if openapi else "salesphere docs"
        if check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                typer.echo(f"{out} is out of date: run `{command}` and commit it.", err=True)
                raise typer.Exit(1)
            typer.echo(f"{out} is up to date.")
            return
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {out}")
