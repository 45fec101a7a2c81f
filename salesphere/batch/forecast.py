"""The forecast step of a batch run: read actuals, forecast every series, replace the tables.

Called by :func:`salesphere.batch.runner.run_batch` after its commit, inside its lock, so
the forecast is made from exactly the sales and stock the run absorbed. What runs is
decided here, once, from the settings:

* ``Settings.forecast_enabled`` false: nothing (the tables keep what they had);
* the last backtest is older than ``forecast_backtest_every_days`` (or there is none):
  a full backtest run - every series re-scores every candidate, the winner is refitted,
  both tables are replaced;
* otherwise a cheap update: each series keeps its chosen model and is refitted on the new
  actuals; only ``batch.demand_forecast`` is replaced (``batch.forecast_accuracy`` keeps
  the backtest's rows with that backtest's run id).

Rows carry the run id and the run's start as ``computed_at``, and the models are
deterministic, so running the step again for the same run over the same actuals writes
the same rows.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from salesphere.batch import forecast_tables as warehouse
from salesphere.batch.dataflow import batch_runtime, forecast_beam_args
from salesphere.batch.forecast_beam import forecast_beam
from salesphere.batch.pipeline import staging_prefix
from salesphere.forecast.backtest import BacktestPlan
from salesphere.forecast.engine import ForecastConfig, SeriesForecast, forecast_all
from salesphere.forecast.models import LEVELS, horizon_dates
from salesphere.forecast.series import Series, build_series
from salesphere.settings import Settings

BACKTEST = "backtest"
UPDATE = "update"


@dataclass
class ForecastReport:
    status: str  # succeeded, disabled, no_history or failed
    mode: str = ""
    runtime: str = ""  # process, beam (DirectRunner) or dataflow: where the models ran
    series: int = 0
    rows: int = 0
    origin: str | None = None
    models: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def due_mode(settings: Settings, last_backtest: datetime | None, now: datetime) -> str:
    """Backtest when there is none yet or the last one is at least the configured age."""
    if last_backtest is None:
        return BACKTEST
    if now - last_backtest >= timedelta(days=settings.forecast_backtest_every_days):
        return BACKTEST
    return UPDATE


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def forecast_config(settings: Settings) -> ForecastConfig:
    """The engine's configuration for a batch run: one place, read by the offline evaluation."""
    return ForecastConfig(
        horizon=settings.forecast_horizon_days,
        plan=BacktestPlan(
            folds=settings.forecast_backtest_folds,
            horizon=settings.forecast_horizon_days,
            step=min(28, settings.forecast_horizon_days),
        ),
        workers=settings.forecast_workers,
    )


def fit_all(
    settings: Settings,
    run_id: str,
    series: list[Series],
    config: ForecastConfig,
    *,
    mode: str,
    chosen: dict[tuple[str, str], str],
) -> tuple[str, list[SeriesForecast]]:
    """Fit every series where the settings say; returns (runtime, forecasts in input order).

    A stack whose batch runtime is ``dataflow`` (``SALESPHERE_BATCH_RUNTIME``, the switch
    the pipeline stage obeys) runs the forecast as a Dataflow job too, its files under
    the run's staging prefix; ``forecast_runtime = beam`` runs the same pipeline on
    DirectRunner with ``forecast_workers`` processes; otherwise the engine runs in process.
    All three give the same forecasts (tests/salesphere/batch/test_forecast_beam.py).
    """
    if batch_runtime() == "dataflow":
        workdir = f"gs://{settings.buckets.artifacts}/{staging_prefix(run_id)}/forecast_beam"
        results = forecast_beam(
            series,
            config,
            mode=mode,
            chosen=chosen,
            workdir=workdir,
            beam_args=forecast_beam_args(settings, run_id),
        )
        return "dataflow", results
    if settings.forecast_runtime == "beam":
        workers = max(1, settings.forecast_workers)
        args = (
            ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
            if workers > 1
            else []
        )
        with tempfile.TemporaryDirectory(prefix="salesphere-forecast-") as workdir:
            results = forecast_beam(
                series, config, mode=mode, chosen=chosen, workdir=workdir, beam_args=args
            )
        return "beam", results
    return "process", forecast_all(series, config, mode=mode, chosen=chosen)


@dataclass(frozen=True)
class _Actuals:
    """What the forecast is made from: the series to fit and the models chosen before."""

    origin: date  # the newest day with sales: every forecast starts the day after
    series: list[Series]
    choices: warehouse.Choices


def _read_actuals(settings: Settings, cutoff: datetime, started: datetime) -> _Actuals | None:
    """The series to forecast from the batch tables; None without any sales in the window."""
    since = (started - timedelta(days=settings.forecast_history_days)).date()
    sales = warehouse.read_sales(settings, since)
    if not sales["day"]:
        return None
    origin = max(sales["day"])
    stockouts = warehouse.read_stockout_days(settings, cutoff, since, origin)
    choices = warehouse.read_choices(settings)
    # A series seen only on stock-out days has no demand to learn from: its forecast would
    # be zero and read as "nothing sells". Left out, serving falls back to the observed
    # trailing average for it (serving.replenishment's demand_source says which).
    series = [
        s
        for s in build_series(sales, origin=origin, stockout_days=stockouts)
        if not s.censored.all()
    ]
    return _Actuals(origin=origin, series=series, choices=choices)


def _forecast_rows(
    results: list[SeriesForecast], horizon: int, run_id: str, started: datetime
) -> list[dict[str, Any]]:
    """``batch.demand_forecast`` rows: one per series and horizon day, with every band."""
    rows = []
    for r in results:
        for i, day in enumerate(horizon_dates(r.origin, horizon)):
            row = {
                "store_id": r.store_id,
                "sku": r.sku,
                "forecast_date": day,
                "origin_date": r.origin,
                "model": r.model,
                "units": float(r.mean[i]),
                "run_id": run_id,
                "computed_at": started,
            }
            for level in LEVELS:
                row[f"units_lo_{level}"] = float(r.lo[level][i])
                row[f"units_hi_{level}"] = float(r.hi[level][i])
            rows.append(row)
    return rows


def _accuracy_rows(
    results: list[SeriesForecast], run_id: str, started: datetime
) -> list[dict[str, Any]]:
    """``batch.forecast_accuracy`` rows: each candidate's backtest score per series."""
    return [
        {
            "store_id": r.store_id,
            "sku": r.sku,
            "series_class": r.series_class,
            "model": s.model,
            "chosen": s.model == r.model,
            "wape": _number(s.wape),
            "mase": _number(s.mase),
            "bias": _number(s.bias),
            "folds": s.folds,
            "horizon_days": s.horizon,
            "run_id": run_id,
            "computed_at": started,
        }
        for r in results
        for s in r.scores
    ]


def _model_counts(results: list[SeriesForecast]) -> dict[str, int]:
    """Series per model chosen, by model name: what the run report shows."""
    models: dict[str, int] = {}
    for r in results:
        models[r.model] = models.get(r.model, 0) + 1
    return dict(sorted(models.items()))


def run_forecast(
    settings: Settings,
    *,
    run_id: str,
    cutoff: datetime,
    started: datetime,
    mode: str | None = None,
    check: Any = None,
) -> ForecastReport:
    """Forecast every series from the batch tables and replace the forecast tables.

    ``mode`` forces ``backtest`` or ``update``; ``check`` (the run's lease check) is called
    right before the tables are replaced.
    """
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    actuals = _read_actuals(settings, cutoff, started)
    if actuals is None:
        return ForecastReport(status="no_history")
    timings["read"] = time.monotonic() - t0
    mode = mode or due_mode(settings, actuals.choices.computed_at, started)
    config = forecast_config(settings)
    t1 = time.monotonic()
    runtime, results = fit_all(
        settings, run_id, actuals.series, config, mode=mode, chosen=actuals.choices.models
    )
    timings["models"] = time.monotonic() - t1
    rows = _forecast_rows(results, config.horizon, run_id, started)
    accuracy = _accuracy_rows(results, run_id, started) if mode == BACKTEST else None
    if check is not None:
        check()
    t2 = time.monotonic()
    warehouse.write(settings, run_id, rows, accuracy)
    timings["write"] = time.monotonic() - t2
    timings["total"] = time.monotonic() - t0
    origin = actuals.origin
    return ForecastReport(
        status="succeeded",
        mode=mode,
        runtime=runtime,
        series=len(results),
        rows=len(rows),
        origin=origin.isoformat() if isinstance(origin, date) else str(origin),
        models=_model_counts(results),
        seconds={k: round(v, 3) for k, v in timings.items()},
    )
