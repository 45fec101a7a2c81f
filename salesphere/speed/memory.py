"""What a warm function process knows about ``speed.events``, so most writes ask nothing.

Asking BigQuery before every write (*which of these ids are already written?* and *what is
the stock of these store/SKU pairs?*, the whole history of each pair replayed) costs a
query job per question: about 0.1–0.5 s on the twin's emulator, more in BigQuery, growing
with the history. With push concurrency 2 that caps the runtime near 200 events/s at 50
events per message, and every envelope pays it in freshness (measured).

So a process keeps the answers and keeps them true:

* **Ids.** On first use it loads every id received in the last :data:`HOT_DAYS` UTC days
  and the store/SKU pairs with rows (one query: each job bills BigQuery's 10 MB minimum),
  then adds each id it writes. Rows received on the current or previous UTC day are
  answered from memory: the row's receive day and the one before, the window where
  retries and redeliveries land. Older rows (a dead-letter replay after a long
  outage) get a per-write existence query.
* **Stock.** A pair's state is loaded once, from its whole history, the first time a
  group touches it, and then advanced with every event the process writes: the same
  :class:`~salesphere.speed.alerts.StockState` Beam keeps in keyed state. A pair with no
  row in ``speed.events`` at all (the set is loaded with the ids) starts empty without a
  query. States are an LRU of :data:`MAX_STATES`; an evicted pair reloads from history.
* **Other writers.** Every stack runs one speed instance, so another writer exists only
  while a rollout overlaps a fresh instance with the old one. For ``sync_window`` after a
  load, every ``sync_seconds`` (while writes happen) one query reads the rows written
  since the last sync, minus :data:`SYNC_MARGIN`, and folds them in, in arrival order
  (every fold is idempotent: ids are a set, the state machine ignores events it has
  applied). Another writer's rows are therefore known within ``sync_seconds`` of
  landing, inside the ~60 s in which BigQuery's ``insertId`` collapses a duplicate.
* **Doubt.** The handler records a group's rows and stock effects when it plans the
  group, before the write. A write that raised may or may not have landed, so any
  failure drops the whole memory (:meth:`SpeedMemory.reset`); the next group loads it
  again from the warehouse, and an uncertain write is never mistaken for an unwritten
  one.

Callers serialise access (the handler commits one group at a time per process).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from salesphere.settings import Settings
from salesphere.speed import alerts as stock
from salesphere.speed.sink import SpeedWarehouse

#: UTC receive days whose ids are held: today, yesterday and the day before, so a row
#: received yesterday still sees the whole day before its own receive day.
HOT_DAYS = 3
#: Rows are stamped (``written_at``) before their insert returns, and an insert may take up
#: to the sink's 20 s deadline; re-reading this much before the last sync catches them.
SYNC_MARGIN = timedelta(seconds=60)
#: Store/SKU states kept (a few hundred bytes each without a long tail of movements).
MAX_STATES = 100_000
#: Beyond this many hot ids the process holds none and asks the warehouse before every
#: write, as Beam's sink does. Loading 200k costs ~80 MB at peak (~25 MB kept) of a 256 MiB
#: function; three days of 10k orders/day hold ~100k.
MAX_HOT_IDS = 200_000
#: Longest allowed sync interval: another instance's rows must be known before BigQuery
#: stops collapsing their duplicates by ``insertId`` (~60 s after their insert).
MAX_SYNC_SECONDS = 45.0


def _received_day(row: dict[str, Any]) -> date:
    value = row["received_at"]
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).date()


@dataclass
class MemoryStats:
    """Work done since start: what the benchmark and tests look at."""

    loads: int = 0
    history_loads: int = 0
    syncs: int = 0
    existence_checks: int = 0


class SpeedMemory:
    """Ids written and stock states of one process (see the module doc for the rules)."""

    def __init__(
        self,
        warehouse: SpeedWarehouse,
        reorder_point: Callable[[str], int | None],
        clock: Callable[[], datetime],
        sync_seconds: float = Settings.speed_sync_seconds,
        sync_window: float = Settings.speed_sync_window_seconds,
        max_states: int = MAX_STATES,
        max_hot_ids: int = MAX_HOT_IDS,
    ) -> None:
        if not 0 <= sync_seconds <= MAX_SYNC_SECONDS:
            raise ValueError(
                f"speed_sync_seconds must be between 0 and {MAX_SYNC_SECONDS:.0f}, not "
                f"{sync_seconds}: BigQuery collapses duplicates by insertId for only about "
                "60 s, so other instances' rows must be known sooner (SALESPHERE_SPEED_SYNC_SECONDS)"
            )
        self.warehouse = warehouse
        self.reorder_point = reorder_point
        self.clock = clock
        self.sync_seconds = sync_seconds
        self.sync_window = sync_window
        self.max_states = max_states
        self.max_hot_ids = max_hot_ids
        self.stats = MemoryStats()
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything; the next :meth:`prepare` reloads from the warehouse."""
        self._ids: dict[date, set[str]] = {}
        self._first_day: date | None = None
        self._trusted = False
        self._pairs_with_rows: set[str] = set()
        self._states: OrderedDict[str, stock.StockState] = OrderedDict()
        self._synced_at: datetime | None = None
        self._loaded_at: datetime | None = None
        self._queried_known: set[str] = set()

    def _load(self, now: datetime) -> None:
        """Read the window's ids and the pairs with rows (one query); memory changes only then."""
        first_day = now.date() - timedelta(days=HOT_DAYS - 1)
        since = datetime.combine(first_day, time(), UTC)
        found, pairs = self.warehouse.ids_and_pairs(since, limit=self.max_hot_ids + 1)
        trusted = len(found) <= self.max_hot_ids
        ids: dict[date, set[str]] = {}
        if trusted:
            for event_id, received_at in found:
                ids.setdefault(received_at.astimezone(UTC).date(), set()).add(event_id)
        del found
        self._ids, self._first_day, self._trusted = ids, first_day, trusted
        self._pairs_with_rows = pairs
        self._states.clear()
        self._synced_at = self._loaded_at = now
        self.stats.loads += 1

    def _roll(self, now: datetime) -> None:
        """Drop receive days that left the window (ids are kept per day for this)."""
        first_day = now.date() - timedelta(days=HOT_DAYS - 1)
        if self._first_day is not None and first_day > self._first_day:
            self._ids = {day: ids for day, ids in self._ids.items() if day >= first_day}
            self._first_day = first_day

    def _sync(self, now: datetime) -> None:
        assert self._synced_at is not None and self._first_day is not None
        since = datetime.combine(self._first_day, time(), UTC)
        rows = self.warehouse.rows_written_since(self._synced_at - SYNC_MARGIN, since)
        for row in stock.arrival_order(rows):  # a state's alert level depends on the order
            self._remember(row)
            state = self._states.get(stock.stock_key(row))
            if state is not None:
                # Another writer's event: advance the state; the alert (if any) is theirs.
                state.apply(row, self.reorder_point(row["sku"]))
        self._synced_at = now
        self.stats.syncs += 1

    def _sync_due(self, now: datetime) -> bool:
        assert self._synced_at is not None and self._loaded_at is not None
        in_window = (self._synced_at - self._loaded_at).total_seconds() < self.sync_window
        return in_window and (now - self._synced_at).total_seconds() >= self.sync_seconds

    def prepare(self, rows: list[dict[str, Any]], pairs: Iterable[str]) -> None:
        """Make :meth:`written` and :meth:`states` answerable for these rows and pairs.

        Queries only what memory lacks: the first load, a due sync, ids of rows received
        before the window, and the history of pairs not yet held.
        """
        now = self.clock()
        if self._first_day is None:
            self._load(now)
        else:
            self._roll(now)
            if self._sync_due(now):
                self._sync(now)
        self._queried_known = set()
        outside = [r for r in rows if not self._covers(r)]
        if outside:
            self._queried_known = self.warehouse.existing_event_ids(outside)
            self.stats.existence_checks += 1
        pairs = list(dict.fromkeys(pairs))
        missing = [p for p in pairs if p not in self._states]
        to_read = [p for p in missing if p in self._pairs_with_rows]
        history: dict[str, list[dict[str, Any]]] = {p: [] for p in missing}
        if to_read:
            for row in self.warehouse.history(tuple(p.split("|", 1)) for p in to_read):
                history[stock.stock_key(row)].append(row)
            self.stats.history_loads += 1
        for pair, past in history.items():
            self._states[pair] = stock.replay(past, self.reorder_point(pair.split("|", 1)[1]))
            self.remember(past)
        for pair in pairs:  # the pairs in use are the last to be evicted
            self._states.move_to_end(pair)
        while len(self._states) > self.max_states:
            self._states.popitem(last=False)

    # -- questions -----------------------------------------------------------------------

    def _covers(self, row: dict[str, Any]) -> bool:
        """True when memory alone can say whether this row is written."""
        assert self._first_day is not None
        return self._trusted and _received_day(row) > self._first_day

    def written(self, row: dict[str, Any]) -> bool:
        """Is this row's id in ``speed.events``? (after :meth:`prepare` for it)."""
        event_id = row["event_id"]
        if self._covers(row):
            # an earlier copy keeps its own receive day: look in every day held
            return any(event_id in ids for ids in self._ids.values())
        return event_id in self._queried_known

    def states(self, pairs: Iterable[str]) -> dict[str, stock.StockState]:
        """The live states of these pairs (after :meth:`prepare`); callers advance them."""
        out = {}
        for pair in pairs:
            self._states.move_to_end(pair)
            out[pair] = self._states[pair]
        return out

    # -- updates -------------------------------------------------------------------------

    def remember(self, rows: Iterable[dict[str, Any]]) -> None:
        """Count these rows as written (the caller drops memory if the write then fails)."""
        for row in rows:
            self._remember(row)

    def _remember(self, row: dict[str, Any]) -> None:
        self._pairs_with_rows.add(stock.stock_key(row))
        if "received_at" not in row or self._first_day is None or not self._trusted:
            return
        day = _received_day(row)
        if day >= self._first_day:
            self._ids.setdefault(day, set()).add(row["event_id"])
