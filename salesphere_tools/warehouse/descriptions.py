"""Put each serving view's documentation into the warehouse itself.

Analysts browsing datasets (BigQuery console, INFORMATION_SCHEMA, ``bq show``) see the
same description and column meanings as docs/data-dictionary.md, from the same doc
block in the view files under ``sql/serving/``.
"""

from __future__ import annotations

from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sqldocs import parse_dir
from sql import VIEW_DIRS


def apply_view_docs(settings: Settings) -> list[str]:
    """Set the description of every serving view and of each of its columns."""
    from google.cloud import bigquery

    client = clients.bigquery_client(settings)
    updated = []
    for doc in parse_dir(*VIEW_DIRS):
        table = client.get_table(f"{settings.project}.{doc.name}")
        table.description = doc.description
        table.schema = [
            bigquery.SchemaField(
                field.name,
                field.field_type,
                mode=field.mode,
                description=doc.columns.get(field.name) or field.description,
                fields=field.fields,
            )
            for field in table.schema
        ]
        client.update_table(table, ["description", "schema"])
        updated.append(doc.name)
    return updated
