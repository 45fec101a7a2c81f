"""Forecast every series of a run: classify, backtest when due, fit the chosen model.

Two kinds of run share this code (``mode``):

* ``backtest``: every series is backtested (:mod:`.backtest`) over all its candidates and
  the two baselines, the winner is chosen and fitted on the whole history. This is the
  expensive run the schedule makes weekly (``Settings.forecast_backtest_every_days``).
* ``update``: every series keeps the model its last backtest chose (``chosen``) and is
  only refitted on the new actuals; a series without a choice yet (new in the catalog, or
  one that only now has history enough) is backtested on its own.

Series are independent, so they are split into chunks over ``workers`` processes (the
benchmark uses both cores; the batch function has one vCPU and runs them in process).
Each process limits BLAS to one thread: the models' small least-squares solves ran 20x
slower with two threads competing on a busy machine (measured, 14 ms vs 0.6 ms).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context

import numpy as np

from salesphere.forecast import backtest as bt
from salesphere.forecast.models import (
    CANDIDATES,
    LEVELS,
    candidates_for,
    default_model,
    usable,
)
from salesphere.forecast.series import Series, classify

BACKTEST = "backtest"
UPDATE = "update"


@dataclass(frozen=True)
class ForecastConfig:
    """What a run computes; defaults are the batch layer's (``Settings``)."""

    horizon: int = 56
    plan: bt.BacktestPlan = field(default_factory=bt.BacktestPlan)
    workers: int = 1
    #: Series per task handed to a worker process.
    chunk: int = 50


@dataclass
class SeriesForecast:
    """One series' outcome: its class, the model used, the forecast and (if run) scores."""

    store_id: str
    sku: str
    series_class: str
    model: str
    origin: date
    mean: np.ndarray
    lo: dict[int, np.ndarray]
    hi: dict[int, np.ndarray]
    scores: list[bt.Score] = field(default_factory=list)
    backtested: bool = False


#: One unit of work: (series, config, each series' chosen model or None, run_backtest).
Task = tuple[list[Series], ForecastConfig, list[str | None], bool]


def forecast_series(
    series: Series, config: ForecastConfig, chosen: str | None, run_backtest: bool
) -> SeriesForecast:
    """Classify, backtest if asked (or if there is no choice), fit and forecast one series."""
    cls = classify(series.y)
    scores: list[bt.Score] = []
    model_name = chosen if chosen in CANDIDATES else None
    backtested = False
    if run_backtest or model_name is None:
        scores = bt.backtest(series, candidates_for(cls.name), config.plan)
        backtested = bool(scores)
        model_name = bt.choose(scores) or default_model(cls.name)
    # The table names the model that really made the forecast (a short history falls back).
    model_name = usable(model_name, series.y)
    prediction = CANDIDATES[model_name].predict(series.y, series.start, config.horizon)
    return SeriesForecast(
        series.store_id,
        series.sku,
        cls.name,
        model_name,
        series.origin,
        prediction.mean,
        prediction.lo,
        prediction.hi,
        scores,
        backtested,
    )


def run_task(args: Task) -> list[SeriesForecast]:
    """Forecast one task's series in order, BLAS limited to one thread (see the module doc)."""
    from threadpoolctl import threadpool_limits

    series, config, chosen, run_backtest = args
    with threadpool_limits(limits=1):
        return [
            forecast_series(s, config, c, run_backtest) for s, c in zip(series, chosen, strict=True)
        ]


def chunk_tasks(
    series: Iterable[Series],
    config: ForecastConfig,
    *,
    mode: str = BACKTEST,
    chosen: dict[tuple[str, str], str] | None = None,
) -> list[Task]:
    """The series split into tasks of ``config.chunk``, in input order.

    Shared by :func:`forecast_all` and the batch layer's Beam path, so both hand the same
    series to :func:`run_task` together and their results can be compared one for one.
    """
    if mode not in (BACKTEST, UPDATE):
        raise ValueError(f"mode must be {BACKTEST!r} or {UPDATE!r}, not {mode!r}")
    items = list(series)
    picks = [(chosen or {}).get(s.key) for s in items]
    run_backtest = mode == BACKTEST
    return [
        (items[i : i + config.chunk], config, picks[i : i + config.chunk], run_backtest)
        for i in range(0, len(items), config.chunk)
    ]


def forecast_all(
    series: Iterable[Series],
    config: ForecastConfig,
    *,
    mode: str = BACKTEST,
    chosen: dict[tuple[str, str], str] | None = None,
) -> list[SeriesForecast]:
    """Every series' :class:`SeriesForecast`, in input order."""
    tasks = chunk_tasks(series, config, mode=mode, chosen=chosen)
    workers = max(1, min(config.workers, len(tasks)))
    if workers == 1:
        return [row for task in tasks for row in run_task(task)]
    # fork: the workers inherit the imported models instead of importing them again.
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return [row for part in pool.map(run_task, tasks) for row in part]


def default_workers() -> int:
    """CPUs this process may use (the batch function's one vCPU, the bench's two cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Accuracy:
    """Errors summed over series: WAPE and bias of a set of series are ratios of sums."""

    abs_error: float = 0.0
    actual: float = 0.0
    forecast: float = 0.0
    series: int = 0

    def add(self, score: bt.Score) -> None:
        self.abs_error += score.abs_error
        self.actual += score.actual
        self.forecast += score.forecast
        self.series += 1

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual else math.nan

    @property
    def bias(self) -> float:
        return (self.forecast - self.actual) / self.actual if self.actual else math.nan


def level_keys() -> tuple[int, ...]:
    return LEVELS
