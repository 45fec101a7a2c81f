"""One Pub/Sub message → ``speed.*`` rows and alerts: the function runtime's whole job.

The function has no memory between invocations, so the stock state for the store/SKU
pairs in a message is rebuilt from ``speed.events`` itself (one query, which also tells
which event ids are already written) and replayed through the same state machine Beam
keeps in keyed state. Order of effects, chosen so every failure is safe to retry:

1. read history of SKUs with a reorder point (dedup + state), existence of the rest;
2. publish new alerts (at-least-once);  3. insert alerts not yet recorded;
4. insert new events;                   5. record dead letters.

A retryable failure raises (Pub/Sub redelivers; each step is idempotent). Poison never
raises: it becomes a dead-letter row and the message is acknowledged.

Invocations in one process are serialised: two messages touching the same SKU must not
both replay the same history and both miss each other's sale. Across instances the
``insertId`` and the deterministic alert ids keep rows single; keep the function's
``max_instance_count`` low (the free-tier stacks use 2–5) for alerts to stay exact.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesphere.io.bq_sink import SpeedWarehouse
from salesphere.model import utcnow
from salesphere.speed import alerts as stock
from salesphere.speed.publish import AlertPublisher
from salesphere.speed.reference import ReorderPoints
from salesphere.speed.rows import dead_letter, unpack_message


@dataclass(frozen=True)
class Outcome:
    """What a message did; logged by the function, asserted by tests."""

    envelope_id: str | None
    written: int
    skipped: int
    dead_letters: int
    alerts: int


def group_by_key(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
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


class EnvelopeHandler:
    """Processes messages against a warehouse and an alert publisher (both injectable)."""

    def __init__(
        self,
        warehouse: SpeedWarehouse,
        publish: AlertPublisher,
        reorder: ReorderPoints | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.warehouse = warehouse
        self.publish = publish
        self.reorder = reorder or ReorderPoints(warehouse.reorder_points)
        self.clock = clock
        self._lock = threading.Lock()

    def handle(self, data: bytes, message_id: str | None) -> Outcome:
        with self._lock:
            return self._handle(data, message_id)

    def _handle(self, data: bytes, message_id: str | None) -> Outcome:
        now = self.clock()
        unpacked = unpack_message(data, message_id=message_id, written_at=now)
        dead = list(unpacked.dead_letters)
        envelope_id = unpacked.envelope.envelope_id if unpacked.envelope else None
        written = skipped = raised = 0
        if unpacked.rows:
            self.reorder.prefetch(r["sku"] for r in unpacked.rows)
            # Only SKUs with a reorder point need their history (state); the others need
            # just the cheaper, partition-pruned existence check.
            tracked = [r for r in unpacked.rows if self.reorder.get(r["sku"]) is not None]
            untracked = [r for r in unpacked.rows if self.reorder.get(r["sku"]) is None]
            history = self.warehouse.history({(r["store_id"], r["sku"]) for r in tracked})
            known = {h["event_id"] for h in history}
            if untracked:
                known |= self.warehouse.existing_event_ids(untracked)
            new_alerts = alerts_for(tracked, history, self.reorder)
            fresh = self.warehouse.unrecorded_alerts(new_alerts) if new_alerts else []
            if fresh:
                self.publish(fresh)
                self.warehouse.insert_alerts(fresh)
            raised = len(fresh)
            report = self.warehouse.insert_events(unpacked.rows, known_ids=known)
            written, skipped = report.inserted, report.skipped
            dead += [
                dead_letter(
                    reason,
                    _json(row),
                    message_id=message_id,
                    envelope_id=envelope_id,
                    failed_at=now,
                )
                for row, reason in report.refused
            ]
        if dead:
            self.warehouse.insert_dead_letters(dead)
        return Outcome(envelope_id, written, skipped, len(dead), raised)


def _json(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, default=str, sort_keys=True)
