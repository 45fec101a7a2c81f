"""How sources write numbers, dates and text, parsed strictly and fast.

Spreadsheets from Brazilian stores write ``1.234,56`` and ``31/12/2026``; systems write
``1234.56`` and ISO 8601. A value that does not match the declared style is an error
with a specific reason (``decimal``, ``integer``, ``date_format``; the same codes
pydantic's errors map to in :mod:`salesphere.validation`), never a silent guess: a
guess that turns ``12,3,4`` into 1234 would invent money.

Each parser accepts the native value a reader may already have produced (an XLSX
reader hands over ``float`` / ``datetime``), so CSV and XLSX share one code path.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from salesphere.numbers import BR_NUMBER, INTL_NUMBER

CENT = Decimal("0.01")
#: Larger amounts cannot be money (NUMERIC holds 18 digits here); refused before rounding.
MONEY_LIMIT = Decimal(10) ** 15

_INTEGER = re.compile(r"^[+-]?\d+$")
#: Money already written with exactly two places and at most 15 integer digits, per style:
#: the shape :func:`parse_money` returns unchanged, so ``Decimal`` can take it as is.
PLAIN_MONEY = {
    "br": re.compile(r"(?:\d{1,3}(?:\.\d{3}){1,4}|\d{1,15}),\d{2}"),
    "intl": re.compile(r"(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,15})\.\d{2}"),
}


class FormatError(ValueError):
    """A value that does not match its declared format; ``rule`` is the reject code."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _clean(value: str) -> str:
    # Non-breaking and thin spaces are common in exported money cells ("R$ 1.234,56").
    text = value.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    return text.removeprefix("R$")


def parse_decimal(value: object, style: str = "br") -> Decimal:
    """Parse a number written in ``style`` (``br`` or ``intl``) into an exact ``Decimal``.

    Floats (from XLSX cells) go through ``repr`` so 19.9 stays 19.9, not 19.899999...
    """
    if isinstance(value, bool):
        raise FormatError("decimal", f"expected a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FormatError("decimal", f"expected a finite number, got {value!r}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FormatError("decimal", f"expected a finite number, got {value}")
        return value
    if not isinstance(value, str):
        raise FormatError("decimal", f"expected a number, got {type(value).__name__}")
    text = _clean(value)
    if style == "br":
        if not BR_NUMBER.match(text):
            raise FormatError(
                "decimal",
                f"{value!r} is not a Brazilian number (expected e.g. 1.234,56 or 12,5)",
            )
        text = text.replace(".", "").replace(",", ".")
    else:
        if not INTL_NUMBER.match(text):
            raise FormatError("decimal", f"{value!r} is not a number (expected e.g. 1234.56)")
        text = text.replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise FormatError("decimal", f"{value!r} is not a number") from exc


def parse_money(value: object, style: str = "br") -> Decimal:
    """A money amount with at most two decimal places, normalised to exactly two."""
    amount = parse_decimal(value, style)
    if abs(amount) >= MONEY_LIMIT:
        raise FormatError("max_value", f"{value!r} is too large to be a money amount")
    rounded = amount.quantize(CENT)
    if rounded != amount:
        raise FormatError("money_precision", f"{value!r} has more than 2 decimal places")
    return rounded


def parse_int(value: object, style: str = "br") -> int:
    """A whole number; ``3,0`` / ``3.0`` (spreadsheets love them) are accepted, ``3,5`` is not."""
    if isinstance(value, bool):
        raise FormatError("integer", f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    try:
        number = parse_decimal(value, style)
    except FormatError as exc:
        raise FormatError("integer", f"{value!r} is not a whole number") from exc
    if number != number.to_integral_value():
        raise FormatError("integer", f"{value!r} is not a whole number")
    return int(number)


_DATE_FORMATS = {
    "%d/%m/%Y": re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"),
    "%Y-%m-%d": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
}


def parse_date(value: object, fmt: str = "%d/%m/%Y") -> date:
    """A calendar date in ``fmt`` (``%d/%m/%Y`` or ``%Y-%m-%d``), or a native date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise FormatError("date_format", f"expected a date, got {type(value).__name__}")
    text = value.strip()
    pattern = _DATE_FORMATS.get(fmt)
    match = pattern.match(text) if pattern else None
    if match is None:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError as exc:
            raise FormatError(
                "date_format", f"{value!r} is not a date in the format {fmt}"
            ) from exc
    a, b, c = (int(part) for part in match.groups())
    day, month, year = (a, b, c) if fmt == "%d/%m/%Y" else (c, b, a)
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise FormatError("date_format", f"{value!r} is not a real date: {exc}") from exc


def parse_time(value: object) -> time:
    """``HH:MM`` or ``HH:MM:SS``, a native ``time``, or an Excel day fraction."""
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        if not 0 <= seconds < 86_400:
            raise FormatError("time_format", f"{value!r} is not a time of day")
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    if isinstance(value, float) and 0 <= value < 1:
        seconds = round(value * 86_400)
        return time(seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
    if not isinstance(value, str):
        raise FormatError("time_format", f"expected a time, got {type(value).__name__}")
    try:
        return time.fromisoformat(value.strip())
    except ValueError as exc:
        raise FormatError("time_format", f"{value!r} is not a time (expected HH:MM:SS)") from exc


def parse_offset(text: str) -> timezone:
    """``-03:00`` -> a fixed ``timezone``; mappings declare the stores' offset this way."""
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if not match:
        raise ValueError(f"timezone offset {text!r} must look like -03:00")
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def parse_timestamp(value: object, default_tz: timezone | None = None) -> datetime:
    """ISO 8601 with an offset (``Z`` allowed); naive values take ``default_tz`` if given."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise FormatError(
                "timestamp_format",
                f"{value!r} is not ISO 8601 (expected e.g. 2026-11-28T14:03:00-03:00)",
            ) from exc
    else:
        raise FormatError("timestamp_format", f"expected a timestamp, got {type(value).__name__}")
    if moment.tzinfo is None:
        if default_tz is None:
            raise FormatError(
                "timezone_required",
                f"{value!r} has no timezone; send an offset, e.g. 2026-11-28T14:03:00-03:00",
            )
        moment = moment.replace(tzinfo=default_tz)
    return moment


def combine(day: date, at: time, tz: timezone) -> datetime:
    """A local date and time in a fixed offset, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=tz)


def normalise_header(text: str) -> str:
    """Header text compared for aliases: lower case, no accents, single underscores.

    ``Preço Unitário``, ``preco_unitario`` and ``PRECO  UNITARIO`` all become
    ``preco_unitario``, so a mapping lists each alias once.
    """
    folded = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff"))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
