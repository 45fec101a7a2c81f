"""Pub/Sub messages → ``speed.*`` rows and alerts: the function runtime's whole job.

A warm process remembers which ids it has written and the running stock of every
store/SKU pair it has touched (:mod:`salesphere.speed.memory`); a cold one loads both
from ``speed.events`` on first use. Each pair's state goes through the same state
machine Beam keeps in keyed state. Order of effects, chosen so every failure is safe to
retry:

1. answer "already written?" and load missing stock states (memory; queries only when
   cold, when a sync with other writers is due, or for rows received days ago);
2. publish new alerts (at-least-once);  3. insert alerts not yet recorded;
4. insert new events;                   5. record dead letters.

A retryable failure raises (Pub/Sub redelivers; each step is idempotent) and drops the
process's memory: memory took the group's rows and stock effects when the group was
planned, and the failed write may or may not have landed. Poison never raises: it
becomes a dead-letter row and the message is acknowledged.

**Group commit.** Push mode hands the function one message per request. Requests that
arrive while a group is being committed queue up, and the next committer takes all of
them: one insert for the lot. Groups are committed one at a time per process, so two
messages touching the same SKU can never both start from the same stock. Right after a
group that had several senders in play, the next committer lingers up to
:data:`LINGER_SECONDS` for as many messages as were in play: the senders it just
answered send again within milliseconds. That matters where pushes are few at a time:
the twin's Pub/Sub emulator runs exactly two push loops per subscription, each waiting
for its answer, so without the linger the two alternated and every message paid a whole
insert (about 65 ms fixed on the emulator).

Each request returns (acknowledges its message) only after its group is written, and
raises if that write failed, so nothing is acknowledged early. Each message gets its own
``written_at`` (strictly increasing in commit order), so replaying history later applies
it exactly as it was applied live.

Every stack runs one speed instance (``infra/functions.py``), so memory is the only
writer's. Should two overlap (a rollout), ``insertId`` and the deterministic alert ids
keep rows single, and each process folds in the other's rows every ``sync_seconds``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from salesphere.model import utcnow
from salesphere.settings import Settings
from salesphere.speed import alerts as stock
from salesphere.speed.dedup import unseen
from salesphere.speed.memory import (
    MAX_HOT_IDS,
    MAX_STATES,
    SpeedMemory,
)
from salesphere.speed.publish import AlertPublisher
from salesphere.speed.reference import ReorderPoints
from salesphere.speed.rows import Unpacked, dead_letter, timestamp, unpack_message
from salesphere.speed.sink import SpeedWarehouse

#: How long a planner waits for more messages right after a group was written.
LINGER_SECONDS = 0.025
#: Most events committed in one group: keeps one insertAll request well under
#: BigQuery's 10 MB / 50k-row limits and one group's latency bounded.
MAX_GROUP_EVENTS = 5_000


@dataclass(frozen=True)
class Outcome:
    """What a message did; logged by the function, asserted by tests."""

    envelope_id: str | None
    written: int
    skipped: int
    dead_letters: int
    alerts: int
    group_messages: int = 1
    #: How long the group holding this message took to commit (queries and inserts).
    commit_seconds: float = 0.0


def group_by_key(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[stock.stock_key(row)].append(row)
    return grouped


def alerts_for(
    rows: list[dict[str, Any]], states: dict[str, stock.StockState], reorder: ReorderPoints
) -> list[dict[str, Any]]:
    """Alerts raised by applying ``rows`` to their pairs' ``states`` (changed in place).

    Rows of pairs without a state (SKUs with no reorder point) raise nothing.
    """
    raised: list[dict[str, Any]] = []
    for key, batch in group_by_key(rows).items():
        if key in states:
            point = reorder.get(batch[0]["sku"])
            raised += stock.apply_all(states[key], stock.arrival_order(batch), point)
    return raised


@dataclass
class _Pending:
    """One request's message, waiting for the group commit that writes it."""

    unpacked: Unpacked
    message_id: str | None
    outcome: Outcome | None = None
    error: BaseException | None = None
    claimed: bool = False  # taken into a group by some thread
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def events(self) -> int:
        return max(1, len(self.unpacked.rows))


@dataclass
class _Plan:
    """A group after planning: what to write, decided against memory; I/O still to do."""

    group: list[_Pending]
    fresh: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    now: datetime
    started: float


class EnvelopeHandler:
    """Processes messages against a warehouse and an alert publisher (both injectable)."""

    def __init__(
        self,
        warehouse: SpeedWarehouse,
        publish: AlertPublisher,
        reorder: ReorderPoints | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_group_events: int = MAX_GROUP_EVENTS,
        sync_seconds: float = Settings.speed_sync_seconds,
        sync_window: float = Settings.speed_sync_window_seconds,
        linger: float = LINGER_SECONDS,
        max_hot_ids: int = MAX_HOT_IDS,
    ) -> None:
        self.warehouse = warehouse
        self.publish = publish
        self.reorder = reorder or ReorderPoints(warehouse.reorder_points)
        self.clock = clock
        self.max_group_events = max_group_events
        self.memory = SpeedMemory(
            warehouse,
            self.reorder.get,
            clock,
            sync_seconds,
            sync_window,
            max_states=max(MAX_STATES, max_group_events),  # a group's pairs always fit
            max_hot_ids=max_hot_ids,
        )
        self._queue: deque[_Pending] = deque()
        # Guards the queue and ``_committing``. Waiters are woken whenever a message is
        # queued or a group is finished, so a request whose message was in that group
        # returns at once and the next committer starts without delay.
        self._cond = threading.Condition()
        self._committing = False
        self._last_written: datetime | None = None
        self.linger = linger
        self._last_done = -1e18
        #: Messages the next committer may wait for (see :meth:`_linger_left`).
        self._expect = 0
        self._touched_memory = False

    def handle(self, data: bytes, message_id: str | None) -> Outcome:
        """Write one message (possibly in a group with concurrent ones); raise if not written."""
        unpacked = unpack_message(data, message_id=message_id, written_at=self.clock())
        item = _Pending(unpacked, message_id)
        with self._cond:
            self._queue.append(item)
            self._cond.notify_all()  # a lingering committer may be waiting for it
        while not item.done.is_set():
            group = self._claim(item)
            if group:
                self._run(group)
        if item.error is not None:
            raise item.error
        assert item.outcome is not None
        return item.outcome

    def _claim(self, item: _Pending) -> list[_Pending]:
        """Wait until ``item`` is done (→ ``[]``) or this thread may commit the next group."""
        with self._cond:
            while not item.done.is_set():
                if item.claimed or self._committing:
                    self._cond.wait()
                    continue
                linger = self._linger_left()
                if linger > 0:
                    self._cond.wait(linger)
                    continue
                self._committing = True
                return self._take()
            return []

    def _linger_left(self) -> float:
        """Seconds still worth waiting for more messages before committing a small group.

        When the last group finished, its requests' senders were answered and send again
        within milliseconds. If several senders were active then (the group held more
        than one message, or others were already waiting), the next committer waits
        briefly for as many messages as were in play, turning alternating one-message
        groups into full ones: one insert instead of several. A lone sender (one request
        at a time, as Cloud Run with concurrency 1) and idle streams never wait.
        Called with ``_cond`` held.
        """
        if self.linger <= 0 or len(self._queue) >= self._expect:
            return 0.0
        if sum(item.events for item in self._queue) >= self.max_group_events:
            return 0.0
        return self._last_done + self.linger - time.monotonic()

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
            item.claimed = True
            group.append(item)
            events += item.events
        return group

    def _run(self, group: list[_Pending]) -> None:
        """Commit ``group``; every request in it gets the outcome or an error."""
        self._touched_memory = False
        try:
            self._stamp(group)
            outcomes = self._write(self._plan(group))
        except Exception as exc:  # each request of the group raises it (→ redelivery)
            self._fail(group, exc)
        else:
            for item, outcome in zip(group, outcomes, strict=True):
                item.outcome = outcome
                item.done.set()
        finally:
            # Even an interrupt must not leave a request waiting forever.
            self._fail(group, RuntimeError("the commit of this message's group was interrupted"))
            with self._cond:
                self._committing = False
                self._finished(len(group))
                self._cond.notify_all()

    def _finished(self, group_size: int) -> None:
        """Record what the linger needs once a group is done. Called with ``_cond`` held."""
        self._last_done = time.monotonic()
        waiting = len(self._queue)
        self._expect = waiting + group_size if waiting or group_size > 1 else 0

    def _fail(self, group: list[_Pending], exc: BaseException) -> None:
        """Fail the group's unanswered requests; drop memory if this group changed it."""
        pending = [item for item in group if not item.done.is_set()]
        if pending and self._touched_memory:
            # Memory took the group's rows and stock effects when it was planned, and the
            # write may or may not have landed: re-read, never guess.
            self.memory.reset()
            self._touched_memory = False
        for item in pending:
            item.error = exc
            item.done.set()

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

    def _plan(self, group: list[_Pending]) -> _Plan:
        """Decide what to write and which alerts it raises; memory takes the effects now.

        Effects are taken before the write; if the write fails, :meth:`_run` drops the
        memory so nothing a failed write claimed survives.
        """
        started = time.monotonic()
        now = self.clock()
        rows = [r for item in group for r in item.unpacked.rows]
        if not rows:
            return _Plan(group, [], [], now, started)
        self.reorder.prefetch(r["sku"] for r in rows)
        tracked = {stock.stock_key(r) for r in rows if self.reorder.get(r["sku"]) is not None}
        self.memory.prepare(rows, tracked)
        fresh = unseen((r for r in rows if not self.memory.written(r)), ())
        self._touched_memory = True  # from here on a failure must drop memory
        states = self.memory.states(tracked & {stock.stock_key(r) for r in fresh})
        alerts = alerts_for(fresh, states, self.reorder)
        self.memory.remember(fresh)
        return _Plan(group, fresh, alerts, now, started)

    def _write(self, plan: _Plan) -> list[Outcome]:
        fresh_alerts = self.warehouse.unrecorded_alerts(plan.alerts) if plan.alerts else []
        if fresh_alerts:
            self.publish(fresh_alerts)
            self.warehouse.insert_alerts(fresh_alerts)
        # Stamp again just before the insert: other instances' syncs re-read rows written
        # up to a minute before their last sync, so the stamp must not lag the insert by
        # the time planning and alerts took (same order as planned, so replay agrees).
        self._stamp(plan.group)
        report = self.warehouse.insert_events(plan.fresh, known_ids=set())
        if report.refused:
            # A refused row already moved its pair's stock and counts as written in memory.
            self.memory.reset()
        refused_ids = {id(row) for row, _ in report.refused}
        inserted = {id(r) for r in plan.fresh if id(r) not in refused_ids}
        return self._outcomes(
            plan.group, inserted, report.refused, fresh_alerts, plan.now, plan.started
        )

    def _outcomes(
        self,
        group: list[_Pending],
        inserted: set[int],
        refused_rows: list[tuple[dict[str, Any], str]],
        raised: list[dict[str, Any]],
        now: datetime,
        started: float,
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
        took = round(time.monotonic() - started, 3)
        return [Outcome(*f, group_messages=len(group), commit_seconds=took) for f in figures]


def _json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, sort_keys=True)
