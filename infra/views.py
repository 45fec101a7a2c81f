"""Serving views from ``sql/serving/*.sql``: qualified with the project, in dependency order.

One view per file, named after the file (dbt-style). A view that selects from another
serving view must be created after it, so views are ordered topologically on the
``serving.<name>`` references sqlglot finds; a cycle is reported with its members.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from salesphere import names
from salesphere.sqlrefs import qualify, references


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
    """Every ``*.sql`` file in ``sql_dir`` as a view, dependencies first."""
    specs: dict[str, ViewSpec] = {}
    for path in sorted(sql_dir.glob("*.sql")) if sql_dir.is_dir() else []:
        sql = path.read_text()
        specs[path.stem] = ViewSpec(
            name=path.stem,
            path=path,
            query=qualify(sql, project, source=str(path)),
            reads=frozenset(references(sql, source=str(path))),
        )
    graph = {name: spec.depends_on_views & specs.keys() for name, spec in specs.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(
            f"serving views select from each other in a cycle: {' -> '.join(exc.args[1])}; "
            "break the cycle by moving the shared part into its own view"
        ) from exc
    return [specs[name] for name in order]
