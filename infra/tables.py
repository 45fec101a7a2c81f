"""Create the BigQuery tables of one dataset from :mod:`infra.schemas` specs."""

from __future__ import annotations

import json

import pulumi
import pulumi_gcp as gcp

from infra.schemas import TableSpec
from infra.settings import StackSettings

DAY_MS = 24 * 3600 * 1000


def create_table(
    spec: TableSpec,
    settings: StackSettings,
    dataset: gcp.bigquery.Dataset,
    layer: str,
    parent: pulumi.Resource,
    partition_expiration_days: int | None = None,
) -> gcp.bigquery.Table:
    """A partitioned (by day) and clustered table when the spec says so; protected in prod."""
    partitioning = None
    if spec.partition_field:
        partitioning = gcp.bigquery.TableTimePartitioningArgs(
            type="DAY",
            field=spec.partition_field,
            expiration_ms=partition_expiration_days * DAY_MS if partition_expiration_days else None,
        )
    return gcp.bigquery.Table(
        f"table-{spec.dataset}-{spec.table}",
        dataset_id=dataset.dataset_id,
        table_id=spec.table,
        project=settings.project,
        description=f"{spec.description} (schema: {spec.source})".strip(),
        schema=json.dumps(list(spec.fields)),
        time_partitioning=partitioning,
        clusterings=list(spec.clustering) or None,
        deletion_protection=settings.deletion_protection,
        labels=settings.labels(layer),
        opts=pulumi.ResourceOptions(parent=parent, protect=settings.protect),
    )


def create_tables(
    specs: dict[str, TableSpec],
    datasets: tuple[str, ...],
    settings: StackSettings,
    base_datasets: dict[str, gcp.bigquery.Dataset],
    layer: str,
    parent: pulumi.Resource,
    partition_expiration: dict[str, int] | None = None,
) -> dict[str, gcp.bigquery.Table]:
    """Every spec'd table whose dataset belongs to this layer, keyed ``dataset.table``."""
    expirations = partition_expiration or {}
    return {
        key: create_table(
            spec, settings, base_datasets[spec.dataset], layer, parent, expirations.get(key)
        )
        for key, spec in sorted(specs.items())
        if spec.dataset in datasets
    }
