"""Machine-readable rejects: what was wrong, where, and what rule it broke.

A reject is never an exception that escapes: ingest turns every bad record into a
:class:`Reject`, quarantines it with its original payload, and carries on with the
good records of the same batch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class Reject(BaseModel):
    """Why one record was refused. ``rule`` is a stable code analysts can group by."""

    field: str
    value: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (rule={self.rule}, value={self.value!r})"


def _short(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


#: Pydantic error types mapped to our stable rule codes.
_RULES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "greater_than_equal": "min_value",
    "less_than_equal": "max_value",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "min_length",
    "string_too_long": "max_length",
    "decimal_max_places": "money_precision",
    "decimal_max_digits": "money_precision",
    "datetime_from_date_parsing": "timestamp_format",
    "datetime_parsing": "timestamp_format",
    "enum": "allowed_values",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "decimal_parsing": "decimal",
    "value_error": "business_rule",
}


def rejects_from_error(
    error: ValidationError, record: dict[str, Any] | None = None
) -> list[Reject]:
    """Flatten a pydantic error into one :class:`Reject` per broken rule."""
    rejects = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "record"
        value = item.get("input")
        if isinstance(value, dict) and record is not None and loc in record:
            value = record[loc]
        message = item["msg"].removeprefix("Value error, ")
        rule = _RULES.get(item["type"], item["type"])
        if rule == "business_rule":
            rule = _business_rule_code(message)
            loc = _business_rule_field(message, loc)
            value = None if isinstance(value, dict) else value
        rejects.append(
            Reject(
                field=loc,
                value=_short(value if not isinstance(value, dict) else None),
                rule=rule,
                message=message,
            )
        )
    return rejects


def _business_rule_code(message: str) -> str:
    if "future" in message:
        return "future_timestamp"
    if "timezone" in message:
        return "timezone_required"
    if "discount exceeds" in message:
        return "discount_exceeds_gross"
    if "is required for" in message:
        return "required_for_type"
    if "only allowed on" in message:
        return "not_allowed_for_type"
    return "business_rule"


def _business_rule_field(message: str, default: str) -> str:
    first = message.split(" ", 1)[0]
    if first in {
        "occurred_at",
        "unit_price",
        "counted_quantity",
        "counterpart_store_id",
        "order_id",
        "discount",
        "quantity",
    }:
        return first
    if "quantity must" in message:
        return "quantity"
    return default
