"""Years of daily demand, sales and stock per store and SKU, without writing a single event.

The forecast needs history measured in years, and the benchmark needs a thousand series of
it in seconds: simulating every basket (``simulate.py``) would take minutes per year and
store. This module draws each series' daily demand straight from :class:`DemandModel`
(over-dispersed counts: customers arrive Poisson with a gamma-distributed rate, each takes
1-4 units) and runs the stock each day the way a purchasing team would:

* the reorder point and order-up-to level are sized once, from the first four weeks'
  demand and the supplier's lead time (like the catalog's static ``reorder_point``), so
  trend, seasons and promotions make some series run dry and others overstock;
* at the end of each day a position at or below its reorder point orders up to its level;
  the supplier delivers after its lead time, sometimes late and sometimes short;
* sales are what demand and stock allow: on a day the shelf empties, sales are *censored*
  (``stockout`` is True) and the true demand is kept beside them, so a test or a benchmark
  can tell how wrong a forecast that read stock-out days as zero demand would be.

Seeded: the same arguments give the same arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from salesphere_tools.generate.catalog import (
    AVG_LINES_PER_TICKET,
    AVG_UNITS_PER_LINE,
    ProductSpec,
    StoreSpec,
    build_products,
    build_stores,
)
from salesphere_tools.generate.demand import DemandModel, seeded

#: Units one customer takes of one SKU (the simulation's basket line sizes).
UNIT_SIZES = np.array([1, 2, 3, 4])
UNIT_PROBS = np.array([0.70, 0.20, 0.07, 0.03])
MEAN_UNITS = float((UNIT_SIZES * UNIT_PROBS).sum())
LATE_DELIVERY = 0.15
SHORT_DELIVERY = 0.10
DEFAULT_HISTORY_START = date(2024, 11, 1)


@dataclass
class History:
    """Daily arrays (series x days) and who each series is."""

    start: date
    store_ids: list[str]
    skus: list[str]
    demand: np.ndarray  # true demand, units (unobservable where stockout)
    sales: np.ndarray  # units sold = min(demand, stock available)
    on_hand: np.ndarray  # closing stock
    receipts: np.ndarray  # units received that morning
    stockout: np.ndarray  # the shelf was empty at some point of the day: sales censored
    promo: np.ndarray  # the SKU was on promotion

    @property
    def days(self) -> int:
        return int(self.sales.shape[1])

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def frame(self, *, until: int | None = None) -> dict[str, Any]:
        """Columns ``store_id, sku, day, units, stockout`` (one row per series and day).

        The shape :func:`salesphere.forecast.series.build_series` reads; ``until`` keeps
        the first ``until`` days only (what a forecast made on that day would know).
        """
        n, days = self.sales.shape
        days = days if until is None else until
        dates = np.array(self.dates[:days], dtype="datetime64[D]")
        return {
            "store_id": np.repeat(np.array(self.store_ids, dtype=object), days),
            "sku": np.repeat(np.array(self.skus, dtype=object), days),
            "day": np.tile(dates, n),
            "units": self.sales[:, :days].reshape(-1).astype(float),
            "stockout": self.stockout[:, :days].reshape(-1),
        }


def daily_history(
    *,
    stores: int,
    skus: int,
    days: int = 730,
    seed: int = 42,
    start: date = DEFAULT_HISTORY_START,
    tickets_per_store_day: int = 350,
    web_orders_per_day: int = 400,
) -> History:
    """``stores`` physical stores plus ``WEB``, ``skus`` SKUs: (stores + 1) * skus series."""
    import random

    rng_catalog = random.Random(f"salesphere:{seed}:simulation")
    store_specs = build_stores(stores, rng_catalog)
    products = build_products(skus, rng_catalog, tickets_per_store_day)
    model = DemandModel(products, start, days, seed)
    return simulate_history(
        store_specs, products, model, seed, tickets_per_store_day, web_orders_per_day
    )


def simulate_history(
    stores: list[StoreSpec],
    products: list[ProductSpec],
    model: DemandModel,
    seed: int,
    tickets_per_store_day: int,
    web_orders_per_day: int,
) -> History:
    rng = seeded(seed, "history")
    days, k = model.days, len(products)
    n = len(stores) * k
    units_per_ticket = AVG_LINES_PER_TICKET * AVG_UNITS_PER_LINE
    popularity = np.array([p.popularity for p in products])
    lead = np.tile(np.array([max(1, p.lead_time_days) for p in products]), len(stores))
    volume = np.repeat(
        [
            (web_orders_per_day if s.online else tickets_per_store_day * s.size) * units_per_ticket
            for s in stores
        ],
        k,
    )
    online = np.repeat([s.online for s in stores], k)
    # Expected demand per series and day, then over-dispersed counts around it.
    sku_mult = np.stack([model.sku_multipliers(i) for i in range(days)])  # days x k
    traffic_store = np.array([model.traffic(i, online=False) for i in range(days)])
    traffic_web = np.array([model.traffic(i, online=True) for i in range(days)])
    traffic = np.where(online[:, None], traffic_web[None, :], traffic_store[None, :])
    rate = (
        volume[:, None]
        * np.tile(popularity, len(stores))[:, None]
        * np.tile(sku_mult.T, (len(stores), 1))
        * traffic
    )
    shape = np.repeat(rng.uniform(3.0, 15.0, n)[:, None], days, axis=1)
    customers = rng.poisson(rng.gamma(shape, rate / MEAN_UNITS / shape))
    demand = _basket_units(rng, customers)
    stock = _run_stock(rng, demand, rate, lead, online, traffic_store == 0)
    store_ids = [s.store_id for s in stores for _ in products]
    sku_ids = [p.sku for _ in stores for p in products]
    promo = np.tile(np.stack([model.on_promotion(i) for i in range(days)]).T, (len(stores), 1))
    return History(model.start, store_ids, sku_ids, demand, *stock, promo)


def _run_stock(
    rng: np.random.Generator,
    demand: np.ndarray,
    rate: np.ndarray,
    lead: np.ndarray,
    online: np.ndarray,
    closed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Day by day, all series at once: receive, sell what stock allows, reorder.

    Returns (sales, closing stock, receipts, stockout) arrays, series x days.
    """
    n, days = demand.shape
    # Purchasing sizes each position once, from the first four weeks.
    first = rate[:, : min(28, days)].mean(axis=1)
    safety = rng.uniform(1.0, 6.0, n)
    reorder = np.ceil(first * (lead + safety)).astype(np.int64)
    up_to = reorder + np.ceil(first * rng.uniform(10.0, 30.0, n)).astype(np.int64) + 1
    stock = (up_to * rng.uniform(0.5, 1.0, n)).astype(np.int64)
    horizon = days + int(lead.max()) + 10
    due = np.zeros((n, horizon), dtype=np.int64)
    on_order = np.zeros(n, dtype=np.int64)
    sales = np.zeros((n, days), dtype=np.int64)
    on_hand = np.zeros((n, days), dtype=np.int64)
    receipts = np.zeros((n, days), dtype=np.int64)
    stockout = np.zeros((n, days), dtype=bool)
    closed_days = set(np.flatnonzero(closed).tolist())
    for day in range(days):
        if day in closed_days:  # nobody delivers to a closed store: the truck comes tomorrow
            due[~online, day + 1] += due[~online, day]
            due[~online, day] = 0
        arrived = due[:, day]
        stock += arrived
        on_order -= arrived
        receipts[:, day] = arrived
        sold = np.minimum(demand[:, day], stock)
        stock -= sold
        sales[:, day] = sold
        on_hand[:, day] = stock
        stockout[:, day] = (stock == 0) & ((sold < demand[:, day]) | (sold == 0))
        position = stock + on_order
        need = position <= reorder
        if need.any():
            idx = np.flatnonzero(need)
            qty = up_to[idx] - position[idx]
            short = rng.random(idx.size) < SHORT_DELIVERY
            qty = np.where(short, np.ceil(qty * rng.uniform(0.5, 0.95, idx.size)), qty)
            late = rng.random(idx.size) < LATE_DELIVERY
            delay = lead[idx] + np.where(late, rng.integers(1, 7, idx.size), 0)
            arrive = np.minimum(day + delay, horizon - 1)
            np.add.at(due, (idx, arrive), qty.astype(np.int64))
            on_order[idx] += qty.astype(np.int64)  # a short delivery closes its order
    return sales, on_hand, receipts, stockout


def _basket_units(rng: np.random.Generator, customers: np.ndarray) -> np.ndarray:
    """Each customer takes 1-4 units: the sum over customers, drawn at once."""
    flat = customers.reshape(-1)
    counts = rng.multinomial(flat, UNIT_PROBS)
    return (counts @ UNIT_SIZES).reshape(customers.shape).astype(np.int64)


def intermittent_share(history: History) -> float:
    """Share of series whose mean interval between sales days exceeds 1.32 days."""
    nonzero = (history.sales > 0).sum(axis=1)
    adi = np.where(nonzero > 0, history.days / np.maximum(nonzero, 1), math.inf)
    return float((adi > 1.32).mean())
