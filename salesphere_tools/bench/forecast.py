"""The forecast benchmark for ``make bench``: fit time, accuracy and memory on generated history.

Not a test (timings depend on the machine). What it measures, on two years of daily
history per series from :func:`salesphere_tools.generate.history.daily_history` with a seed
and store count no test uses (:data:`SEED`, :data:`STORES`):

1. **Model choice** (child process 1): the rolling-origin backtest over the history up to
   :data:`HOLDOUT` days before its end chooses a model per series.
2. **Fit and forecast** (child process 2, a fresh interpreter, so imports and every
   first-call warm-up are inside the clock): each series' chosen model is fitted on the
   same history and forecasts the :data:`HOLDOUT` days nobody has looked at yet.
3. **Accuracy**: those forecasts against what sold, on observed days (stock-out days
   excluded), beside seasonal naive (season 7) and the 28-day trailing average made from
   the same origin: WAPE overall and on the intermittent series. Because the holdout was
   not used to choose, this is the accuracy a user would see, not the backtest's own
   (optimistic) score, which is reported beside it.
4. **The batch function's share**: the weekly backtest run at the demo's scale in one
   process (the function has one vCPU), against its 1800 s / 2048 MiB limits.

Each child samples its own peak RSS, workers included (``PeakTreeMemory``).
Run alone: ``python -m salesphere_tools.bench.forecast`` (prints JSON).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Neither is used by any test (tests use seeds 1-99 and at most 4 stores).
SEED = 2031
STORES = 7
SKUS = 125  # (7 stores + WEB) x 125 SKUs = 1,000 series
DAYS = 730
HOLDOUT = 56
#: The demo's scale (4 stores + WEB, 200 SKUs) for the batch-function figure.
FUNCTION_STORES = 4
FUNCTION_SKUS = 200


def _history(stores: int, skus: int, scale: float = 1.0):
    from salesphere_tools.generate.history import daily_history

    return daily_history(stores=stores, skus=max(3, round(skus * scale)), days=DAYS, seed=SEED)


def choose_models(workers: int, out: Path, scale: float = 1.0) -> dict[str, Any]:
    """Child 1: backtest on the history before the holdout; write the choices to ``out``."""
    from salesphere.forecast.engine import BACKTEST, Accuracy, ForecastConfig, forecast_all
    from salesphere.forecast.models import SEASONAL_NAIVE
    from salesphere.forecast.series import build_series
    from salesphere_tools.bench.rss import PeakTreeMemory

    history = _history(STORES, SKUS, scale)
    series = build_series(history.frame(until=DAYS - HOLDOUT))
    with PeakTreeMemory() as peak:
        began = time.perf_counter()
        results = forecast_all(series, ForecastConfig(workers=workers), mode=BACKTEST)
        seconds = time.perf_counter() - began
    chosen, naive = Accuracy(), Accuracy()
    for r in results:
        by_model = {s.model: s for s in r.scores}
        if r.model in by_model and SEASONAL_NAIVE in by_model:
            chosen.add(by_model[r.model])
            naive.add(by_model[SEASONAL_NAIVE])
    out.write_text(json.dumps({f"{r.store_id}|{r.sku}": r.model for r in results}))
    return {
        "series": len(series),
        "backtest_seconds": round(seconds, 1),
        "backtest_peak_mib": round(peak.peak_mib),
        "backtest_wape_chosen": round(chosen.wape, 4),
        "backtest_wape_seasonal_naive": round(naive.wape, 4),
    }


def fit_and_forecast(workers: int, choices: Path, scale: float = 1.0) -> dict[str, Any]:
    """Child 2: fit the chosen models, forecast the holdout, score it against baselines."""
    from salesphere.forecast.engine import UPDATE, ForecastConfig, forecast_all
    from salesphere.forecast.metrics import absolute_error_sums
    from salesphere.forecast.models import CANDIDATES, SEASONAL_NAIVE, TRAILING_AVG
    from salesphere.forecast.series import INTERMITTENT, build_series
    from salesphere_tools.bench.rss import PeakTreeMemory

    history = _history(STORES, SKUS, scale)
    series = build_series(history.frame(until=DAYS - HOLDOUT))
    picks = {tuple(k.split("|", 1)): v for k, v in json.loads(choices.read_text()).items()}
    # The worker processes start inside the clock below, so their imports and first
    # calls are timed; this records that no statistical library was loaded beforehand.
    cold = "statsforecast" not in sys.modules
    with PeakTreeMemory() as peak:
        began = time.perf_counter()
        results = forecast_all(
            series, ForecastConfig(horizon=HOLDOUT, workers=workers), mode=UPDATE, chosen=picks
        )
        seconds = time.perf_counter() - began
    full = {s.key: s for s in build_series(history.frame())}
    sums: dict[tuple[str, str], list[float]] = {}
    for r, s in zip(results, series, strict=True):
        actual = full[s.key].y[-HOLDOUT:]
        for label, point in (
            ("chosen", r.mean),
            (SEASONAL_NAIVE, CANDIDATES[SEASONAL_NAIVE].point(s.y, s.start, HOLDOUT)),
            (TRAILING_AVG, CANDIDATES[TRAILING_AVG].point(s.y, s.start, HOLDOUT)),
        ):
            for group in ("all", r.series_class):
                acc = sums.setdefault((group, label), [0.0, 0.0])
                err, act, _ = absolute_error_sums(actual, point)
                acc[0] += err
                acc[1] += act
    wape = {f"{g}/{m}": round(e / a, 4) for (g, m), (e, a) in sums.items() if a}
    intermittent = sum(1 for r in results if r.series_class == INTERMITTENT)
    return {
        "fit_forecast_seconds": round(seconds, 1),
        "fit_forecast_cold": cold,
        "fit_forecast_peak_mib": round(peak.peak_mib),
        "intermittent_series": intermittent,
        "wape": wape,
    }


def function_scale(scale: float = 1.0) -> dict[str, Any]:
    """The weekly backtest run at the demo's scale in one process (one vCPU)."""
    from salesphere.forecast.engine import BACKTEST, ForecastConfig, forecast_all
    from salesphere.forecast.series import build_series
    from salesphere_tools.bench.rss import PeakTreeMemory

    history = _history(FUNCTION_STORES, FUNCTION_SKUS, scale)
    with PeakTreeMemory() as peak:
        began = time.perf_counter()
        series = build_series(history.frame())
        results = forecast_all(series, ForecastConfig(workers=1), mode=BACKTEST)
        seconds = time.perf_counter() - began
    return {
        "function_series": len(results),
        "function_backtest_seconds": round(seconds, 1),
        "function_peak_mib": round(peak.peak_mib),
    }


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "salesphere_tools.bench.forecast", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"forecast bench child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_forecast(
    workers: int = 2, *, scale: float = 1.0, function: bool = True
) -> dict[str, Any]:
    """Run the children and merge their figures (see the module doc); ``scale`` multiplies
    the number of SKUs (a smoke run keeps a few series of the same two years)."""
    with tempfile.TemporaryDirectory(prefix="salesphere-forecast-bench-") as tmp:
        choices = Path(tmp) / "choices.json"
        out = _child("choose", str(workers), str(choices), str(scale))
        out |= _child("fit", str(workers), str(choices), str(scale))
        if function:
            out |= _child("function", str(scale))
    out["workers"] = workers
    return out


def main(argv: list[str]) -> None:
    command, *rest = argv
    if command == "choose":
        result = choose_models(int(rest[0]), Path(rest[1]), float(rest[2]))
    elif command == "fit":
        result = fit_and_forecast(int(rest[0]), Path(rest[1]), float(rest[2]))
    elif command == "function":
        result = function_scale(float(rest[0]))
    else:
        result = bench_forecast()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:] or ["all"])
