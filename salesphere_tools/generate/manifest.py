"""``manifest.json``: what was written, what was broken on purpose, what the answer is.

The expected figures come from the simulation's own running totals, never from reading
the files back, so they are an independent check on every layer of the platform:
the number of distinct events a correct ingest accepts, the records it must reject,
and units and revenue per day.

Accounting identity (checked by the tests)::

    sum(file.events) == expected.accepted_events + expected.duplicate_events
                        + expected.rejected_events
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from salesphere.speed.alerts import DIRECTION
from salesphere_tools.generate.defects import Defect
from salesphere_tools.generate.events import SimEvent, cents
from salesphere_tools.generate.totals import SalesTotals

MANIFEST_VERSION = 1


@dataclass(slots=True)
class FileEntry:
    """One written file. ``events`` counts candidate events (e-commerce items, not orders)."""

    path: str
    source: str
    format: str
    encoding: str
    date: str
    sent_at: str
    records: int
    events: int


@dataclass
class Manifest:
    """The generator's report; :meth:`to_json` is what lands in ``manifest.json``."""

    config: dict[str, Any]
    files: list[FileEntry] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)
    simulation: dict[str, Any] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        """Candidate events across all data files (reference files excluded)."""
        return sum(f.events for f in self.files if f.source != "reference")

    def sources(self) -> dict[str, dict[str, int]]:
        """Files, records and candidate events per source."""
        summary: dict[str, dict[str, int]] = {}
        for entry in self.files:
            row = summary.setdefault(entry.source, {"files": 0, "records": 0, "events": 0})
            row["files"] += 1
            row["records"] += entry.records
            row["events"] += entry.events
        return summary

    def defect_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for defect in self.defects:
            counts[defect.kind] = counts.get(defect.kind, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "config": self.config,
            "sources": self.sources(),
            "defect_counts": self.defect_counts(),
            "expected": self.expected,
            "simulation": self.simulation,
            "files": [asdict(entry) for entry in self.files],
            "defects": [defect.to_json() for defect in self.defects],
        }

    def write(self, path: Path) -> None:
        path.write_text(
            json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )


def _money_row(totals: SalesTotals) -> dict[str, Any]:
    row: dict[str, Any] = asdict(totals)
    gross = row.pop("gross_cents")
    discounts = row.pop("discount_cents")
    returns = row.pop("returns_cents")
    row["gross"] = cents(gross)
    row["discounts"] = cents(discounts)
    row["returns_amount"] = cents(returns)
    row["net_revenue"] = cents(gross - discounts - returns)
    return row


def daily_totals(
    totals: dict[tuple[int, int, int], SalesTotals], start: date, store_ids: list[str]
) -> dict[str, Any]:
    """Roll the simulation's per (store, local day, UTC day) sums up three ways."""
    by_local: dict[int, SalesTotals] = {}
    by_utc: dict[int, SalesTotals] = {}
    by_store: dict[tuple[int, int], SalesTotals] = {}
    for (store, local_day, utc_day), values in sorted(totals.items()):
        by_local.setdefault(local_day, SalesTotals()).add(values)
        by_utc.setdefault(utc_day, SalesTotals()).add(values)
        by_store.setdefault((local_day, store), SalesTotals()).add(values)

    def day_text(index: int) -> str:
        return (start + timedelta(days=index)).isoformat()

    return {
        "daily_local": [
            {"date": day_text(d), **_money_row(v)} for d, v in sorted(by_local.items())
        ],
        "daily_utc": [{"date": day_text(d), **_money_row(v)} for d, v in sorted(by_utc.items())],
        "daily_by_store": [
            {"date": day_text(d), "store_id": store_ids[s], **_money_row(v)}
            for (d, s), v in sorted(by_store.items())
        ],
    }


def end_of_day_stock(
    events: list[SimEvent], start: date, store_ids: list[str], skus: list[str]
) -> list[dict[str, Any]]:
    """Closing stock per local business day, store and SKU implied by the events sent.

    The platform's rule, applied to the events the sources send (not to the simulation's
    true shelf, which also holds shrinkage nobody reported): the latest stock count that
    happened by the end of the store's local day, plus every movement that happened after
    it (all movements when never counted). A position appears from the local day of its
    first event. Within one store local seconds order events as UTC does (one offset).
    """
    by_position: dict[tuple[int, int], list[tuple[int, SimEvent]]] = {}
    for event in events:
        if event.kind == "stock_count" or event.kind in DIRECTION:
            by_position.setdefault((event.store, event.sku), []).append(
                (event.day * 86400 + event.sod, event)
            )
    last_day = max((e.day for rows in by_position.values() for _, e in rows), default=0)
    out = []
    for (store, sku), rows in sorted(by_position.items()):
        rows.sort(key=lambda r: r[0])
        for day in range(rows[0][1].day, last_day + 1):
            until = (day + 1) * 86400
            seen = [(t, e) for t, e in rows if t < until]
            counts = [(t, e) for t, e in seen if e.kind == "stock_count"]
            count_at, base = (counts[-1][0], counts[-1][1].counted or 0) if counts else (-1, 0)
            moved = sum(
                DIRECTION.get(e.kind, 0) * e.qty
                for t, e in seen
                if e.kind != "stock_count" and t > count_at
            )
            out.append(
                {
                    "date": (start + timedelta(days=day)).isoformat(),
                    "store_id": store_ids[store],
                    "sku": skus[sku],
                    "on_hand": base + moved,
                }
            )
    return out
