"""``salesphere docs``: regenerate the data dictionary from the SQL files' doc blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from salesphere_tools.local.prereqs import REPO_ROOT

DICTIONARY = REPO_ROOT / "docs/data-dictionary.md"


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
        out: Annotated[Path, typer.Option(help="Where to write the dictionary.")] = DICTIONARY,
        check: Annotated[
            bool, typer.Option("--check", help="Fail if the file is out of date; write nothing.")
        ] = False,
    ) -> None:
        """Write docs/data-dictionary.md: every serving view, its columns and an example query."""
        text = render_dictionary()
        if check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                typer.echo(f"{out} is out of date: run `salesphere docs` and commit it.", err=True)
                raise typer.Exit(1)
            typer.echo(f"{out} is up to date.")
            return
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {out}")
