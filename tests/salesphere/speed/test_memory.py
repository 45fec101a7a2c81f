"""The function runtime's process memory against the real BigQuery emulator.

Handlers here are two "instances" of the speed function in one test process: each has
its own :class:`SpeedMemory`, both write to the same emulator and publish alerts to the
same Pub/Sub emulator. The warehouse is the real sink, subclassed only to count the
queries it runs or to fail after a write has landed.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from salesphere.envelope import Envelope
from salesphere.speed.handler import EnvelopeHandler
from salesphere.speed.publish import pubsub_alert_publisher
from salesphere.speed.sink import InsertReport, SpeedWarehouse
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.speed import probe
from salesphere_tools.speed.samples import count, envelope, sale

pytestmark = [pytest.mark.twin]


class CountingWarehouse(SpeedWarehouse):
    """The real sink; remembers the SQL of every query it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries: list[str] = []

    def _query(self, sql: str, params: Any) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return super()._query(sql, params)


class LandsThenFails(CountingWarehouse):
    """Writes events, then raises, as a timeout after a successful insert would."""

    failures = 0  # set by the test when the next write should "fail"

    def insert_events(self, rows: Any, known_ids: Any = None) -> InsertReport:
        report = super().insert_events(rows, known_ids)
        if self.failures:
            self.failures -= 1
            raise TimeoutError("insertAll answered too late (the rows did land)")
        return report


class FailsBeforeWriting(CountingWarehouse):
    """Raises instead of writing, as an unreachable BigQuery would."""

    failures = 0

    def insert_events(self, rows: Any, known_ids: Any = None) -> InsertReport:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("BigQuery is unreachable")
        return super().insert_events(rows, known_ids)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def make_handler(twin: Twin, warehouse_type: type = CountingWarehouse, **options: Any) -> Any:
    warehouse = warehouse_type(twin.settings)
    return EnvelopeHandler(warehouse, pubsub_alert_publisher(twin.settings), **options)


def handle(handler: EnvelopeHandler, env: Envelope) -> Any:
    return handler.handle(env.to_json(), unique("m"))


def test_warm_process_writes_without_asking_the_warehouse(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    store, sku = unique("S"), unique("P")
    probe.add_product(s, sku, reorder_point=2)
    handler = make_handler(quiet_twin)
    handle(handler, envelope([count(store, sku, 5, ago(10))], source="inventory"))  # cold
    handler.warehouse.queries.clear()

    sales = envelope([sale(store, sku, 1, ago(9 - i), unique("o")) for i in range(2)])
    outcome = handle(handler, sales)  # 5 → 3: above the reorder point of 2

    assert handler.warehouse.queries == []  # ids, stock and reorder points all in memory
    assert (outcome.written, outcome.alerts) == (2, 0)
    ids = [e["event_id"] for e in sales.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)
    assert handle(handler, sales).written == 0  # a redelivery is answered from memory
    assert handler.warehouse.queries == []

    crossing = handle(handler, envelope([sale(store, sku, 1, ago(5), unique("o"))]))
    assert crossing.alerts == 1
    # an alert is rare and checked against speed.stock_alerts before it is published
    assert [q.split(" FROM ")[1].split()[0] for q in handler.warehouse.queries] == [
        "`salesphere.speed.stock_alerts`"
    ]


def test_a_new_process_loads_stock_history_once_per_pair(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    store, sku, fresh_sku = unique("S"), unique("P"), unique("P")
    probe.add_product(s, sku, reorder_point=5)
    probe.add_product(s, fresh_sku, reorder_point=5)
    first = make_handler(quiet_twin)
    handle(first, envelope([count(store, sku, 6, ago(10))], source="inventory"))

    second = make_handler(quiet_twin)  # a restarted or second instance
    sold = handle(second, envelope([sale(store, sku, 2, ago(5), unique("o"))]))
    handle(second, envelope([sale(store, sku, 1, ago(4), unique("o"))]))
    handle(second, envelope([sale(store, fresh_sku, 1, ago(4), unique("o"))]))

    assert sold.alerts == 1  # the count it never saw came from history: 6 - 2 = 4 < 5
    assert second.memory.stats.history_loads == 1  # not again for the same pair
    history = [q for q in second.warehouse.queries if "UNNEST(@pairs)" in q]
    assert len(history) == 1  # and never for a pair without rows
    assert [(a["on_hand"], a["kind"]) for a in probe.alerts_for(s, store)] == [
        (4, "below_reorder_point")
    ]


def test_sync_folds_in_another_instances_rows(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    store, sku = unique("S"), unique("P")
    probe.add_product(s, sku, reorder_point=5)
    a = make_handler(quiet_twin, sync_seconds=0.0)
    b = make_handler(quiet_twin, sync_seconds=0.0)
    handle(a, envelope([count(store, sku, 10, ago(10))], source="inventory"))
    by_b = envelope([sale(store, sku, 3, ago(8), unique("o"))])
    handle(b, by_b)  # 10 - 3 = 7: no alert yet

    again = handle(a, by_b)  # the same envelope reaches the other instance
    crossing = handle(a, envelope([sale(store, sku, 3, ago(6), unique("o"))]))

    assert again.written == 0 and a.memory.stats.syncs >= 1
    assert crossing.alerts == 1  # 7 - 3 = 4 only if b's sale was folded in
    # 6 - 2 = 4 < 5: raised by the failed attempt (alerts go first), not again
    assert [a["on_hand"] for a in probe.alerts_for(s, store)] == [4]
    ids = [e["event_id"] for e in by_b.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


def test_failed_write_drops_memory_and_the_redelivery_adds_nothing(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    handler = make_handler(quiet_twin, LandsThenFails)
    handle(handler, envelope([sale(unique("S"), unique("P"), 1, ago(3), unique("o"))]))
    env = envelope([sale(unique("S"), unique("P"), 1, ago(2), unique("o"))])
    loads = handler.memory.stats.loads
    handler.warehouse.failures = 1

    with pytest.raises(TimeoutError):
        handle(handler, env)  # the rows landed, but the function cannot know
    redelivered = handle(handler, env)

    assert redelivered.written == 0
    assert handler.memory.stats.loads == loads + 1  # re-read, not guessed
    ids = [e["event_id"] for e in env.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


def test_rows_received_days_ago_are_checked_in_the_warehouse(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    received = datetime.now(UTC) - timedelta(days=5)
    late = envelope(
        [
            sale(
                unique("S"),
                unique("P"),
                1,
                received - timedelta(hours=1),
                unique("o"),
                received_at=received,
            )
        ]
    )
    first = make_handler(quiet_twin)
    assert handle(first, late).written == 1

    second = make_handler(quiet_twin)  # e.g. a dead-letter replay after a restart
    assert handle(second, late).written == 0
    assert second.memory.stats.existence_checks == 1
    ids = [e["event_id"] for e in late.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


def test_write_that_never_landed_is_written_on_redelivery(quiet_twin: Twin) -> None:
    """Memory takes a group's rows when planning it; a failed write must not keep them."""
    s = quiet_twin.settings
    store, sku = unique("S"), unique("P")
    probe.add_product(s, sku, reorder_point=5)
    handler = make_handler(quiet_twin, FailsBeforeWriting)
    handle(handler, envelope([count(store, sku, 6, ago(10))], source="inventory"))
    env = envelope([sale(store, sku, 2, ago(5), unique("o"))])
    handler.warehouse.failures = 1

    with pytest.raises(ConnectionError):
        handle(handler, env)
    redelivered = handle(handler, env)

    assert redelivered.written == 1
    ids = [e["event_id"] for e in env.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)
    # 6 - 2 = 4 < 5: raised by the failed attempt (alerts go first), not again
    assert [a["on_hand"] for a in probe.alerts_for(s, store)] == [4]


def test_a_copy_received_the_next_day_is_known(quiet_twin: Twin) -> None:
    """A POS retry after midnight: same id, a receive day later than the first copy's."""
    s = quiet_twin.settings
    store, sku, order = unique("S"), unique("P"), unique("o")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    first = envelope([sale(store, sku, 1, yesterday, order, received_at=yesterday)])
    retry = envelope([sale(store, sku, 1, yesterday, order)])  # received now
    assert first.events[0]["event_id"] == retry.events[0]["event_id"]
    warm = make_handler(quiet_twin)
    assert handle(warm, first).written == 1

    assert handle(warm, retry).written == 0  # from what it wrote
    assert handle(make_handler(quiet_twin), retry).written == 0  # from what it loaded
    ids = [e["event_id"] for e in first.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


def test_too_many_recent_ids_to_hold_falls_back_to_asking(quiet_twin: Twin) -> None:
    s = quiet_twin.settings
    handle(make_handler(quiet_twin), envelope([sale(unique("S"), unique("P"), 1, ago(3), "x")]))
    handler = make_handler(quiet_twin, max_hot_ids=0)  # the table already holds more
    env = envelope([sale(unique("S"), unique("P"), 1, ago(2), unique("o"))])

    assert handle(handler, env).written == 1
    assert handle(handler, env).written == 0
    assert handler.memory.stats.existence_checks == 2  # one per write, as Beam's sink
    ids = [e["event_id"] for e in env.events]
    assert probe.id_counts(s, ids) == dict.fromkeys(ids, 1)


class Interrupt(BaseException):
    """Not an Exception: what a KeyboardInterrupt or SystemExit mid-commit looks like."""


class BlocksThenInterrupts(CountingWarehouse):
    """The first insert waits for the test; the second raises :class:`Interrupt`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inserts = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def insert_events(self, rows: Any, known_ids: Any = None) -> InsertReport:
        self.inserts += 1
        if self.inserts == 1:
            self.entered.set()
            assert self.release.wait(30)
        elif self.inserts == 2:
            raise Interrupt
        return super().insert_events(rows, known_ids)


def test_an_interrupted_commit_fails_every_request_of_its_group(quiet_twin: Twin) -> None:
    handler = make_handler(quiet_twin, BlocksThenInterrupts)
    results: dict[str, object] = {}

    def send(name: str) -> None:
        env = envelope([sale(unique("S"), unique("P"), 1, ago(1), unique("o"))])
        try:
            results[name] = handle(handler, env)
        except BaseException as exc:
            results[name] = exc

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert handler.warehouse.entered.wait(30)  # the first group is inside its insert
    others = [threading.Thread(target=send, args=(n,)) for n in ("b", "c")]
    for thread in others:
        thread.start()
    eventually(lambda: handler.committer.waiting == 2, timeout=10, what="two queued messages")
    handler.warehouse.release.set()  # the next group holds b and c, and is interrupted
    for thread in [first, *others]:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a request was left waiting"

    assert results["first"].written == 1  # type: ignore[union-attr]
    kinds = sorted(type(results[n]).__name__ for n in ("b", "c"))
    assert kinds == ["Interrupt", "RuntimeError"]  # the committer's own, and its group mate's


def test_no_sync_after_the_window(quiet_twin: Twin) -> None:
    """Syncs cost a query each; past the window after a load (no rollout overlap) none run."""
    h = make_handler(quiet_twin, sync_seconds=0.0, sync_window=0.0)
    for _ in range(3):
        handle(h, envelope([sale(unique("S"), unique("P"), 1, ago(1), unique("o"))]))
    assert (h.memory.stats.loads, h.memory.stats.syncs) == (1, 0)
    assert not [q for q in h.warehouse.queries if "written_at >" in q]
