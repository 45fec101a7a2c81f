"""The fast validation path agrees with pydantic's finalize on every input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from salesphere.envelope import pack
from salesphere.ingest.fastpath.row import fast_row
from salesphere.ingest.publish import pack_rows
from salesphere.ingest.validate import validate
from salesphere.model import CanonicalEvent, finalize

RECEIVED = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
money = st.one_of(
    st.none(),
    st.decimals(min_value=-5, max_value=2_000_000, places=2, allow_nan=False),
    st.decimals(min_value=0, max_value=10, places=3, allow_nan=False),
)
drafts = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(
            ["sale", "return", "stock_count", "stock_receipt", "transfer_out", "bogus"]
        ),
        "occurred_at": st.datetimes(
            min_value=datetime(2026, 1, 1),
            max_value=datetime(2027, 6, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))]),
        ),
        "source": st.sampled_from(["pos", "", "x" * 70]),
        "store_id": st.sampled_from(["SP01", "WEB", "bad id", "=cmd"]),
        "sku": st.sampled_from(["ELE-10001", "A.B_C", "", "sku\n"]),
        "quantity": st.integers(min_value=-2, max_value=100_002),
    },
    optional={
        "unit_price": money,
        "discount": st.decimals(min_value=-1, max_value=50, places=2, allow_nan=False),
        "order_id": st.sampled_from([None, "SP01-1", "", "o" * 70]),
        "line_number": st.sampled_from([None, 0, 1, 10_001]),
        "source_ref": st.sampled_from([None, "NF-1"]),
        "counted_quantity": st.sampled_from([None, 0, 5, -1]),
        "counterpart_store_id": st.sampled_from([None, "RJ01"]),
        "channel": st.sampled_from(["store", "online", "nowhere"]),
    },
)


@settings(max_examples=400, deadline=None)
@given(drafts)
def test_fast_path_equals_finalize_or_defers(draft: dict[str, Any]) -> None:
    fast = fast_row(draft, RECEIVED)
    try:
        expected = finalize(draft, RECEIVED).to_row()
    except Exception:
        expected = None
    if fast is not None:
        assert expected is not None, "fast path accepted what pydantic refuses"
        assert fast == expected
    row, rejects = validate(draft, RECEIVED)
    assert row == expected
    assert bool(rejects) == (expected is None)


def _sale(line: int) -> dict[str, Any]:
    return {
        "event_type": "sale",
        "occurred_at": datetime(2026, 11, 28, 10, tzinfo=UTC),
        "source": "pos",
        "store_id": "SP01",
        "sku": "ELE-10001",
        "quantity": 2,
        "unit_price": Decimal("19.90"),
        "discount": Decimal("0.00"),
        "order_id": "SP01-20261128-000001",
        "line_number": line,
        "source_ref": "T",
    }


def test_clean_records_take_the_fast_path_and_pack_identically() -> None:
    drafts_ = [_sale(i) for i in range(1, 8)]
    rows = [fast_row(d, RECEIVED) for d in drafts_]
    assert all(rows)
    events = [CanonicalEvent.model_validate(finalize(d, RECEIVED).model_dump()) for d in drafts_]
    fast = list(pack_rows(rows, "pos", 3))  # type: ignore[arg-type]
    slow = list(pack(events, "pos", 3))
    assert [e.to_json() for e in fast] == [e.to_json() for e in slow]
    assert [e.attributes() for e in fast] == [e.attributes() for e in slow]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "sale",
            "return",
            "stock_count",
            "stock_receipt",
            "stock_adjustment",
            "transfer_out",
            "transfer_in",
        ]
    ),
    st.text(max_size=12),
    st.text(max_size=12),
    st.one_of(st.none(), st.text(max_size=12)),
    st.one_of(st.none(), st.integers(0, 10_001)),
    st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)),
)
def test_fast_event_id_is_identity_derive_event_id(
    event_type: str, store: str, sku: str, ref: str | None, line: int | None, when: datetime
) -> None:
    from salesphere.identity import derive_event_id, event_id_of, key_text

    instant = when.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    assume_encodable = all(not 0xD800 <= ord(c) <= 0xDFFF for c in store + sku + (ref or ""))
    if not assume_encodable:
        return
    expected = derive_event_id(
        event_type=event_type,
        store_id=store,
        sku=sku,
        occurred_at=when,
        order_id=ref,
        line_number=line,
        source_ref=ref,
        counterpart_store_id=store[::-1],
    )
    got = event_id_of(key_text(event_type, store, sku, instant, ref, line, ref, store[::-1]))
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.text(max_size=8),
            st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=20)),
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    st.text(max_size=10),
)
def test_envelope_bytes_equal_the_standard_serialisation(
    rows: list[dict[str, Any]], source: str
) -> None:
    from salesphere.envelope import Envelope
    from salesphere.ingest.publish import envelope_bytes

    envelope = Envelope(envelope_id="e", source=source, received_at="r", events=tuple(rows))
    try:
        expected = envelope.to_json()
    except UnicodeEncodeError:  # lone surrogates cannot be UTF-8 either way
        return
    assert envelope_bytes(envelope) == expected


# -- the limits the fast paths check are the model's own -----------------------------------

_SALE = {
    "event_type": "sale",
    "occurred_at": datetime(2026, 11, 28, 14, 3, tzinfo=timezone(timedelta(hours=-3))),
    "source": "pos",
    "store_id": "SP01",
    "sku": "ELE-10001",
    "quantity": 2,
    "unit_price": Decimal("10.00"),
    "order_id": "SP01-1",
    "line_number": 1,
    "source_ref": "NF-1",
}


def _at(limit: int | Decimal, field: str) -> Any:
    """A value of ``field`` exactly at ``limit`` (text of that length, or that number)."""
    if field in {"quantity", "line_number"}:
        return int(limit)
    if field == "unit_price":
        return Decimal(limit).quantize(Decimal("0.01"))
    return "A" * int(limit)


def test_fast_row_reads_every_limit_from_the_model() -> None:
    """At each declared bound the fast row agrees with pydantic; one past it, it defers.

    Derived from ``FIELD_LIMITS`` (itself read from ``CanonicalEvent``), so a limit changed
    in the model is checked here with no edit: a literal left in the fast path would fail.
    """
    from salesphere.model import FIELD_LIMITS

    checked = 0
    for field in ("source", "store_id", "sku", "order_id", "source_ref", "quantity"):
        limit = FIELD_LIMITS[field]
        upper = limit.max_length if limit.max_length is not None else limit.le
        for value, valid in ((_at(upper, field), True), (_at(upper + 1, field), False)):
            draft = {**_SALE, field: value}
            fast = fast_row(draft, RECEIVED)
            if valid:
                assert fast == finalize(draft, RECEIVED).to_row(), field
            else:
                assert fast is None, f"fast row took {field} beyond the model's limit"
                assert validate(draft, RECEIVED)[1], f"pydantic took {field} beyond its limit"
            checked += 1
    for field in ("unit_price", "line_number"):
        upper = FIELD_LIMITS[field].le
        assert fast_row({**_SALE, field: _at(upper, field)}, RECEIVED) is not None, field
        assert fast_row({**_SALE, field: _at(upper + 1, field)}, RECEIVED) is None, field
        checked += 2
    assert checked == 16
