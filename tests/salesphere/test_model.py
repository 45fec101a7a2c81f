"""The canonical event: every type validates, bad input is refused with a specific reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from salesphere.model import CanonicalEvent, EventType, finalize
from salesphere.validation import rejects_from_error
from salesphere_tools import jsonschema

RECEIVED = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
BRT = timezone(timedelta(hours=-3))


def base(event_type: str, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_type": event_type,
        "occurred_at": datetime(2026, 11, 28, 11, 30, tzinfo=BRT),
        "source": "pos",
        "store_id": "SP01",
        "sku": "SKU-0001",
        "quantity": 2,
    }
    if event_type in ("sale", "return"):
        record |= {"unit_price": Decimal("19.90"), "order_id": "SP01-1", "line_number": 1}
    if event_type == "stock_count":
        record |= {"quantity": 0, "counted_quantity": 40}
    if event_type in ("transfer_out", "transfer_in"):
        record |= {"counterpart_store_id": "RJ01", "source_ref": "TR-9"}
    if event_type in ("stock_receipt", "stock_adjustment"):
        record |= {"source_ref": "NF-123"}
    if event_type == "void":
        record |= {"quantity": 0, "source_ref": "7f0c2e9a-0000-5000-8000-000000000001"}
    return record | extra


def test_a_void_names_the_event_it_cancels_and_moves_nothing_itself() -> None:
    for broken in ({"source_ref": None}, {"quantity": 1}, {"unit_price": Decimal("1.00")}):
        with pytest.raises(ValidationError):
            finalize(base("void", **broken), RECEIVED)
    first = finalize(base("void"), RECEIVED)
    again = finalize(base("void"), RECEIVED + timedelta(days=1))
    assert first.event_id == again.event_id  # derived from the voided event: redelivery dedupes


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
def test_every_event_type_finalizes(event_type: str) -> None:
    event = finalize(base(event_type), RECEIVED)
    assert event.event_type.value == event_type
    assert event.received_at == RECEIVED
    assert len(event.event_id) == 36


def test_occurred_at_is_normalised_to_utc() -> None:
    event = finalize(base("sale"), RECEIVED)
    assert event.occurred_at == datetime(2026, 11, 28, 14, 30, tzinfo=UTC)
    assert event.to_row()["occurred_at"] == "2026-11-28T14:30:00.000000Z"


def test_naive_timestamp_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValidationError) as err:
        finalize(base("sale", occurred_at=datetime(2026, 11, 28, 11, 30)), RECEIVED)
    (reject,) = rejects_from_error(err.value)
    assert reject.field == "occurred_at"
    assert "offset" in reject.message


def test_money_keeps_two_places_exactly() -> None:
    event = finalize(base("sale", unit_price="0.10", quantity=3, discount="0.05"), RECEIVED)
    assert event.unit_price is not None
    assert event.unit_price * event.quantity - event.discount == Decimal("0.25")
    assert event.to_row()["unit_price"] == "0.10"


def test_money_with_three_places_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        finalize(base("sale", unit_price="1.999"), RECEIVED)
    assert rejects_from_error(err.value)[0].rule == "money_precision"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"quantity": -1}, "quantity", "min_value"),
        ({"quantity": 10_000_000}, "quantity", "max_value"),
        ({"sku": "bad sku!"}, "sku", "pattern"),
        ({"event_type": "gift"}, "event_type", "allowed_values"),
        ({"unit_price": None}, "unit_price", "required_for_type"),
        ({"discount": "100.00"}, "discount", "discount_exceeds_gross"),
        ({"occurred_at": RECEIVED + timedelta(days=2)}, "occurred_at", "future_timestamp"),
        ({"currency": "reais"}, "currency", "pattern"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_invalid_records_name_field_and_rule(changes: dict, field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as err:
        finalize(base("sale") | changes, RECEIVED)
    rejects = rejects_from_error(err.value)
    assert (field, rule) in {(r.field, r.rule) for r in rejects}, rejects


def test_missing_field_is_reported() -> None:
    record = base("sale")
    del record["sku"]
    with pytest.raises(ValidationError) as err:
        finalize(record, RECEIVED)
    assert {(r.field, r.rule) for r in rejects_from_error(err.value)} == {("sku", "required")}


def test_stock_count_needs_counted_quantity_and_others_refuse_it() -> None:
    with pytest.raises(ValidationError):
        finalize(base("stock_count", counted_quantity=None), RECEIVED)
    with pytest.raises(ValidationError) as err:
        finalize(base("stock_receipt", counted_quantity=5), RECEIVED)
    assert rejects_from_error(err.value)[0].rule == "not_allowed_for_type"


def test_transfer_needs_counterpart() -> None:
    with pytest.raises(ValidationError):
        finalize(base("transfer_out", counterpart_store_id=None), RECEIVED)


def test_row_round_trip() -> None:
    event = finalize(base("return", discount="1.00"), RECEIVED)
    assert CanonicalEvent.from_row(json.loads(json.dumps(event.to_row()))) == event


def test_published_json_schema_matches_the_model() -> None:
    committed = jsonschema.schema_path().read_text()
    assert committed == jsonschema.render(), (
        "salesphere/schema is stale: run `python -c 'from salesphere import jsonschema; "
        "jsonschema.write()'` and commit it"
    )
    schema = json.loads(committed)
    assert set(schema["required"]) >= {"event_id", "event_type", "occurred_at", "store_id"}
