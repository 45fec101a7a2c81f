"""The speed layer as Beam transforms: the same per-event logic; stock state keyed by store/SKU.

The pipeline (``services/stream/pipeline.py``) is thin wiring around these; the tests
drive them with ``TestStream``. I/O (BigQuery, Pub/Sub) stays outside, in
``salesphere.speed.beam_sink``.

**Event time and lateness.** Rows carry ``occurred_at`` as their Beam timestamp. The
write path has *no* windows: every event is written whatever its lateness (the batch
layer absorbs late events; the speed layer just lands them). Windows are used only for
the per-minute activity counts (:class:`CountPerMinute`), a monitoring stream that
accepts events up to :data:`ALLOWED_LATENESS_SECONDS` late with a late firing per
straggler and drops later ones from the *count only*. DirectRunner stamps the watermark
with wall time, so replayed backlog is late there by design.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.coders import PickleCoder
from apache_beam.transforms import trigger, window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import Duration

from salesphere.model import utcnow
from salesphere.speed import alerts as stock
from salesphere.speed.dedup import DEDUP_TTL_SECONDS
from salesphere.speed.grouping import by_pair
from salesphere.speed.reference import Loader, ReorderPoints, shared
from salesphere.speed.rows import unpack_message

log = logging.getLogger("salesphere.speed")

DEAD_LETTERS = "dead_letters"
STOCK = "stock"
WINDOW_SECONDS = 60
ALLOWED_LATENESS_SECONDS = 3600


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class UnpackEnvelopes(beam.DoFn):
    """Message → event rows (timestamped by ``occurred_at``), stock batches, dead letters.

    Stock batches are the message's rows grouped per store/SKU, so the state machine sees
    one envelope's events together, in the same order the function runtime uses.
    """

    def __init__(
        self,
        clock: Callable[[], datetime] = utcnow,
        reorder: tuple[str, Loader] | None = None,
    ) -> None:
        self.clock = clock
        self.reorder = reorder
        self.points: ReorderPoints | None = None

    def setup(self) -> None:
        if self.reorder is not None:
            self.points = shared(*self.reorder)

    def process(self, message: Any) -> Iterator[Any]:
        data = message if isinstance(message, bytes) else message.data
        message_id = None if isinstance(message, bytes) else message.message_id
        unpacked = unpack_message(data, message_id=message_id or None, written_at=self.clock())
        if self.points is not None:  # one catalog lookup per message, not per store/SKU
            self.points.prefetch(r["sku"] for r in unpacked.rows)
        for row in unpacked.rows:
            yield window.TimestampedValue(row, _epoch(row["occurred_at"]))
        for key, batch in by_pair(unpacked.rows).items():
            yield pvalue.TaggedOutput(STOCK, (key, stock.arrival_order(batch)))
        for dead in unpacked.dead_letters:
            yield pvalue.TaggedOutput(DEAD_LETTERS, dead)


STOCK_STATE = ReadModifyWriteStateSpec("stock", PickleCoder())
STOCK_PARAM = beam.DoFn.StateParam(STOCK_STATE)


class RecentIds:
    """Process-wide, bounded memory of event ids already passed on, expiring after a TTL.

    Replaces keyed state plus one processing-time timer per ``event_id``: on DirectRunner
    every event became its own keyed element and timer (~76 events/s). This check runs
    fused with the read, so a read bundle stays one bundle down to the sink. It is
    shared by every instance of the DoFn in a worker process (DoFn instances may be
    rebuilt per bundle); across workers it is per worker, and the sink's existence check
    catches what it misses (it only ever drops ids it has seen, never assumes novelty).
    """

    def __init__(self, ttl_seconds: float, max_ids: int = 500_000) -> None:
        self.ttl = ttl_seconds
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str, now: float) -> bool:
        """True (and remember it) unless ``event_id`` was seen within the TTL."""
        with self._lock:
            while self._seen and (
                len(self._seen) >= self.max_ids or next(iter(self._seen.values())) <= now
            ):
                self._seen.popitem(last=False)
            if event_id in self._seen:
                return False
            self._seen[event_id] = now + self.ttl
            return True


_RECENT: dict[str, RecentIds] = {}
_RECENT_LOCK = threading.Lock()


def recent_ids(name: str, ttl_seconds: float) -> RecentIds:
    """The process's memory for one pipeline step (kept across bundles and DoFn copies)."""
    with _RECENT_LOCK:
        if name not in _RECENT:
            _RECENT[name] = RecentIds(ttl_seconds)
        return _RECENT[name]


class DropDuplicateIds(beam.DoFn):
    """Pass each ``event_id`` once per TTL (processing time); unkeyed, no timers."""

    def __init__(self, ttl_seconds: float = DEDUP_TTL_SECONDS) -> None:
        self.ttl = ttl_seconds
        self.name = uuid.uuid4().hex  # one memory per pipeline step, not per DoFn copy
        self.recent: RecentIds | None = None

    def setup(self) -> None:
        self.recent = recent_ids(self.name, self.ttl)

    def process(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        assert self.recent is not None
        if self.recent.first_time(row["event_id"], time.monotonic()):
            yield row
        else:
            log.info(json.dumps({"msg": "duplicate dropped", "event_id": row["event_id"]}))


class DeduplicateEvents(beam.PTransform):
    """Rows with each ``event_id`` once (bounded memory; the sink catches the rest)."""

    def __init__(self, ttl_seconds: float = DEDUP_TTL_SECONDS) -> None:
        super().__init__()
        self.ttl = ttl_seconds

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | "DropDuplicateIds" >> beam.ParDo(DropDuplicateIds(self.ttl))


class TrackStock(beam.DoFn):
    """Keyed by store/SKU: the running stock state; emits ``speed.stock_alerts`` rows."""

    def __init__(self, reorder_loader: Loader, cache_name: str | None = None) -> None:
        self.reorder_loader = reorder_loader
        self.cache_name = cache_name or uuid.uuid4().hex
        self.reorder: ReorderPoints | None = None

    def setup(self) -> None:
        self.reorder = shared(self.cache_name, self.reorder_loader)

    def process(
        self,
        element: tuple[str, list[dict[str, Any]]],
        state: Any = STOCK_PARAM,
    ) -> Iterator[dict[str, Any]]:
        _, batch = element
        assert self.reorder is not None
        current = state.read() or stock.StockState()
        raised = stock.apply_all(current, batch, self.reorder.get(batch[0]["sku"]))
        state.write(current)
        yield from raised


class RaiseStockAlerts(beam.PTransform):
    """Per-envelope stock batches → alert rows, once per crossing."""

    def __init__(self, reorder_loader: Loader, cache_name: str | None = None) -> None:
        super().__init__()
        self.reorder_loader = reorder_loader
        self.cache_name = cache_name

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return batches | "TrackStock" >> beam.ParDo(
            TrackStock(self.reorder_loader, self.cache_name)
        ).with_input_types(beam.typehints.KV[str, Any])


class FormatCount(beam.DoFn):
    def process(
        self,
        element: tuple[str, int],
        win: Any = beam.DoFn.WindowParam,
        pane: Any = beam.DoFn.PaneInfoParam,
    ) -> Iterator[dict[str, Any]]:
        store_id, events = element
        yield {
            "store_id": store_id,
            "window_start": win.start.to_utc_datetime().isoformat(),
            "events": events,
            "timing": pane.timing,
        }


def log_count(count: dict[str, Any]) -> None:
    """The per-minute counts' sink: a structured log line (a metric in cloud logging)."""
    log.info(json.dumps({"msg": "events per minute", **count}, default=str))


class CountPerMinute(beam.PTransform):
    """Events per store per event-time minute, with late firings (monitoring only)."""

    def __init__(self, lateness_seconds: int = ALLOWED_LATENESS_SECONDS) -> None:
        super().__init__()
        self.lateness = lateness_seconds

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return (
            rows
            | "MinuteWindows"
            >> beam.WindowInto(
                window.FixedWindows(WINDOW_SECONDS),
                trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
                allowed_lateness=Duration(seconds=self.lateness),
                accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
            )
            | "StoreOnes" >> beam.Map(lambda row: (row["store_id"], 1))
            | "Sum" >> beam.CombinePerKey(sum)
            | "Format" >> beam.ParDo(FormatCount())
        )


class SpeedLogic(beam.PTransform):
    """Messages → deduplicated rows, alerts, dead letters (and per-minute counts).

    Returns a dict of PCollections: ``rows``, ``alerts``, ``dead_letters``, ``counts``.
    """

    def __init__(
        self,
        reorder_loader: Loader,
        clock: Callable[[], datetime] = utcnow,
        ttl_seconds: float = DEDUP_TTL_SECONDS,
        lateness_seconds: int = ALLOWED_LATENESS_SECONDS,
    ) -> None:
        super().__init__()
        self.reorder_loader = reorder_loader
        self.clock = clock
        self.ttl = ttl_seconds
        self.lateness = lateness_seconds

    def expand(self, messages: beam.PCollection) -> dict[str, beam.PCollection]:
        cache = uuid.uuid4().hex  # Unpack warms the reorder cache TrackStock reads
        unpack = UnpackEnvelopes(self.clock, (cache, self.reorder_loader))
        parts = messages | "Unpack" >> beam.ParDo(unpack).with_outputs(
            STOCK, DEAD_LETTERS, main="rows"
        )
        rows = parts.rows | "Deduplicate" >> DeduplicateEvents(self.ttl)
        return {
            "rows": rows,
            "alerts": parts[STOCK] | "Alerts" >> RaiseStockAlerts(self.reorder_loader, cache),
            "dead_letters": parts[DEAD_LETTERS],
            "counts": rows | "CountPerMinute" >> CountPerMinute(self.lateness),
        }
