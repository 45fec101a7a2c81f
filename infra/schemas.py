"""BigQuery table definitions: from ``sql/tables/<dataset>.<table>.json`` when present.

The warehouse's table schemas belong to the engineers who write to them, as JSON files
beside the SQL. Until a file exists, a table the platform cannot run without is derived
from the domain model (``CanonicalEvent``, ``Product``, ``Store``) or, for the few
operational tables, from the small fallback below, so a fresh checkout still provisions
a complete warehouse. A JSON file always wins over the fallback.

Accepted JSON shapes: a BigQuery schema list ``[{"name", "type", "mode", "description"}]``
or an object ``{"fields"|"schema": [...], "description", "timePartitioning": {"field"},
"clustering": [...]}``.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from salesphere import names
from salesphere.model import CanonicalEvent
from salesphere.reference import Product, Store

_SCALARS: dict[type, str] = {
    bool: "BOOL",
    int: "INT64",
    float: "FLOAT64",
    str: "STRING",
    Decimal: "NUMERIC",
    datetime: "TIMESTAMP",
    date: "DATE",
}


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


def bigquery_type(annotation: Any) -> tuple[str, str]:
    """Map a model field annotation to ``(BigQuery type, mode)``.

    ``X | None`` is NULLABLE, anything else REQUIRED; ``Annotated`` and str/int enums
    resolve to their base type. Unknown types raise, so a new field type is noticed.
    """
    mode = "REQUIRED"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return bigquery_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) != 1:
            raise TypeError(f"cannot map union {annotation!r} to one BigQuery type")
        return bigquery_type(args[0])[0], "NULLABLE"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        base = str if issubclass(annotation, str) else int
        return _SCALARS[base], mode
    for python_type, bq_type in _SCALARS.items():
        if annotation is python_type:
            return bq_type, mode
    raise TypeError(f"no BigQuery type for {annotation!r}; add it to infra/schemas.py")


def fields_from_model(model: type[BaseModel]) -> tuple[dict[str, Any], ...]:
    """BigQuery schema fields for a pydantic model, in declaration order."""
    out = []
    for name, info in model.model_fields.items():
        bq_type, mode = bigquery_type(info.annotation)
        if not info.is_required() and mode == "REQUIRED" and info.default is None:
            mode = "NULLABLE"
        field: dict[str, Any] = {"name": name, "type": bq_type, "mode": mode}
        if info.description:
            field["description"] = info.description
        out.append(field)
    return tuple(out)


def _f(name: str, bq_type: str, mode: str = "NULLABLE", description: str = "") -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": bq_type, "mode": mode}
    if description:
        field["description"] = description
    return field


_EVENTS = fields_from_model(CanonicalEvent)

#: Tables the platform needs even before anyone has written their JSON schema.
FALLBACK_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        names.DATASET_SPEED,
        "events",
        _EVENTS,
        "salesphere.model.CanonicalEvent",
        "Accepted events, seconds old, deduplicated by event_id (speed layer).",
        "received_at",
        ("store_id", "sku"),
    ),
    TableSpec(
        names.DATASET_MASTER,
        "events",
        _EVENTS,
        "salesphere.model.CanonicalEvent",
        "Every accepted event once, rebuilt from the GCS archive (batch layer).",
        "received_at",
        ("store_id", "sku"),
    ),
    TableSpec(
        names.DATASET_SPEED,
        "stock_alerts",
        (
            _f("alert_id", "STRING", "REQUIRED"),
            _f("store_id", "STRING", "REQUIRED"),
            _f("sku", "STRING", "REQUIRED"),
            _f("on_hand", "INT64"),
            _f("reorder_point", "INT64"),
            _f("raised_at", "TIMESTAMP", "REQUIRED"),
            _f("event_id", "STRING", description="The event that crossed the threshold."),
        ),
        "infra fallback",
        "Stock alerts raised by the speed layer.",
        "raised_at",
    ),
    TableSpec(
        names.DATASET_SPEED,
        "dead_letters",
        (
            _f("envelope_id", "STRING"),
            _f("failed_at", "TIMESTAMP", "REQUIRED"),
            _f("reason", "STRING", "REQUIRED"),
            _f("payload", "STRING"),
        ),
        "infra fallback",
        "Envelopes the speed layer could not process, with the reason.",
        "failed_at",
    ),
    TableSpec(
        names.DATASET_OPS,
        "rejects",
        (
            _f("source", "STRING", "REQUIRED"),
            _f("source_ref", "STRING"),
            _f("reason", "STRING", "REQUIRED"),
            _f("received_at", "TIMESTAMP", "REQUIRED"),
            _f("payload", "STRING"),
        ),
        "infra fallback",
        "Rejected records with machine-readable reasons.",
        "received_at",
    ),
    TableSpec(
        names.DATASET_OPS,
        "batch_runs",
        (
            _f("run_id", "STRING", "REQUIRED"),
            _f("started_at", "TIMESTAMP", "REQUIRED"),
            _f("finished_at", "TIMESTAMP"),
            _f("cutoff", "TIMESTAMP"),
            _f("status", "STRING", "REQUIRED"),
            _f("events", "INT64"),
        ),
        "infra fallback",
        "One row per batch run: the cutoff it published.",
    ),
    TableSpec(
        names.DATASET_REFERENCE,
        "products",
        fields_from_model(Product),
        "salesphere.reference.Product",
        "The product catalog.",
    ),
    TableSpec(
        names.DATASET_REFERENCE,
        "stores",
        fields_from_model(Store),
        "salesphere.reference.Store",
        "Stores and the online shop.",
    ),
)


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
        source=str(path),
        description=meta.get("description") or (fallback.description if fallback else ""),
        partition_field=partition or (fallback.partition_field if fallback else None),
        clustering=clustering or (fallback.clustering if fallback else ()),
    )


def table_specs(tables_dir: Path) -> dict[str, TableSpec]:
    """Every table to provision, keyed ``dataset.table``: JSON files over fallbacks."""
    specs = {spec.key: spec for spec in FALLBACK_TABLES}
    for path in sorted(tables_dir.glob("*.json")) if tables_dir.is_dir() else []:
        key = path.name.removesuffix(".json")
        specs[key] = _from_json(path, specs.get(key))
    return specs
