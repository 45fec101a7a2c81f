"""What drives demand over months and years: trend, seasons, the retail calendar, promotions.

The basic simulation (``simulate.py``) gives every SKU the same share of baskets every
day, which is enough for a week of data but leaves nothing for a forecaster to learn. This
module adds what real Brazilian retail demand has, per SKU and day, as multipliers on the
catalog's popularity:

* a **trend** per SKU (growing, stable or fading products, a few percent a year to ±40 %);
* **yearly seasonality** per category (summer sports, the winter fashion collection);
* the **retail calendar** per category: Black Week and Black Friday, the Christmas run-up
  and the quiet week after, Dia das Mães, Dia dos Pais, Dia das Crianças, back to school,
  and the national holidays (fewer mall visitors, a little more online);
* **promotions** that lift a SKU for one to two weeks and are followed by a dip while
  customers use up what they bought;
* **slow movers**: about 45 % of SKUs sell a small fraction of their category's average,
  so in most stores they sell on few days (intermittent demand).

The dates come from :mod:`salesphere.forecast.calendar` (they are facts); how strongly
each date moves each category is decided here, and the forecaster never sees it. The same
:class:`DemandModel` drives both the event simulation (``GeneratorConfig(history=True)``)
and the direct daily series of :mod:`.history` (the forecast benchmark).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from salesphere.forecast import calendar
from salesphere_tools.generate.calendar import STORE_WEEKDAY, WEB_WEEKDAY, plan_day
from salesphere_tools.generate.catalog import ProductSpec

#: Category -> (yearly amplitude, month of the yearly peak). Brazil's summer is
#: December-February: sports and drinks peak then, the winter collection in June.
SEASONS: dict[str, tuple[float, int]] = {
    "Eletrônicos": (0.06, 12),
    "Casa e Cozinha": (0.10, 5),
    "Moda": (0.22, 6),
    "Beleza": (0.08, 12),
    "Esporte": (0.25, 1),
    "Brinquedos": (0.10, 12),
    "Papelaria": (0.15, 2),
    "Mercearia": (0.08, 12),
}
#: Category -> extra multiplier on each calendar date (on top of store traffic).
EVENT_LIFT: dict[str, dict[str, float]] = {
    "Eletrônicos": {"black_friday": 1.6, "fathers_day": 1.5, "christmas": 1.4},
    "Casa e Cozinha": {"black_friday": 1.4, "mothers_day": 1.5, "christmas": 1.2},
    "Moda": {"mothers_day": 1.4, "fathers_day": 1.3, "christmas": 1.3, "back_to_school": 1.1},
    "Beleza": {"mothers_day": 1.9, "christmas": 1.4},
    "Esporte": {"black_friday": 1.3, "fathers_day": 1.4},
    "Brinquedos": {"childrens_day": 2.8, "christmas": 2.0, "black_friday": 1.3},
    "Papelaria": {"back_to_school": 2.6},
    "Mercearia": {"christmas": 1.6},
}
SLOW_MOVER_SHARE = 0.45
PROMO_SHARE = 0.6
#: Traffic on a national holiday: malls open with Sunday hours, more people shop online.
HOLIDAY_STORE = 0.8
HOLIDAY_WEB = 1.1
#: The chain grows a little every year (more customers, not more per customer).
CHAIN_GROWTH = 0.06


def seeded(seed: int, stream: str) -> np.random.Generator:
    """An independent numpy stream per purpose, stable across Python versions."""
    digest = hashlib.sha256(f"salesphere:{seed}:{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class Promotion:
    """One SKU's promotion: ``days`` of ``lift`` from day ``start``, then ``dip_days`` of ``dip``."""

    start: int
    days: int
    lift: float
    dip_days: int
    dip: float


def _plan_promotions(rng: np.random.Generator, days: int) -> list[Promotion]:
    out = []
    day = int(rng.integers(0, 90))
    while day < days:
        length = int(rng.integers(5, 15))
        promo = Promotion(
            day,
            length,
            float(rng.uniform(1.5, 2.8)),
            int(rng.integers(5, 15)),
            float(rng.uniform(0.5, 0.85)),
        )
        out.append(promo)
        day += length + promo.dip_days + int(rng.integers(40, 150))
    return out


def _event_weights(day: date) -> dict[str, float]:
    """How much of each calendar date's lift applies on ``day`` (0..1, ramps before it)."""
    weights: dict[str, float] = {}
    bf = (day - calendar.black_friday(day.year)).days
    if -4 <= bf <= 3:
        weights["black_friday"] = 1.0 if bf == 0 else 0.5
    if day.month == 12 and 5 <= day.day <= 24:
        weights["christmas"] = (day.day - 4) / 20
    for name, target, span in (
        ("mothers_day", calendar.mothers_day(day.year), 10),
        ("fathers_day", calendar.fathers_day(day.year), 8),
        ("childrens_day", calendar.childrens_day(day.year), 14),
    ):
        ahead = (target - day).days
        if 0 <= ahead < span:
            weights[name] = 1.0 - ahead / (span * 1.5)
    start, end = calendar.back_to_school(day.year)
    if start - timedelta(days=7) <= day <= end:
        weights["back_to_school"] = 1.0 if day >= start else 0.5
    return weights


class DemandModel:
    """Per-SKU daily multipliers and per-channel traffic for ``days`` days from ``start``."""

    def __init__(self, products: list[ProductSpec], start: date, days: int, seed: int) -> None:
        self.products = products
        self.start = start
        self.days = days
        rng = seeded(seed, "demand")
        k = len(products)
        slow = rng.random(k) < SLOW_MOVER_SHARE
        #: Constant per-SKU factor: slow movers sell 2-20 % of what their rank suggests.
        self.niche = np.where(slow, rng.uniform(0.02, 0.2, k), 1.0)
        #: Log growth per year, e.g. 0.2 = about +22 % a year.
        self.growth = np.clip(rng.normal(0.04, 0.15, k), -0.4, 0.45)
        #: Phase of each SKU's yearly cycle around its category's (a few weeks either way).
        self.phase = rng.normal(0.0, 0.25, k)
        self.promotions: list[list[Promotion]] = [
            _plan_promotions(rng, days) if rng.random() < PROMO_SHARE else [] for _ in range(k)
        ]
        self._promo = np.ones((days, k))
        self._on_promo = np.zeros((days, k), dtype=bool)
        for sku, promos in enumerate(self.promotions):
            for p in promos:
                self._promo[p.start : p.start + p.days, sku] *= p.lift
                self._on_promo[p.start : p.start + p.days, sku] = True
                dip = slice(p.start + p.days, p.start + p.days + p.dip_days)
                self._promo[dip, sku] *= p.dip
        self._amplitude = np.array([SEASONS[p.category][0] for p in products])
        self._peak = np.array([SEASONS[p.category][1] for p in products], dtype=float)
        self._lifts = [EVENT_LIFT.get(p.category, {}) for p in products]

    def day_of(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def sku_multipliers(self, index: int) -> np.ndarray:
        """Every SKU's demand multiplier on day ``index`` (1.0 = its catalog popularity)."""
        day = self.day_of(index)
        years = index / 365.25
        trend = np.exp(self.growth * years)
        peak_angle = 2 * math.pi * (self._peak - 0.5) / 12 + self.phase
        angle = 2 * math.pi * (day.timetuple().tm_yday / 365.25)
        season = np.exp(self._amplitude * np.cos(angle - peak_angle))
        events = np.ones(len(self.products))
        weights = _event_weights(day)
        if weights:
            for sku, lifts in enumerate(self._lifts):
                for name, weight in weights.items():
                    lift = lifts.get(name)
                    if lift:
                        events[sku] *= 1.0 + (lift - 1.0) * weight
        if day.month == 12 and day.day >= 26:
            events *= 0.8  # the quiet week after Christmas
        promo = self._promo[index] if index < self.days else 1.0
        return self.niche * trend * season * events * promo

    def on_promotion(self, index: int) -> np.ndarray:
        """Which SKUs are on promotion on day ``index``."""
        return self._on_promo[index]

    def traffic(self, index: int, *, online: bool) -> float:
        """Visitors (store tickets or web orders) relative to a plain Monday-average day.

        The basic calendar's factor (weekday, Black Friday, Christmas, payday, closed days)
        times national holidays and the chain's growth.
        """
        day = self.day_of(index)
        plan = plan_day(day)
        factor = plan.web_factor if online else plan.store_factor
        if day in calendar.national_holidays(day.year) and not calendar.closed(day):
            factor *= HOLIDAY_WEB if online else HOLIDAY_STORE
        return factor * math.exp(CHAIN_GROWTH * index / 365.25)


def weekday_factor(day: date, *, online: bool) -> float:
    """The plain weekday rhythm (what :meth:`DemandModel.traffic` starts from)."""
    return (WEB_WEEKDAY if online else STORE_WEEKDAY)[day.weekday()]


class DayDemand:
    """:class:`DemandModel` as the event simulation asks for it: per store and day, how many
    visitors and which SKUs their baskets hold (cumulative weights for ``random.choices``).

    Visitors follow :meth:`DemandModel.traffic` times how much the day's SKU multipliers
    lift the catalog as a whole (relative to a plain day), so a Dia das Crianças brings
    more toy buyers, not the same buyers choosing toys instead of something else.

    ``offset`` continues a model that started ``offset`` days before the simulation's first
    day (the history's: same trend, seasons and slow movers); the visitors are then scaled
    to the history's units per SKU (:func:`.history.simulate_history` takes the catalogue's
    popularity as each SKU's share of all units, slow movers included), so the live days
    sell what the history's days did.
    """

    def __init__(
        self, products: list[ProductSpec], start: date, days: int, seed: int, offset: int = 0
    ) -> None:
        self.model = DemandModel(products, start, days, seed)
        self.popularity = np.array([p.popularity for p in products])
        self.offset = offset
        self._plain = (
            float(self.popularity.sum())
            if offset
            else float((self.popularity * self.model.niche).sum())
        )
        self._day: int | None = None
        self._weights: dict[bool, tuple[float, list[float]]] = {}

    def for_store(
        self, day: int, store: object, plan: object, is_promo: list[bool]
    ) -> tuple[float, list[float]]:
        """(ticket factor, cumulative SKU weights) for ``store`` on ``day``."""
        online = bool(getattr(store, "online", False))
        day += self.offset
        if self._day != day:
            self._day, self._weights = day, {}
        if online not in self._weights:
            weights = self.popularity * self.model.sku_multipliers(day)
            if getattr(plan, "promo_depth", (0, 0))[1] > 0:  # Black Friday offers
                weights = weights * np.where(np.array(is_promo), 2.5, 1.0)
            volume = float(weights.sum()) / self._plain
            self._weights[online] = (volume, np.cumsum(weights).tolist())
        volume, cumulative = self._weights[online]
        size = 1.0 if online else float(getattr(store, "size", 1.0))
        return self.model.traffic(day, online=online) * size * volume, cumulative
