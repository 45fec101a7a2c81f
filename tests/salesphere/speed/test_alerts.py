"""The stock-alert state machine: once per crossing, re-armed by recovery, order-proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from salesphere.model import EventType
from salesphere.speed import alerts as stock
from salesphere.speed import sink as stock_sink
from salesphere.speed.rows import event_row
from salesphere_tools.speed.samples import count, movement, sale, void
from sql import SERVING_DIR

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)


def row(event, minute_written: int = 0):
    return event_row(event, WRITTEN + timedelta(minutes=minute_written))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(events, reorder_point=5):
    state = stock.StockState()
    raised = []
    for e in events:
        alert = state.apply(row(e), reorder_point)
        if alert:
            raised.append(alert)
    return state, raised


def test_alert_fires_once_per_crossing_not_on_every_sale() -> None:
    events = [count("S1", "K1", 8, at(0))] + [
        sale("S1", "K1", 1, at(i), f"o{i}") for i in range(1, 6)
    ]
    state, raised = run(events)
    assert state.on_hand() == 3
    assert [a["kind"] for a in raised] == ["below_reorder_point"]
    # reorder point 5: the alert fires on reaching it, as serving.stock_alerts flags it
    assert raised[0]["on_hand"] == 5
    assert raised[0]["event_id"] == events[3].event_id


def test_hitting_zero_raises_out_of_stock_after_low() -> None:
    events = [
        count("S1", "K1", 6, at(0)),
        sale("S1", "K1", 2, at(1), "a"),
        sale("S1", "K1", 4, at(2), "b"),
        sale("S1", "K1", 1, at(3), "c"),
    ]
    _, raised = run(events)
    # 6 -> 4 (below 5) -> 0 (out) -> -1: stock below zero is a wrong record, count it.
    assert [(a["kind"], a["on_hand"]) for a in raised] == [
        ("below_reorder_point", 4),
        ("out_of_stock", 0),
        ("count_needed", -1),
    ]


def test_negative_on_hand_raises_count_needed_not_out_of_stock() -> None:
    # Reorder point 2, count 3 (ok), sell 5: on hand -2; the jump raises only count_needed.
    events = [count("S1", "K1", 3, at(0)), sale("S1", "K1", 5, at(1), "a")]
    state, raised = run(events, reorder_point=2)
    assert state.on_hand() == -2
    assert [(a["kind"], a["on_hand"]) for a in raised] == [("count_needed", -2)]


def test_count_needed_is_raised_once_and_a_recount_re_arms() -> None:
    events = [
        count("S1", "K1", 5, at(0)),  # reorder point 2: ok
        sale("S1", "K1", 6, at(1), "a"),  # -1: count_needed
        sale("S1", "K1", 1, at(2), "b"),  # -2: still the same problem, no new alert
        count("S1", "K1", 10, at(3)),  # the shelf was counted: ok again
        sale("S1", "K1", 12, at(4), "c"),  # -2 again: a new crossing
    ]
    _, raised = run(events, reorder_point=2)
    assert [(a["kind"], a["on_hand"]) for a in raised] == [
        ("count_needed", -1),
        ("count_needed", -2),
    ]


def test_speed_levels_follow_the_serving_view_rules() -> None:
    # serving.stock_alerts: < 0 count_needed, = 0 out_of_stock; the speed layer agrees.
    sql = (SERVING_DIR / "stock_alerts.sql").read_text()
    assert "WHEN c.on_hand < 0 THEN 'count_needed'" in sql
    assert "WHEN c.on_hand = 0 THEN 'out_of_stock'" in sql
    assert stock.KIND[stock.level_of(-1, 5)] == "count_needed"
    assert stock.KIND[stock.level_of(0, 5)] == "out_of_stock"
    assert stock.level_of(1, 0) == stock.Level.OK


def test_jump_over_both_levels_raises_only_the_most_severe() -> None:
    _, raised = run([count("S1", "K1", 9, at(0)), sale("S1", "K1", 9, at(1), "a")])
    assert [a["kind"] for a in raised] == ["out_of_stock"]


def test_recovery_after_receipt_rearms_the_alert() -> None:
    events = [
        count("S1", "K1", 6, at(0)),
        sale("S1", "K1", 2, at(1), "a"),  # 4: low -> alert
        movement(EventType.STOCK_RECEIPT, "S1", "K1", 10, at(2), "R1"),  # 14: recovered
        sale("S1", "K1", 10, at(3), "b"),  # 4: low again -> alert again
        sale("S1", "K1", 1, at(4), "c"),  # 3: still low -> nothing
    ]
    _, raised = run(events)
    assert [(a["kind"], a["on_hand"]) for a in raised] == [
        ("below_reorder_point", 4),
        ("below_reorder_point", 4),
    ]


def test_partial_recovery_below_reorder_point_does_not_rearm() -> None:
    events = [
        count("S1", "K1", 1, at(0)),
        sale("S1", "K1", 1, at(1), "a"),  # 0: out (count itself alerted low first)
        movement(EventType.STOCK_RECEIPT, "S1", "K1", 2, at(2), "R"),
        sale("S1", "K1", 2, at(3), "b"),  # 0 again, never recovered to >= 5
    ]
    _, raised = run(events)
    assert [a["kind"] for a in raised] == ["below_reorder_point", "out_of_stock"]


def test_older_count_does_not_overwrite_later_sales() -> None:
    new_count = count("S1", "K1", 20, at(10))
    late_sale = sale("S1", "K1", 3, at(12), "a")
    stale_count = count("S1", "K1", 50, at(5))  # arrives last, occurred first
    state, _ = run([new_count, late_sale, stale_count])
    assert state.on_hand() == 17


def test_count_arriving_after_later_sales_keeps_them() -> None:
    sale_after = sale("S1", "K1", 3, at(12), "a")
    sale_before = sale("S1", "K1", 4, at(8), "b")
    late_count = count("S1", "K1", 20, at(10))  # out of order: after both sales arrived
    state, raised = run([sale_after, sale_before, late_count])
    assert state.on_hand() == 17  # the count includes sale_before, not sale_after
    assert raised == []


def test_same_outcome_whatever_the_arrival_order() -> None:
    events = [
        count("S1", "K1", 10, at(0)),
        sale("S1", "K1", 2, at(1), "a"),
        movement(EventType.STOCK_ADJUSTMENT, "S1", "K1", 1, at(2), "AJ"),
        movement(EventType.TRANSFER_IN, "S1", "K1", 4, at(3), "T"),
        sale("S1", "K1", 1, at(4), "b"),
    ]
    forward, _ = run(events)
    backward, _ = run(list(reversed(events)))
    assert forward.on_hand() == backward.on_hand() == 10


def test_redelivered_events_do_not_move_stock() -> None:
    c, s = count("S1", "K1", 10, at(0)), sale("S1", "K1", 2, at(1), "a")
    state, _ = run([c, s, s, c, s])
    assert state.on_hand() == 8


def test_no_alerts_before_the_first_count_or_without_reorder_point() -> None:
    _, raised = run([sale("S1", "K1", 5, at(1), "a")])
    assert raised == []
    _, raised = run(
        [count("S1", "K1", 1, at(0)), sale("S1", "K1", 1, at(1), "a")], reorder_point=None
    )
    assert raised == []


def test_replay_rebuilds_the_alerted_level() -> None:
    history = [row(count("S1", "K1", 6, at(0)), 0), row(sale("S1", "K1", 2, at(1), "a"), 1)]
    state = stock.replay(history, 5)
    assert state.alerted == stock.Level.LOW
    assert state.apply(row(sale("S1", "K1", 1, at(2), "b"), 2), 5) is None


def test_alert_ids_are_deterministic() -> None:
    events = [count("S1", "K1", 6, at(0)), sale("S1", "K1", 2, at(1), "a")]
    _, first = run(events)
    _, second = run(events)
    assert first[0]["alert_id"] == second[0]["alert_id"]


def test_state_stays_bounded_and_exact() -> None:
    state = stock.StockState()
    state.apply(row(count("S1", "K1", 100_000, at(0))), None)
    for i in range(stock.MAX_MOVEMENTS + 50):
        state.apply(row(sale("S1", "K1", 1, at(1) + timedelta(seconds=i), f"o{i}")), None)
    assert len(state.movements) == stock.MAX_MOVEMENTS
    assert state.on_hand() == 100_000 - stock.MAX_MOVEMENTS - 50


def test_a_void_gives_the_cancelled_tickets_units_back() -> None:
    ticket = sale("S1", "K1", 3, at(2), "T1")
    events = [count("S1", "K1", 8, at(0)), sale("S1", "K1", 1, at(1), "a"), ticket, void(ticket)]
    state, raised = run(events)
    # 8 - 1 - 3 = 4 (low, alerted); the void gives 3 back: 7, recovered and re-armed.
    assert state.on_hand() == 7
    assert [(a["kind"], a["on_hand"]) for a in raised] == [("below_reorder_point", 4)]
    assert state.alerted == stock.Level.OK


def test_a_redelivered_void_or_ticket_gives_back_once() -> None:
    ticket = sale("S1", "K1", 3, at(2), "T1")
    cancelled = void(ticket)
    state, _ = run([count("S1", "K1", 10, at(0)), ticket, cancelled, cancelled, ticket, cancelled])
    assert state.on_hand() == 10


def test_a_void_arriving_before_its_ticket_keeps_the_ticket_out() -> None:
    ticket = sale("S1", "K1", 3, at(2), "T1")
    state, raised = run([count("S1", "K1", 4, at(0)), void(ticket), ticket])
    assert state.on_hand() == 4
    assert [a["kind"] for a in raised] == ["below_reorder_point"]  # the count itself, not T1


def test_a_void_of_a_ticket_before_the_count_changes_nothing() -> None:
    # The count at minute 5 saw the shelf with the cancelled ticket's goods on it.
    ticket = sale("S1", "K1", 3, at(2), "T1")
    state, _ = run([ticket, count("S1", "K1", 10, at(5)), void(ticket)])
    assert state.on_hand() == 10


def test_a_void_of_a_receipt_takes_its_units_back_out() -> None:
    receipt = movement(EventType.STOCK_RECEIPT, "S1", "K1", 6, at(1), "NF/1")
    state, _ = run([count("S1", "K1", 10, at(0)), receipt, void(receipt)])
    assert state.on_hand() == 10


def test_replay_reads_voids_from_written_rows() -> None:
    ticket = sale("S1", "K1", 3, at(2), "T1")
    history = [
        row(count("S1", "K1", 6, at(0)), 0),
        row(ticket, 1),
        row(void(ticket), 2),
    ]
    # Only the columns the function runtime reads back from speed.events.
    columns = stock_sink.HISTORY_COLUMNS
    state = stock.replay([{k: r[k] for k in columns} for r in history], 5)
    assert state.on_hand() == 6
    assert state.alerted == stock.Level.OK
