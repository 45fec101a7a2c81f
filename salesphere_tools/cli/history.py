"""`salesphere history`: bring a previous system's daily sales into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

history_app = typer.Typer(help="Daily sales history from the system the platform replaces.")


@history_app.command("import")
def import_history(
    path: Annotated[Path, typer.Argument(help="CSV or XLSX: store, SKU, day, units, net sales.")],
) -> None:
    """Import a daily summary (idempotent: the same file twice lands once)."""
    from salesphere.ingest.history import import_file
    from salesphere.ingest.readers import FileRejected
    from salesphere.settings import Settings

    if not path.is_file():
        typer.echo(f"{path} not found", err=True)
        raise typer.Exit(2)
    try:
        report = import_file(Settings.from_env(), path)
    except FileRejected as exc:
        typer.echo(f"{path.name} refused ({exc.rule}): {exc}", err=True)
        raise typer.Exit(2) from None
    if report.already_imported:
        typer.echo(
            f"{path.name} was already imported (id {report.import_id[:12]}); nothing changed"
        )
        return
    span = f"{report.first_day:%d/%m/%Y}..{report.last_day:%d/%m/%Y}" if report.first_day else "-"
    typer.echo(
        f"{path.name}: {report.received} rows read, {report.accepted} imported ({span}), "
        f"{report.rejected} quarantined"
    )
    for reject in report.rejects[:10]:
        typer.echo(f"  row {reject.row}: {reject.rule}: {reject.message}", err=True)
    if report.rejected > 10:
        typer.echo(f"  ... {report.rejected - 10} more in ops.rejects (source history)", err=True)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(history_app, name="history")
