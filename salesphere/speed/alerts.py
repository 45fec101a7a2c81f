"""The stock-alert state machine: running stock per store/SKU and when to tell someone.

**On hand** for a store/SKU is the latest ``stock_count`` plus every movement that
*occurred after it*. Movements are signed by type (:data:`DIRECTION`):

* decrease: ``sale``, ``transfer_out``, ``stock_adjustment``;
* increase: ``return``, ``stock_receipt``, ``transfer_in``.

``stock_adjustment`` decreases. The canonical model carries only a positive quantity,
and the business meaning (see the inventory generator and ingest mapping) is a
write-off: damage, loss, theft. Upward corrections are recorded as a new count, which is
absolute and therefore needs no sign.

**Out of order.** Everything is keyed by ``occurred_at``, never by arrival. A count that
occurred before the newest count already applied is ignored; a count that is newer
replaces the baseline and drops only the movements that occurred before it, so a late
count can never overwrite a sale it has not seen. A movement that occurred before the
current count is already reflected in that count and is ignored. Applying the same
event twice changes nothing (movements are remembered by ``event_id``, counts by their
instant), so redeliveries cannot move stock.

**Alerts.** Levels are ``ok`` (on hand above the reorder point), ``low`` (at or below it,
the point at which to reorder, as ``serving.stock_alerts`` flags it), ``out``
(exactly 0) and ``count`` (below 0). Negative stock cannot exist on a shelf: it means the
last count is wrong or movements are missing, so it raises its own kind, ``count_needed``
(count the shelf), not ``out_of_stock`` (reorder), the same rule as
``serving.stock_alerts``. An alert is raised when the level becomes worse than anything
alerted since the last recovery: once per crossing, not on every sale. When a single
event jumps levels only the most severe alert is raised. Recovery to ``ok`` re-arms all.
Until the first count is seen on hand is unknown and no alert is raised (guessing zero
would page every store manager on day one).

**Voids.** A ``void`` (a fiscal document cancelled after it was counted) names the voided
event in ``source_ref`` and carries its store, SKU and time. It gives the voided movement's
units back: the movement stays remembered under its id with a delta of 0, so a redelivered
void, or the voided event arriving again (or only after its void), changes nothing. A void
of a movement that occurred before the current count changes nothing either: the count saw
the shelf as it was, with the cancelled ticket's goods still on it.

**Bounded state.** Only movements after the current count are kept. Past
:data:`MAX_MOVEMENTS` the oldest is folded into the baseline (on hand stays exact; a
count older than the folded movement would then be ignored, which is acceptable for a
snapshot that old). Without any count, the oldest movements are dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from salesphere.model import EventType
from salesphere.speed.rows import timestamp

DIRECTION: dict[str, int] = {
    EventType.SALE.value: -1,
    EventType.TRANSFER_OUT.value: -1,
    EventType.STOCK_ADJUSTMENT.value: -1,
    EventType.RETURN.value: 1,
    EventType.STOCK_RECEIPT.value: 1,
    EventType.TRANSFER_IN.value: 1,
}
MAX_MOVEMENTS = 5_000
ALERT_NAMESPACE = uuid.UUID("5a1e5e5a-0000-4000-8000-a1e27000e4e0")


class Level(IntEnum):
    OK = 0
    LOW = 1
    OUT = 2
    COUNT = 3


KIND = {Level.LOW: "below_reorder_point", Level.OUT: "out_of_stock", Level.COUNT: "count_needed"}


def stock_key(row: dict[str, Any]) -> str:
    """The state key: one running balance per store and SKU."""
    return f"{row['store_id']}|{row['sku']}"


def _ts(value: str | datetime) -> str:
    """Comparable text for a timestamp (BigQuery returns datetimes, rows carry text)."""
    return timestamp(value) if isinstance(value, datetime) else value


def level_of(on_hand: int, reorder_point: int) -> Level:
    if on_hand < 0:
        return Level.COUNT
    if on_hand == 0:
        return Level.OUT
    return Level.LOW if on_hand <= reorder_point else Level.OK


def alert_id(store_id: str, sku: str, kind: str, event_id: str) -> str:
    """Deterministic, so a recomputed alert (redelivery, other runtime) has the same id."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{store_id}|{sku}|{kind}|{event_id}"))


@dataclass
class StockState:
    """Per store/SKU: the baseline count, later movements and the alerted level."""

    count_at: str | None = None
    count_value: int = 0
    movements: dict[str, tuple[str, int]] = field(default_factory=dict)
    alerted: Level = Level.OK

    def on_hand(self) -> int | None:
        if self.count_at is None:
            return None
        return self.count_value + sum(delta for _, delta in self.movements.values())

    def _take_count(self, at: str, value: int) -> bool:
        if self.count_at is not None and at <= self.count_at:
            return False
        self.count_at, self.count_value = at, value
        self.movements = {k: m for k, m in self.movements.items() if m[0] > at}
        return True

    def _take_movement(self, event_id: str, at: str, delta: int) -> bool:
        if event_id in self.movements or (self.count_at is not None and at <= self.count_at):
            return False
        self.movements[event_id] = (at, delta)
        self._bound()
        return True

    def _take_void(self, voided_id: str | None, at: str) -> bool:
        """Give the voided movement's units back; ``True`` only when on hand changed.

        The voided id stays with a delta of 0: the same void again, or the voided event
        arriving late, finds it and changes nothing.
        """
        if not voided_id or (self.count_at is not None and at <= self.count_at):
            return False
        known = self.movements.get(voided_id)
        self.movements[voided_id] = (known[0] if known else at, 0)
        self._bound()
        return known is not None and known[1] != 0

    def _bound(self) -> None:
        """Past :data:`MAX_MOVEMENTS`, fold the oldest movement into the baseline."""
        if len(self.movements) > MAX_MOVEMENTS:
            oldest = min(self.movements, key=lambda k: self.movements[k])
            at_oldest, delta_oldest = self.movements.pop(oldest)
            if self.count_at is not None:
                self.count_at, self.count_value = at_oldest, self.count_value + delta_oldest

    def apply(self, row: dict[str, Any], reorder_point: int | None) -> dict[str, Any] | None:
        """Apply one event; return the ``speed.stock_alerts`` row it raises, if any."""
        at = _ts(row["occurred_at"])
        if row["event_type"] == EventType.STOCK_COUNT.value:
            changed = self._take_count(at, int(row["counted_quantity"]))
        elif row["event_type"] == EventType.VOID.value:
            changed = self._take_void(row.get("source_ref"), at)
        else:
            sign = DIRECTION.get(row["event_type"], 0)
            changed = sign != 0 and self._take_movement(
                row["event_id"], at, sign * int(row["quantity"])
            )
        on_hand = self.on_hand()
        if not changed or on_hand is None or reorder_point is None:
            return None
        level = level_of(on_hand, reorder_point)
        if level == Level.OK:
            self.alerted = Level.OK
            return None
        if level <= self.alerted:
            return None
        self.alerted = level
        kind = KIND[level]
        return {
            "alert_id": alert_id(row["store_id"], row["sku"], kind, row["event_id"]),
            "store_id": row["store_id"],
            "sku": row["sku"],
            "kind": kind,
            "on_hand": on_hand,
            "reorder_point": reorder_point,
            "event_id": row["event_id"],
            "occurred_at": at,
            "raised_at": _ts(row["written_at"]),
        }


def arrival_order(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order both runtimes apply events in: by write batch, then event time, then id.

    Rows of one envelope share ``written_at``; inside an envelope the order is made
    deterministic so the function (replaying history) and Beam (live state) agree.
    """
    return sorted(rows, key=lambda r: (_ts(r["written_at"]), _ts(r["occurred_at"]), r["event_id"]))


def apply_all(
    state: StockState, rows: Iterable[dict[str, Any]], reorder_point: int | None
) -> list[dict[str, Any]]:
    """Apply events (already in :func:`arrival_order`) and collect the alerts raised."""
    alerts = []
    for row in rows:
        alert = state.apply(row, reorder_point)
        if alert is not None:
            alerts.append(alert)
    return alerts


def replay(history: Iterable[dict[str, Any]], reorder_point: int | None) -> StockState:
    """Rebuild a key's state from rows already written (the function runtime's memory)."""
    state = StockState()
    apply_all(state, arrival_order(history), reorder_point)
    return state
