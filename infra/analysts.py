"""Analysts query the serving views and nothing beneath them.

A BigQuery view runs with its reader's permissions on every table it selects from unless
the dataset holding those tables *authorises* the view. So:

* every dataset a serving view reads authorises the ``serving`` dataset as a whole
  (an authorised dataset: all views in ``serving``, present and future), as a dataset
  ACL entry (``gcp.bigquery.DatasetAccess``);
* the analyst group (``salesphere:analyst_group``) gets ``roles/bigquery.dataViewer`` on
  ``serving`` only, and ``roles/bigquery.jobUser`` on the project (a query is a job);
* ``serving`` holds only views, so reading it exposes no table.

https://cloud.google.com/bigquery/docs/authorized-datasets (read 2026-12-05).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.foundation import Foundation
from infra.iam import Grants
from infra.settings import StackSettings
from salesphere import names

AUTHORISE_PREFIX = "serving-reads-"


def read_datasets(reads: dict[str, frozenset[tuple[str, str]]]) -> list[str]:
    """The datasets (other than serving) any serving view selects from."""
    return sorted({ds for pairs in reads.values() for ds, _ in pairs} - {names.DATASET_SERVING})


def authorise_serving(
    settings: StackSettings,
    base: Foundation,
    reads: dict[str, frozenset[tuple[str, str]]],
    parent: pulumi.Resource,
) -> dict[str, gcp.bigquery.DatasetAccess]:
    """Each dataset the views read lets the serving dataset's views read it."""
    serving = base.datasets[names.DATASET_SERVING]
    return {
        dataset: gcp.bigquery.DatasetAccess(
            f"{AUTHORISE_PREFIX}{dataset}",
            dataset_id=base.datasets[dataset].dataset_id,
            project=settings.project,
            authorized_dataset=gcp.bigquery.DatasetAccessAuthorizedDatasetArgs(
                dataset=gcp.bigquery.DatasetAccessAuthorizedDatasetDatasetArgs(
                    project_id=settings.project, dataset_id=serving.dataset_id
                ),
                target_types=["VIEWS"],
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for dataset in read_datasets(reads)
    }


def grant_analysts(
    settings: StackSettings, base: Foundation, parent: pulumi.Resource
) -> list[pulumi.CustomResource]:
    """The analyst group may run queries and read the serving dataset; nothing else."""
    if not settings.analyst_group:
        return []
    grants = Grants(settings.project, settings.region, parent)
    return [
        grants.grant(
            "analysts-read-serving",
            "dataset",
            base.datasets[names.DATASET_SERVING].dataset_id,
            "roles/bigquery.dataViewer",
            settings.analyst_group,
        ),
        grants.grant(
            "analysts-run-queries",
            "project",
            settings.project,
            "roles/bigquery.jobUser",
            settings.analyst_group,
        ),
    ]
