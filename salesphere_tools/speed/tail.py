"""The newest rows the speed layer has landed: the query behind ``salesphere speed tail``.

Kept out of the CLI module so the SQL checker (``salesphere_tools.sqlcheck``) can run the
same query through its recording client without importing the command line.
"""

from __future__ import annotations

from typing import Any

from salesphere.gcp import clients
from salesphere.settings import Settings

#: What ``tail`` can show: table in the ``speed`` dataset and the column it orders by.
TABLES = {
    "events": ("events", "written_at"),
    "alerts": ("stock_alerts", "raised_at"),
    "dead-letters": ("dead_letters", "failed_at"),
}

#: What a person reads first; `--all-columns` shows everything.
SHORT_COLUMNS = {
    "events": "written_at, received_at, event_type, store_id, sku, quantity, unit_price, "
    "order_id, source",
    "alerts": "raised_at, store_id, sku, kind, on_hand, reorder_point, occurred_at",
    "dead-letters": "failed_at, envelope_id, error",
}


def newest_rows(
    settings: Settings, what: str, limit: int, *, all_columns: bool = False
) -> list[Any]:
    """The ``limit`` newest rows of one of :data:`TABLES` (``KeyError`` for another name)."""
    table, order = TABLES[what]
    columns = "*" if all_columns else SHORT_COLUMNS[what]
    sql = (
        f"SELECT {columns} FROM `{settings.project}.speed.{table}` "
        f"ORDER BY {order} DESC LIMIT {limit}"
    )
    return list(clients.bigquery_client(settings).query(sql).result(timeout=30))
