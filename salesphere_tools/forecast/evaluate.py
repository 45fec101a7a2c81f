"""The forecast engine on real sales: rolling origins, dollar-weighted scores, baselines.

For each origin (``days before the last day`` of the data) every sampled series is cut at
the origin, trimmed to the history the batch layer reads (``forecast_history_days``),
forecast by the engine exactly as a batch run configures it
(:func:`salesphere.batch.forecast.forecast_config`, backtest mode: the weekly run), and the
first ``horizon`` days are compared with what sold. Beside it, from the same history:

* ``seasonal_naive``: each weekday sells what it sold last week (the engine's own);
* ``ma28``: the average of the last 28 days, flat (the engine's trailing average);
* ``ma28_weekday``: MA28 times the store's weekday index (the store's total sales per
  weekday over the last 364 days, relative to its average day);
* ``croston_sba``: Croston with the Syntetos-Boylan correction (:mod:`.alternatives`).

Scores per method, per origin and pooled over the origins (sums over every series and
day, so pooled is not an average of ratios): WAPE, bias, and RMSSE at item x store
weighted by each series' dollar sales over the 28 days before the origin (the M5 rules;
:mod:`salesphere.forecast.metrics`). A series enters an origin once it has sold before it
(the days before a product's first sale are not demand); RMSSE also needs its scale to
be positive.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np

from salesphere.forecast import metrics
from salesphere.forecast.models import CANDIDATES, SEASONAL_NAIVE, TRAILING_AVG
from salesphere.forecast.series import Series
from salesphere_tools.forecast.alternatives import CrostonSba
from salesphere_tools.forecast.m5 import M5

ENGINE = "engine"
MA28_WEEKDAY = "ma28_weekday"
BASELINES = ("seasonal_naive", "ma28", MA28_WEEKDAY, "croston_sba")
METHODS = (ENGINE, *BASELINES)
DEFAULT_ORIGINS = (28, 56, 84)
DEFAULT_HORIZON = 28
POOLED = "pooled"
#: Days of store history behind the weekday index.
INDEX_DAYS = 364


@dataclass
class Tally:
    """Sums over series and days, so tallies of origins add up to the pooled one."""

    abs_error: float = 0.0
    actual: float = 0.0
    forecast: float = 0.0
    weighted_rmsse: float = 0.0
    weight: float = 0.0
    series: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual else math.nan

    @property
    def bias(self) -> float:
        return (self.forecast - self.actual) / self.actual if self.actual else math.nan

    @property
    def rmsse(self) -> float:
        return self.weighted_rmsse / self.weight if self.weight else math.nan

    def figures(self) -> dict[str, float]:
        return {
            "wape": round(self.wape, 4),
            "bias": round(self.bias, 4),
            "rmsse": round(self.rmsse, 4),
            "series": self.series,
        }


@dataclass
class Evaluation:
    dataset: str
    horizon: int
    origins: list[int]
    sample: int | None
    seed: int
    series: int
    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)  # method -> origin
    seconds: dict[str, float] = field(default_factory=dict)
    engine_models: dict[str, int] = field(default_factory=dict)

    def tally(self, method: str, origin: int | str) -> Tally:
        return self.tallies[method][str(origin)]

    def columns(self) -> list[str]:
        return [*(str(o) for o in self.origins), POOLED]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "horizon": self.horizon,
            "origins_days_before_last": self.origins,
            "sample": self.sample,
            "seed": self.seed,
            "series": self.series,
            "scores": {
                method: {col: t.figures() for col, t in by_origin.items()}
                for method, by_origin in self.tallies.items()
            },
            "seconds": self.seconds,
            "engine_models": self.engine_models,
        }


def weekday_index(data: M5, stores: Sequence[str], end: int) -> dict[str, np.ndarray]:
    """Per store, seven factors by Python weekday (Monday 0): mean day of that weekday / mean day.

    From the store's total units over the :data:`INDEX_DAYS` days before ``end`` (every
    series of the store in the data, not only the sample: it is the store's rhythm).
    """
    out = {}
    begin = max(0, end - INDEX_DAYS)
    weekdays = (np.arange(begin, end) + data.start.weekday()) % 7
    for store in sorted(set(stores)):
        total = data.units[data.store_id == store, begin:end].sum(axis=0)
        per_day = np.array([total[weekdays == d].mean() for d in range(7)])
        mean = per_day.mean()
        out[store] = per_day / mean if mean > 0 else np.ones(7)
    return out


Baseline = Callable[[np.ndarray, Series, np.ndarray], np.ndarray]


def _baselines(horizon: int) -> dict[str, Baseline]:
    naive, average, croston = CANDIDATES[SEASONAL_NAIVE], CANDIDATES[TRAILING_AVG], CrostonSba()
    return {
        "seasonal_naive": lambda y, s, _ix: naive.point(y, s.start, horizon),
        "ma28": lambda y, s, _ix: average.point(y, s.start, horizon),
        MA28_WEEKDAY: lambda y, s, ix: average.point(y, s.start, horizon) * ix,
        "croston_sba": lambda y, s, _ix: croston.point(y, s.start, horizon),
    }


def origin_series(data: M5, rows: np.ndarray, end: int, history_days: int) -> list[Series]:
    """The sampled series as known on day ``end - 1``, from their first sale, trimmed."""
    out = []
    for r in rows:
        sold = np.flatnonzero(data.units[r, :end] > 0)
        if sold.size == 0:
            continue  # not listed yet: no forecast to score
        first = max(int(sold[0]), end - history_days)
        out.append(
            Series(
                str(data.store_id[r]),
                str(data.item_id[r]),
                data.start + timedelta(days=first),
                data.units[r, first:end].copy(),
            )
        )
    return out


def evaluate(
    data: M5,
    *,
    series: int | None = None,
    seed: int = 0,
    origins: Sequence[int] = DEFAULT_ORIGINS,
    horizon: int = DEFAULT_HORIZON,
    workers: int = 1,
    dataset: str = "m5",
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Score the engine and the baselines over ``origins`` on a sample of ``series``."""
    from salesphere.batch.forecast import forecast_config
    from salesphere.forecast.engine import BACKTEST, forecast_all
    from salesphere.settings import Settings

    settings = Settings()
    config = replace(forecast_config(settings), workers=max(1, workers))
    if not 1 <= horizon <= config.horizon:
        raise ValueError(f"--horizon must be between 1 and {config.horizon} (the engine's)")
    for k in origins:
        if not horizon <= k < data.days - 56:
            raise ValueError(
                f"origin {k} days before the last day leaves no {horizon}-day window to score "
                f"or too little history: use {horizon} to {data.days - 57}"
            )
    rows = data.sample(series, seed)
    result = Evaluation(dataset, horizon, list(origins), series, seed, len(rows))
    for method in METHODS:
        result.tallies[method] = {c: Tally() for c in result.columns()}
    baselines = _baselines(horizon)
    row_of = {(str(data.store_id[r]), str(data.item_id[r])): r for r in rows}
    for k in origins:
        end = data.days - k
        began = time.perf_counter()
        known = origin_series(data, rows, end, settings.forecast_history_days)
        forecasts = forecast_all(known, config, mode=BACKTEST)
        result.seconds[f"engine_{k}"] = round(time.perf_counter() - began, 1)
        index = weekday_index(data, [s.store_id for s in known], end)
        days = (np.arange(end, end + horizon) + data.start.weekday()) % 7
        for s, f in zip(known, forecasts, strict=True):
            r = row_of[s.key]
            result.engine_models[f.model] = result.engine_models.get(f.model, 0) + 1
            actual = data.units[r, end : end + horizon]
            full = data.units[r, :end]
            scale = metrics.rmsse_scale(full)
            weight = metrics.dollar_weight(full, data.price[r, :end])
            points = {ENGINE: f.mean[:horizon]}
            for name, fn in baselines.items():
                points[name] = fn(s.y, s, index[s.store_id][days])
            for name, point in points.items():
                _score(result.tallies[name], str(k), actual, point, scale, weight)
        if progress:
            progress(f"origin {k}: {len(known)} series in {result.seconds[f'engine_{k}']} s")
    return result


def _score(
    tallies: dict[str, Tally],
    origin: str,
    actual: np.ndarray,
    point: np.ndarray,
    scale: float,
    weight: float,
) -> None:
    err, act, fc = metrics.absolute_error_sums(actual, point)
    one = Tally(abs_error=err, actual=act, forecast=fc, series=1)
    value = metrics.rmsse(actual, point, scale)
    if not math.isnan(value):
        one.weighted_rmsse, one.weight = weight * value, weight
    tallies[origin].add(one)
    tallies[POOLED].add(one)


def targets(result: Evaluation) -> dict[str, bool]:
    """The accuracy targets, pooled over the origins (see docs/forecast.md)."""
    engine = result.tallies[ENGINE]
    ma28 = result.tallies["ma28"][POOLED]
    weekday = result.tallies[MA28_WEEKDAY]
    return {
        "rmsse <= 0.95 x ma28": engine[POOLED].rmsse <= 0.95 * ma28.rmsse,
        "wape <= 0.95 x ma28_weekday": engine[POOLED].wape <= 0.95 * weekday[POOLED].wape,
        "|bias| <= 5%": abs(engine[POOLED].bias) <= 0.05,
        "every origin's wape <= ma28_weekday's": all(
            engine[str(k)].wape <= weekday[str(k)].wape for k in result.origins
        ),
    }
