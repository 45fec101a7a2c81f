"""Create the warehouse's tables (and, once they exist, its views) in the twin."""

from __future__ import annotations

from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.warehouse import views
from salesphere.warehouse.schemas import TABLES, TableDef, bq_schema
from salesphere_tools.warehouse.descriptions import apply_view_docs
from sql.views import ensure_serving_views


def ensure_table(settings: Settings, table: TableDef) -> None:
    from google.cloud import bigquery

    client = clients.bigquery_client(settings)
    bq_table = bigquery.Table(f"{settings.project}.{table.ref}", schema=bq_schema(table))
    bq_table.description = table.description
    if table.partition_field:
        bq_table.time_partitioning = bigquery.TimePartitioning(field=table.partition_field)
    if table.clustering:
        bq_table.clustering_fields = list(table.clustering)
    client.create_table(bq_table, exists_ok=True)


def ensure_warehouse(settings: Settings) -> None:
    """Idempotent: datasets exist already (provisioning); add tables, then views."""
    for table in TABLES:
        ensure_table(settings, table)
    views.ensure_cutoff_table(settings)
    views.ensure_batch_tables(settings)
    ensure_serving_views(settings)
    apply_view_docs(settings)
