"""`salesphere query "SQL"`: read the warehouse (serving views) from the command line."""

from __future__ import annotations

import csv
import json
import sys
from decimal import Decimal
from typing import Any

import typer

from salesphere.exports import safe_row


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def query(
    sql: str = typer.Argument(..., help='SQL, e.g. "SELECT * FROM serving.sales_daily LIMIT 5"'),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Run SQL against the warehouse (the twin unless SALESPHERE_ENV says otherwise)."""
    if fmt not in {"table", "csv", "json"}:
        raise typer.BadParameter("--format must be table, csv or json")
    from google.api_core.exceptions import GoogleAPIError

    from salesphere.gcp import clients
    from salesphere.settings import Settings

    try:
        result = clients.bigquery_client(Settings.from_env()).query_and_wait(sql)
        columns = [field.name for field in result.schema]
        rows = [[_plain(v) for v in row.values()] for row in result]
    except GoogleAPIError as exc:
        typer.echo(f"query failed: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # connection refused and the like
        typer.echo(
            f"cannot reach the warehouse ({exc}); is the twin up? `salesphere local up`", err=True
        )
        raise typer.Exit(1) from None
    if fmt == "json":
        typer.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
    elif fmt == "csv":
        # for people: text that would run as a spreadsheet formula is neutralised
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(safe_row(columns))
        writer.writerows(safe_row(row) for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("query")(query)
