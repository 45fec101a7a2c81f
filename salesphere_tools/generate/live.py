"""Live feeds: POS terminals and the web shop, as JSON batches in their own shapes.

Records leave in the order they happened, a few hundred per batch file (what one POST
to ingest carries). Defects are woven in here: a retried record repeats right after
itself, a late record is held back and flushed into a later day's batches (the terminal
was offline), and a malformed twin occasionally follows a good record.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from salesphere_tools.generate.catalog import ProductSpec, StoreSpec
from salesphere_tools.generate.defects import (
    BAD_NUMBER,
    FUTURE_DAYS,
    UNKNOWN_SKU,
    Defect,
    DefectPlanner,
)
from salesphere_tools.generate.events import SimEvent, cents
from salesphere_tools.generate.events import local_timestamp as stamp
from salesphere_tools.generate.formats import utc_text, write_json_array
from salesphere_tools.generate.manifest import FileEntry

Record = dict[str, Any]
#: (record, candidate events it carries, UTC seconds it happened, the events behind it)
Item = tuple[Record, int, int, list[SimEvent]]
Corrupt = Callable[[Record, list[SimEvent], str], tuple[Record, str, str]]


@dataclass(slots=True)
class _Queued:
    record: Record
    events: int
    utc: int
    defect: Defect | None
    sims: list[SimEvent]


@dataclass
class LiveWriter:
    """Writes one live source's daily batches and carries late records across days."""

    out: Path
    source: str
    batch_size: int
    planner: DefectPlanner
    start: date
    days: int
    corrupt: Corrupt
    late: dict[int, list[_Queued]] = field(default_factory=dict)

    def write_day(self, day: int, items: list[Item]) -> tuple[list[FileEntry], set[str]]:
        """Write ``day``'s batches; returns the files and the keys held back as late."""
        planner = self.planner
        day_text = (self.start + timedelta(days=day)).isoformat()
        stream: list[_Queued] = []
        held: set[str] = set()
        for record, events, utc, sims in items:
            fate = planner.fate()
            if fate == "late":
                target = min(day + planner.lag_days(), self.days - 1)
                if target > day:
                    defect = Defect(
                        "late",
                        self.source,
                        "accept",
                        events=events,
                        occurred_date=day_text,
                        detail=f"occurred {day_text}, sent {target - day} day(s) later",
                    )
                    planner.record(defect)
                    self.late.setdefault(target, []).append(
                        _Queued(record, events, utc, defect, sims)
                    )
                    held.add(_key(record))
                    continue
            stream.append(_Queued(record, events, utc, None, sims))
            if fate == "duplicate":
                defect = planner.record(
                    Defect(
                        "duplicate",
                        self.source,
                        "dedupe",
                        events=events,
                        detail="retry of the previous record",
                    )
                )
                stream.append(_Queued(record, events, utc, defect, sims))
            malformed = planner.malformed()
            if malformed:
                bad, rule, detail = self.corrupt(record, sims, malformed[0])
                defect = planner.record(
                    Defect("malformed", self.source, "reject", rule=rule, detail=detail, events=1)
                )
                stream.append(_Queued(bad, 1, utc, defect, []))
        arriving = self.late.pop(day, [])
        if arriving:
            # The offline terminal reconnects and flushes its buffer in one go.
            at = planner.rng.randrange(len(stream) + 1) if stream else 0
            stream[at:at] = arriving
        return self._write_batches(day, day_text, stream), held

    def _write_batches(self, day: int, day_text: str, stream: list[_Queued]) -> list[FileEntry]:
        files = []
        sent = day * 86_400 + 3 * 3600  # local midnight BRT, in UTC seconds
        for number, first in enumerate(range(0, len(stream), self.batch_size), start=1):
            chunk = stream[first : first + self.batch_size]
            rel = f"live/{self.source}/{day_text}/batch-{number:04d}.json"
            for row, queued in enumerate(chunk, start=1):
                if queued.defect is not None:
                    queued.defect.file = rel
                    queued.defect.row = row
                first_copy = queued.defect is None or queued.defect.kind == "late"
                if first_copy and any(sim.oversell for sim in queued.sims):
                    self.planner.record(
                        Defect(
                            "oversell",
                            self.source,
                            "accept",
                            file=rel,
                            row=row,
                            detail="sold with no stock on hand; on-hand goes negative",
                        )
                    )
            on_time = [q.utc for q in chunk if q.defect is None or q.defect.kind == "duplicate"]
            sent = max([sent, *on_time]) + 60
            write_json_array(self.out / rel, [q.record for q in chunk])
            files.append(
                FileEntry(
                    path=rel,
                    source=self.source,
                    format="json",
                    encoding="utf-8",
                    date=day_text,
                    sent_at=utc_text(self.start, sent),
                    records=len(chunk),
                    events=sum(q.events for q in chunk),
                )
            )
        return files


def _key(record: Record) -> str:
    return (
        f"{record.get('type', '')}|{record.get('ticket', record.get('order_id'))}|"
        f"{record.get('line', '')}"
    )


# -- POS ---------------------------------------------------------------------------------


def pos_records(
    events: list[SimEvent], stores: list[StoreSpec], products: list[ProductSpec], start: date
) -> list[Item]:
    """Sale and return lines of physical stores, as the POS sends them, in time order."""
    items: list[Item] = []
    for event in events:
        store = stores[event.store]
        record = {
            "terminal": event.terminal,
            "store": store.store_id,
            "ticket": event.order_id,
            "line": event.line,
            "type": event.kind,
            "sku": products[event.sku].sku,
            "qty": event.qty,
            "unit_price": cents(event.price),
            "discount": cents(event.discount),
            "ts": stamp(start, event.day, event.sod, store.offset_text),
        }
        items.append((record, 1, event.utc_seconds(stores), [event]))
    items.sort(key=lambda item: item[2])
    return items


class PosCorrupter:
    """Builds malformed POS records on fresh ticket numbers (900001 and up, per store/day)."""

    def __init__(self, start: date, stores: list[StoreSpec]) -> None:
        self.start = start
        self.offsets = {s.store_id: s.offset_text for s in stores}
        self.counters: dict[str, int] = {}

    def __call__(self, record: Record, sims: list[SimEvent], kind: str) -> tuple[Record, str, str]:
        bad = dict(record)
        prefix = str(record["ticket"]).rsplit("-", 1)[0]
        number = self.counters.get(prefix, 900_000) + 1
        self.counters[prefix] = number
        bad["ticket"] = f"{prefix}-{number:06d}"
        bad["line"] = 1
        bad["type"] = "sale"
        event = sims[0]
        if kind == "bad_number":
            bad["unit_price"] = BAD_NUMBER
            return bad, "decimal", "unit_price is not a number"
        if kind == "unknown_sku":
            bad["sku"] = UNKNOWN_SKU
            return bad, "unknown_sku", "sku is not in the catalog"
        if kind == "negative_quantity":
            bad["qty"] = -max(1, int(bad["qty"]))
            return bad, "min_value", "qty is negative"
        if kind == "future_timestamp":
            bad["ts"] = stamp(
                self.start, event.day + FUTURE_DAYS, event.sod, self.offsets[record["store"]]
            )
            return bad, "future_timestamp", "ts is a year in the future"
        del bad["sku"]
        return bad, "required", "sku is missing"


# -- e-commerce --------------------------------------------------------------------------

#: Seconds between placing a web order (``created_at``, the sale) and the shop confirming
#: its payment (``updated_at``): card orders at once, PIX within minutes. Cycled by order
#: number so the data is reproducible and both timestamps differ in most paid orders.
PAYMENT_DELAYS_SECONDS = (0, 45, 130, 600)


def ecommerce_records(
    events: list[SimEvent], stores: list[StoreSpec], products: list[ProductSpec], start: date
) -> list[Item]:
    """Paid orders (all lines of an order together) and refunds, as the web shop sends them."""
    items: list[Item] = []
    offset = "-03:00"
    groups: list[list[SimEvent]] = []
    for event in events:
        last = groups[-1] if groups else None
        if (
            event.kind == "sale"
            and last
            and last[0].kind == "sale"
            and last[0].order_id == event.order_id
        ):
            last.append(event)
        else:
            groups.append([event])
    for group in groups:
        head = group[0]
        offset = stores[head.store].offset_text
        when = stamp(start, head.day, head.sod, offset)
        refunded = head.kind == "return"
        lines = [
            {
                "line": e.line,
                "sku": products[e.sku].sku,
                "quantity": e.qty,
                "price": cents(e.price),
                "discount": cents(e.discount),
            }
            for e in group
        ]
        total = sum(e.price * e.qty - e.discount for e in group)
        number = int(str(head.order_id).rsplit("-", 1)[1])
        if refunded:  # placed earlier; updated when the refund happened (the return)
            created, updated = stamp(start, head.ref_day, head.ref_sod, offset), when
        else:  # the sale happens when placed; the shop confirms payment a little later
            delay = PAYMENT_DELAYS_SECONDS[number % len(PAYMENT_DELAYS_SECONDS)]
            created, updated = when, stamp(start, head.day, head.sod + delay, offset)
        record = {
            "order_id": head.order_id,
            "status": "refunded" if refunded else "paid",
            "created_at": created,
            "updated_at": updated,
            "sales_channel": "app" if number % 3 == 0 else "site",
            "currency": "BRL",
            "total": cents(total),
            "items": lines,
        }
        items.append((record, len(group), head.utc_seconds(stores), group))
    items.sort(key=lambda item: item[2])
    return items


class EcommerceCorrupter:
    """Builds malformed one-item orders on fresh order numbers (``WEB-9000001`` and up)."""

    def __init__(self, start: date) -> None:
        self.start = start
        self.counter = 9_000_000

    def __call__(self, record: Record, sims: list[SimEvent], kind: str) -> tuple[Record, str, str]:
        self.counter += 1
        bad = copy.deepcopy(record)
        bad["order_id"] = f"WEB-{self.counter:07d}"
        bad["status"] = "paid"
        item = bad["items"][0]
        item["line"] = 1
        bad["items"] = [item]
        bad["created_at"] = bad["updated_at"]
        event = sims[0]
        bad["total"] = cents(event.price * event.qty - event.discount)
        if kind == "bad_number":
            item["quantity"] = BAD_NUMBER
            return bad, "integer", "items[0].quantity is not a number"
        if kind == "unknown_sku":
            item["sku"] = UNKNOWN_SKU
            return bad, "unknown_sku", "items[0].sku is not in the catalog"
        if kind == "negative_quantity":
            item["quantity"] = -max(1, int(item["quantity"]))
            return bad, "min_value", "items[0].quantity is negative"
        if kind == "future_timestamp":
            when = stamp(self.start, event.day + FUTURE_DAYS, event.sod, "-03:00")
            bad["created_at"] = bad["updated_at"] = when
            return bad, "future_timestamp", "created_at is a year in the future"
        del item["sku"]
        return bad, "required", "items[0].sku is missing"
