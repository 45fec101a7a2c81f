"""The inventory-management system's daily export: stock movements as NDJSON.

One file per day with every store's receipts, damage write-offs, morning counts and
transfers, in the system's own vocabulary (``RECEIPT``, ``ADJUSTMENT``, ``COUNT``,
``TRANSFER_OUT``, ``TRANSFER_IN``). Late keying, overlapping exports (a record repeated
in the next day's file) and malformed entries are injected like in the live feeds.
"""

from __future__ import annotations

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
from salesphere_tools.generate.events import SOURCE_INVENTORY, SimEvent
from salesphere_tools.generate.events import local_timestamp as stamp
from salesphere_tools.generate.formats import utc_text, write_ndjson
from salesphere_tools.generate.manifest import FileEntry

MOVEMENTS = {
    "stock_receipt": "RECEIPT",
    "stock_adjustment": "ADJUSTMENT",
    "stock_count": "COUNT",
    "transfer_out": "TRANSFER_OUT",
    "transfer_in": "TRANSFER_IN",
}
EXPORT_DELAY = 3 * 3600 + 1800  # the nightly export runs at 00:30 BRT the next day
Record = dict[str, Any]


@dataclass
class InventoryWriter:
    """Writes one NDJSON export per day; carries late and overlapping records forward."""

    out: Path
    planner: DefectPlanner
    start: date
    days: int
    stores: list[StoreSpec]
    products: list[ProductSpec]
    carry: dict[int, list[tuple[Record, Defect]]] = field(default_factory=dict)
    seq: int = 0
    bad_docs: int = 0

    def record(self, event: SimEvent, day_text: str) -> Record:
        self.seq += 1
        store = self.stores[event.store]
        rec: Record = {
            "movement_id": f"MOV-{day_text.replace('-', '')}-{self.seq:07d}",
            "type": MOVEMENTS[event.kind],
            "location": store.store_id,
            "item": self.products[event.sku].sku,
            "units": event.counted if event.kind == "stock_count" else event.qty,
            "document": event.doc,
            "recorded_at": stamp(self.start, event.day, event.sod, store.offset_text),
        }
        if event.counterpart is not None:
            rec["counterpart_location"] = self.stores[event.counterpart].store_id
        if event.kind == "stock_adjustment":
            rec["reason"] = "damage"
        return rec

    def write_day(self, day: int, events: list[SimEvent]) -> FileEntry:
        """Write ``day``'s export: its movements in time order (some held for a later day,
        repeated or garbled as the planner decides), then what earlier days carried here."""
        day_text = (self.start + timedelta(days=day)).isoformat()
        out: list[tuple[Record, Defect | None]] = []
        for event in sorted(events, key=lambda e: e.utc_seconds(self.stores)):
            self._place(day, day_text, event, out)
        out.extend(self.carry.pop(day, []))
        rel = f"inventory/{day_text}/estoque_{day_text}.ndjson"
        for row, (_rec, defect) in enumerate(out, start=1):
            if defect is not None:
                defect.file = rel
                defect.row = row
        write_ndjson(self.out / rel, [rec for rec, _defect in out])
        sent = (day + 1) * 86_400 + EXPORT_DELAY - 3 * 3600
        return FileEntry(
            path=rel,
            source=SOURCE_INVENTORY,
            format="ndjson",
            encoding="utf-8",
            date=day_text,
            sent_at=utc_text(self.start, sent),
            records=len(out),
            events=len(out),
        )

    def _place(
        self, day: int, day_text: str, event: SimEvent, out: list[tuple[Record, Defect | None]]
    ) -> None:
        """Put one movement's record in today's export (``out``) or carry it to the day it is
        keyed in; an overlapping export repeats it, and a garbled copy may follow it."""
        planner = self.planner
        rec = self.record(event, day_text)
        fate = planner.fate()
        target = min(day + planner.lag_days(), self.days - 1) if fate else day
        if fate == "late" and target > day:
            late = Defect(
                "late",
                SOURCE_INVENTORY,
                "accept",
                occurred_date=day_text,
                detail=f"keyed in {target - day} day(s) after it happened",
            )
            self.carry.setdefault(target, []).append((rec, planner.record(late)))
            return
        out.append((rec, None))
        if fate == "duplicate":
            repeated = planner.record(
                Defect(
                    "duplicate",
                    SOURCE_INVENTORY,
                    "dedupe",
                    detail="repeated by an overlapping export",
                )
            )
            # The next day's file repeats it; on the last day there is no next file.
            if day + 1 < self.days:
                self.carry.setdefault(day + 1, []).append((rec, repeated))
            else:
                out.append((rec, repeated))
        malformed = planner.malformed()
        if malformed:
            bad, rule, detail = self._corrupt(rec, event, malformed[0])
            defect = Defect("malformed", SOURCE_INVENTORY, "reject", rule=rule, detail=detail)
            out.append((bad, planner.record(defect)))

    def _corrupt(self, rec: Record, event: SimEvent, kind: str) -> tuple[Record, str, str]:
        """A garbled receipt on its own document number, so it never collides with a real one."""
        self.bad_docs += 1
        bad = dict(rec)
        bad["type"] = "RECEIPT"
        bad["document"] = f"NF-X{self.bad_docs:06d}"
        bad["units"] = max(1, event.qty)
        bad.pop("counterpart_location", None)
        bad.pop("reason", None)
        if kind == "bad_number":
            bad["units"] = BAD_NUMBER
            return bad, "integer", "units is not a number"
        if kind == "unknown_sku":
            bad["item"] = UNKNOWN_SKU
            return bad, "unknown_sku", "item is not in the catalog"
        if kind == "negative_quantity":
            bad["units"] = -bad["units"]
            return bad, "min_value", "units is negative"
        if kind == "future_timestamp":
            store = self.stores[event.store]
            bad["recorded_at"] = stamp(
                self.start, event.day + FUTURE_DAYS, event.sod, store.offset_text
            )
            return bad, "future_timestamp", "recorded_at is a year in the future"
        del bad["item"]
        return bad, "required", "item is missing"
