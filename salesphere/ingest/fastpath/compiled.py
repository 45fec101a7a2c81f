"""The compiled mapping engine: each field a closure bound once, for clean records.

:class:`CompiledMapping` runs a mapping's fields as closures bound to their record keys,
types and number style, so a row costs one call per field instead of re-reading the
mapping per cell. It answers the draft of a clean record or ``None`` at the first
problem; the interpreting engine (:class:`salesphere.ingest.mapper.Mapper`) then names
every problem. Both use the same converters (:mod:`salesphere.ingest.formats`), so a
clean record maps identically either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from salesphere.ingest import formats
from salesphere.ingest.formats import PLAIN_MONEY, FormatError, normalise_header
from salesphere.ingest.mapping import FieldSpec, SourceMapping

#: Bound on the per-mapper caches of parsed dates, type words and store timezones.
CACHE_LIMIT = 4096
Step = Callable[[Mapping[str, Any], dict[str, Any]], Any]
Getter = Callable[[Mapping[str, Any]], Any]


def cached_date(raw: Any, fmt: str, cache: dict[str, date]) -> date:
    """``formats.parse_date``, remembering text cells: a file repeats the same few dates."""
    if raw.__class__ is not str:
        return formats.parse_date(raw, fmt)
    day = cache.get(raw)
    if day is None:
        day = formats.parse_date(raw, fmt)
        if len(cache) < CACHE_LIMIT:
            cache[raw] = day
    return day


def empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class CompiledMapping:
    """A mapping as closures; ``draft(record)`` is the draft of a clean record or ``None``.

    It is given what the interpreting engine already knows (how an alias is spelled in
    records, each event type's field plan, typed defaults, store timezones), so both
    engines read a mapping the same way.
    """

    def __init__(
        self,
        mapping: SourceMapping,
        key: Callable[[str], str],
        plan: Callable[[str], list[FieldSpec]],
        default: Callable[[FieldSpec], Any],
        timezone: Callable[[Any], tzinfo],
    ) -> None:
        self.mapping = mapping
        self._key = key
        self._plan = plan
        self._default = default
        self._timezone = timezone
        self._steps: dict[str, list[tuple[str, Step]]] = {}
        self._type_cache: dict[Any, str | None] = {}
        self._date_cache: dict[str, date] = {}
        self._tz_cache: dict[Any, tzinfo] = {}
        self._type_keys = (
            tuple(key(a) for a in mapping.type_field.sources)
            if mapping.type_field is not None
            else ()
        )

    def draft(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The draft of a clean record, or ``None`` on the first problem (caller goes slow).

        Each field is a closure bound once to its record keys, type and number style, so
        a row costs one call per field instead of re-reading the mapping per cell.
        """
        event_type = self._event_type(record)
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

    def _event_type(self, record: Mapping[str, Any]) -> str | None:
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
        if empty(raw):
            return None if spec.default is None else str(spec.default)
        try:
            return self._type_cache[raw]
        except KeyError:
            pass
        except TypeError:  # unhashable: let the slow path explain
            return None
        found = self.mapping.type_values.get(normalise_header(str(raw)))
        if len(self._type_cache) < CACHE_LIMIT:
            self._type_cache[raw] = found
        return found

    def _compile(self, spec: FieldSpec) -> Step:
        """One field as a closure ``(record, draft) -> value`` raising FormatError."""
        if not spec.sources:
            constant = spec.value
            return lambda _record, _draft: constant
        keys = tuple(self._key(a) for a in spec.sources)
        default = self._default(spec)

        def raw_of(record: Mapping[str, Any]) -> Any:
            for key in keys:
                if key in record:
                    return record[key]
            return None

        kind = spec.type
        if kind == "str":
            return _str_step(raw_of, default)
        if kind == "int":
            return _int_step(raw_of, default, self.mapping.numbers)
        if kind == "money":
            return _money_step(raw_of, default, self.mapping.numbers)
        if kind == "timestamp":
            return _timestamp_step(raw_of, default)
        return self._compile_local_datetime(spec, raw_of)

    def _compile_local_datetime(self, spec: FieldSpec, raw_of: Getter) -> Step:
        """A date column plus a time column, read in the store's timezone."""
        default = spec.default
        fmt = self.mapping.date_format
        time_keys = tuple(self._key(a) for a in spec.time_sources)
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
            at = formats.parse_time(traw) if not empty(traw) else midnight
            if tkey is None and isinstance(raw, datetime):
                at = raw.time()
            store = draft.get("store_id")
            try:
                tz = self._tz_cache[store]
            except (KeyError, TypeError):
                tz = self._timezone(store)
                if isinstance(store, str) and len(self._tz_cache) < CACHE_LIMIT:
                    self._tz_cache[store] = tz
            return datetime.combine(day, at, tzinfo=tz)

        return convert


# -- one step per field type ------------------------------------------------------------
# Each reads the common clean value inline and hands the rest (and every error) to
# ``formats``, the rule path's own parsers.


def _str_step(raw_of: Getter, default: Any) -> Step:
    """Text trimmed; a whole float (a spreadsheet's 123.0) as its integer's digits."""

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


def _int_step(raw_of: Getter, default: Any, numbers: str) -> Step:
    """An int as is, plain unsigned digits parsed inline, anything else by ``formats``."""

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


def _money_step(raw_of: Getter, default: Any, numbers: str) -> Step:
    """Money already written with two places in the mapping's style read exactly inline,
    anything else by ``formats``."""
    # formats.parse_decimal reads any style other than "br" as international
    plain = PLAIN_MONEY["br" if numbers == "br" else "intl"]
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


def _timestamp_step(raw_of: Getter, default: Any) -> Step:
    """A timestamp with its offset, by ``formats``; blank is the default."""

    def convert_timestamp(record: Mapping[str, Any], _draft: dict[str, Any]) -> Any:
        raw = raw_of(record)
        if raw is None or (raw.__class__ is str and not raw.strip()):
            return default
        return formats.parse_timestamp(raw)

    return convert_timestamp
