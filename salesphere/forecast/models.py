"""The models: the product's forecast and the baselines it is scored against.

The product's forecast
    ``weekday_blend`` (:class:`WeekdayBlend`): a robust level (median of moving averages
    over several windows) times a weekday profile shrunk toward the store's. Every series
    gets it; the baselines are scored beside it. Statistical alternatives (exponential
    smoothing, Croston-type models) live with the evaluation tooling
    (``salesphere_tools.forecast.alternatives``): each of them, chosen per series by
    backtest, lost to a moving average on real sales, and keeping them out of this
    library keeps their dependencies (statsforecast and its scientific stack) out of
    every deployed function.

Every model answers :meth:`Model.predict` for one series: a point forecast and 80 % and
95 % prediction intervals for each of the next ``h`` days, never below zero. The input is
the series with stock-out days ``NaN`` (see :mod:`.series`); a model with a weekly season
fills censored days with what the same weekday sold around them
(:func:`~.series.impute_censored`) *for the fit only*. Intervals are conformal: the
residual quantiles of a forecast made ``CALIBRATION_DAYS`` before the origin, added to
the point forecast.

Baselines (scored for every series in the backtest)
    ``seasonal_naive``: each weekday sells what it sold last week.
    ``trailing_avg_28``: the average of the last 28 observed days, flat - what the
    platform's stock alerts used before forecasts existed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from salesphere.forecast.series import impute_censored

SEASON = 7
LEVELS = (80, 95)
#: Days before the origin that calibrate conformal intervals (every model here).
CALIBRATION_DAYS = 56
SEASONAL_NAIVE = "seasonal_naive"
TRAILING_AVG = "trailing_avg_28"
BASELINES = (SEASONAL_NAIVE, TRAILING_AVG)


@dataclass
class Prediction:
    """Point forecast and interval bounds for ``h`` days (all >= 0)."""

    mean: np.ndarray
    lo: dict[int, np.ndarray]
    hi: dict[int, np.ndarray]

    @classmethod
    def flat(cls, value: float, h: int) -> Prediction:
        mean = np.full(h, max(0.0, value))
        return cls(mean, {lv: mean.copy() for lv in LEVELS}, {lv: mean.copy() for lv in LEVELS})

    def clipped(self) -> Prediction:
        mean = np.maximum(np.nan_to_num(self.mean), 0.0)
        lo = {lv: np.minimum(np.maximum(np.nan_to_num(v), 0.0), mean) for lv, v in self.lo.items()}
        hi = {lv: np.maximum(np.nan_to_num(v), mean) for lv, v in self.hi.items()}
        return Prediction(mean, lo, hi)


class Model:
    """One candidate: ``predict(y, start, h)`` for a series starting on ``start``."""

    name = ""

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        raise NotImplementedError

    def predict(self, y: np.ndarray, start: date, h: int, *, intervals: bool = True) -> Prediction:
        if not np.isfinite(y).any():
            return Prediction.flat(0.0, h)
        mean = self.point(y, start, h)
        pred = Prediction(mean, {}, {})
        if intervals:
            pred = conformal(self, y, start, pred)
        return pred.clipped()


def conformal(model: Model, y: np.ndarray, start: date, pred: Prediction) -> Prediction:
    """Intervals from the model's own errors on the ``CALIBRATION_DAYS`` before the origin.

    The model is refitted on the history up to ``CALIBRATION_DAYS`` earlier and its
    forecast for those days compared with what sold (observed days only); the residuals'
    quantiles, added to the point forecast, bound the intervals. Too little history: the
    spread of recent daily sales around their mean is used instead.
    """
    cal = CALIBRATION_DAYS
    observed = y[~np.isnan(y)]
    if len(y) >= cal + 4 * SEASON and np.isfinite(y[:-cal]).any():
        past = model.point(y[:-cal], start, cal)
        actual = y[-cal:]
        keep = ~np.isnan(actual)
        residuals = actual[keep] - past[keep]
    else:
        residuals = observed[-cal:] - observed[-cal:].mean()
    if residuals.size == 0:
        residuals = np.zeros(1)
    lo, hi = {}, {}
    for level in LEVELS:
        tail = (100 - level) / 200
        lo[level] = pred.mean + np.quantile(residuals, tail)
        hi[level] = pred.mean + np.quantile(residuals, 1 - tail)
    return Prediction(pred.mean, lo, hi)


class SeasonalNaive(Model):
    name = SEASONAL_NAIVE

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        filled = impute_censored(y, SEASON)
        week = filled[-SEASON:] if filled.size >= SEASON else np.full(SEASON, filled.mean())
        reps = math.ceil(h / SEASON)
        return np.tile(week, reps)[:h]


class TrailingAverage(Model):
    name = TRAILING_AVG
    days = 28

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        recent = y[-self.days :]
        recent = recent[~np.isnan(recent)]
        return np.full(h, float(recent.mean()) if recent.size else 0.0)


@dataclass(frozen=True)
class StoreContext:
    """What the blend learns from a store's series together (:func:`store_context`)."""

    #: Units per observed day by weekday (Monday first), relative to the mean day.
    profile: tuple[float, ...] = (1.0,) * SEASON
    #: (days before the run's newest day, factor): the store's total of the series'
    #: 28-day averages over the total of their blended levels, at that origin.
    level_factors: tuple[tuple[int, float], ...] = ()

    def level_factor(self, days_before: int) -> float:
        return dict(self.level_factors).get(days_before, 1.0)


class WeekdayBlend(Model):
    """The product's forecast: a robust level times a weekday profile (see docs/forecast.md).

    * **Level**: the median of the mean daily sales over the last 7, 14, 28, 56 and 112
      observed days. A single window is either jumpy (7 days) or slow (112 days); the
      median of several follows a real change within a couple of weeks and shrugs off a
      one-off spike or a short stock-out, and on intermittent series it lands on the
      window that has seen enough sales to say something.
    * **Store total**: the long windows lag when a whole store grows or falls into a
      season, so the levels of a store's series are scaled together until their sum is
      the store's 28-day average (``StoreContext.level_factors``): the store's total
      follows its recent weeks, the median decides how it splits among the series.
    * **Weekday profile**: the series' own sales per weekday over the last 364 days,
      shrunk toward its store's profile with ``PRIOR_UNITS`` units of prior per weekday:
      a product selling thousands of units keeps its own rhythm, one selling a few a
      month takes the store's.

    No parameter is fitted per series, so there is nothing to over-fit and nothing to
    choose by a noisy backtest; measured on real sales (``salesphere forecast evaluate``)
    it beats every per-series statistical model the engine used to choose from.
    ``length`` is the series' full length in the run: a call on a shorter head (a
    backtest fold, the interval calibration) uses the store's factor at that origin.
    """

    name = "weekday_blend"
    windows = (7, 14, 28, 56, 112)
    profile_days = 364
    #: Units of the store's profile added to each weekday of the series' own (see above).
    PRIOR_UNITS = 100.0
    #: The store factor is kept within these bounds (a store's data gone wrong).
    FACTOR_BOUNDS = (0.5, 2.0)

    def __init__(self, store: StoreContext | None = None, length: int | None = None) -> None:
        self.store = store or StoreContext()
        profile = np.asarray(self.store.profile, float)
        self.store_profile = profile / profile.mean() if profile.mean() > 0 else np.ones(SEASON)
        self.length = length

    def level(self, y: np.ndarray) -> float:
        """The median of the windows' mean daily sales (observed days only)."""
        means = []
        for days in self.windows:
            recent = y[-days:]
            recent = recent[~np.isnan(recent)]
            if recent.size:
                means.append(float(recent.mean()))
        return float(np.median(means)) if means else 0.0

    def weekday_factors(self, y: np.ndarray, start: date) -> np.ndarray:
        """Seven factors (Monday first) averaging 1."""
        n = len(y)
        first = max(0, n - self.profile_days)
        recent = y[first:]
        weekday = (np.arange(first, n) + start.weekday()) % SEASON
        observed = ~np.isnan(recent)
        units = np.bincount(weekday[observed], weights=recent[observed], minlength=SEASON)
        days = np.bincount(weekday[observed], minlength=SEASON).astype(float)
        total_days = days.sum()
        mean = units.sum() / total_days if total_days else 0.0
        if mean <= 0:
            return self.store_profile.copy()
        prior = self.PRIOR_UNITS
        rate = (units + prior * self.store_profile) / (days + prior / mean)
        return rate / rate.mean()

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        days_before = 0 if self.length is None else self.length - len(y)
        factor = float(np.clip(self.store.level_factor(days_before), *self.FACTOR_BOUNDS))
        weekday = (np.arange(len(y), len(y) + h) + start.weekday()) % SEASON
        return self.level(y) * factor * self.weekday_factors(y, start)[weekday]


def trailing_mean(y: np.ndarray, days: int = 28) -> float:
    recent = y[-days:]
    recent = recent[~np.isnan(recent)]
    return float(recent.mean()) if recent.size else 0.0


def store_context(
    series: Iterable[tuple[np.ndarray, date]], offsets: Iterable[int] = (0,), days: int = 364
) -> StoreContext:
    """A store's :class:`StoreContext` from its series' ``(y, start)``, all ending the same day.

    The profile sums the last ``days`` of every series (large sellers weigh most, as in
    the store's own till). A level factor is computed for each origin in ``offsets``
    (days before the newest day) from the series' heads as they were then.
    """
    items = list(series)
    units = np.zeros(SEASON)
    counts = np.zeros(SEASON)
    for y, start in items:
        first = max(0, len(y) - days)
        recent = y[first:]
        weekday = (np.arange(first, len(y)) + start.weekday()) % SEASON
        observed = ~np.isnan(recent)
        units += np.bincount(weekday[observed], weights=recent[observed], minlength=SEASON)
        counts += np.bincount(weekday[observed], minlength=SEASON)
    rate = np.divide(units, counts, out=np.zeros(SEASON), where=counts > 0)
    profile = rate / rate.mean() if rate.mean() > 0 else np.ones(SEASON)
    blend = WeekdayBlend()
    factors = []
    for offset in sorted(set(offsets)):
        heads = [y[: len(y) - offset] for y, _ in items if len(y) > offset]
        level = sum(blend.level(h) for h in heads)
        recent = sum(trailing_mean(h) for h in heads)
        factors.append((offset, recent / level if level > 0 else 1.0))
    return StoreContext(tuple(float(v) for v in profile), tuple(factors))


BLEND = WeekdayBlend.name


CANDIDATES: dict[str, Model] = {
    model.name: model for model in (SeasonalNaive(), TrailingAverage(), WeekdayBlend())
}


def backtested_models(product: Model | None = None) -> list[Model]:
    """What the backtest scores: the product's forecast, then the two baselines."""
    return [product or CANDIDATES[BLEND], CANDIDATES[SEASONAL_NAIVE], CANDIDATES[TRAILING_AVG]]


def horizon_dates(origin: date, h: int) -> list[date]:
    return [origin + timedelta(days=i) for i in range(1, h + 1)]
