"""Serving views from ``salesphere/sql/serving/*.sql``: qualified with the project, in dependency order.

One view per file, named after the file (dbt-style). A view that selects from another
serving view must be created after it, so views are ordered topologically on the
``serving.<name>`` references sqlglot finds; a cycle is reported with its members.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from salesphere import names
from salesphere.sqlrefs import qualify, references
from salesphere.warehouse.views import load


@dataclass(frozen=True)
class ViewSpec:
    """One analyst-facing view."""

    name: str
    path: Path
    query: str
    reads: frozenset[tuple[str, str]]

    @property
    def depends_on_views(self) -> frozenset[str]:
        return frozenset(t for d, t in self.reads if d == names.DATASET_SERVING and t != self.name)


def load_views(sql_dir: Path, project: str) -> list[ViewSpec]:
    """Every ``*.sql`` file in ``sql_dir`` as a view, dependencies first.

    Ordering (and the cycle check) is the warehouse's own loader, so the twin and cloud
    create views in the same order; here each view is also qualified with the project.
    """
    if not sql_dir.is_dir():
        return []
    return [
        ViewSpec(
            name=view.name,
            path=view.path,
            query=qualify(view.query, project, source=str(view.path)),
            reads=frozenset(references(view.query, source=str(view.path))),
        )
        for view in load(names.DATASET_SERVING, sql_dir.parent, folder=sql_dir.name)
    ]
