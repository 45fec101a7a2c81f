"""Create the warehouse's tables (and, once they exist, its views) in the twin."""

from __future__ import annotations

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sql import SQL_DIR
from salesphere.warehouse import views
from salesphere.warehouse.schemas import TABLES, TableDef, bq_schema
from salesphere_tools.warehouse.descriptions import apply_view_docs


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


def ensure_written_batch_tables(settings: Settings) -> list[str]:
    """Create the batch tables that code writes rather than a query fills (the forecasts).

    Their schema is only the committed ``salesphere/sql/tables/batch.<name>.json`` (the same
    file the Pulumi program provisions them from), so serving views that read them can be
    created before the first batch run writes a row.
    """
    from google.cloud import bigquery

    from infra.schemas import table_specs

    queried = {p.stem for p in (SQL_DIR / names.DATASET_BATCH).glob("*.sql")}
    defined = {t.ref for t in TABLES} | {views.CUTOFF_TABLE}
    client = clients.bigquery_client(settings)
    created = []
    for key, spec in sorted(table_specs(SQL_DIR / "tables").items()):
        if spec.dataset != names.DATASET_BATCH or key in defined or spec.table in queried:
            continue
        table = bigquery.Table(
            f"{settings.project}.{key}",
            schema=[
                bigquery.SchemaField(
                    f["name"],
                    f["type"],
                    mode=f.get("mode", "NULLABLE"),
                    description=f.get("description"),
                )
                for f in spec.fields
            ],
        )
        table.description = spec.description
        client.create_table(table, exists_ok=True)
        created.append(key)
    return created


def ensure_warehouse(settings: Settings) -> None:
    """Idempotent: datasets exist already (provisioning); add tables, then views."""
    for table in TABLES:
        ensure_table(settings, table)
    ensure_written_batch_tables(settings)
    views.ensure_views(settings)
    apply_view_docs(settings)
