"""The buyers behind the stock: purchase orders placed over the history, some still open.

A store that adopts the platform has been ordering all along: its shelves hold what its
buyers' last orders brought, and some orders are still on their way (a few of them late).
Without that past, the live week would open with stock drawn at random and nothing on
order, and the purchase suggestion would ask a store for nearly every SKU at once. This
module simulates the purchasing team over the end of the history
(:mod:`.history`'s daily demand) and then through the live week, the way buyers work:

* each supplier is **reviewed on its own cadence** (the catalogue's review period: weekly
  for local distributors, every other week for importers and factories, twice a week for
  food), always on the same weekday of its cycle;
* at a review, a position (stock on hand plus on order) at or below its **reorder point**
  (expected demand over lead time plus review period, plus a safety stock for the day-to-day
  spread and a few days' demand against a late delivery) is ordered
  **up to** that point plus one more review period of demand, in **whole cases**, and at
  least the supplier's **minimum order**; the buyers' demand estimate is the average sold
  per day over the last four weeks (what a buyer reads off the sales report);
* one order per store and supplier per review (``PC-NF-…``), delivered in one go after the
  supplier's **lead time** as the invoice ``NF-…``; a small, seeded share of deliveries
  comes **late** (1-5 days after the promised date);
* the buyers start :data:`WARMUP_DAYS` before the live week with every position at its
  order-up-to level: that is long enough for every trace of the starting stock to be sold
  through and replaced by the policy's own rhythm.

Sales are what demand and stock allow, so stock never goes below zero. Everything random
comes from one seeded stream: the same history and seed give the same orders.
"""

from __future__ import annotations

import copy
import csv
import functools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np

from salesphere_tools.generate.catalog import (
    ProductSpec,
    StoreSpec,
    build_products,
    build_stores,
    supplier_cnpj,
)
from salesphere_tools.generate.demand import seeded
from salesphere_tools.generate.events import SECONDS_PER_DAY, cents
from salesphere_tools.generate.formats import utc_text
from salesphere_tools.generate.history import History, daily_history
from salesphere_tools.generate.manifest import FileEntry
from salesphere_tools.purchasing import ORDER_HEADER

#: Days the buyers run before the live week; the stock they start from is long gone by then.
WARMUP_DAYS = 150
#: Days of sales the buyers average to estimate demand.
TRAILING_DAYS = 28
#: Share of deliveries that come after the promised date, and by how many days.
LATE_SHARE = 0.08
LATE_DAYS = (1, 5)
#: Safety stock: z for about 95 % of review cycles without a stock-out, over a variance of
#: DISPERSION x the mean (customers take 1-4 units and come in bursts: over-dispersed).
SAFETY_Z = 1.65
DISPERSION = 2.5
#: Days of demand the buyers keep on top, because a delivery can come up to LATE_DAYS late.
LATE_COVER_DAYS = 3
#: Local hour at which the buyers send the day's orders (after the afternoon review).
ORDER_HOUR = 17
ERP_EXPORT = "purchase_orders/pedidos.csv"


@dataclass(frozen=True, slots=True)
class Terms:
    """One SKU's ordering terms from the catalogue."""

    supplier: str
    lead_days: int
    review_days: int
    pack: int
    min_order: int

    @classmethod
    def of(cls, product: ProductSpec) -> Terms:
        pack = max(1, product.pack_size)
        return cls(
            supplier=product.supplier,
            lead_days=max(1, product.lead_time_days),
            review_days=max(1, product.review_period_days),
            pack=pack,
            min_order=-(-product.min_order_quantity // pack) * pack,
        )


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a purchase order; days count from the live week's first day (negative:
    before it)."""

    order: str
    delivery: str
    line: int
    store: int
    sku: int
    units: int
    pack: int
    ordered_day: int
    due_day: int
    arrival_day: int

    @property
    def late(self) -> bool:
        return self.arrival_day > self.due_day


@dataclass(frozen=True, slots=True)
class Opening:
    """What the live week starts from: the buyers' stock and every order not yet received."""

    stock: np.ndarray  # series (store-major), units on hand at the start of day 0
    open_lines: list[OrderLine]
    sales: np.ndarray  # series x WARMUP_DAYS: what the buyers' stock let customers buy


@dataclass
class Buyers:
    """The purchasing team of every store: what is on order and the demand they see."""

    terms: list[Terms]
    stores: int
    first_ordinal: int  # date.toordinal() of day 0 (the live week's first day)
    seed: int
    window: np.ndarray = field(init=False)
    on_order: np.ndarray = field(init=False)
    lines: list[OrderLine] = field(default_factory=list)
    seq: int = 0
    #: Days the buyers actually ran before the live week (``run_warmup``): WARMUP_DAYS,
    #: or fewer when the history is too short for the whole warm-up.
    warmup_days: int = 0

    def __post_init__(self) -> None:
        n = self.stores * len(self.terms)
        self.rng = seeded(self.seed, "buyers")
        self.window = np.zeros((n, TRAILING_DAYS))
        self.on_order = np.zeros(n, dtype=np.int64)
        k = len(self.terms)
        suppliers = sorted({t.supplier for t in self.terms})
        self._supplier = np.tile([suppliers.index(t.supplier) for t in self.terms], self.stores)
        self._lead = np.tile([t.lead_days for t in self.terms], self.stores)
        self._review = np.tile([t.review_days for t in self.terms], self.stores)
        self._pack = np.tile([t.pack for t in self.terms], self.stores)
        self._min = np.tile([t.min_order for t in self.terms], self.stores)
        self._k = k

    def exported(self) -> list[OrderLine]:
        """Lines not received before the live week: what the ERP export holds (the rest
        arrived during the warm-up and are history)."""
        return [line for line in self.lines if line.arrival_day >= 0]

    # -- the policy ----------------------------------------------------------------------

    def demand_estimate(self) -> np.ndarray:
        """Units per day each position sold over the last four weeks."""
        return self.window.mean(axis=1)

    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """(reorder point, order-up-to level) per position, from the demand estimate."""
        est = self.demand_estimate()
        cover = self._lead + self._review
        safety = SAFETY_Z * np.sqrt(est * cover * DISPERSION) + est * LATE_COVER_DAYS
        reorder = est * cover + safety
        return reorder, reorder + est * self._review

    def reviewing(self, day: int) -> np.ndarray:
        """Positions whose supplier is reviewed on ``day`` (same weekday of every cycle)."""
        absolute = self.first_ordinal + day
        return (absolute % self._review) == (self._supplier % self._review)

    def record_sales(self, sold: np.ndarray) -> None:
        """The day's units sold per position join the four-week window."""
        self.window = np.roll(self.window, -1, axis=1)
        self.window[:, -1] = sold

    def review(self, day: int, stock: np.ndarray) -> list[OrderLine]:
        """The day's orders: one per store and supplier with anything at its reorder point."""
        reorder, up_to = self.levels()
        position = np.maximum(stock, 0) + self.on_order
        # Every listed SKU keeps at least a case on the shelf, however slow it sells.
        need = self.reviewing(day) & (position <= reorder)
        if not need.any():
            return []
        idx = np.flatnonzero(need)
        short = up_to[idx] - position[idx]
        pack = self._pack[idx]
        units = np.maximum(np.ceil(short / pack).astype(np.int64) * pack, self._min[idx])
        units = np.maximum(units, pack)
        orders: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for series, qty in zip(idx.tolist(), units.tolist(), strict=True):
            store = series // self._k
            orders.setdefault((store, int(self._supplier[series])), []).append((series, qty))
        placed: list[OrderLine] = []
        for (store, _supplier), items in sorted(orders.items()):
            self.seq += 1
            number = f"{self.seq:07d}"
            lead = int(self._lead[items[0][0]])
            late = self.rng.random() < LATE_SHARE
            delay = int(self.rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1)) if late else 0
            for line, (series, qty) in enumerate(items, start=1):
                sku = series % self._k
                placed.append(
                    OrderLine(
                        order=f"PC-NF-{number}",
                        delivery=f"NF-{number}",
                        line=line,
                        store=store,
                        sku=sku,
                        units=int(qty),
                        pack=int(self._pack[series]),
                        ordered_day=day,
                        due_day=day + lead,
                        arrival_day=day + lead + delay,
                    )
                )
                self.on_order[series] += int(qty)
        self.lines.extend(placed)
        return placed

    def received(self, store: int, sku: int, units: int) -> None:
        """A delivery reached the shelf: those units are no longer on order."""
        series = store * self._k + sku
        self.on_order[series] = max(0, int(self.on_order[series]) - units)


def run_warmup(
    buyers: Buyers, demand: np.ndarray, warmup: int = WARMUP_DAYS
) -> tuple[np.ndarray, np.ndarray]:
    """Run the buyers over the last ``warmup`` days of ``demand`` (series x days, ending the
    day before the live week); returns (stock at the start of day 0, sales of those days).

    The four weeks before the warm-up seed the buyers' demand estimate, and every position
    starts at its order-up-to level.
    """
    n, days = demand.shape
    warmup = min(warmup, days - TRAILING_DAYS)
    buyers.warmup_days = warmup
    first = days - warmup
    buyers.window = demand[:, first - TRAILING_DAYS : first].astype(float)
    stock = np.ceil(buyers.levels()[1]).astype(np.int64)
    sales = np.zeros((n, warmup), dtype=np.int64)
    arriving: dict[int, list[OrderLine]] = {}
    k = buyers._k
    for offset in range(warmup):
        day = offset - warmup  # negative: days before the live week
        for line in arriving.pop(day, []):
            stock[line.store * k + line.sku] += line.units
            buyers.received(line.store, line.sku, line.units)
        sold = np.minimum(demand[:, first + offset], stock)
        stock -= sold
        sales[:, offset] = sold
        buyers.record_sales(sold)
        for line in buyers.review(day, stock):
            if line.arrival_day < 0:
                arriving.setdefault(line.arrival_day, []).append(line)
    return stock, sales


def opening(
    demand: np.ndarray,
    products: Sequence[ProductSpec],
    stores: int,
    live_start: date,
    seed: int,
) -> tuple[Buyers, Opening]:
    """The buyers after the history, and the live week's opening stock and open orders."""
    buyers = Buyers([Terms.of(p) for p in products], stores, live_start.toordinal(), seed)
    stock, sales = run_warmup(buyers, demand)
    return buyers, Opening(stock=stock, open_lines=buyers.exported(), sales=sales)


def continued_history(
    *,
    stores: int,
    skus: int,
    days: int,
    seed: int,
    live_start: date,
    tickets_per_store_day: int,
    web_orders_per_day: int = 400,
) -> tuple[History, list[ProductSpec], Buyers, Opening]:
    """The ``days`` of daily history before ``live_start`` and the buyers run over its end:
    (history, catalogue, buyers, opening).

    The live days (``GeneratorConfig.history_days``) start from this opening and the old
    system's summary (generate.legacy) sells what it let customers buy; the demo needs
    both, so the two years and the warm-up are computed once per process. The history is
    shared read-only; the buyers and the opening are copies, since the live days go on
    ordering with them.
    """
    history, products, buyers, start = _continued_history(
        stores, skus, days, seed, live_start, tickets_per_store_day, web_orders_per_day
    )
    return history, list(products), copy.deepcopy(buyers), copy.deepcopy(start)


# A few entries: one data set's history is reused, tests with many shapes do not pile up.
@functools.lru_cache(maxsize=2)
def _continued_history(
    stores: int,
    skus: int,
    days: int,
    seed: int,
    live_start: date,
    tickets_per_store_day: int,
    web_orders_per_day: int,
) -> tuple[History, tuple[ProductSpec, ...], Buyers, Opening]:
    history = daily_history(
        stores=stores,
        skus=skus,
        days=days,
        seed=seed,
        start=live_start - timedelta(days=days),
        tickets_per_store_day=tickets_per_store_day,
        web_orders_per_day=web_orders_per_day,
    )
    # The catalogue exactly as the simulation builds it from the same seed.
    rng = random.Random(f"salesphere:{seed}:simulation")
    store_specs = build_stores(stores, rng)
    products = build_products(skus, rng, tickets_per_store_day)
    buyers, start = opening(history.demand, products, len(store_specs), live_start, seed)
    return history, tuple(products), buyers, start


def deliveries(lines: Sequence[OrderLine]) -> dict[int, list[tuple[int, str, list[OrderLine]]]]:
    """Lines grouped into deliveries: arrival day -> [(store, invoice, lines)]."""
    grouped: dict[tuple[int, int, str], list[OrderLine]] = {}
    for line in lines:
        grouped.setdefault((line.arrival_day, line.store, line.delivery), []).append(line)
    out: dict[int, list[tuple[int, str, list[OrderLine]]]] = {}
    for (day, store, doc), items in sorted(grouped.items()):
        out.setdefault(day, []).append((store, doc, items))
    return out


class ErpOrderRow(NamedTuple):
    """One open line of the ERP's purchase order export, before it is formatted."""

    order: str
    line: int
    supplier_cnpj: str
    store_id: str
    sku: str
    units: int
    unit_cost_cents: int
    ordered_at: str  # RFC 3339 UTC
    due: date


def write_order_rows(out: Path, rows: Iterable[ErpOrderRow]) -> int:
    """Write the ERP export (layout ``erp_pedidos``) of ``rows`` under ``out``; returns how
    many lines it holds.

    The generator has two sources of orders (the buyers, or the fiscal store's deliveries);
    both go through here so the file has one layout: ``;``-separated, CRLF, decimal comma,
    due dates as the ERP prints them, every line still open.
    """
    path = out / ERP_EXPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(ORDER_HEADER)
        for row in rows:
            writer.writerow(
                (row.order, row.line, row.supplier_cnpj, row.store_id, row.sku, row.units,
                 cents(row.unit_cost_cents).replace(".", ","), row.ordered_at,
                 f"{row.due:%d/%m/%Y}", "aberto")
            )  # fmt: skip
            count += 1
    return count


def write_erp_orders(
    out: Path,
    lines: Sequence[OrderLine],
    stores: Sequence[StoreSpec],
    products: Sequence[ProductSpec],
    start: date,
    last_day: int,
) -> FileEntry:
    """The ERP's export of every order not received before the live week (layout
    ``erp_pedidos``), sent at the end of the live week's last day."""
    suppliers = sorted({p.supplier for p in products})

    def rows() -> Iterable[ErpOrderRow]:
        for line in lines:
            product, store = products[line.sku], stores[line.store]
            yield ErpOrderRow(
                line.order, line.line, supplier_cnpj(product.supplier, suppliers),
                store.store_id, product.sku, line.units, product.unit_cost_cents,
                utc_text(start, _utc_seconds(line.ordered_day, ORDER_HOUR, store)),
                start + timedelta(days=line.due_day),
            )  # fmt: skip

    written = write_order_rows(out, rows())
    return FileEntry(
        ERP_EXPORT,
        "purchase_orders",
        "csv",
        "utf-8",
        (start + timedelta(days=max(0, last_day - 1))).isoformat(),
        utc_text(start, _utc_seconds(last_day, 23, stores[0])),
        written,
        0,
    )


def _utc_seconds(day: int, hour: int, store: StoreSpec) -> int:
    """Seconds since the first day's UTC midnight of ``hour`` o'clock, store time, on ``day``."""
    return day * SECONDS_PER_DAY + (hour - store.utc_offset_hours) * 3600


def summary(buyers: Buyers, last_day: int) -> dict[str, object]:
    """What the ERP export holds (orders not received before the live week) and the share
    of late lines over every order the buyers placed, for the manifest."""
    placed = buyers.lines
    late_share = round(sum(line.late for line in placed) / max(1, len(placed)), 3)
    lines = buyers.exported()
    open_at_end = [line for line in lines if line.arrival_day > last_day]
    late_open = [line for line in open_at_end if line.due_day <= last_day]
    return {
        "order_lines": len(lines),
        "orders": len({line.order for line in lines}),
        "open_lines_at_start": sum(line.ordered_day < 0 for line in lines),
        "placed_lines_live": sum(line.ordered_day >= 0 for line in lines),
        "open_lines_at_end": len(open_at_end),
        "late_open_lines_at_end": len(late_open),
        "late_share_all_lines": late_share,
        "stores": sorted({line.store for line in lines}),
        "warmup_days": buyers.warmup_days,
    }
