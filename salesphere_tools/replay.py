"""The purchase policy replayed day by day against what really sold.

For every series and every day of the replay window (the last ``days`` days of the data):

1. deliveries due that morning arrive (an order placed on day ``t`` arrives on ``t + L``);
2. on a review day (every ``R`` days) the position is brought up to the order-up-to
   level of :mod:`salesphere.replenishment` - the one definition ``serving.replenishment``
   uses: demand over ``L + R`` from the product's forecast
   (:class:`~salesphere.forecast.models.WeekdayBlend` with its store's context, made from
   the sales known before that morning), plus ``z x`` the measured spread over ``L + R``
   - less stock on hand and on order, in whole cases and at least the minimum;
3. the day's demand is served from stock; what stock cannot serve is lost (a customer
   facing an empty shelf buys elsewhere, nothing is back-ordered).

The position starts the window at its first order-up-to level with nothing on order.
Reported per target service level (every series replayed at that level): unit fill rate
(units served / units demanded, all series), the share of series whose own fill reaches
the target, average days of stock on hand (average units on hand at close / average
daily demand, all series), orders per series per year and stock-out days (days with
lost sales) per series per year.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from salesphere import replenishment as policy
from salesphere.forecast.models import WeekdayBlend, store_context

TARGETS = (0.9, 0.95, 0.98)
DEFAULT_DAYS = 364
#: History the forecast reads at each review (the batch layer's forecast_history_days).
HISTORY_DAYS = 730


@dataclass(frozen=True)
class ReplayData:
    """Daily demand (series x days) and each series' store and terms."""

    name: str
    start: date
    store_ids: np.ndarray
    demand: np.ndarray
    lead_time: np.ndarray
    review: np.ndarray
    pack: np.ndarray
    min_order: np.ndarray

    def take(self, rows: np.ndarray) -> ReplayData:
        return ReplayData(
            self.name,
            self.start,
            self.store_ids[rows],
            self.demand[rows],
            self.lead_time[rows],
            self.review[rows],
            self.pack[rows],
            self.min_order[rows],
        )


@dataclass
class Outcome:
    target: float
    series: int
    fill: float
    meeting: float
    days_on_hand: float
    orders_per_year: float
    stockout_days_per_year: float

    def figures(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Replay:
    dataset: str
    days: int
    sample: int | None
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "days": self.days,
            "sample": self.sample,
            "seed": self.seed,
            "targets": [o.figures() for o in self.outcomes],
        }


def m5_data(lead_time: int = 3, review: int = 7, pack: int = 1) -> ReplayData:
    """The M5 subset with one set of terms for every series (weekly, 3-day lead, pack 1)."""
    from salesphere_tools.forecast import m5

    data = m5.load()
    n = len(data)
    return ReplayData(
        "m5",
        data.start,
        data.store_id.astype(str),
        data.units,
        np.full(n, lead_time),
        np.full(n, review),
        np.full(n, pack),
        np.zeros(n, dtype=int),
    )


def generated_data(stores: int = 4, skus: int = 200, days: int = 730, seed: int = 42):
    """Generated history (the demo's scale) with the catalogue's own terms per SKU."""
    from salesphere_tools.generate.catalog import build_products, build_stores
    from salesphere_tools.generate.history import daily_history

    history = daily_history(stores=stores, skus=skus, days=days, seed=seed)
    # The same draws daily_history makes, to read the catalogue it simulated.
    rng = random.Random(f"salesphere:{seed}:simulation")
    build_stores(stores, rng)
    products = {p.sku: p for p in build_products(skus, rng, 350)}
    terms = [products[sku] for sku in history.skus]
    return ReplayData(
        "generated",
        history.start,
        np.asarray(history.store_ids, dtype=str),
        history.demand.astype(float),
        np.array([p.lead_time_days for p in terms]),
        np.array([p.review_period_days for p in terms]),
        np.array([p.pack_size for p in terms]),
        np.array([p.min_order_quantity for p in terms]),
    )


def _orders_up_to(data: ReplayData, rows: np.ndarray, t: int, level: float) -> np.ndarray:
    """Order-up-to levels of ``rows`` at the morning of day ``t`` (sales before ``t`` known)."""
    first = max(0, t - HISTORY_DAYS)
    start = data.start + timedelta(days=first)
    contexts = {}
    for store in np.unique(data.store_ids[rows]):
        mine = rows[data.store_ids[rows] == store]
        contexts[store] = store_context([(data.demand[i, first:t], start) for i in mine])
    z = policy.z(level)
    out = np.zeros(len(rows))
    for k, i in enumerate(rows):
        history = data.demand[i, first:t]
        cover = int(data.lead_time[i] + data.review[i])
        model = WeekdayBlend(contexts[data.store_ids[i]])
        expected = float(model.point(history, start, cover).sum())
        out[k] = expected + z * policy.cover_sigma(history, cover)
    return out


def replay(data: ReplayData, level: float, days: int = DEFAULT_DAYS) -> Outcome:
    """Replay every series of ``data`` over its last ``days`` days at service ``level``."""
    total = data.demand.shape[1]
    if not 28 <= days <= total - 28:
        raise ValueError(f"the replay needs 28 to {total - 28} days, not {days}")
    first_day = total - days
    # Series that sold nothing in the year before the window have nothing to replay.
    active = np.flatnonzero(np.nansum(data.demand[:, max(0, first_day - 364) : first_day], 1) > 0)
    n = len(active)
    lead = data.lead_time[active]
    review = data.review[active]
    on_hand = np.zeros(n)
    arriving = np.zeros((n, days + int(lead.max(initial=0)) + 1))
    served = np.zeros(n)
    wanted = np.zeros(n)
    stock = np.zeros(n)
    orders = np.zeros(n)
    short_days = np.zeros(n)
    for d in range(days):
        t = first_day + d
        on_hand += arriving[:, d]
        due = np.flatnonzero(d % review == 0)
        if due.size:
            up_to = _orders_up_to(data, active[due], t, level)
            if d == 0:
                on_hand[due] = np.ceil(up_to - 1e-9)
            for k, j in enumerate(due):
                on_order = arriving[j, d + 1 :].sum()
                i = active[j]
                q = policy.order_quantity(
                    up_to[k], on_hand[j], on_order, int(data.pack[i]), int(data.min_order[i])
                )
                if q:
                    arriving[j, d + int(lead[j])] += q
                    orders[j] += 1
                    if lead[j] == 0:
                        on_hand[j] += q
                        arriving[j, d] -= q
        demand = np.nan_to_num(data.demand[active, t])
        sold = np.minimum(on_hand, demand)
        on_hand -= sold
        served += sold
        wanted += demand
        stock += on_hand
        short_days += demand > sold + 1e-9
    sold_any = wanted > 0
    own_fill = served[sold_any] / wanted[sold_any]
    per_year = 364 / days
    return Outcome(
        target=level,
        series=n,
        fill=float(served.sum() / wanted.sum()) if wanted.sum() else float("nan"),
        meeting=float((own_fill >= level - 1e-9).mean()) if own_fill.size else float("nan"),
        days_on_hand=float(stock.sum() / wanted.sum()) if wanted.sum() else float("nan"),
        orders_per_year=float(orders.mean() * per_year) if n else 0.0,
        stockout_days_per_year=float(short_days.mean() * per_year) if n else 0.0,
    )


def simulate(
    data: ReplayData,
    *,
    series: int | None = None,
    seed: int = 0,
    targets: Sequence[float] = TARGETS,
    days: int = DEFAULT_DAYS,
    progress: Callable[[str], None] | None = None,
) -> Replay:
    """:func:`replay` at each target on a sample of ``series`` (all when None)."""
    n = len(data.store_ids)
    if series is not None and series < 1:
        raise ValueError(f"the sample needs at least one series, not {series}")
    rows = (
        np.arange(n)
        if series is None or series >= n
        else np.sort(np.random.default_rng(seed).choice(n, size=series, replace=False))
    )
    sample = data.take(rows)
    result = Replay(data.name, days, series, seed)
    for level in targets:
        policy.z(level)  # refuse an unknown level before the long part
        outcome = replay(sample, level, days)
        result.outcomes.append(outcome)
        if progress:
            progress(f"target {level}: fill {outcome.fill:.4f}")
    return result
