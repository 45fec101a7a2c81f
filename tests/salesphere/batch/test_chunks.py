"""Archive parsing, schema checks and dedup, on real envelopes built by the shared library."""

from datetime import UTC, datetime

from salesphere.batch import chunks
from salesphere.envelope import pack
from salesphere.model import finalize

RECEIVED = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _sale(i: int, received: datetime = RECEIVED):
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": datetime(2026, 11, 28, 10, i % 60, tzinfo=UTC),
            "source": "pos",
            "store_id": "S1",
            "sku": f"K{i % 3}",
            "quantity": 1 + i % 2,
            "unit_price": "9.90",
            "order_id": f"o{i}",
            "line_number": 1,
        },
        received,
    )


def _file(events, max_events: int = 7) -> bytes:
    return b"\n".join(e.to_json() for e in pack(events, "pos", max_events)) + b"\n"


def test_parse_returns_every_event_with_warehouse_types() -> None:
    events = [_sale(i) for i in range(20)]
    parsed = chunks.parse_archive_file(_file(events), "2026-11-28")
    assert parsed.rows.num_rows == 20
    assert parsed.envelopes == 3
    assert parsed.rows.schema == chunks.ARROW_SCHEMA
    first = parsed.rows.slice(0, 1).to_pylist()[0]
    assert str(first["unit_price"]) == "9.90"
    assert first["received_at"] == RECEIVED


def test_unreadable_lines_and_rows_outside_their_partition_are_counted_not_kept() -> None:
    data = _file([_sale(1)]) + b"not json\n"
    parsed = chunks.parse_archive_file(data, "2026-11-29")
    assert parsed.rows.num_rows == 0
    assert parsed.invalid == {"received_at_outside_partition": 1}
    assert parsed.bad_lines == 1


def test_bad_values_get_a_reason() -> None:
    row = _sale(1).to_row() | {"quantity": "many", "event_type": "gift"}
    envelope = b'{"envelope_id":"x","source":"pos","received_at":"r","events":[%s]}\n' % (
        __import__("json").dumps(row).encode()
    )
    parsed = chunks.parse_archive_file(envelope, "2026-11-28")
    assert parsed.rows.num_rows == 0
    assert sum(parsed.invalid.values()) == 1
    assert next(iter(parsed.invalid)) in {"quantity_type", "event_type_unknown"}


def test_buckets_partition_rows_and_keep_copies_together() -> None:
    rows = chunks.parse_archive_file(_file([_sale(i) for i in range(50)]), "2026-11-28").rows
    twice = chunks.parse_archive_file(_file([_sale(i) for i in range(50)]), "2026-11-28").rows
    a, b = chunks.shard_of(rows, 4), chunks.shard_of(twice, 4)
    assert sum(t.num_rows for t in a) == 50
    for left, right in zip(a, b, strict=True):
        assert set(left.column("event_id").to_pylist()) == set(right.column("event_id").to_pylist())


def test_dedup_keeps_the_earliest_receipt() -> None:
    late = datetime(2026, 11, 28, 18, tzinfo=UTC)
    early_rows = chunks.parse_archive_file(_file([_sale(i) for i in range(5)]), "2026-11-28").rows
    late_rows = chunks.parse_archive_file(
        _file([_sale(i, late) for i in range(3, 8)]), "2026-11-28"
    ).rows
    result = chunks.deduplicate([late_rows, early_rows])
    assert result.num_rows == 8
    by_id = {r["order_id"]: r["received_at"] for r in result.to_pylist()}
    assert by_id["o3"] == RECEIVED and by_id["o4"] == RECEIVED and by_id["o7"] == late
