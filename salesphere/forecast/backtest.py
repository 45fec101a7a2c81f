"""Rolling-origin backtest: how the forecast and the baselines would have done.

For a series of ``n`` days the backtest makes ``folds`` forecasts of ``horizon`` days from
origins ``step`` days apart, the last one ending on the newest day: each fold fits on the
days before its origin only, exactly as a forecast made then would have. Errors are summed
over the folds on observed days (stock-out days are ``NaN`` and count nowhere), so WAPE and
bias are those of every forecast day of every fold together; MASE averages the folds, each
scaled by its own training history.

The scores are reported (``batch.forecast_accuracy``), not used to pick a model per
series: two folds of one series are too few to tell models apart, and choosing on them
picked noise (see :mod:`.engine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from salesphere.forecast import metrics
from salesphere.forecast.models import Model
from salesphere.forecast.series import Series


@dataclass(frozen=True)
class BacktestPlan:
    """Where the folds are: ``folds`` origins, ``step`` days apart, ``horizon`` days each."""

    folds: int = 2
    horizon: int = 56
    step: int = 28
    #: A fold needs at least this much history before its origin to be made at all.
    min_train: int = 56

    def origins(self, n: int) -> list[int]:
        """Training lengths of the folds that fit in ``n`` days (oldest first)."""
        last = n - self.horizon
        out = [last - self.step * i for i in range(self.folds)]
        return sorted(o for o in out if o >= self.min_train)


@dataclass
class Score:
    """One model's backtest on one series."""

    model: str
    folds: int = 0
    horizon: int = 0
    abs_error: float = 0.0
    actual: float = 0.0
    forecast: float = 0.0
    mase_folds: list[float] = field(default_factory=list)

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual > 0 else math.nan

    @property
    def bias(self) -> float:
        return (self.forecast - self.actual) / self.actual if self.actual > 0 else math.nan

    @property
    def mase(self) -> float:
        finite = [m for m in self.mase_folds if not math.isnan(m)]
        return float(np.mean(finite)) if finite else math.nan


def backtest(series: Series, models: list[Model], plan: BacktestPlan) -> list[Score]:
    """Every model's :class:`Score` on ``series``; empty when no fold fits the history."""
    origins = plan.origins(len(series.y))
    scores = {m.name: Score(m.name, horizon=plan.horizon) for m in models}
    for origin in origins:
        train = series.y[:origin]
        actual = series.y[origin : origin + plan.horizon]
        if not np.isfinite(train).any():
            continue
        scale = metrics.seasonal_scale(train)
        for model in models:
            point = model.predict(train, series.start, plan.horizon, intervals=False).mean
            err, act, fc = metrics.absolute_error_sums(actual, point)
            score = scores[model.name]
            score.folds += 1
            score.abs_error += err
            score.actual += act
            score.forecast += fc
            score.mase_folds.append(metrics.mase(actual, point, scale))
    return [s for s in scores.values() if s.folds]
