"""Event identity is deterministic and independent of the source that sent the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from salesphere.envelope import envelope_id_for, pack, unpack
from salesphere.model import finalize

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def sale(source: str, received: datetime, **extra: object) -> dict[str, object]:
    return {
        "event_type": "sale",
        "occurred_at": datetime(2026, 11, 28, 9, 0, tzinfo=timezone(timedelta(hours=-3))),
        "source": source,
        "store_id": "SP01",
        "sku": "SKU-1",
        "quantity": 1,
        "unit_price": "10.00",
        "order_id": "SP01-77",
        "line_number": 2,
    } | extra


def test_live_feed_and_spreadsheet_agree_on_identity() -> None:
    live = finalize(sale("pos", T0, source_ref="term-3"), T0)
    sheet = finalize(sale("spreadsheet", T0, source_ref="vendas.csv:14"), T0 + timedelta(hours=9))
    assert live.event_id == sheet.event_id


def test_different_lines_differ() -> None:
    assert (
        finalize(sale("pos", T0), T0).event_id
        != finalize(sale("pos", T0, line_number=3), T0).event_id
    )


def test_sale_and_return_of_same_line_differ() -> None:
    ret = finalize(sale("pos", T0, event_type="return"), T0)
    assert ret.event_id != finalize(sale("pos", T0), T0).event_id


@given(st.text(min_size=1, max_size=20), st.integers(1, 999))
def test_id_is_a_pure_function_of_the_natural_key(order: str, line: int) -> None:
    first = finalize(sale("pos", T0, order_id=order, line_number=line), T0)
    again = finalize(sale("web", T0, order_id=order, line_number=line), T0 + timedelta(days=1))
    assert first.event_id == again.event_id


def test_stock_count_identity_uses_the_instant() -> None:
    count = {
        "event_type": "stock_count",
        "occurred_at": T0,
        "source": "inventory",
        "store_id": "SP01",
        "sku": "SKU-1",
        "quantity": 0,
        "counted_quantity": 5,
    }
    a = finalize(count, T0)
    b = finalize(count | {"occurred_at": T0 + timedelta(hours=1)}, T0 + timedelta(hours=1))
    assert a.event_id != b.event_id
    assert finalize(count | {"counted_quantity": 6}, T0).event_id == a.event_id


def test_envelopes_are_deterministic_and_round_trip() -> None:
    events = [finalize(sale("pos", T0, line_number=n), T0) for n in range(1, 8)]
    first = list(pack(events, "pos", max_events=3))
    again = list(pack(list(reversed(events))[::-1], "pos", max_events=3))
    assert [e.envelope_id for e in first] == [e.envelope_id for e in again]
    assert [len(e.events) for e in first] == [3, 3, 1]
    back = unpack(first[0].to_json())
    assert back == first[0]
    assert back.envelope_id == envelope_id_for(r["event_id"] for r in back.events)
