"""`salesphere speed` commands: look at what the speed layer has landed, newest first."""

from __future__ import annotations

import typer

from salesphere import names
from salesphere_tools.speed.tail import TABLES

speed_app = typer.Typer(help="Inspect the speed layer (speed.events, stock alerts, dead letters).")


def _cell(value: object) -> str:
    from datetime import datetime

    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@speed_app.command("tail")
def tail(
    what: str = typer.Argument("events", help="events, alerts or dead-letters"),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="rows to show"),
    all_columns: bool = typer.Option(False, "--all-columns", help="every column, not a summary"),
) -> None:
    """Show the newest rows of speed.events, speed.stock_alerts or speed.dead_letters."""
    from google.api_core import exceptions as gexc
    from rich.console import Console
    from rich.table import Table

    from salesphere.settings import Settings
    from salesphere_tools.speed.tail import newest_rows

    if what not in TABLES:
        raise typer.BadParameter(f"choose one of: {', '.join(TABLES)}")
    settings = Settings.from_env()
    table = TABLES[what][0]
    try:
        rows = newest_rows(settings, what, limit, all_columns=all_columns)
    except (gexc.GoogleAPIError, OSError) as exc:
        typer.echo(
            f"Could not read speed.{table}: {exc}\n"
            "Is the twin running? Start it with `salesphere local up`.",
            err=True,
        )
        raise typer.Exit(1) from exc
    out = Table(title=f"speed.{table} (newest {len(rows)})")
    for column in list(rows[0].keys()) if rows else []:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(_cell(v) for v in row.values()))
    Console().print(out)


@speed_app.command("replay-dead-letters")
def replay_dead_letters_command(
    limit: int | None = typer.Option(None, help="Replay at most this many messages."),
    parked_on: str = typer.Option(
        names.TOPIC_EVENTS_DEAD_LETTER,
        "--from",
        help=f"dead-letter topic: {' or '.join(sorted(names.DEAD_LETTERS))}",
    ),
) -> None:
    """Republish messages parked on a dead-letter topic to the topic they came from:
    envelopes (events-dead-letter -> events, after a speed-layer outage) or file
    notifications (file-drops-dead-letter -> file-drops, after a file-ingest outage).

    Safe to repeat: every layer deduplicates by event_id and the file ledger by file. Run
    it once the consumer is healthy again (`salesphere local status`); see docs/runbook.md.
    """
    from salesphere.settings import Settings
    from salesphere_tools.speed.replay import replay_dead_letters

    if parked_on not in names.DEAD_LETTERS:
        raise typer.BadParameter(f"choose --from {' or '.join(sorted(names.DEAD_LETTERS))}")
    report = replay_dead_letters(Settings.from_env(), parked_on=parked_on, limit=limit)
    typer.echo(
        f"replayed {report.replayed} message(s) from {parked_on}"
        + (f" carrying {report.events} event(s)" if report.events else "")
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(speed_app, name="speed")
