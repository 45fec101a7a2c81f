"""The interpreting mapping engine: a mapping applied field by field, naming every problem.

:class:`Mapper` binds a mapping (:mod:`salesphere.ingest.mapping`) to records: header
aliases, the field plan per event type, typed defaults and store timezones. ``map``
tries the compiled engine (:mod:`salesphere.ingest.fastpath.compiled`) first and interprets the
mapping only for a record it cannot take, so every rejected field gets its own reject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from salesphere.ingest import formats
from salesphere.ingest.fastpath.compiled import CompiledMapping, empty
from salesphere.ingest.formats import FormatError, normalise_header
from salesphere.ingest.mapping import FieldSpec, SourceMapping, timezone_named
from salesphere.validation import Reject

TzLookup = Callable[[str], tzinfo | None]


@dataclass
class Draft:
    """What a record became: drafts for events, or the conversion errors that stop it."""

    drafts: list[dict[str, Any]]
    rejects: list[Reject]


class Mapper:
    """A compiled mapping: ``map(record)`` turns one source record into event drafts.

    For tabular files the record's keys are normalised headers
    (:func:`~salesphere.ingest.formats.normalise_header`); ``resolve_headers`` binds each
    field to the header actually present, so aliases cost nothing per row.
    """

    def __init__(self, mapping: SourceMapping, tz_for_store: TzLookup | None = None) -> None:
        self.mapping = mapping
        self.tz_for_store = tz_for_store or (lambda _store: None)
        self.default_tz = timezone_named(mapping.default_timezone)
        self._norms: dict[str, str] = {}  # alias -> key as it appears in records
        # Compiled once: each spec's aliases as record keys, and the spec list per type.
        self._aliases: dict[FieldSpec, tuple[str, ...]] = {}
        self._plans: dict[str, list[FieldSpec]] = {}
        for spec in (*mapping.fields, *(s for specs in mapping.per_type.values() for s in specs)):
            self.typed_default(spec)  # a default that does not convert fails here, not per row
        self._compiled = CompiledMapping(
            mapping, self.record_key, self.plan, self.typed_default, self.store_timezone
        )

    # header binding -------------------------------------------------------------------

    def record_key(self, name: str) -> str:
        """How an alias appears as a key in records (normalised headers for tabular files)."""
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
            key = self.record_key(alias)
            if key in record:
                return key
        return None

    def _spec_key(self, spec: FieldSpec, record: Mapping[str, Any]) -> str | None:
        keys = self._aliases.get(spec)
        if keys is None:
            keys = self._aliases[spec] = tuple(self.record_key(a) for a in spec.sources)
        for key in keys:
            if key in record:
                return key
        return None

    def plan(self, event_type: str) -> list[FieldSpec]:
        """The fields to map for ``event_type``: the shared ones, its overrides, store first."""
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
            return self.typed_default(spec)
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
        at = formats.parse_time(traw) if not empty(traw) else datetime.min.time()
        if isinstance(raw, datetime) and tkey is None:
            at = raw.time()
        tz = self.store_timezone(draft.get("store_id"))
        return datetime.combine(day, at, tzinfo=tz)

    def typed_default(self, spec: FieldSpec) -> Any:
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

    def store_timezone(self, store_id: Any) -> tzinfo:
        """The timezone local times of ``store_id`` are read in (the mapping's default else)."""
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
        if empty(raw):
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
        for spec in self.plan(event_type or ""):
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

        The compiled engine (:mod:`salesphere.ingest.fastpath.compiled`) handles clean records; the
        first problem sends the record through :meth:`_map_slow`, which interprets the
        mapping and names every rejected field. Both use the same converters, so a clean
        record maps identically.
        """
        explode = self.mapping.explode
        if not explode:
            draft = self._compiled.draft(record)
            if draft is not None:
                return Draft([draft], [])
            return self._map_slow(record)
        items = record.get(explode)
        if isinstance(items, list) and items:
            drafts = []
            for item in items:
                if not isinstance(item, dict):
                    break
                draft = self._compiled.draft(
                    {**record, **{f"{explode}.{k}": v for k, v in item.items()}}
                )
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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"
