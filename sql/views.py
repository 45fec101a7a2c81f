"""Serving views from ``sql/serving/``: loaded in dependency order, created on the twin,
qualified for the Pulumi program.

One view per file, named after the file (dbt-style); hand-written and generated files
form one ``serving`` dataset. A view that selects from another serving view must be
created after it, so both folders are ordered together on the ``serving.<name>``
references sqlglot finds (:func:`salesphere.warehouse.views.load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sqlrefs import qualify, references
from salesphere.warehouse.views import SqlView, load
from sql import VIEW_DIRS


def serving_views(*directories: Path) -> list[SqlView]:
    """Every serving view, dependencies first (default: hand-written and generated)."""
    return load(names.DATASET_SERVING, *(directories or VIEW_DIRS))


@dataclass(frozen=True)
class ViewSpec:
    """One analyst-facing view as the Pulumi program declares it."""

    name: str
    path: Path
    query: str
    reads: frozenset[tuple[str, str]]

    @property
    def depends_on_views(self) -> frozenset[str]:
        return frozenset(t for d, t in self.reads if d == names.DATASET_SERVING and t != self.name)


def load_views(project: str, *directories: Path) -> list[ViewSpec]:
    """Every serving view qualified with ``project``, in the twin's creation order."""
    return [
        ViewSpec(
            name=view.name,
            path=view.path,
            query=qualify(view.query, project, source=str(view.path)),
            reads=frozenset(references(view.query, source=str(view.path))),
        )
        for view in serving_views(*directories)
    ]


def ensure_serving_views(settings: Settings, *directories: Path) -> list[str]:
    """``CREATE OR REPLACE VIEW`` each serving view on the twin, dependencies first."""
    client = clients.bigquery_client(settings)
    done = []
    for view in serving_views(*directories):
        try:
            client.query_and_wait(f"CREATE OR REPLACE VIEW {view.ref} AS\n{view.query}")
        except Exception as exc:
            raise RuntimeError(
                f"could not create view {view.ref} from {view.path}: {exc}; fix the SQL "
                "(lint it with `sqlfluff lint sql/`) and run `salesphere local up` again"
            ) from exc
        done.append(view.ref)
    return done
