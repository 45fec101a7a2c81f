"""Declarative source mappings: one YAML file per source or spreadsheet layout.

A mapping says where each canonical field comes from (a JSON key or a column header,
with aliases), how its values are written (Brazilian or international numbers, date
format, the stores' timezone), and how the source's vocabulary maps to event types.
Onboarding a new spreadsheet layout means writing one file in ``salesphere/mappings/``;
no code changes. The live POS, e-commerce and inventory shapes are mappings too, so
the HTTP API and the file drops share one engine.

This module reads and checks mapping files. Two engines run them, each in its own module:
:mod:`salesphere.ingest.mapper` interprets a mapping and names every problem of a record;
:mod:`salesphere.ingest.fastpath.compiled` runs the same mapping as closures bound once, for
clean records at tens of thousands a second. (The fused kernel,
:mod:`salesphere.ingest.fastpath.kernel`, maps and validates the commonest layouts in one step.)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from salesphere.ingest import formats
from salesphere.ingest.formats import normalise_header
from salesphere.model import EventType

#: Field types a mapping may declare, and what each becomes in the draft.
FIELD_TYPES = ("str", "int", "money", "timestamp", "local_datetime")
TABULAR_FORMATS = frozenset({"csv", "xlsx"})
KNOWN_FORMATS = frozenset({"csv", "xlsx", "json", "ndjson"})


class MappingError(ValueError):
    """A mapping file that cannot work; the message names the file and the fix."""


@dataclass(frozen=True)
class FieldSpec:
    """Where one canonical field comes from."""

    target: str
    sources: tuple[str, ...] = ()  # keys or header aliases, first present wins
    type: str = "str"
    value: Any = None  # constant, when there is no source
    default: Any = None  # used when the source is missing or empty
    time_sources: tuple[str, ...] = ()  # local_datetime: the time column's aliases


@dataclass(frozen=True)
class SourceMapping:
    """One parsed mapping file."""

    name: str
    source: str
    description: str
    live: bool
    formats: tuple[str, ...]
    folders: tuple[str, ...]
    filenames: tuple[str, ...]
    encodings: tuple[str, ...]
    delimiter: str
    numbers: str
    date_format: str
    default_timezone: str
    store_timezone: bool
    explode: str | None
    type_field: FieldSpec | None
    type_values: dict[str, str]
    fields: tuple[FieldSpec, ...]
    per_type: dict[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    #: Live sources: one record as senders write it (published in the API's document).
    example: Mapping[str, Any] | None = None

    @property
    def tabular(self) -> bool:
        return bool(TABULAR_FORMATS.intersection(self.formats))

    def matches_object(self, folder: str, filename: str) -> bool:
        """Does a landing object ``<folder>/.../<filename>`` belong to this layout?"""
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext not in self.formats:
            return False
        if self.folders and folder not in self.folders:
            return False
        return not self.filenames or any(
            fnmatch.fnmatch(filename.lower(), pattern.lower()) for pattern in self.filenames
        )

    def required_headers(self) -> list[tuple[str, ...]]:
        """Alias groups of which a file's header must contain one each (for layout choice).

        Each group once: two fields read from the same column (``order_id`` and
        ``source_ref`` both from ``Pedido``) need that column once, and naming it twice in
        a missing-columns message would read as two different problems.
        """
        groups = [spec.sources for spec in self.fields if spec.sources and spec.default is None]
        if self.type_field and self.type_field.sources and self.type_field.default is None:
            groups.append(self.type_field.sources)
        return list(dict.fromkeys(groups))


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _field(target: str, raw: Any, where: str) -> FieldSpec:
    if not isinstance(raw, dict):
        raw = {"from": raw}
    kind = raw.get("type", "str")
    if kind not in FIELD_TYPES:
        raise MappingError(f"{where}: field {target!r} has type {kind!r}; use one of {FIELD_TYPES}")
    sources = _as_tuple(raw.get("from") or raw.get("date"))
    if not sources and "value" not in raw:
        raise MappingError(f"{where}: field {target!r} needs 'from' (a key/header) or 'value'")
    return FieldSpec(
        target=target,
        sources=sources,
        type=kind,
        value=raw.get("value"),
        default=raw.get("default"),
        time_sources=_as_tuple(raw.get("time")),
    )


def parse_mapping(data: Mapping[str, Any], where: str = "<mapping>") -> SourceMapping:
    """Build a :class:`SourceMapping` from YAML data, refusing anything ambiguous."""
    missing = [key for key in ("name", "source", "formats", "fields") if key not in data]
    if missing:
        raise MappingError(f"{where}: missing {', '.join(missing)} (see docs/ingest.md)")
    fmts = _as_tuple(data["formats"])
    unknown = set(fmts) - KNOWN_FORMATS
    if unknown:
        raise MappingError(
            f"{where}: unknown formats {sorted(unknown)}; use {sorted(KNOWN_FORMATS)}"
        )
    match = data.get("match") or {}
    type_raw = data.get("event_type") or {}
    if not isinstance(type_raw, dict):
        type_raw = {"value": type_raw}
    values = {normalise_header(str(k)): str(v) for k, v in (type_raw.get("values") or {}).items()}
    bad = {v for v in values.values() if v not in {t.value for t in EventType}}
    if bad:
        raise MappingError(f"{where}: event_type values {sorted(bad)} are not event types")
    type_field = _field("event_type", type_raw, where) if type_raw else None
    fields = tuple(_field(name, raw, where) for name, raw in (data["fields"] or {}).items())
    per_type = {
        str(kind): tuple(_field(name, raw, where) for name, raw in specs.items())
        for kind, specs in (data.get("per_type") or {}).items()
    }
    tz = data.get("timezone") or {}
    default_tz = str(tz.get("default", "America/Sao_Paulo"))
    timezone_named(default_tz, where)
    return SourceMapping(
        name=str(data["name"]),
        source=str(data["source"]),
        description=str(data.get("description", "")),
        live=bool(data.get("live", False)),
        formats=fmts,
        folders=_as_tuple(match.get("folders")),
        filenames=_as_tuple(match.get("filenames")),
        encodings=_as_tuple(data.get("encodings")) or ("utf-8",),
        delimiter=str((data.get("csv") or {}).get("delimiter", ",")),
        numbers=str(data.get("numbers", "intl")),
        date_format=str(data.get("date_format", "%Y-%m-%d")),
        default_timezone=default_tz,
        store_timezone=bool(tz.get("from_store", False)),
        explode=data.get("explode"),
        type_field=type_field,
        type_values=values,
        fields=fields,
        per_type=per_type,
        example=data.get("example"),
    )


def timezone_named(name: str, where: str = "") -> tzinfo:
    if name.startswith(("+", "-")):
        return formats.parse_offset(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"{where}: unknown timezone {name!r}; use an IANA name") from exc


@cache
def builtin_mappings() -> tuple[SourceMapping, ...]:
    """Every mapping shipped in ``salesphere/mappings/*.yaml``, sorted by name."""
    folder = resources.files("salesphere") / "mappings"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            out.append(parse_mapping(data, f"salesphere/mappings/{entry.name}"))
    return tuple(out)


def live_mapping(source: str) -> SourceMapping | None:
    """The mapping the HTTP API uses for ``source`` (pos, ecommerce, inventory)."""
    return next((m for m in builtin_mappings() if m.live and m.name == source), None)


def live_sources() -> list[str]:
    return [m.name for m in builtin_mappings() if m.live]


def file_candidates(
    object_name: str, mappings: Iterable[SourceMapping] | None = None
) -> list[SourceMapping]:
    """Mappings whose folder, file name and extension fit a landing object name."""
    folder, _, rest = object_name.partition("/")
    filename = rest.rsplit("/", 1)[-1] if rest else folder
    pool = builtin_mappings() if mappings is None else tuple(mappings)
    return [m for m in pool if m.matches_object(folder, filename)]
