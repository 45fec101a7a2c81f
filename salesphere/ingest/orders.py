"""Reading purchase order exports (CSV/XLSX) through a layout file, row by row.

A layout (``salesphere/mappings/orders/<name>.yaml``) names, per field of
:class:`salesphere.orders.PurchaseOrderLine`, the column headers that may hold it (compared
without accents, case or spacing, like the event mappings), how numbers and dates are
written, the timezone of dates without a time, and which status values mean "cancelled".
Every row becomes a validated line or rejects naming the row, field and rule; a file
without a required column is refused whole (``missing_columns``).

File drops under ``purchase_orders/`` in the landing bucket are order exports
(:func:`is_order_object`); the layout is the first whose columns the header carries
(:func:`choose_layout`). Each accepted line becomes one row of ``ops.purchase_order_lines``
(:func:`line_row`), appended with the file's receive time: the newest version of a line is
its state, so a later export that cancels a line or changes its quantity wins, and the same
file read twice adds rows that change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from salesphere.ingest import formats
from salesphere.ingest.formats import FormatError, normalise_header
from salesphere.ingest.readers import FileRejected, open_table, sniff_header
from salesphere.orders import PurchaseOrderLine
from salesphere.validation import Reject, rejects_from_error

FIELDS = (*PurchaseOrderLine.model_fields, "status")
#: The landing folder of purchase order exports (``purchase_orders/<any name>.csv|xlsx``).
ORDERS_FOLDER = "purchase_orders"
#: The ``ops.ingest_log`` source of order files; each line is one record, no events.
ORDERS_SOURCE = "purchase_orders"


@dataclass(frozen=True)
class OrderLayout:
    """One parsed order layout file."""

    name: str
    numbers: str
    date_format: str
    timezone: str
    encodings: tuple[str, ...]
    delimiter: str
    columns: dict[str, tuple[str, ...]]
    optional: frozenset[str]
    cancelled_values: frozenset[str]


def parse_layout(data: dict[str, Any], where: str = "<layout>") -> OrderLayout:
    columns = {k: tuple(v if isinstance(v, list) else [v]) for k, v in data["columns"].items()}
    unknown = set(columns) - set(FIELDS)
    missing = set(FIELDS) - set(columns) - {"cancelled"} - set(data.get("optional", []))
    if unknown or missing:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}, missing {sorted(missing)}")
    ZoneInfo(data.get("timezone", "America/Sao_Paulo"))
    return OrderLayout(
        name=data["name"],
        numbers=data.get("numbers", "br"),
        date_format=data.get("date_format", "%d/%m/%Y"),
        timezone=data.get("timezone", "America/Sao_Paulo"),
        encodings=tuple(data.get("encodings", ["utf-8"])),
        delimiter=data.get("csv", {}).get("delimiter", ";"),
        columns={k: tuple(normalise_header(a) for a in v) for k, v in columns.items()},
        optional=frozenset(data.get("optional", [])),
        cancelled_values=frozenset(normalise_header(v) for v in data.get("cancelled_values", [])),
    )


@cache
def builtin_layout(name: str) -> OrderLayout:
    """A layout shipped in ``salesphere/mappings/orders/``."""
    entry = resources.files("salesphere") / "mappings" / "orders" / f"{name}.yaml"
    return parse_layout(yaml.safe_load(entry.read_text(encoding="utf-8")), str(entry))


def _ordered_at(value: Any, layout: OrderLayout) -> datetime:
    zone = ZoneInfo(layout.timezone)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text = str(value).strip()
    if "T" in text or (":" in text and "/" not in text):
        return formats.parse_timestamp(text, default_tz=None).astimezone(zone)
    if " " in text:  # "28/11/2026 14:03"
        day, clock = text.split(" ", 1)
        return datetime.combine(
            formats.parse_date(day, layout.date_format), formats.parse_time(clock), tzinfo=zone
        )
    return datetime.combine(formats.parse_date(text, layout.date_format), time(), tzinfo=zone)


def read_order_lines(
    path: Path, name: str, layout: OrderLayout
) -> tuple[list[PurchaseOrderLine], list[tuple[int, Reject]]]:
    """Every row of an order export as a line, or its rejects with the row number."""
    table = open_table(path, name, layout.delimiter, layout.encodings)
    present = {normalise_header(h) for h in table.header}
    chosen: dict[str, str] = {}
    for target, aliases in layout.columns.items():
        found = next((a for a in aliases if a in present), None)
        if found is None and target not in layout.optional:
            raise FileRejected(
                "missing_columns",
                f"no column for {target} (one of {', '.join(aliases)}); rename the column or "
                f"add it to the layout {layout.name}",
            )
        if found is not None:
            chosen[target] = found
    lines: list[PurchaseOrderLine] = []
    rejects: list[tuple[int, Reject]] = []
    for number, row in table.rows:
        raw = {target: row.get(column) for target, column in chosen.items()}
        try:
            values = _typed(raw, layout)
        except _FieldError as exc:
            rejects.append((number, exc.reject))
            continue
        try:
            lines.append(PurchaseOrderLine.model_validate(values))
        except ValidationError as exc:
            rejects.extend((number, r) for r in rejects_from_error(exc, values))
    return lines, rejects


class _FieldError(ValueError):
    def __init__(self, reject: Reject) -> None:
        super().__init__(reject.message)
        self.reject = reject


def _typed(raw: dict[str, Any], layout: OrderLayout) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parsers = {
        "line_number": lambda v: formats.parse_int(v, layout.numbers),
        "quantity": lambda v: formats.parse_int(v, layout.numbers),
        "unit_cost": lambda v: formats.parse_money(v, layout.numbers),
        "ordered_at": lambda v: _ordered_at(v, layout),
        "expected_delivery": lambda v: formats.parse_date(v, layout.date_format),
    }
    for target, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            if target in layout.optional:
                continue
            raise _FieldError(
                Reject(field=target, value=None, rule="required", message=f"{target} is empty")
            )
        if target == "status":
            out["cancelled"] = normalise_header(str(value)) in layout.cancelled_values
            continue
        try:
            out[target] = parsers[target](value) if target in parsers else str(value).strip()
        except FormatError as exc:
            raise _FieldError(
                Reject(field=target, value=str(value)[:200], rule=exc.rule, message=str(exc))
            ) from exc
    return out


def is_order_object(name: str) -> bool:
    """Is a landing object a purchase order export (by its folder)?"""
    return name.partition("/")[0] == ORDERS_FOLDER and "/" in name


def builtin_layouts() -> list[OrderLayout]:
    folder = resources.files("salesphere") / "mappings" / "orders"
    return [
        builtin_layout(entry.name.removesuffix(".yaml"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]


def choose_layout(path: Path, name: str) -> OrderLayout:
    """The first shipped layout whose required columns the file's header carries."""
    if name.rsplit(".", 1)[-1].lower() not in ("csv", "xlsx"):
        raise FileRejected(
            "unknown_layout",
            f"{name!r}: purchase order exports are read as CSV or XLSX; export the lines "
            "as one of those",
        )
    best: tuple[int, OrderLayout, list[str]] | None = None
    for layout in builtin_layouts():
        present = {normalise_header(h) for h in sniff_header(path, name, layout.encodings)}
        missing = [
            target
            for target, aliases in layout.columns.items()
            if target not in layout.optional and not any(a in present for a in aliases)
        ]
        if not missing:
            return layout
        if best is None or len(missing) < best[0]:
            best = (len(missing), layout, missing)
    assert best is not None, "salesphere/mappings/orders holds no layout"
    _, layout, missing = best
    raise FileRejected(
        "missing_columns",
        f"no column for {', '.join(missing)} (layout {layout.name}); rename the columns or "
        "add the headers to salesphere/mappings/orders/<layout>.yaml",
    )


def line_row(
    line: PurchaseOrderLine,
    *,
    received_at: str,
    request_id: str,
    source: str,
    object_name: str | None,
) -> dict[str, Any]:
    """One ``ops.purchase_order_lines`` row (JSON-ready: money as text, times in UTC)."""
    row = line.model_dump(mode="json")
    row["ordered_at"] = line.ordered_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    row["unit_cost"] = f"{line.unit_cost:.2f}"
    return row | {
        "received_at": received_at,
        "request_id": request_id,
        "source": source,
        "object_name": object_name,
    }


def line_row_id(row: dict[str, Any]) -> str:
    """The insert id of a row: a retried file rewrites the same rows, not new ones."""
    key = f"{row['request_id']}|{row['order_number']}|{row['line_number']}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
