"""Warehouse table definitions, derived from the canonical model where they hold events.

One definition serves the twin (``ensure_tables``), the Pulumi program (which reads
:data:`TABLES` to declare ``bigquery.Table`` resources) and the tests. Event tables are
partitioned by receive date, because the batch/speed cutoff and incremental rebuilds both
work on receive time, and clustered by store and SKU, which is how analysts filter.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum

from salesphere import names
from salesphere.model import CanonicalEvent


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # BigQuery standard SQL type
    mode: str = "NULLABLE"
    description: str = ""


@dataclass(frozen=True)
class TableDef:
    dataset: str
    name: str
    columns: tuple[Column, ...]
    description: str
    partition_field: str | None = None  # TIMESTAMP column, DAY partitioning on its date
    clustering: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> str:
        return f"{self.dataset}.{self.name}"


def _bq_type(annotation: object) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return _bq_type(args[0])
    if typing.get_origin(annotation) is typing.Annotated:
        return _bq_type(args[0])
    if annotation is datetime:
        return "TIMESTAMP"
    if annotation is Decimal:
        return "NUMERIC"
    if annotation is int:
        return "INT64"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "STRING"
    return "STRING"


def event_columns() -> tuple[Column, ...]:
    """The canonical event's columns, in model order."""
    cols = []
    for name, info in CanonicalEvent.model_fields.items():
        mode = "REQUIRED" if info.is_required() else "NULLABLE"
        cols.append(Column(name, _bq_type(info.annotation), mode, info.description or ""))
    return tuple(cols)


EVENT_CLUSTERING = ("store_id", "sku", "event_type")

MASTER_EVENTS = TableDef(
    names.DATASET_MASTER,
    "events",
    event_columns(),
    "Every accepted event once, rebuilt by the batch layer from the GCS archive.",
    partition_field="received_at",
    clustering=EVENT_CLUSTERING,
)

SPEED_EVENTS = TableDef(
    names.DATASET_SPEED,
    "events",
    (
        *event_columns(),
        Column("written_at", "TIMESTAMP", description="When the speed layer wrote the row."),
    ),
    "Accepted events landed by the speed layer within seconds of ingest.",
    partition_field="received_at",
    clustering=EVENT_CLUSTERING,
)

STOCK_ALERTS = TableDef(
    names.DATASET_SPEED,
    "stock_alerts",
    (
        Column("alert_id", "STRING", "REQUIRED", "Deterministic: store, SKU, crossing event."),
        Column("store_id", "STRING", "REQUIRED"),
        Column("sku", "STRING", "REQUIRED"),
        Column(
            "kind",
            "STRING",
            "REQUIRED",
            "below_reorder_point, out_of_stock or count_needed (negative on hand).",
        ),
        Column("on_hand", "INT64", "REQUIRED", "Running units on hand after the event."),
        Column("reorder_point", "INT64"),
        Column("event_id", "STRING", description="The event that crossed the threshold."),
        Column("occurred_at", "TIMESTAMP", "REQUIRED"),
        Column("raised_at", "TIMESTAMP", "REQUIRED"),
    ),
    "Stock alerts raised by the speed layer, once per downward crossing.",
    partition_field="raised_at",
    clustering=("store_id", "sku"),
)

SPEED_DEAD_LETTERS = TableDef(
    names.DATASET_SPEED,
    "dead_letters",
    (
        Column("message_id", "STRING"),
        Column("envelope_id", "STRING"),
        Column("error", "STRING", "REQUIRED"),
        Column("payload", "STRING", description="The original message body (UTF-8, truncated)."),
        Column("failed_at", "TIMESTAMP", "REQUIRED"),
    ),
    "Messages the speed layer could not write, with the reason; nothing is dropped.",
    partition_field="failed_at",
)

INGEST_LOG = TableDef(
    names.DATASET_OPS,
    "ingest_log",
    (
        Column("request_id", "STRING", "REQUIRED", "HTTP request hash or file object+generation."),
        Column("source", "STRING", "REQUIRED"),
        Column("channel", "STRING", "REQUIRED", "http or file."),
        Column("object_name", "STRING"),
        Column("received_at", "TIMESTAMP", "REQUIRED"),
        Column("records_received", "INT64", "REQUIRED"),
        Column("records_accepted", "INT64", "REQUIRED"),
        Column("records_rejected", "INT64", "REQUIRED"),
        Column(
            "events_accepted",
            "INT64",
            description="Canonical events in the accepted records (a web order holds several).",
        ),
        Column(
            "document_key",
            "STRING",
            description="A web-shop invoice's access key (NF-e); NULL on every other row.",
        ),
        Column(
            "order_id",
            "STRING",
            description="The web order a web-shop invoice names (xPed, or the free text per "
            "the fiscal policy); serving.web_invoice_orders matches it to the order feed.",
        ),
    ),
    "One row per ingest request or file: the counts reconciliation starts from.",
    partition_field="received_at",
    clustering=("source",),
)

REJECTS = TableDef(
    names.DATASET_OPS,
    "rejects",
    (
        Column("reject_id", "STRING", "REQUIRED"),
        Column("request_id", "STRING", "REQUIRED"),
        Column("source", "STRING", "REQUIRED"),
        Column("location", "STRING", description="Record index, or file row and column."),
        Column("field", "STRING"),
        Column("rule", "STRING", "REQUIRED", "Stable reason code (see docs/ingest.md)."),
        Column("message", "STRING", "REQUIRED"),
        Column("value", "STRING"),
        Column("payload", "STRING", description="The original record, as received."),
        Column("received_at", "TIMESTAMP", "REQUIRED"),
    ),
    "Quarantined records with their reasons (also kept as objects in the quarantine bucket).",
    partition_field="received_at",
    clustering=("source", "rule"),
)

BATCH_RUNS = TableDef(
    names.DATASET_OPS,
    "batch_runs",
    (
        Column("run_id", "STRING", "REQUIRED"),
        Column("started_at", "TIMESTAMP", "REQUIRED"),
        Column("finished_at", "TIMESTAMP"),
        Column("status", "STRING", "REQUIRED", "running, succeeded or failed."),
        Column("cutoff", "TIMESTAMP", description="Receive time up to which batch is complete."),
        Column("events_in_master", "INT64"),
        Column("partitions_rebuilt", "INT64"),
        Column("error", "STRING"),
    ),
    "History of batch runs; the newest succeeded run's cutoff is what serving uses.",
)

PRODUCTS = TableDef(
    names.DATASET_REFERENCE,
    "products",
    (
        Column("sku", "STRING", "REQUIRED", "Product SKU."),
        Column("name", "STRING", "REQUIRED", "Product name."),
        Column("category", "STRING", "REQUIRED", "Category (Portuguese name)."),
        Column("unit_cost", "NUMERIC", "REQUIRED", "What one unit costs the company (BRL)."),
        Column("list_price", "NUMERIC", "REQUIRED", "Shelf price of one unit (BRL)."),
        Column(
            "reorder_point",
            "INT64",
            "REQUIRED",
            "Static reorder point: units on hand below which to reorder (the speed layer's "
            "alerts).",
        ),
        Column(
            "supplier_lead_time_days",
            "INT64",
            "REQUIRED",
            "Days from placing an order to the goods on the shelf (0-365).",
        ),
        Column("supplier", "STRING", description="Supplier the SKU is bought from."),
        # Nullable: a catalogue loaded before these terms existed keeps working, and
        # serving.replenishment reads NULL as the catalogue default (salesphere.reference).
        Column(
            "review_period_days",
            "INT64",
            description="Days between two purchase reviews of the SKU (1-365; blank: 7).",
        ),
        Column(
            "pack_size",
            "INT64",
            description="Units per case; orders are whole cases (1-10000; blank: 1).",
        ),
        Column(
            "min_order_quantity",
            "INT64",
            description="Smallest order the supplier accepts, in units (blank or 0: none).",
        ),
        Column(
            "gtin",
            "STRING",
            description="The unit's GTIN/EAN; how fiscal documents name the product (blank: none).",
        ),
        Column(
            "service_level",
            "FLOAT64",
            description="Chance of not running out in a review cycle the safety stock buys "
            "(0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99 or 0.995; blank: 0.95).",
        ),
    ),
    "The catalog: prices, the static reorder point and the supplier's ordering terms.",
)

STORES = TableDef(
    names.DATASET_REFERENCE,
    "stores",
    (
        Column("store_id", "STRING", "REQUIRED", "Store id (SP01; WEB for the web shop)."),
        Column("name", "STRING", "REQUIRED", "Store name."),
        Column("city", "STRING", "REQUIRED", "City."),
        Column("state", "STRING", "REQUIRED", "State (UF), two letters."),
        Column("channel", "STRING", "REQUIRED", "store or online."),
        Column(
            "timezone",
            "STRING",
            "REQUIRED",
            "IANA timezone of the store's clock: its business day (America/Sao_Paulo).",
        ),
        Column(
            "cnpj",
            "STRING",
            description="The establishment's CNPJ (numeric or alphanumeric), how fiscal "
            "documents name the store (blank: none).",
        ),
        Column(
            "country",
            "STRING",
            description="ISO 3166 country code (BR when blank); with the state as its "
            "subdivision it picks the holidays and retail events of the forecast.",
        ),
    ),
    "Stores and the online channel.",
)

SUPPLIER_ITEMS = TableDef(
    names.DATASET_REFERENCE,
    "supplier_items",
    (
        Column("supplier_cnpj", "STRING", "REQUIRED", "The supplier's CNPJ (issuer of its NF-e)."),
        Column("supplier_code", "STRING", "REQUIRED", "The supplier's product code (cProd)."),
        Column("sku", "STRING", "REQUIRED", "Our SKU (reference.products)."),
        Column(
            "units_per_supplier_unit",
            "INT64",
            "REQUIRED",
            "Our units in one of the supplier's units (a box of 12: 12).",
        ),
    ),
    "Suppliers' product codes and units mapped to our SKUs: how a supplier's NF-e becomes "
    "stock receipts in units.",
)

TRANSFER_LEAD_TIMES = TableDef(
    names.DATASET_REFERENCE,
    "transfer_lead_times",
    (
        Column("from_store", "STRING", "REQUIRED", "Store the stock leaves (reference.stores)."),
        Column("to_store", "STRING", "REQUIRED", "Store the stock arrives at (reference.stores)."),
        Column("days", "INT64", "REQUIRED", "Days from dispatch to the goods on the shelf."),
    ),
    "Days a transfer takes per store pair and direction; a pair without a row takes the "
    "default (salesphere.reference: 2 days within a state, 4 across states).",
)

PURCHASE_ORDER_LINES = TableDef(
    names.DATASET_OPS,
    "purchase_order_lines",
    (
        Column("order_number", "STRING", "REQUIRED", "The purchase order's number in the ERP."),
        Column("line_number", "INT64", "REQUIRED", "The line within the order (1, 2, ...)."),
        Column(
            "supplier_cnpj",
            "STRING",
            "REQUIRED",
            "The supplier's CNPJ (numeric or alphanumeric, check digits validated).",
        ),
        Column("store_id", "STRING", "REQUIRED", "Store the goods are for (reference.stores)."),
        Column("sku", "STRING", "REQUIRED", "Our SKU (reference.products)."),
        Column("quantity", "INT64", "REQUIRED", "Units ordered (our units, not the supplier's)."),
        Column("unit_cost", "NUMERIC", "REQUIRED", "Agreed cost of one unit (BRL)."),
        Column("ordered_at", "TIMESTAMP", "REQUIRED", "When the order was placed (UTC)."),
        Column(
            "expected_delivery",
            "DATE",
            "REQUIRED",
            "Day the supplier promised the goods at the store (the store's calendar).",
        ),
        Column("cancelled", "BOOL", "REQUIRED", "The line was cancelled in the ERP."),
        Column(
            "received_at",
            "TIMESTAMP",
            "REQUIRED",
            "When ingest read this version of the line; the newest version of a line wins.",
        ),
        Column("request_id", "STRING", "REQUIRED", "The file it came from (ops.ingest_log)."),
        Column(
            "source",
            "STRING",
            "REQUIRED",
            "The layout that read it (salesphere/mappings/orders/<layout>.yaml).",
        ),
        Column("object_name", "STRING", description="The landing object it came from."),
    ),
    "Purchase order lines as ERP exports (and `salesphere replenishment place`) drop them: "
    "one row per line per file, appended; the newest version of each (order_number, "
    "line_number) is the line's state. serving.open_purchase_orders reads it.",
    partition_field="received_at",
    clustering=("store_id", "sku"),
)

DEMAND_FORECAST = TableDef(
    names.DATASET_BATCH,
    "demand_forecast",
    (
        Column("store_id", "STRING", "REQUIRED", "Store or channel id (reference.stores)."),
        Column("sku", "STRING", "REQUIRED", "Product SKU (reference.products)."),
        Column(
            "forecast_date",
            "DATE",
            "REQUIRED",
            "The store's local business day being forecast (reference.stores.timezone).",
        ),
        Column(
            "origin_date",
            "DATE",
            "REQUIRED",
            "Last local business day of actuals the forecast was fitted on.",
        ),
        Column(
            "model",
            "STRING",
            "REQUIRED",
            "Model that made it (chosen per series by the backtest; see batch.forecast_accuracy).",
        ),
        Column("units", "FLOAT64", "REQUIRED", "Point forecast of units demanded (>= 0)."),
        Column(
            "units_lo_80", "FLOAT64", "NULLABLE", "Lower bound of the 80 % prediction interval."
        ),
        Column(
            "units_hi_80", "FLOAT64", "NULLABLE", "Upper bound of the 80 % prediction interval."
        ),
        Column(
            "units_lo_95", "FLOAT64", "NULLABLE", "Lower bound of the 95 % prediction interval."
        ),
        Column(
            "units_hi_95", "FLOAT64", "NULLABLE", "Upper bound of the 95 % prediction interval."
        ),
        Column("run_id", "STRING", "REQUIRED", "The batch run that wrote it (ops.batch_runs)."),
        Column("computed_at", "TIMESTAMP", "REQUIRED", "When the forecast was computed."),
    ),
    "Daily demand forecast per store and SKU from the latest batch run (one row per store, "
    "SKU and forecast_date; replaced whole by each run). Stock-out days were treated as "
    "missing demand, not zero. See docs/forecast.md.",
    clustering=("store_id", "sku"),
)

FORECAST_ACCURACY = TableDef(
    names.DATASET_BATCH,
    "forecast_accuracy",
    (
        Column("store_id", "STRING", "REQUIRED", "Store or channel id (reference.stores)."),
        Column("sku", "STRING", "REQUIRED", "Product SKU (reference.products)."),
        Column(
            "series_class",
            "STRING",
            "REQUIRED",
            "regular or intermittent (average demand interval >= 1.32 days).",
        ),
        Column(
            "model",
            "STRING",
            "REQUIRED",
            "Model evaluated, including the baselines seasonal_naive and trailing_avg_28.",
        ),
        Column("chosen", "BOOL", "REQUIRED", "The model the backtest chose for this series."),
        Column(
            "wape",
            "FLOAT64",
            description="sum |actual - forecast| / sum actual over the backtest's observed "
            "days (NULL when nothing sold).",
        ),
        Column(
            "mase",
            "FLOAT64",
            description="Mean absolute error scaled by the in-sample seasonal-naive (7-day) "
            "error; below 1 beats last week's sales.",
        ),
        Column(
            "bias",
            "FLOAT64",
            description="(sum forecast - sum actual) / sum actual; > 0 over-forecasts.",
        ),
        Column("folds", "INT64", "REQUIRED", "Rolling-origin folds scored."),
        Column("horizon_days", "INT64", "REQUIRED", "Days forecast in each fold."),
        Column("run_id", "STRING", "REQUIRED", "The batch run whose backtest produced it."),
        Column("computed_at", "TIMESTAMP", "REQUIRED", "When the backtest ran."),
    ),
    "Rolling-origin backtest per store, SKU and candidate model from the latest backtest run "
    "(weekly by default); chosen marks the model batch.demand_forecast uses. Stock-out days "
    "are excluded from every error. See docs/forecast.md.",
    clustering=("store_id", "sku"),
)

DAILY_HISTORY = TableDef(
    names.DATASET_MASTER,
    "daily_history",
    (
        Column("store_id", "STRING", "REQUIRED", "Store or channel id (reference.stores)."),
        Column("sku", "STRING", "REQUIRED", "Product SKU (reference.products)."),
        Column("day", "DATE", "REQUIRED", "Local business day of the sales in the old system."),
        Column("units", "INT64", "REQUIRED", "Units sold that day, net of returns (>= 0)."),
        Column("net_sales", "NUMERIC", "REQUIRED", "Net sales that day (BRL)."),
        Column(
            "import_id",
            "STRING",
            "REQUIRED",
            "SHA-256 of the imported file: the same file imported again is a no-op.",
        ),
        Column("file_name", "STRING", description="The file's name as given to the import."),
        Column("file_row", "INT64", description="Row of the file the values came from."),
        Column("imported_at", "TIMESTAMP", "REQUIRED", "When the import ran."),
    ),
    "Daily sales summaries imported from a previous system (salesphere history import). "
    "Append-only: a corrected file adds rows, and for each store, SKU and day the newest "
    "import wins. The forecast reads it together with batch.sales_daily, whose days win.",
    partition_field="imported_at",
    clustering=("store_id", "sku"),
)

TABLES: tuple[TableDef, ...] = (
    MASTER_EVENTS,
    SPEED_EVENTS,
    STOCK_ALERTS,
    SPEED_DEAD_LETTERS,
    INGEST_LOG,
    REJECTS,
    BATCH_RUNS,
    PRODUCTS,
    STORES,
    SUPPLIER_ITEMS,
    TRANSFER_LEAD_TIMES,
    PURCHASE_ORDER_LINES,
    DEMAND_FORECAST,
    FORECAST_ACCURACY,
    DAILY_HISTORY,
)


def bq_schema(table: TableDef) -> list:  # list[bigquery.SchemaField]
    from google.cloud import bigquery

    return [
        bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description or None)
        for c in table.columns
    ]
