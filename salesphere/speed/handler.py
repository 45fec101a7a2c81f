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
them: one insert for the lot (:class:`salesphere.groupcommit.GroupCommitter`). Groups are
committed one at a time per process, so two messages touching the same SKU can never
both start from the same stock. Right after a group that had several senders in play,
the next committer lingers up to :data:`LINGER_SECONDS` for as many messages as were in
play: the senders it just answered send again within milliseconds. That matters where
pushes are few at a time: the twin's Pub/Sub emulator runs exactly two push loops per
subscription, each waiting for its answer, so without the linger the two would alternate
and every message would pay a whole insert (about 65 ms fixed on the emulator).

The writes themselves follow the protocol both runtimes share
(:class:`salesphere.speed.writer.SpeedWriter`); this module plans them.

Each request returns (acknowledges its message) only after its group is written, and
raises if that write failed, so nothing is acknowledged early. Each message gets its own
``written_at`` (strictly increasing in commit order), so replaying history later applies
it exactly as it was applied live.

Every stack runs one speed instance (``infra/functions.py``), so memory is the only
writer's. Should two overlap (a rollout), ``insertId`` and the deterministic alert ids
keep rows single, and each process folds in the other's rows every ``sync_seconds``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from salesphere.groupcommit import GroupCommitter
from salesphere.model import utcnow
from salesphere.settings import Settings
from salesphere.speed import alerts as stock
from salesphere.speed.dedup import unseen
from salesphere.speed.grouping import by_pair
from salesphere.speed.memory import MAX_HOT_IDS, MAX_STATES, SpeedMemory
from salesphere.speed.publish import AlertPublisher
from salesphere.speed.reference import ReorderPoints
from salesphere.speed.rows import Unpacked, timestamp, unpack_message
from salesphere.speed.sink import SpeedWarehouse
from salesphere.speed.writer import SpeedWriter, refused_dead_letter

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


def alerts_for(
    rows: list[dict[str, Any]], states: dict[str, stock.StockState], reorder: ReorderPoints
) -> list[dict[str, Any]]:
    """Alerts raised by applying ``rows`` to their pairs' ``states`` (changed in place).

    Rows of pairs without a state (SKUs with no reorder point) raise nothing.
    """
    raised: list[dict[str, Any]] = []
    for key, batch in by_pair(rows).items():
        if key in states:
            point = reorder.get(batch[0]["sku"])
            raised += stock.apply_all(states[key], stock.arrival_order(batch), point)
    return raised


@dataclass(frozen=True)
class _Message:
    """One request's message, read, waiting for the group commit that writes it."""

    unpacked: Unpacked
    message_id: str | None

    @property
    def events(self) -> int:
        return max(1, len(self.unpacked.rows))


@dataclass
class _Plan:
    """A group after planning: what to write, decided against memory; I/O still to do."""

    group: list[_Message]
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
        self.writer = SpeedWriter(warehouse, publish)
        #: Groups concurrent requests' messages into one commit (see the module doc).
        self.committer: GroupCommitter[_Message, Outcome] = GroupCommitter(
            self._commit, max_size=max_group_events, size=lambda m: m.events, linger=linger
        )
        self._last_written: datetime | None = None
        self._touched_memory = False

    def handle(self, data: bytes, message_id: str | None) -> Outcome:
        """Write one message (possibly in a group with concurrent ones); raise if not written."""
        unpacked = unpack_message(data, message_id=message_id, written_at=self.clock())
        return self.committer.submit(_Message(unpacked, message_id))

    def _commit(self, group: list[_Message]) -> list[Outcome]:
        """Plan and write one group; on any failure drop memory if the plan changed it.

        Memory took the group's rows and stock effects when it was planned, and the write
        may or may not have landed: re-read, never guess.
        """
        self._touched_memory = False
        try:
            self._stamp(group)
            return self._write(self._plan(group))
        except BaseException:
            if self._touched_memory:
                self.memory.reset()
                self._touched_memory = False
            raise

    def _stamp(self, group: list[_Message]) -> None:
        """Strictly increasing ``written_at`` per message, in commit order (see module doc)."""
        now = self.clock()
        for item in group:
            if self._last_written is not None and now <= self._last_written:
                now = self._last_written + timedelta(microseconds=1)
            self._last_written = now
            text = timestamp(now)
            for row in item.unpacked.rows:
                row["written_at"] = text

    def _plan(self, group: list[_Message]) -> _Plan:
        """Decide what to write and which alerts it raises; memory takes the effects now.

        Effects are taken before the write; if the write fails, :meth:`_commit` drops the
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
        fresh_alerts = self.writer.record_alerts(plan.alerts)
        # Stamp again just before the insert: other instances' syncs re-read rows written
        # up to a minute before their last sync, so the stamp must not lag the insert by
        # the time planning and alerts took (same order as planned, so replay agrees).
        self._stamp(plan.group)
        report = self.writer.write_events(plan.fresh, known_ids=set())
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
        group: list[_Message],
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
                refused_dead_letter(
                    row,
                    refused[id(row)],
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
        self.writer.record_dead_letters(dead_all)
        took = round(time.monotonic() - started, 3)
        return [Outcome(*f, group_messages=len(group), commit_seconds=took) for f in figures]
