"""Local business-day sales recomputed in plain Python from the raw archive files.

The serving views book each sale on its store's local business day in SQL (both halves,
batch and speed, through the same templates). This is a second, independent derivation
that shares none of that code: it reads the archive objects exactly as they lie in the
bucket (one envelope of canonical events per line), keeps the earliest received copy of
each ``event_id``, converts ``occurred_at`` to the store's clock with :mod:`zoneinfo`, and
sums with :class:`~decimal.Decimal`. Where the two disagree, one of them is wrong about a
day boundary, a timezone, a duplicate or a sign.

The archive is the master dataset, so it can only be compared with serving once it holds
every event serving counts (each batch run drains the archive subscription into it when it
starts); :func:`compare` says so instead of reporting a false difference.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from salesphere import names
from salesphere.batch.receipts import ASSUMED_RECEIPT_SOURCE
from salesphere.gcp import clients
from salesphere.settings import Settings

#: Master rows serving counts as accepted events: not a receipt the batch layer assumed for
#: an unconfirmed transfer (derived, never ingested), unless the real receipt (same id) is
#: in the speed layer, which serving then leaves to master's copy.
SERVED_MASTER = (
    f"(source != '{ASSUMED_RECEIPT_SOURCE}' OR event_id IN (SELECT event_id FROM speed.events))"
)

#: The company's clock for an event whose store has no reference row (as the views do).
HOME_TIMEZONE = "America/Sao_Paulo"

DayKey = tuple[date, str]


@dataclass(frozen=True)
class DayTotals:
    """What one store sold on one local business day."""

    units_sold: int = 0
    net_sales: Decimal = Decimal(0)
    sale_lines: int = 0

    def __add__(self, other: DayTotals) -> DayTotals:
        return DayTotals(
            self.units_sold + other.units_sold,
            self.net_sales + other.net_sales,
            self.sale_lines + other.sale_lines,
        )


@dataclass
class Comparison:
    """Per (local day, store): the archive's totals against serving.sales_daily."""

    recomputed: dict[DayKey, DayTotals]
    served: dict[DayKey, DayTotals]
    archived_events: int
    served_events: int
    differences: list[DayKey] = field(default_factory=list)

    @property
    def archive_complete(self) -> bool:
        return self.archived_events >= self.served_events

    @property
    def ok(self) -> bool:
        return self.archive_complete and not self.differences


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def earliest_copies(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    """event_id -> the earliest received copy, over archive lines (one envelope each)."""
    first: dict[str, dict[str, Any]] = {}
    for line in lines:
        if not line.strip():
            continue
        for event in json.loads(line)["events"]:
            kept = first.get(event["event_id"])
            if kept is None or _timestamp(event["received_at"]) < _timestamp(kept["received_at"]):
                first[event["event_id"]] = event
    return first


def local_day_totals(
    events: dict[str, dict[str, Any]], zones: dict[str, str]
) -> dict[DayKey, DayTotals]:
    """Sale and return lines summed per store's local business day.

    Net sales follow the data dictionary: a sale adds unit_price x quantity - discount, a
    return takes back unit_price x quantity - discount; units and lines count sales only.
    """
    out: dict[DayKey, DayTotals] = defaultdict(DayTotals)
    # A void (a fiscal document cancelled after it was counted) takes its event out.
    voided = {e.get("source_ref") for e in events.values() if e["event_type"] == "void"}
    for event in events.values():
        kind = event["event_type"]
        if kind not in ("sale", "return") or event["event_id"] in voided:
            continue
        zone = ZoneInfo(zones.get(event["store_id"], HOME_TIMEZONE))
        day = _timestamp(event["occurred_at"]).astimezone(zone).date()
        amount = Decimal(str(event["unit_price"])) * event["quantity"] - Decimal(
            str(event["discount"])
        )
        if kind == "sale":
            out[(day, event["store_id"])] += DayTotals(event["quantity"], amount, 1)
        else:
            out[(day, event["store_id"])] += DayTotals(0, -amount, 0)
    return dict(out)


def archive_lines(settings: Settings) -> list[bytes]:
    """Every line of every archive object, as stored."""
    client = clients.storage_client(settings)
    lines: list[bytes] = []
    for blob in client.list_blobs(settings.buckets.archive, prefix=f"{names.ARCHIVE_PREFIX}/"):
        if not blob.name.endswith("/"):
            lines.extend(blob.download_as_bytes().splitlines())
    return lines


def store_zones(settings: Settings) -> dict[str, str]:
    rows = clients.query_rows(settings, "SELECT s.store_id, s.timezone FROM reference.stores AS s")
    return {r["store_id"]: r["timezone"] for r in rows if r["timezone"]}


def served_totals(settings: Settings) -> dict[DayKey, DayTotals]:
    rows = clients.query_rows(
        settings,
        "SELECT d.sale_date, d.store_id, SUM(d.units_sold) AS units, SUM(d.net_sales) AS net, "
        "SUM(d.sale_lines) AS lines FROM serving.sales_daily AS d "
        "GROUP BY d.sale_date, d.store_id",
    )
    return {
        (r["sale_date"], r["store_id"]): DayTotals(
            int(r["units"]), Decimal(str(r["net"])), int(r["lines"])
        )
        for r in rows
    }


def served_events(settings: Settings) -> int:
    rows = clients.query_rows(
        settings,
        "SELECT (SELECT COUNT(*) FROM master.events WHERE received_at < "
        "(SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00') "
        f"FROM batch.cutoff AS b) AND {SERVED_MASTER}) "
        "+ (SELECT COUNT(*) FROM serving.events_since_cutoff) AS n",
    )
    return int(rows[0]["n"])


def compare(settings: Settings, *, served_count: int | None = None) -> Comparison:
    """The archive's local-day totals against serving.sales_daily, store by store.

    ``served_count`` is the number of events serving counts, when the caller (reconcile)
    has already asked the warehouse for it."""
    events = earliest_copies(archive_lines(settings))
    recomputed = local_day_totals(events, store_zones(settings))
    served = served_totals(settings)
    count = served_events(settings) if served_count is None else served_count
    result = Comparison(recomputed, served, len(events), count)
    empty = DayTotals()
    result.differences = sorted(
        key
        for key in recomputed.keys() | served.keys()
        if recomputed.get(key, empty) != served.get(key, empty)
    )
    return result
