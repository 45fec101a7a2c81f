"""The fused fast path: map and validate a clean spreadsheet or POS record in one step.

Mapping a clean row and then validating the draft costs two passes over the same values:
the mapper converts each cell in its own closure, then ``fast_row`` checks again the
types the converters have just produced. For the common shape (one sale or return per
record, plain columns) :func:`compile_kernel` does both in one function: it reads the
cells, converts and checks them against the model's limits
(:data:`salesphere.model.FIELD_LIMITS`), and builds the warehouse row with the one
natural key (:func:`salesphere.identity.key_text`), or answers ``None`` ("not sure") at
the first surprise, in which case the record takes the full path (mapper, ``validate``,
reference check) that names the problems. It never decides a reject, so answers cannot
differ; tests feed both paths the same mixed rows and compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, Protocol

from salesphere.identity import event_id_of, key_text
from salesphere.ingest import formats
from salesphere.ingest.catalog import Reference
from salesphere.ingest.fastpath.compiled import cached_date
from salesphere.ingest.fastpath.row import (
    CHANNELS,
    CURRENCY_PATTERN,
    SKU_PATTERN,
    STORE_PATTERN,
)
from salesphere.ingest.formats import MONEY_LIMIT, PLAIN_MONEY, normalise_header
from salesphere.ingest.mapping import FieldSpec, SourceMapping
from salesphere.ingest.readers import BAD_RECORD
from salesphere.model import DEFAULT_CURRENCY, FIELD_LIMITS, MAX_CLOCK_SKEW, SCHEMA_VERSION

#: Targets the kernel understands, and the mapping types each may have to qualify.
_KERNEL_TYPES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("store_id", "sku", "order_id", "source_ref", "channel", "currency"), ("str",)),
    **dict.fromkeys(("quantity", "line_number"), ("int",)),
    **dict.fromkeys(("unit_price", "discount"), ("money",)),
    "occurred_at": ("local_datetime", "timestamp"),
}
_KERNEL_EVENTS = frozenset(("sale", "return"))
#: A float's ``repr`` that is an exact amount with at most two places (XLSX money cells).
_FLOAT_MONEY = re.compile(r"(\d{1,15})\.(\d{1,2})")
_MAX_PRICE_CENTS = int(FIELD_LIMITS["unit_price"].le * 100)
_GOOD_LIMIT = 4096
Kernel = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class Layout(Protocol):
    """What the kernel needs of the rule path's mapper (:class:`salesphere.ingest.mapper.Mapper`):
    the same mapping, record keys and store clocks, so both read records identically."""

    mapping: SourceMapping

    def record_key(self, name: str) -> str: ...

    def store_timezone(self, store_id: Any) -> tzinfo: ...


class _Rebind(Exception):
    """The record's columns differ from the ones the kernel bound to (rebind, retry)."""


def _kernel_specs(mapping: SourceMapping) -> dict[str, FieldSpec] | None:
    """The mapping's fields by target, if every one is of a shape the kernel handles."""
    if mapping.explode or mapping.type_field is None:
        return None
    source_limit = FIELD_LIMITS["source"]
    if not source_limit.min_length <= len(mapping.source) <= source_limit.max_length:
        return None
    specs: dict[str, FieldSpec] = {}
    for spec in mapping.fields:
        target = spec.target
        if target in specs:
            return None
        if not spec.sources:
            # constants: only a channel or currency, checked here once
            if spec.value is None:
                continue
            if target == "channel" and type(spec.value) is str and spec.value in CHANNELS:
                specs[target] = spec
                continue
            if (
                target == "currency"
                and type(spec.value) is str
                and CURRENCY_PATTERN.fullmatch(spec.value)
            ):
                specs[target] = spec
                continue
            return None
        if spec.type not in _KERNEL_TYPES.get(target, ()):
            return None
        specs[target] = spec
    required = ("store_id", "sku", "quantity", "unit_price", "order_id", "line_number")
    if not all(t in specs and specs[t].sources for t in (*required, "occurred_at")):
        return None
    return specs


# Long on purpose: run() below reads this setup as closure cells, the cheapest per-row lookups.
def compile_kernel(  # noqa: PLR0915 - closures over locals: the cheapest per-row lookups
    mapper: Layout, reference: Reference, received_at: datetime, received_text: str
) -> Kernel | None:
    """A fused map-and-validate function for ``mapper``'s layout, or ``None`` if the
    layout has a shape it does not handle (those records all take the full path)."""
    mapping = mapper.mapping
    specs = _kernel_specs(mapping)
    if specs is None:
        return None
    type_spec = mapping.type_field
    assert type_spec is not None  # checked by _kernel_specs
    norm = mapper.record_key
    source = mapping.source
    latest = received_at + MAX_CLOCK_SKEW
    check_refs = reference.loaded
    skus, stores = reference.skus, reference.stores
    plain_money = PLAIN_MONEY["br" if mapping.numbers == "br" else "intl"]
    date_format = mapping.date_format
    dates: dict[str, date] = {}
    time_spec = specs["occurred_at"]
    local = time_spec.type == "local_datetime"
    midnight = datetime.min.time()
    # event types: a constant, or words looked up once each
    type_constant = None if type_spec.sources else str(type_spec.value)
    type_default = None if type_spec.default is None else str(type_spec.default)
    types: dict[Any, str | None] = {}
    per_type = mapping.per_type
    channel_column = "channel" in specs and bool(specs["channel"].sources)
    currency_column = "currency" in specs and bool(specs["currency"].sources)
    channel_const = specs["channel"].value if "channel" in specs else "store"
    currency_const = specs["currency"].value if "currency" in specs else DEFAULT_CURRENCY
    good_stores: set[str] = set()
    good_skus: set[str] = set()
    zones: dict[str, tzinfo] = {}
    received = received_text
    # the model's limits (FIELD_LIMITS), as closure locals: the cheapest lookups per row
    store_max = FIELD_LIMITS["store_id"].max_length
    sku_max = FIELD_LIMITS["sku"].max_length
    order_max = FIELD_LIMITS["order_id"].max_length
    ref_max = FIELD_LIMITS["source_ref"].max_length
    quantity_max = FIELD_LIMITS["quantity"].le
    line_min, line_max = FIELD_LIMITS["line_number"].ge, FIELD_LIMITS["line_number"].le

    # Column binding: each field reads the first of its aliases present in a record.
    # The kernel binds to the first record's columns and rebinds when a record carries
    # other ones (``shadow`` holds every alias that would win over the bound one).
    alias_groups: dict[str, tuple[str, ...]] = {
        t: tuple(norm(a) for a in s.sources) for t, s in specs.items() if s.sources
    }
    alias_groups["event_type"] = tuple(norm(a) for a in type_spec.sources)
    alias_groups["time"] = tuple(norm(a) for a in time_spec.time_sources)
    bound: dict[str, str | None] = {}
    shadow: frozenset[str] = frozenset()

    def bind(record: dict[str, Any]) -> None:
        nonlocal shadow
        hidden: list[str] = []
        for target, aliases in alias_groups.items():
            bound[target] = None
            for position, alias in enumerate(aliases):
                if alias in record:
                    bound[target] = alias
                    hidden.extend(aliases[:position])
                    break
            else:
                hidden.extend(aliases)
        hidden.append(BAD_RECORD)
        shadow = frozenset(hidden)

    defaults = {t: s.default for t, s in specs.items()}

    def text(target: str, record: dict[str, Any]) -> str | None:
        """A text cell stripped; ``None`` when absent or blank and no default is declared
        (a declared default, or a cell that is not text, is left to the full path)."""
        key = bound[target]
        raw = None if key is None else record[key]
        if raw.__class__ is str:
            raw = raw.strip()
        elif raw is not None:
            raise TypeError(target)
        if not raw:
            if defaults[target] is not None:
                raise TypeError(target)
            return None
        return raw

    def money(raw: Any) -> int | None:
        """Cents of a money cell the converters would take as is, else ``None``."""
        if raw.__class__ is str:
            if not plain_money.fullmatch(raw):
                return None
            # both styles: drop the grouping and the decimal mark, two places are left
            return int(raw.replace(",", "").replace(".", ""))
        if raw.__class__ is float:
            found = _FLOAT_MONEY.fullmatch(repr(raw))
            if found is None:
                return None
            whole, cents = found.groups()
            return int(whole) * 100 + int(cents.ljust(2, "0"))
        if raw.__class__ is int and 0 <= raw < MONEY_LIMIT:
            return raw * 100
        return None

    def whole(raw: Any) -> int | None:
        if raw.__class__ is int:
            return raw
        if raw.__class__ is str:
            stripped = raw.strip()
            return int(stripped) if stripped.isdecimal() else None
        if raw.__class__ is float and raw.is_integer():
            return int(raw)
        return None

    def run(record: dict[str, Any]) -> dict[str, Any] | None:  # noqa: PLR0912, PLR0915
        # one flat function on purpose: at 100k rows every extra call is measurable
        if not shadow.isdisjoint(record):
            raise _Rebind
        # event type
        if type_constant is not None:
            event_type = type_constant
        else:
            key = bound["event_type"]
            raw = None if key is None else record[key]
            try:
                event_type = types[raw]
            except KeyError:
                if raw is None or (raw.__class__ is str and not raw.strip()):
                    event_type = type_default
                else:
                    event_type = mapping.type_values.get(normalise_header(str(raw)))
                if len(types) < _GOOD_LIMIT:
                    types[raw] = event_type
        if event_type not in _KERNEL_EVENTS or event_type in per_type:
            return None
        # text fields
        # the three text cells every row has, inlined; anything unusual goes via text()
        store_id = record.get(bound["store_id"])
        store_id = store_id.strip() if store_id.__class__ is str else text("store_id", record)
        sku = record.get(bound["sku"])
        sku = sku.strip() if sku.__class__ is str else text("sku", record)
        order_id = record.get(bound["order_id"])
        order_id = order_id.strip() if order_id.__class__ is str else text("order_id", record)
        if not store_id or not sku or not order_id or len(order_id) > order_max:
            return None
        if store_id not in good_stores:
            if len(store_id) > store_max or not STORE_PATTERN.fullmatch(store_id):
                return None
            if len(good_stores) < _GOOD_LIMIT:
                good_stores.add(store_id)
        if sku not in good_skus:
            if len(sku) > sku_max or not SKU_PATTERN.fullmatch(sku):
                return None
            if len(good_skus) < _GOOD_LIMIT:
                good_skus.add(sku)
        if check_refs and (sku not in skus or store_id not in stores):
            return None
        if "source_ref" in bound:
            source_ref = text("source_ref", record)
            if source_ref is not None and len(source_ref) > ref_max:
                return None
        else:
            source_ref = None
        if channel_column:
            channel = text("channel", record) or "store"
            if channel not in CHANNELS:
                return None
        else:
            channel = channel_const
        if currency_column:
            currency = text("currency", record) or DEFAULT_CURRENCY
            if not CURRENCY_PATTERN.fullmatch(currency):
                return None
        else:
            currency = currency_const
        # numbers
        # numbers: plain text cells inline (the common case), the rest via the helpers
        raw = record[bound["quantity"]]
        quantity = int(raw) if raw.__class__ is str and raw.isdecimal() else whole(raw)
        if quantity is None or not 0 < quantity <= quantity_max:
            return None
        raw = record[bound["line_number"]]
        line_number = int(raw) if raw.__class__ is str and raw.isdecimal() else whole(raw)
        if line_number is None or not line_min <= line_number <= line_max:
            return None
        raw = record[bound["unit_price"]]
        if raw.__class__ is str and plain_money.fullmatch(raw):
            price = int(raw.replace(",", "").replace(".", ""))
        else:
            price = money(raw)
        if price is None or price > _MAX_PRICE_CENTS:
            return None
        discount_key = bound.get("discount")
        if discount_key is None:
            if "discount" in specs and specs["discount"].default is not None:
                return None  # the full path applies the default
            discount = 0
        else:
            raw = record[discount_key]
            if raw.__class__ is str and plain_money.fullmatch(raw):
                discount = int(raw.replace(",", "").replace(".", ""))
            else:
                discount = money(raw)
            if discount is None or discount > price * quantity:
                return None
        # when
        raw = record[bound["occurred_at"]]
        if local:
            day = cached_date(raw, date_format, dates)
            time_key = bound["time"]
            if time_key is None:
                at = raw.time() if isinstance(raw, datetime) else midnight
            else:
                traw = record[time_key]
                if traw.__class__ is str:
                    stripped = traw.strip()
                    at = time.fromisoformat(stripped) if stripped else midnight
                elif traw is None:
                    at = midnight
                else:
                    at = formats.parse_time(traw)
            zone = zones.get(store_id)
            if zone is None:
                zone = mapper.store_timezone(store_id)
                if len(zones) < _GOOD_LIMIT:
                    zones[store_id] = zone
            occurred = datetime.combine(day, at, tzinfo=zone)
        else:
            if raw.__class__ is str:
                occurred = datetime.fromisoformat(raw.strip())
            elif raw.__class__ is datetime:
                occurred = raw
            else:
                return None
            if occurred.tzinfo is None:
                return None
        if occurred.utcoffset() is None:
            return None
        occurred_utc = occurred.astimezone(UTC)
        if occurred_utc > latest or occurred_utc.year < 1000:
            return None
        return {
            "event_id": event_id_of(key_text(event_type, store_id, sku, "", order_id, line_number)),
            "event_type": event_type,
            "occurred_at": occurred_utc.isoformat(timespec="microseconds")[:-6] + "Z",
            "received_at": received,
            "source": source,
            "source_ref": source_ref,
            "store_id": store_id,
            "sku": sku,
            "quantity": quantity,
            "unit_price": f"{price // 100}.{price % 100:02d}",
            "discount": f"{discount // 100}.{discount % 100:02d}",
            "currency": currency,
            "order_id": order_id,
            "line_number": line_number,
            "channel": channel,
            "counted_quantity": None,
            "counterpart_store_id": None,
            "schema_version": SCHEMA_VERSION,
        }

    def kernel(record: dict[str, Any]) -> dict[str, Any] | None:
        if not bound:
            bind(record)
        try:
            return run(record)
        except (_Rebind, KeyError):  # other columns than the bound ones
            bind(record)
        except Exception:  # any surprise: the full path gives the answer
            return None
        try:
            return run(record)
        except Exception:
            return None

    return kernel
