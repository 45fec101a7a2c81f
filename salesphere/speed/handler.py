"""Pub/Sub messages → ``speed.*`` rows and alerts: the function runtime's whole job.

The function has no memory between invocations, so the stock state for the store/SKU
pairs in a message is rebuilt from ``speed.events`` itself (one query, which also tells
which event ids are already written) and replayed through the same state machine Beam
keeps in keyed state. Order of effects, chosen so every failure is safe to retry:

1. read history of SKUs with a reorder point (dedup + state), existence of the rest;
2. publish new alerts (at-least-once);  3. insert alerts not yet recorded;
4. insert new events;                   5. record dead letters.

A retryable failure raises (Pub/Sub redelivers; each step is idempotent). Poison never
raises: it becomes a dead-letter row and the message is acknowledged.

**Group commit.** Push mode hands the function one message per request, and every
message used to pay the same fixed cost (an existence query and an insert, a few tenths
of a second on the twin's emulator, tens of milliseconds in BigQuery) while the others
waited on a process-wide lock. Pub/Sub pushes concurrently, so requests that arrive
while a write is in flight now queue up, and the next writer commits all of them with
one history/existence query and one insert; each request returns (acknowledges its
message) only after the group holding it is written, and raises if that write failed, so
nothing is acknowledged early. Groups are still committed one at a time per process:
two messages touching the same SKU must not both replay the same history and both miss
each other's sale. Each message in a group gets its own ``written_at`` (strictly
increasing in commit order), so a later replay sorts history exactly as it was applied.

**Seen-written ids.** Ids this process has seen land (inserted, or found already
present) are remembered in a bounded LRU; rows whose ids it holds are dropped before
any query. The LRU only ever skips work for rows proven written; an id it does not hold
still goes through the warehouse check, so a restart (empty LRU) stays exact.

Across instances the ``insertId`` and the deterministic alert ids keep rows single; keep
the function's ``max_instance_count`` low (the free-tier stacks use 2–5) for alerts to
stay exact.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from salesphere.io.bq_sink import SpeedWarehouse
from salesphere.model import utcnow
from salesphere.speed import alerts as stock
from salesphere.speed.dedup import unseen
from salesphere.speed.publish import AlertPublisher
from salesphere.speed.reference import ReorderPoints
from salesphere.speed.rows import Unpacked, dead_letter, timestamp, unpack_message

#: Most events committed in one group: keeps one insertAll request well under
#: BigQuery's 10 MB / 50k-row limits and one group's latency bounded.
MAX_GROUP_EVENTS = 5_000
#: How many written ids a process remembers (~100 bytes each).
WRITTEN_LRU_SIZE = 200_000


@dataclass(frozen=True)
class Outcome:
    """What a message did; logged by the function, asserted by tests."""

    envelope_id: str | None
    written: int
    skipped: int
    dead_letters: int
    alerts: int
    group_messages: int = 1


def group_by_key(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[stock.stock_key(row)].append(row)
    return grouped


def alerts_for(
    rows: list[dict[str, Any]], history: list[dict[str, Any]], reorder: ReorderPoints
) -> list[dict[str, Any]]:
    """Alerts raised by ``rows`` given what is already written for their keys."""
    past = group_by_key(history)
    reorder.prefetch(r["sku"] for r in rows)
    raised: list[dict[str, Any]] = []
    for key, batch in group_by_key(rows).items():
        point = reorder.get(batch[0]["sku"])
        state = stock.replay(past.get(key, []), point)
        raised += stock.apply_all(state, stock.arrival_order(batch), point)
    return raised


class WrittenIds:
    """A bounded, thread-safe LRU of event ids known to be in ``speed.events``."""

    def __init__(self, size: int = WRITTEN_LRU_SIZE) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, ids: Iterable[str]) -> None:
        with self._lock:
            for event_id in ids:
                self._ids[event_id] = None
                self._ids.move_to_end(event_id)
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._ids


@dataclass
class _Pending:
    """One request's message, waiting for the group commit that writes it."""

    unpacked: Unpacked
    message_id: str | None
    outcome: Outcome | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def events(self) -> int:
        return max(1, len(self.unpacked.rows))


class EnvelopeHandler:
    """Processes messages against a warehouse and an alert publisher (both injectable)."""

    def __init__(
        self,
        warehouse: SpeedWarehouse,
        publish: AlertPublisher,
        reorder: ReorderPoints | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_group_events: int = MAX_GROUP_EVENTS,
    ) -> None:
        self.warehouse = warehouse
        self.publish = publish
        self.reorder = reorder or ReorderPoints(warehouse.reorder_points)
        self.clock = clock
        self.max_group_events = max_group_events
        self.written = WrittenIds()
        self._queue: deque[_Pending] = deque()
        # Guards the queue and ``_committing``; waiters are woken after every commit, so
        # a request whose message was in that group returns at once instead of queueing
        # behind the next group's commit.
        self._cond = threading.Condition()
        self._committing = False
        self._last_written: datetime | None = None

    def handle(self, data: bytes, message_id: str | None) -> Outcome:
        """Write one message (possibly in a group with concurrent ones); raise if not written."""
        unpacked = unpack_message(data, message_id=message_id, written_at=self.clock())
        item = _Pending(unpacked, message_id)
        with self._cond:
            self._queue.append(item)
        while True:
            with self._cond:
                while self._committing and not item.done.is_set():
                    self._cond.wait()
                if item.done.is_set():
                    break
                self._committing = True  # this thread commits the next group
                group = self._take()
            try:
                self._commit(group)
            finally:
                with self._cond:
                    self._committing = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        assert item.outcome is not None
        return item.outcome

    def _take(self) -> list[_Pending]:
        """The oldest queued messages, up to :attr:`max_group_events` events (at least one).

        Called with ``_cond`` held.
        """
        group: list[_Pending] = []
        events = 0
        while self._queue and (
            not group or events + self._queue[0].events <= self.max_group_events
        ):
            item = self._queue.popleft()
            group.append(item)
            events += item.events
        return group

    def _stamp(self, group: list[_Pending]) -> None:
        """Strictly increasing ``written_at`` per message, in commit order (see module doc)."""
        now = self.clock()
        for item in group:
            if self._last_written is not None and now <= self._last_written:
                now = self._last_written + timedelta(microseconds=1)
            self._last_written = now
            text = timestamp(now)
            for row in item.unpacked.rows:
                row["written_at"] = text

    def _commit(self, group: list[_Pending]) -> None:
        try:
            self._stamp(group)
            outcomes = self._write(group)
        except Exception as exc:  # each request of the group raises it (→ redelivery)
            for item in group:
                item.error = exc
                item.done.set()
            return
        for item, outcome in zip(group, outcomes, strict=True):
            item.outcome = outcome
            item.done.set()

    def _write(self, group: list[_Pending]) -> list[Outcome]:
        now = self.clock()
        rows = [r for item in group for r in item.unpacked.rows]
        candidates = [r for r in rows if r["event_id"] not in self.written]
        inserted: set[int] = set()  # id() of rows written by this group
        refused_rows: list[tuple[dict[str, Any], str]] = []
        raised: list[dict[str, Any]] = []
        if candidates:
            self.reorder.prefetch(r["sku"] for r in candidates)
            # Only SKUs with a reorder point need their history (state); the others need
            # just the cheaper, partition-pruned existence check.
            tracked = [r for r in candidates if self.reorder.get(r["sku"]) is not None]
            untracked = [r for r in candidates if self.reorder.get(r["sku"]) is None]
            history = self.warehouse.history({(r["store_id"], r["sku"]) for r in tracked})
            known = {h["event_id"] for h in history}
            if untracked:
                known |= self.warehouse.existing_event_ids(untracked)
            new_alerts = alerts_for(tracked, history, self.reorder)
            fresh_alerts = self.warehouse.unrecorded_alerts(new_alerts) if new_alerts else []
            if fresh_alerts:
                self.publish(fresh_alerts)
                self.warehouse.insert_alerts(fresh_alerts)
            raised = fresh_alerts
            fresh = unseen(candidates, known)
            report = self.warehouse.insert_events(fresh, known_ids=known)
            refused_rows = report.refused
            refused_ids = {id(row) for row, _ in refused_rows}
            inserted = {id(r) for r in fresh if id(r) not in refused_ids}
            bad = {row["event_id"] for row, _ in refused_rows}
            self.written.add(r["event_id"] for r in candidates if r["event_id"] not in bad)
        return self._outcomes(group, inserted, refused_rows, raised, now)

    def _outcomes(
        self,
        group: list[_Pending],
        inserted: set[int],
        refused_rows: list[tuple[dict[str, Any], str]],
        raised: list[dict[str, Any]],
        now: datetime,
    ) -> list[Outcome]:
        """Per-message figures, after recording every message's dead letters at once."""
        refused = {id(row): reason for row, reason in refused_rows}
        alerts_by_event: dict[str, int] = defaultdict(int)
        for alert in raised:
            alerts_by_event[alert["event_id"]] += 1
        dead_all: list[dict[str, Any]] = []
        figures = []
        for item in group:
            unpacked = item.unpacked
            envelope_id = unpacked.envelope.envelope_id if unpacked.envelope else None
            dead = list(unpacked.dead_letters) + [
                dead_letter(
                    refused[id(row)],
                    _json(row),
                    message_id=item.message_id,
                    envelope_id=envelope_id,
                    failed_at=now,
                )
                for row in unpacked.rows
                if id(row) in refused
            ]
            dead_all += dead
            written = sum(1 for row in unpacked.rows if id(row) in inserted)
            skipped = (
                len(unpacked.rows) - written - sum(1 for r in unpacked.rows if id(r) in refused)
            )
            alerts = sum(
                alerts_by_event.get(r["event_id"], 0) for r in unpacked.rows if id(r) in inserted
            )
            figures.append((envelope_id, written, skipped, len(dead), alerts))
        if dead_all:
            self.warehouse.insert_dead_letters(dead_all)
        return [Outcome(*f, group_messages=len(group)) for f in figures]


def _json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, sort_keys=True)
