"""BigQuery table definitions: from ``salesphere/sql/tables/<dataset>.<table>.json`` when present.

Tables the services write are defined once in :mod:`salesphere.warehouse.schemas` (the
twin creates the same ones). Tables materialised from SQL (the batch views) have their
schema exported from the twin into ``salesphere/sql/tables/<dataset>.<table>.json``; a JSON file
wins over the shared definition.

Accepted JSON shapes: a BigQuery schema list ``[{"name", "type", "mode", "description"}]``
or an object ``{"fields"|"schema": [...], "description", "timePartitioning": {"field"},
"clustering": [...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesphere import names
from salesphere.warehouse.schemas import TABLES, Column, TableDef


@dataclass(frozen=True)
class TableSpec:
    """One physical table: where its schema came from, and how it is laid out."""

    dataset: str
    table: str
    fields: tuple[dict[str, Any], ...]
    source: str
    description: str = ""
    partition_field: str | None = None
    clustering: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.table}"


def _field(column: Column) -> dict[str, Any]:
    field: dict[str, Any] = {"name": column.name, "type": column.type, "mode": column.mode}
    if column.description:
        field["description"] = column.description
    return field


def _spec(table: TableDef) -> TableSpec:
    return TableSpec(
        dataset=table.dataset,
        table=table.name,
        fields=tuple(_field(c) for c in table.columns),
        source="salesphere.warehouse.schemas",
        description=table.description,
        partition_field=table.partition_field,
        clustering=table.clustering,
    )


#: The warehouse's tables as the services define them (one definition for twin and cloud).
FALLBACK_TABLES: tuple[TableSpec, ...] = tuple(_spec(t) for t in TABLES)


def _from_json(path: Path, fallback: TableSpec | None) -> TableSpec:
    dataset, _, table = path.name.removesuffix(".json").partition(".")
    if dataset not in names.DATASETS or not table:
        raise ValueError(
            f"{path}: name it <dataset>.<table>.json with dataset one of {names.DATASETS}"
        )
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    meta: dict[str, Any] = {} if isinstance(body, list) else body
    fields = body if isinstance(body, list) else body.get("fields") or body.get("schema")
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "name" in f for f in fields):
        raise ValueError(f"{path}: expected a list of fields with 'name' and 'type'")
    partition = (meta.get("timePartitioning") or {}).get("field")
    clustering = tuple(meta.get("clustering") or ())
    return TableSpec(
        dataset=dataset,
        table=table,
        fields=tuple(fields),
        # Relative to the repository: a description that names the checkout's absolute
        # path would change on every machine that deploys, and redeploy every table.
        source=_repo_relative(path),
        description=meta.get("description") or (fallback.description if fallback else ""),
        partition_field=partition or (fallback.partition_field if fallback else None),
        clustering=clustering or (fallback.clustering if fallback else ()),
    )


def _repo_relative(path: Path) -> str:
    from infra.settings import repo_root

    resolved = path.resolve()
    try:
        return resolved.relative_to(repo_root()).as_posix()
    except ValueError:
        return path.name


def table_specs(tables_dir: Path) -> dict[str, TableSpec]:
    """Every table to provision, keyed ``dataset.table``: JSON files over fallbacks."""
    specs = {spec.key: spec for spec in FALLBACK_TABLES}
    for path in sorted(tables_dir.glob("*.json")) if tables_dir.is_dir() else []:
        key = path.name.removesuffix(".json")
        specs[key] = _from_json(path, specs.get(key))
    return specs
