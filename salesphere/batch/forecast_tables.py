"""The forecast's I/O: read the batch layer's actuals, replace the forecast tables once.

Reads, after the batch run's own commit (so they see exactly what it absorbed):

* ``batch.sales_daily`` -> units sold per store, SKU and local business day, completed by
  ``master.daily_history`` (an imported daily summary) on the days the platform has none;
* ``master.events`` (received before the cutoff) -> closing stock per position and local
  day, replaying counts and movements the way ``batch.inventory_positions`` does: a day
  whose closing stock is at or below zero is a stock-out day, censored in the series
  (until a position's first count in the window its stock is unknown, never censored);
* ``batch.forecast_accuracy`` -> the model each series' last backtest chose, and when.

Writes: the rows go to Parquet under the run's staging prefix in the artifacts bucket, are
loaded into per-run staging tables (free load jobs) and swapped into
``batch.demand_forecast`` (and, after a backtest, ``batch.forecast_accuracy``) by one
multi-statement transaction: readers see the previous forecast or the new one, never a
mix, and a re-run of the same run id replaces the same rows with the same rows.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from salesphere import names
from salesphere.batch.commit import wait_for
from salesphere.batch.pipeline import staging_prefix
from salesphere.batch.sqlrender import snippets
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sql import SQL_DIR
from salesphere.warehouse.schemas import DEMAND_FORECAST, FORECAST_ACCURACY, TableDef, bq_schema

FORECAST = DEMAND_FORECAST.ref
ACCURACY = FORECAST_ACCURACY.ref

#: Units per store, SKU and day: the platform's own days (batch.sales_daily) and, for the
#: days the platform has none, the newest import of the previous system's daily summary
#: (master.daily_history): a day the platform saw is never counted twice.
SALES_SQL = """
WITH platform AS (
    SELECT d.store_id, d.sku, d.sale_date AS day, SUM(d.units_sold) AS units
    FROM batch.sales_daily AS d
    WHERE d.sale_date >= @since AND d.store_id IS NOT NULL AND d.sku IS NOT NULL
    GROUP BY d.store_id, d.sku, d.sale_date
),

imported AS (
    SELECT h.store_id, h.sku, h.day, h.units
    FROM master.daily_history AS h
    WHERE h.day >= @since
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY h.store_id, h.sku, h.day ORDER BY h.imported_at DESC, h.import_id DESC
    ) = 1
)

SELECT p.store_id, p.sku, p.day, p.units FROM platform AS p
UNION ALL
SELECT i.store_id, i.sku, i.day, i.units
FROM imported AS i
LEFT JOIN platform AS p ON i.store_id = p.store_id AND i.sku = p.sku AND i.day = p.day
WHERE p.day IS NULL
"""

#: Closing stock per position and local day (days with a stock-relevant event). Within a
#: position, a count starts an "epoch": stock is the count plus the signed movements after
#: it (a movement at the count's own instant is before it, as in inventory_positions).
STOCK_SQL = """
WITH moves AS (
    SELECT
        e.store_id,
        e.sku,
        e.occurred_at,
        DATE(e.occurred_at, COALESCE(st.timezone, {home_timezone})) AS day,
        IF(e.event_type = 'stock_count', 1, 0) AS is_count,
        IF(e.event_type = 'stock_count', e.counted_quantity, NULL) AS counted,
        {signed_quantity} AS signed
    FROM master.events AS e
    LEFT JOIN reference.stores AS st ON e.store_id = st.store_id
    WHERE e.received_at < @cutoff AND e.occurred_at >= @since_ts
        AND e.event_type IN ('sale', 'return', 'stock_receipt', 'stock_adjustment',
                             'transfer_in', 'transfer_out', 'stock_count')
),

epochs AS (
    SELECT
        *,
        SUM(is_count) OVER (
            PARTITION BY store_id, sku ORDER BY occurred_at, is_count
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS epoch
    FROM moves
),

levels AS (
    SELECT
        store_id,
        sku,
        day,
        occurred_at,
        is_count,
        MAX(counted) OVER (PARTITION BY store_id, sku, epoch)
        + SUM(signed) OVER (
            PARTITION BY store_id, sku, epoch ORDER BY occurred_at, is_count
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS on_hand
    FROM epochs
    WHERE epoch > 0
)

SELECT
    store_id,
    sku,
    day,
    ARRAY_AGG(on_hand ORDER BY occurred_at DESC, is_count DESC LIMIT 1)[OFFSET(0)] AS closing
FROM levels
GROUP BY store_id, sku, day
"""

CHOICES_SQL = f"""
SELECT a.store_id, a.sku, a.model, a.computed_at
FROM {ACCURACY} AS a
WHERE a.chosen
"""


def stock_sql() -> str:
    """:data:`STOCK_SQL` with the platform's one definition of stock direction and home clock."""
    found = snippets(SQL_DIR / "metrics")
    return STOCK_SQL.format(
        signed_quantity=found["signed_quantity"], home_timezone=found["home_timezone"]
    )


def _query(settings: Settings, sql: str, params: list) -> Any:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=params)
    return clients.bigquery_client(settings).query_and_wait(sql, job_config=config)


def _columns(rows: Any, names_: tuple[str, ...]) -> dict[str, list]:
    """Rows as columns (Arrow when the client can, else row by row).

    Results larger than one page are read through BigQuery's REST result pages, never the
    Storage Read API: the client would open a read session by default, which needs an extra
    role in cloud and dials Google's own endpoint even when an emulator is configured.
    """
    to_arrow = getattr(rows, "to_arrow", None)
    if to_arrow is not None:
        table = to_arrow(create_bqstorage_client=False)
        return {n: table.column(n).to_pylist() for n in names_}
    out: dict[str, list] = {n: [] for n in names_}
    for row in rows:
        for n in names_:
            out[n].append(row[n])
    return out


def read_sales(settings: Settings, since: date) -> dict[str, list]:
    from google.cloud import bigquery

    rows = _query(settings, SALES_SQL, [bigquery.ScalarQueryParameter("since", "DATE", since)])
    return _columns(rows, ("store_id", "sku", "day", "units"))


def read_stockout_days(
    settings: Settings, cutoff: datetime, since: date, until: date
) -> dict[tuple[str, str], list[date]]:
    """Days each position closed with no stock, up to ``until`` (days without events carry
    the previous day's closing stock forward)."""
    from google.cloud import bigquery

    since_ts = datetime(since.year, since.month, since.day) - timedelta(days=1)
    rows = _query(
        settings,
        stock_sql(),
        [
            bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", cutoff),
            bigquery.ScalarQueryParameter("since_ts", "TIMESTAMP", since_ts.isoformat() + "Z"),
        ],
    )
    cols = _columns(rows, ("store_id", "sku", "day", "closing"))
    by_position: dict[tuple[str, str], list[tuple[date, float]]] = {}
    for store, sku, day, closing in zip(
        cols["store_id"], cols["sku"], cols["day"], cols["closing"], strict=True
    ):
        if closing is not None:
            by_position.setdefault((store, sku), []).append((day, closing))
    return {key: stockout_days(points, until) for key, points in by_position.items()}


def stockout_days(points: Iterable[tuple[date, float]], until: date) -> list[date]:
    """Days closing at or below zero, given the closing stock on the days it changed."""
    ordered = sorted(points)
    out: list[date] = []
    for (day, closing), nxt in zip(ordered, [*ordered[1:], None], strict=True):
        if closing > 0:
            continue
        end = nxt[0] if nxt is not None else until + timedelta(days=1)
        out.extend(day + timedelta(days=i) for i in range((end - day).days))
    return [d for d in out if d <= until]


@dataclass(frozen=True)
class Choices:
    """The model each series' last backtest chose, and when that backtest ran."""

    models: dict[tuple[str, str], str]
    computed_at: datetime | None


def read_choices(settings: Settings) -> Choices:
    rows = list(_query(settings, CHOICES_SQL, []))
    models = {(r["store_id"], r["sku"]): r["model"] for r in rows}
    newest = max((r["computed_at"] for r in rows), default=None)
    return Choices(models, newest)


def staging_table(settings: Settings, run_id: str, table: TableDef) -> str:
    """``batch._staging_<run>_<table>``: per run, under the batch layer's staging prefix."""
    return (
        f"{settings.project}.{names.DATASET_BATCH}._staging_{run_id.replace('-', '_')}_{table.name}"
    )


def _arrow_schema(table: TableDef):
    import pyarrow as pa

    kinds = {
        "STRING": pa.string(),
        "DATE": pa.date32(),
        "FLOAT64": pa.float64(),
        "INT64": pa.int64(),
        "BOOL": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema(
        [pa.field(c.name, kinds[c.type], nullable=c.mode != "REQUIRED") for c in table.columns]
    )


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _stage(settings: Settings, run_id: str, table: TableDef, rows: list[dict[str, Any]]) -> str:
    """Rows -> Parquet in the artifacts bucket -> a fresh staging table; returns its id."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from google.cloud import bigquery

    schema = _arrow_schema(table)
    arrow = pa.Table.from_pylist(
        [{k: _clean(v) for k, v in row.items()} for row in rows], schema=schema
    )
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    name = f"{staging_prefix(run_id)}/forecast/{table.name}.parquet"
    bucket = clients.storage_client(settings).bucket(settings.buckets.artifacts)
    bucket.blob(name).upload_from_string(buffer.getvalue(), content_type="application/octet-stream")
    client = clients.bigquery_client(settings)
    target = staging_table(settings, run_id, table)
    client.delete_table(target, not_found_ok=True)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=bq_schema(table),
    )
    uri = f"gs://{settings.buckets.artifacts}/{name}"
    wait_for(client.load_table_from_uri([uri], target, job_config=config))
    return target


def replace_script(forecast_staging: str, accuracy_staging: str | None) -> str:
    """The swap: replace the forecast (and the accuracy, after a backtest) atomically."""
    cols = ", ".join(c.name for c in DEMAND_FORECAST.columns)
    statements = [
        "BEGIN TRANSACTION;",
        f"DELETE FROM {FORECAST} WHERE TRUE;",
        f"INSERT INTO {FORECAST} ({cols}) SELECT {cols} FROM `{forecast_staging}`;",
    ]
    if accuracy_staging is not None:
        acc = ", ".join(c.name for c in FORECAST_ACCURACY.columns)
        statements += [
            f"DELETE FROM {ACCURACY} WHERE TRUE;",
            f"INSERT INTO {ACCURACY} ({acc}) SELECT {acc} FROM `{accuracy_staging}`;",
        ]
    statements.append("COMMIT TRANSACTION;")
    return "\n".join(statements)


def swap(settings: Settings, forecast_staging: str, accuracy_staging: str | None) -> None:
    """Run :func:`replace_script`; on any error BigQuery rolls it back and this raises."""
    script = replace_script(forecast_staging, accuracy_staging)
    clients.bigquery_client(settings).query(script).result()


def write(
    settings: Settings,
    run_id: str,
    forecast_rows: list[dict[str, Any]],
    accuracy_rows: list[dict[str, Any]] | None,
) -> None:
    """Stage, swap in one transaction, clean up (also when the swap fails)."""
    staged: list[str] = []
    try:
        staged.append(_stage(settings, run_id, DEMAND_FORECAST, forecast_rows))
        if accuracy_rows is not None:
            staged.append(_stage(settings, run_id, FORECAST_ACCURACY, accuracy_rows))
        swap(settings, staged[0], staged[1] if len(staged) > 1 else None)
    finally:
        client = clients.bigquery_client(settings)
        for table in staged:
            client.delete_table(table, not_found_ok=True)
        bucket = clients.storage_client(settings).bucket(settings.buckets.artifacts)
        for blob in bucket.list_blobs(prefix=f"{staging_prefix(run_id)}/forecast/"):
            blob.delete()
