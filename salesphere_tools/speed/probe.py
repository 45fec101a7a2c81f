"""Drive and observe the speed layer from outside: publish envelopes, wait for rows.

Shared by the integration tests, ``salesphere speed`` commands and the benchmark, so all
three observe the layer the same way: through Pub/Sub and BigQuery, like a user would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from salesphere import names
from salesphere.envelope import Envelope
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.warehouse.schemas import PRODUCTS, SPEED_EVENTS, STOCK_ALERTS


def publish(settings: Settings, envelopes: Iterable[Envelope], publisher: Any = None) -> None:
    """Publish envelopes to ``events`` exactly as ingest does (body + attributes)."""
    client = publisher or clients.publisher(settings)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    futures = [client.publish(topic, e.to_json(), **e.attributes()) for e in envelopes]
    for future in futures:
        future.result(timeout=30)


def id_counts(settings: Settings, event_ids: Sequence[str], client: Any = None) -> dict[str, int]:
    """How many ``speed.events`` rows each id has (absent ids are missing from the result)."""
    from google.cloud import bigquery

    bq = client or clients.bigquery_client(settings)
    job = bq.query(
        f"SELECT event_id, COUNT(*) AS n FROM `{settings.project}.{SPEED_EVENTS.ref}` "
        "WHERE event_id IN UNNEST(@ids) GROUP BY event_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(event_ids))]
        ),
    )
    return {row["event_id"]: row["n"] for row in job.result()}


def rows_for(settings: Settings, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The ``speed.events`` rows of these ids, ordered by id."""
    from google.cloud import bigquery

    job = clients.bigquery_client(settings).query(
        f"SELECT * FROM `{settings.project}.{SPEED_EVENTS.ref}` "
        "WHERE event_id IN UNNEST(@ids) ORDER BY event_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(event_ids))]
        ),
    )
    return [dict(row.items()) for row in job.result()]


def alerts_for(settings: Settings, store_id: str) -> list[dict[str, Any]]:
    """``speed.stock_alerts`` rows of one store, oldest crossing first."""
    from google.cloud import bigquery

    job = clients.bigquery_client(settings).query(
        f"SELECT * FROM `{settings.project}.{STOCK_ALERTS.ref}` WHERE store_id = @store "
        "ORDER BY occurred_at, alert_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("store", "STRING", store_id)]
        ),
    )
    return [dict(row.items()) for row in job.result()]


def add_product(settings: Settings, sku: str, reorder_point: int) -> None:
    """A catalog row, so the speed layer knows the SKU's reorder point."""
    errors = clients.bigquery_client(settings).insert_rows_json(
        f"{settings.project}.{PRODUCTS.ref}",
        [
            {
                "sku": sku,
                "name": f"Probe {sku}",
                "category": "probe",
                "unit_cost": "1.00",
                "list_price": "2.00",
                "reorder_point": reorder_point,
                "supplier_lead_time_days": 3,
            }
        ],
    )
    if errors:
        raise RuntimeError(f"could not add product {sku}: {errors}")
