"""Serving layer: reference tables and the analyst-facing views, as managed resources.

Views are built from the files under ``sql/serving/`` at run time (one per file, see ``sql.views``), so adding a view is
adding a file; the view depends on every table and view it reads, so Pulumi creates them
in an order BigQuery accepts (a view cannot be created before what it selects from).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from infra.foundation import Foundation
from infra.schemas import TableSpec
from infra.settings import StackSettings
from infra.tables import create_tables
from salesphere import names
from salesphere.sqldocs import parse
from sql.views import load_views

LAYER = "serving"
DATASETS = (names.DATASET_REFERENCE,)


def _describe(path: Path, root: Path) -> str:
    """The view's documented description (what analysts read in the BigQuery console)."""
    doc = parse(path)
    source = path.relative_to(root).as_posix()  # repo-relative: the same from every checkout
    text = doc.description or f"Serving view from {source}"
    return f"{text} Columns: see docs/data-dictionary.md (source: {source})."


class Serving(pulumi.ComponentResource):
    """Everything a targeted deploy of ``sql/`` touches."""

    def __init__(
        self,
        settings: StackSettings,
        base: Foundation,
        specs: dict[str, TableSpec],
        upstream: dict[str, gcp.bigquery.Table],
        root: Path,
    ) -> None:
        super().__init__("salesphere:infra:Serving", LAYER, opts=base.layer_options())
        self.tables = create_tables(specs, DATASETS, settings, base.datasets, LAYER, self)
        known = {**upstream, **self.tables}
        self.views: dict[str, gcp.bigquery.Table] = {}
        self.unresolved: dict[str, list[str]] = {}
        #: view -> the (dataset, table) pairs its SQL reads (infra/analysts.py authorises them)
        self.reads: dict[str, frozenset[tuple[str, str]]] = {}
        for view in load_views(
            settings.project, root / "sql" / "serving", root / "sql" / "serving" / "generated"
        ):
            self.reads[view.name] = view.reads
            deps: list[pulumi.Resource] = []
            for dataset, table in sorted(view.reads):
                key = f"{dataset}.{table}"
                if dataset == names.DATASET_SERVING and table in self.views:
                    deps.append(self.views[table])
                elif key in known:
                    deps.append(known[key])
                elif key != f"{names.DATASET_SERVING}.{view.name}":
                    self.unresolved.setdefault(view.name, []).append(key)
            self.views[view.name] = gcp.bigquery.Table(
                f"view-{view.name}",
                dataset_id=base.datasets[names.DATASET_SERVING].dataset_id,
                table_id=view.name,
                project=settings.project,
                description=_describe(view.path, root),
                view=gcp.bigquery.TableViewArgs(query=view.query, use_legacy_sql=False),
                # Views hold no data and are rebuilt from sql/ at will.
                deletion_protection=False,
                labels=settings.labels(LAYER),
                opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
            )
        for view_name, missing in sorted(self.unresolved.items()):
            pulumi.log.warn(
                f"view {view_name} reads {', '.join(missing)}, which this program does not "
                "provision; add salesphere/sql/tables/<dataset>.<table>.json (or a view) for it, or "
                "BigQuery will refuse to create the view"
            )
        self.register_outputs({"views": sorted(self.views)})
