"""Export the schemas of tables materialised from SQL (``batch.*``) for the Pulumi program.

The batch views are tables whose columns are whatever their query yields, so their schema
is read from a running warehouse (the twin) rather than typed twice. The Pulumi program
provisions them from ``salesphere/sql/tables/<dataset>.<table>.json`` so that serving views, which read
them, can be created in cloud before the first batch run. A test fails when the committed
files drift from what the queries produce; fix it with::

    salesphere local up --emulators-only && python -m salesphere_tools.warehouse.export_schemas
"""

from __future__ import annotations

import json
from pathlib import Path

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sql import SQL_DIR
from salesphere.sqldocs import parse

TABLES_DIR = SQL_DIR / "tables"


def exported(settings: Settings) -> dict[str, str]:
    """File name -> JSON text for every table in the ``batch`` dataset."""
    client = clients.bigquery_client(settings)
    out: dict[str, str] = {}
    for item in sorted(
        client.list_tables(f"{settings.project}.{names.DATASET_BATCH}"), key=lambda t: t.table_id
    ):
        table = client.get_table(item.reference)
        sql = SQL_DIR / names.DATASET_BATCH / f"{table.table_id}.sql"
        doc = parse(sql) if sql.exists() else None
        fields = []
        for field in table.schema:
            entry = {"name": field.name, "type": field.field_type, "mode": field.mode or "NULLABLE"}
            text = field.description or (doc.columns.get(field.name) if doc else None)
            if text:
                entry["description"] = text
            fields.append(entry)
        body = {
            "description": (doc.description if doc else None) or table.description or "",
            "fields": fields,
        }
        out[f"{names.DATASET_BATCH}.{table.table_id}.json"] = json.dumps(body, indent=2) + "\n"
    return out


def write(settings: Settings, directory: Path = TABLES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in exported(settings).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Settings.from_env()):
        print(path)
