"""Forecast every series of a run: classify, backtest when due, forecast.

Every series is forecast by one method, :class:`~.models.WeekdayBlend` (a robust level
times a weekday profile shrunk toward its store's). The engine used to choose a
statistical model per series by a two-fold backtest; on real sales that choice followed
noise (a quarter of the series got seasonal naive) and the result lost to a 28-day
moving average, so the choice is gone. The store profiles are the one thing shared
across series: :func:`prepare` computes them from every series of the run before the
series are split into chunks.

Two kinds of run share this code (``mode``):

* ``backtest``: every series is backtested (:mod:`.backtest`): the product's forecast
  and the two baselines, scored for ``batch.forecast_accuracy``. This is the run the
  schedule makes weekly (``Settings.forecast_backtest_every_days``).
* ``update``: the forecast is refitted on the new actuals and nothing is scored; a
  series without a score yet (``chosen`` has no entry for it) is backtested on its own.

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
from dataclasses import dataclass, field, replace
from datetime import date
from multiprocessing import get_context

import numpy as np

from salesphere.forecast import backtest as bt
from salesphere.forecast.models import (
    CALIBRATION_DAYS,
    LEVELS,
    StoreContext,
    WeekdayBlend,
    backtested_models,
    store_context,
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
    #: What the blend learns per store from all the run's series, filled by :func:`prepare`.
    stores: tuple[tuple[str, StoreContext], ...] = ()

    def store(self, store_id: str) -> StoreContext | None:
        return dict(self.stores).get(store_id)


def prepare(config: ForecastConfig, series: list[Series]) -> ForecastConfig:
    """``config`` with each store's context from ``series`` (unchanged if it has them).

    The level factors are computed for the run's origin and for every origin the
    forecast is also made from (the backtest folds, the interval calibration), each
    from the series as they were then.
    """
    if config.stores:
        return config
    plan = config.plan
    offsets = {0, CALIBRATION_DAYS}
    offsets |= {plan.horizon + plan.step * i for i in range(plan.folds)}
    by_store: dict[str, list[tuple[np.ndarray, date]]] = {}
    for s in series:
        by_store.setdefault(s.store_id, []).append((s.y, s.start))
    stores = tuple(
        (store, store_context(items, offsets)) for store, items in sorted(by_store.items())
    )
    return replace(config, stores=stores)


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
    """Classify, backtest if asked (or if never scored), forecast one series.

    ``chosen`` is the model the last backtest recorded for the series (None: never
    scored, so it is backtested now whatever the mode).
    """
    cls = classify(series.y)
    scores: list[bt.Score] = []
    model = WeekdayBlend(config.store(series.store_id), len(series.y))
    backtested = False
    if run_backtest or chosen is None:
        scores = bt.backtest(series, backtested_models(model), config.plan)
        backtested = bool(scores)
    prediction = model.predict(series.y, series.start, config.horizon)
    return SeriesForecast(
        series.store_id,
        series.sku,
        cls.name,
        model.name,
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
    config = prepare(config, items)
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
