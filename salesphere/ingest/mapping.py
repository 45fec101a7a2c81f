"""Declarative source mappings: one YAML file per source or spreadsheet layout.

A mapping says where each canonical field comes from (a JSON key or a column header,
with aliases), how its values are written (Brazilian or international numbers, date
format, the stores' timezone), and how the source's vocabulary maps to event types.
Onboarding a new spreadsheet layout means writing one file in ``salesphere/mappings/``;
no code changes. The live POS, e-commerce and inventory shapes are mappings too, so
the HTTP API and the file drops share one engine.

A mapping is compiled once into plain Python closures (:class:`Mapper`), because it
runs for every record and has to keep up with tens of thousands of records a second.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from salesphere.ingest import formats
from salesphere.ingest.formats import FormatError, normalise_header
from salesphere.model import EventType
from salesphere.validation import Reject

#: Field types a mapping may declare, and what each becomes in the draft.
FIELD_TYPES = ("str", "int", "money", "timestamp", "local_datetime")
TABULAR_FORMATS = frozenset({"csv", "xlsx"})
KNOWN_FORMATS = frozenset({"csv", "xlsx", "json", "ndjson"})
TzLookup = Callable[[str], tzinfo | None]


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
    _zone(default_tz, where)
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
    )


def _zone(name: str, where: str = "") -> tzinfo:
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


# -- the compiled engine ---------------------------------------------------------------


Getter = Callable[[Mapping[str, Any]], Any]


@dataclass
class Draft:
    """What a record became: drafts for events, or the conversion errors that stop it."""

    drafts: list[dict[str, Any]]
    rejects: list[Reject]


def cached_date(raw: Any, fmt: str, cache: dict[str, date]) -> date:
    """``formats.parse_date``, remembering text cells: a file repeats the same few dates."""
    if raw.__class__ is not str:
        return formats.parse_date(raw, fmt)
    day = cache.get(raw)
    if day is None:
        day = formats.parse_date(raw, fmt)
        if len(cache) < _CACHE_LIMIT:
            cache[raw] = day
    return day


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Mapper:
    """A compiled mapping: ``map(record)`` turns one source record into event drafts.

    For tabular files the record's keys are normalised headers
    (:func:`~salesphere.ingest.formats.normalise_header`); ``resolve_headers`` binds each
    field to the header actually present, so aliases cost nothing per row.
    """

    def __init__(self, mapping: SourceMapping, tz_for_store: TzLookup | None = None) -> None:
        self.mapping = mapping
        self.tz_for_store = tz_for_store or (lambda _store: None)
        self.default_tz = _zone(mapping.default_timezone)
        self._norms: dict[str, str] = {}  # alias -> key as it appears in records
        # Compiled once: each spec's aliases as record keys, and the spec list per type.
        self._aliases: dict[FieldSpec, tuple[str, ...]] = {}
        self._plans: dict[str, list[FieldSpec]] = {}
        # The fast path (see _fast): per event type, (target, converter) steps.
        self._steps: dict[str, list[tuple[str, Step]]] = {}
        self._type_cache: dict[Any, str | None] = {}
        self._date_cache: dict[str, date] = {}
        self._tz_cache: dict[Any, tzinfo] = {}
        self._type_keys = (
            tuple(self._norm(a) for a in mapping.type_field.sources)
            if mapping.type_field is not None
            else ()
        )
        for spec in (*mapping.fields, *(s for specs in mapping.per_type.values() for s in specs)):
            self._typed_default(spec)  # a default that does not convert fails here, not per row

    # header binding -------------------------------------------------------------------

    def _norm(self, name: str) -> str:
        found = self._norms.get(name)
        if found is None:
            found = normalise_header(name) if self.mapping.tabular else name
            self._norms[name] = found
        return found

    def resolve_headers(self, headers: Iterable[str]) -> list[str]:
        """Bind aliases to present headers; returns the missing required columns' names."""
        present = {normalise_header(h) for h in headers if h}
        missing: dict[str, None] = {}  # ordered and without repeats
        for group in self.mapping.required_headers():
            if not any(normalise_header(alias) in present for alias in group):
                missing[group[0]] = None
        return list(missing)

    def _key(self, aliases: tuple[str, ...], record: Mapping[str, Any]) -> str | None:
        for alias in aliases:
            key = self._norm(alias)
            if key in record:
                return key
        return None

    def _spec_key(self, spec: FieldSpec, record: Mapping[str, Any]) -> str | None:
        keys = self._aliases.get(spec)
        if keys is None:
            keys = self._aliases[spec] = tuple(self._norm(a) for a in spec.sources)
        for key in keys:
            if key in record:
                return key
        return None

    def _plan(self, event_type: str) -> list[FieldSpec]:
        plan = self._plans.get(event_type)
        if plan is None:
            specs = list(self.mapping.fields)
            overrides = self.mapping.per_type.get(event_type, ())
            if overrides:
                replaced = {spec.target for spec in overrides}
                specs = [s for s in specs if s.target not in replaced] + list(overrides)
            # store_id first: local_datetime needs the store's timezone
            specs.sort(key=lambda s: s.target != "store_id")
            plan = self._plans[event_type] = specs
        return plan

    def column_of(self, target: str) -> str | None:
        """The first alias declared for a canonical field (used in rejects reports)."""
        for spec in self.mapping.fields:
            if spec.target == target and spec.sources:
                return spec.sources[0]
        if target == "event_type" and self.mapping.type_field:
            return next(iter(self.mapping.type_field.sources), None)
        for specs in self.mapping.per_type.values():
            for spec in specs:
                if spec.target == target and spec.sources:
                    return spec.sources[0]
        return None

    # per record -----------------------------------------------------------------------

    def _convert(self, spec: FieldSpec, record: Mapping[str, Any], draft: dict[str, Any]) -> Any:
        if not spec.sources:
            return spec.value
        key = self._spec_key(spec, record)
        raw = record[key] if key is not None else None
        if raw is None or (raw.__class__ is str and not raw.strip()):
            return self._typed_default(spec)
        kind = spec.type
        numbers = self.mapping.numbers
        if kind == "str":
            if isinstance(raw, float) and raw.is_integer():
                return str(int(raw))
            return str(raw).strip()
        if kind == "int":
            return formats.parse_int(raw, numbers)
        if kind == "money":
            return formats.parse_money(raw, numbers)
        if kind == "timestamp":
            return formats.parse_timestamp(raw)
        # local_datetime: a date column plus a time column, in the store's timezone
        day = formats.parse_date(raw, self.mapping.date_format)
        tkey = self._key(spec.time_sources, record) if spec.time_sources else None
        traw = record.get(tkey) if tkey is not None else None
        at = formats.parse_time(traw) if not _empty(traw) else datetime.min.time()
        if isinstance(raw, datetime) and tkey is None:
            at = raw.time()
        tz = self._store_tz(draft.get("store_id"))
        return datetime.combine(day, at, tzinfo=tz)

    def _typed_default(self, spec: FieldSpec) -> Any:
        """A field's default, converted like a value of its type.

        Defaults are written the way the source writes values (``"0,00"`` in a Brazilian
        sheet), so an empty cell gets the same thing a cell holding the default would.
        A default that does not convert is a mistake in the mapping file: say so.
        """
        default = spec.default
        if default is None or spec.type in ("str", "local_datetime"):
            return None if default is None else str(default)
        try:
            if spec.type == "int":
                return formats.parse_int(default, self.mapping.numbers)
            if spec.type == "money":
                return formats.parse_money(default, self.mapping.numbers)
            return formats.parse_timestamp(default)
        except formats.FormatError as exc:
            raise ValueError(
                f"mapping {self.mapping.name!r}: the default {default!r} of {spec.target} is "
                f"not a valid {spec.type} ({exc}); fix the mapping file"
            ) from exc

    def _store_tz(self, store_id: Any) -> tzinfo:
        if self.mapping.store_timezone and isinstance(store_id, str):
            found = self.tz_for_store(store_id)
            if found is not None:
                return found
        return self.default_tz

    def _event_type(self, record: Mapping[str, Any]) -> tuple[str | None, Reject | None]:
        spec = self.mapping.type_field
        if spec is None:
            return None, Reject(
                field="event_type",
                value=None,
                rule="required",
                message="mapping gives no event_type",
            )
        if not spec.sources:
            return str(spec.value), None
        key = self._key(spec.sources, record)
        raw = record.get(key) if key is not None else None
        if _empty(raw):
            if spec.default is not None:
                return str(spec.default), None
            return None, Reject(
                field="event_type",
                value=None,
                rule="required",
                message=f"{spec.sources[0]} is missing",
            )
        found = self.mapping.type_values.get(normalise_header(str(raw)))
        if found is None:
            allowed = ", ".join(sorted(self.mapping.type_values)) or "-"
            return None, Reject(
                field="event_type",
                value=str(raw)[:200],
                rule="allowed_values",
                message=f"{raw!r} is not a known movement type ({allowed})",
            )
        return found, None

    def _one(self, record: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], list[Reject]]:
        rejects: list[Reject] = []
        event_type, problem = self._event_type(record)
        if problem:
            return {}, [problem]
        draft: dict[str, Any] = {"source": self.mapping.source, "event_type": event_type}
        for spec in self._plan(event_type or ""):
            try:
                value = self._convert(spec, record, draft)
            except FormatError as exc:
                key = self._key(spec.sources, record)
                raw = record.get(key) if key else None
                rejects.append(
                    Reject(
                        field=prefix + spec.target,
                        value=_text(raw),
                        rule=exc.rule,
                        message=str(exc),
                    )
                )
                continue
            if value is not None:
                draft[spec.target] = value
        return draft, rejects

    def map(self, record: Mapping[str, Any]) -> Draft:
        """Drafts for one record; any conversion error rejects the whole record.

        The compiled fast path handles clean records; the first problem sends the record
        through :meth:`_map_slow`, which interprets the mapping and names every rejected
        field. Both use the same converters, so a clean record maps identically.
        """
        explode = self.mapping.explode
        if not explode:
            draft = self._fast(record)
            if draft is not None:
                return Draft([draft], [])
            return self._map_slow(record)
        items = record.get(explode)
        if isinstance(items, list) and items:
            drafts = []
            for item in items:
                if not isinstance(item, dict):
                    break
                draft = self._fast({**record, **{f"{explode}.{k}": v for k, v in item.items()}})
                if draft is None:
                    break
                drafts.append(draft)
            else:
                return Draft(drafts, [])
        return self._map_slow(record)

    def _map_slow(self, record: Mapping[str, Any]) -> Draft:
        """The interpreted mapping: collects every problem of the record with its field."""
        explode = self.mapping.explode
        if not explode:
            draft, rejects = self._one(record, "")
            return Draft([] if rejects else [draft], rejects)
        items = record.get(explode)
        if not isinstance(items, list) or not items:
            return Draft(
                [],
                [
                    Reject(
                        field=explode,
                        value=_text(items),
                        rule="required",
                        message=f"{explode} must be a non-empty list",
                    )
                ],
            )
        drafts, rejects = [], []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                rejects.append(
                    Reject(
                        field=f"{explode}[{index}]",
                        value=_text(item),
                        rule="type",
                        message="each item must be an object",
                    )
                )
                continue
            merged = {**record, **{f"{explode}.{k}": v for k, v in item.items()}}
            draft, problems = self._one(merged, f"{explode}[{index}].")
            drafts.append(draft)
            rejects.extend(problems)
        return Draft([] if rejects else drafts, rejects)

    # -- compiled fast path ---------------------------------------------------------------

    def _fast(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The draft of a clean record, or ``None`` on the first problem (caller goes slow).

        Each field is a closure bound once to its record keys, type and number style, so
        a row costs one call per field instead of re-reading the mapping per cell.
        """
        event_type = self._fast_type(record)
        if event_type is None:
            return None
        steps = self._steps.get(event_type)
        if steps is None:
            steps = self._steps[event_type] = [
                (spec.target, self._compile(spec)) for spec in self._plan(event_type)
            ]
        draft: dict[str, Any] = {"source": self.mapping.source, "event_type": event_type}
        try:
            for target, convert in steps:
                value = convert(record, draft)
                if value is not None:
                    draft[target] = value
        except FormatError:
            return None
        return draft

    def _fast_type(self, record: Mapping[str, Any]) -> str | None:
        spec = self.mapping.type_field
        if spec is None:
            return None
        if not spec.sources:
            return str(spec.value)
        raw = None
        for key in self._type_keys:
            if key in record:
                raw = record[key]
                break
        if _empty(raw):
            return None if spec.default is None else str(spec.default)
        try:
            return self._type_cache[raw]
        except KeyError:
            pass
        except TypeError:  # unhashable: let the slow path explain
            return None
        found = self.mapping.type_values.get(normalise_header(str(raw)))
        if len(self._type_cache) < _CACHE_LIMIT:
            self._type_cache[raw] = found
        return found

    def _compile(self, spec: FieldSpec) -> Step:
        """One field as a closure ``(record, draft) -> value`` raising FormatError."""
        if not spec.sources:
            constant = spec.value
            return lambda _record, _draft: constant
        keys = tuple(self._norm(a) for a in spec.sources)
        default = self._typed_default(spec)
        numbers = self.mapping.numbers

        def raw_of(record: Mapping[str, Any]) -> Any:
            for key in keys:
                if key in record:
                    return record[key]
            return None

        kind = spec.type
        if kind == "str":

            def convert_str(record: Mapping[str, Any], _draft: dict[str, Any]) -> Any:
                raw = raw_of(record)
                if raw is None:
                    return default
                if raw.__class__ is str:
                    text = raw.strip()
                    return text if text else default
                if isinstance(raw, float) and raw.is_integer():
                    return str(int(raw))
                return str(raw).strip()

            return convert_str
        if kind == "int":

            def convert_int(record: Mapping[str, Any], _draft: dict[str, Any]) -> Any:
                raw = raw_of(record)
                if raw is None:
                    return default
                if raw.__class__ is int:
                    return raw
                if raw.__class__ is str:
                    text = raw.strip()
                    if not text:
                        return default
                    if text.isdecimal():  # what formats' ``\d+`` accepts, without a sign
                        return int(text)
                return formats.parse_int(raw, numbers)

            return convert_int
        if kind == "money":
            # formats.parse_decimal reads any style other than "br" as international
            plain = _PLAIN_MONEY["br" if numbers == "br" else "intl"]
            grouping = "." if numbers == "br" else ","

            def convert_money(record: Mapping[str, Any], _draft: dict[str, Any]) -> Any:
                raw = raw_of(record)
                if raw is None:
                    return default
                if raw.__class__ is str:
                    if plain.fullmatch(raw):  # already two places, in range: exact as is
                        text = raw.replace(grouping, "")
                        return Decimal(text.replace(",", ".") if grouping == "." else text)
                    if not raw.strip():
                        return default
                return formats.parse_money(raw, numbers)

            return convert_money
        if kind == "timestamp":

            def convert_timestamp(record: Mapping[str, Any], _draft: dict[str, Any]) -> Any:
                raw = raw_of(record)
                if raw is None or (raw.__class__ is str and not raw.strip()):
                    return default
                return formats.parse_timestamp(raw)

            return convert_timestamp
        return self._compile_local_datetime(spec, raw_of)

    def _compile_local_datetime(self, spec: FieldSpec, raw_of: Getter) -> Step:
        """A date column plus a time column, read in the store's timezone."""
        default = spec.default
        fmt = self.mapping.date_format
        time_keys = tuple(self._norm(a) for a in spec.time_sources)
        dates = self._date_cache
        midnight = datetime.min.time()

        def convert(record: Mapping[str, Any], draft: dict[str, Any]) -> Any:
            raw = raw_of(record)
            if raw is None or (raw.__class__ is str and not raw.strip()):
                return default
            day = cached_date(raw, fmt, dates)
            tkey = None
            for key in time_keys:
                if key in record:
                    tkey = key
                    break
            traw = record.get(tkey) if tkey is not None else None
            at = formats.parse_time(traw) if not _empty(traw) else midnight
            if tkey is None and isinstance(raw, datetime):
                at = raw.time()
            store = draft.get("store_id")
            try:
                tz = self._tz_cache[store]
            except (KeyError, TypeError):
                tz = self._store_tz(store)
                if isinstance(store, str) and len(self._tz_cache) < _CACHE_LIMIT:
                    self._tz_cache[store] = tz
            return datetime.combine(day, at, tzinfo=tz)

        return convert


#: Bound on the per-mapper caches of parsed dates, type words and store timezones.
_CACHE_LIMIT = 4096
Step = Callable[[Mapping[str, Any], dict[str, Any]], Any]
#: Money already written with exactly two places and at most 15 integer digits: the
#: shape ``formats.parse_money`` would return unchanged, so ``Decimal`` can take it as is.
_PLAIN_MONEY = {
    "br": re.compile(r"(?:\d{1,3}(?:\.\d{3}){1,4}|\d{1,15}),\d{2}"),
    "intl": re.compile(r"(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,15})\.\d{2}"),
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"
