"""The benchmarks ``make bench`` runs, each turned into :class:`Figure` rows with targets.

Each area's module in this package measures it and returns plain numbers with its baseline
measured in the same run; this module attaches the targets so the table is comparable
across areas. Benchmarks that need a warehouse or the ingest function get a twin from
``twins`` (by default a private one per case: own directory, free ports, never the
developer's own); the test suite passes one shared twin and a tiny ``scale`` so every case
runs on every change. The speed cases start their own twin: the runtime under measurement
is part of what they start.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from salesphere.settings import Ports, Settings
from salesphere_tools.bench.figures import Benchmark, Figure
from salesphere_tools.local.prereqs import free_port
from salesphere_tools.local.twin import Twin


@contextmanager
def private_twin(only: set[str]) -> Iterator[Settings]:
    """A throwaway twin on free ports with only the named services."""
    with tempfile.TemporaryDirectory(prefix="salesphere-bench-") as tmp:
        ports = Ports(**{name: free_port() for name in Ports.__dataclass_fields__})
        settings = replace(Settings(), ports=ports, twin_dir=Path(tmp) / "twin")
        twin = Twin(settings)
        try:
            twin.up(only=only)
            yield settings
        finally:
            twin.down()


#: Gives a running twin with at least the named services, for the duration of a case.
Twins = Callable[[set[str]], AbstractContextManager[Settings]]


def generator(scale: float) -> list[Figure]:
    from salesphere_tools.bench.generate import bench_generate

    got = bench_generate(int(1_000_000 * scale))
    return [
        Figure(
            "generate",
            f"{got['distinct_events']:,} events",
            got["events_per_second"],
            "events/s",
            target=25_000,  # "1M events in well under a minute": 40 s at most
            note=f"{got['seconds']} s wall",
        ),
    ]


def ingest_files(scale: float) -> list[Figure]:
    from salesphere_tools.bench.ingest import bench_csv, bench_xlsx

    rows = max(200, int(100_000 * scale))
    out = []
    for kind, bench, target in (("csv", bench_csv, 50_000), ("xlsx", bench_xlsx, 20_000)):
        got = bench(rows)
        out.append(
            Figure(
                "ingest",
                f"{kind.upper()} file drop, {rows:,} rows",
                got[f"{kind}_rows_per_s"],
                "rows/s",
                target=target,
                baseline=got[f"{kind}_baseline_rows_per_s"],
                baseline_name="naive",
            )
        )
        out.append(
            Figure(
                "ingest",
                f"{kind.upper()} peak memory",
                got[f"{kind}_peak_mib"],
                "MiB",
                target=300,
                higher_is_better=False,
            )
        )
    return out


def ingest_http(scale: float, twins: Twins) -> list[Figure]:
    from salesphere_tools.bench.ingest import bench_http

    with twins({"ingest-http"}) as settings:
        got = bench_http(settings, events=max(1_000, int(50_000 * scale)), batch_size=500)
    return [
        Figure(
            "ingest",
            "HTTP → Pub/Sub end to end, batches of 500",
            got["http_events_per_s"],
            "events/s",
            target=20_000,
            note=f"{got['http_concurrent_events_per_s']:,} events/s with "
            f"{got['http_concurrent_senders']} senders",
        ),
        Figure(
            "ingest",
            "HTTP handler per CPU-second (in process)",
            got["http_inprocess_events_per_cpu_s"],
            "events/CPU-s",
            target=20_000,
            baseline=got["http_baseline_events_per_cpu_s"],
            baseline_name="naive",
        ),
    ]


def ingest_load(scale: float, twins: Twins) -> list[Figure]:
    from salesphere_tools.bench.load import DEFAULT_RATES, run_load

    # A smaller scale climbs fewer rate steps, each for less time.
    steps = max(2, min(len(DEFAULT_RATES), round(len(DEFAULT_RATES) * scale)))
    with twins({"ingest-http"}) as settings:
        got: dict[str, Any] = run_load(
            settings, DEFAULT_RATES[:steps], seconds_per_step=max(1.0, 5.0 * min(scale, 1.0))
        )
    figures = [
        Figure(
            "load",
            "sustainable ingest rate (p95 ≤ 1 s)",
            float(got.get("sustainable_events_per_s") or 0),
            "events/s",
            note=f"shed {got.get('shed', 0)} requests with 429/503, lost {got.get('lost', 0)}",
        ),
        Figure(
            "load",
            "events lost under overload",
            float(got.get("lost", 0)),
            "events",
            target=0,
            higher_is_better=False,
        ),
    ]
    return figures


def speed(scale: float) -> list[Figure]:
    from salesphere_tools.bench.speed import bench_runtime

    out = []
    for runtime, target in (("function", 2.0), ("beam", 5.0)):
        got = bench_runtime(
            runtime,
            events=max(200, int(5_000 * scale)),
            backlog_events=max(1_000, int(20_000 * scale)),
        )
        fresh, through = got["freshness"], got["throughput"]
        out.append(
            Figure(
                "speed",
                f"{runtime}: freshness p95 at {fresh['rate_target']:.0f} ev/s",
                fresh["p95_s"] if fresh["p95_s"] is not None else float("inf"),
                "s",
                target=target,
                higher_is_better=False,
                note=(
                    f"p50 {fresh['p50_s']} s, max {fresh['max_s']} s; first batch on a fresh "
                    f"process {fresh.get('cold_start_s')} s (not in the percentiles)"
                ),
            )
        )
        out.append(
            Figure(
                "speed",
                f"{runtime}: sustained throughput",
                through["events_per_s"],
                "events/s",
                target=500,
            )
        )
        wrong = fresh["duplicates"] + fresh["missing"] + through["duplicates"] + through["missing"]
        out.append(
            Figure(
                "speed",
                f"{runtime}: duplicates + losses",
                wrong,
                "events",
                target=0,
                higher_is_better=False,
            )
        )
    return out


def batch(scale: float, events: int, twins: Twins) -> list[Figure]:
    from salesphere_tools.bench.batch import run_all

    size = max(2_000, int(events * scale))
    with twins(set()) as settings:
        # The naive one-event-per-element pipeline is measured on at most 1M events (its
        # rate is per event, and at 5M it would take longer than everything else together).
        naive_n = min(size, 1_000_000)
        got = run_all(settings, size, naive_events=naive_n, repeats=10 if scale >= 0.1 else 2)
    rebuild = got["rebuild"]
    out = [
        Figure(
            "batch",
            f"rebuild {size:,} events (archive → master → views)",
            rebuild["events_per_s"],
            "events/s",
            target=100_000,
            baseline=got["naive"]["events_per_s"],
            baseline_name="naive Beam",
            note=f"naive measured on {naive_n:,} events",
        ),
        Figure(
            "batch",
            f"rebuild {size:,} vs direct DuckDB",
            rebuild["events_per_s"],
            "events/s",
            baseline=got["duckdb"]["events_per_s"],
            baseline_name="DuckDB",
        ),
        Figure(
            "batch",
            f"rebuild {size:,} peak memory",
            rebuild["peak_rss_mib"],
            "MiB",
            target=2048,
            higher_is_better=False,
        ),
    ]
    for view, times in sorted(got["serving"].items()):
        if view.startswith("_"):
            continue
        out.append(
            Figure(
                "serving",
                f"{view} p95 at {size:,} events",
                times["p95_s"],
                "s",
                target=1.0,
                higher_is_better=False,
            )
        )
    return out


def batch_function_memory(scale: float, twins: Twins) -> list[Figure]:
    """Peak RSS of the batch function's process, against the size it is deployed with."""
    from salesphere import limits
    from salesphere_tools.bench.batch_memory import run_cases
    from salesphere_tools.local.prereqs import REPO_ROOT

    size = limits.FUNCTIONS[limits.BATCH].memory_mib
    with twins(set()) as settings:
        runs = run_cases(settings, REPO_ROOT / "services" / "batch", scale)
    return [
        Figure(
            "batch",
            f"batch function peak memory, {run.case}",
            run.peak_rss_mib,
            "MiB",
            target=size / 2,  # deployed with 2x headroom over the peak
            higher_is_better=False,
            note=f"{run.events:,} events, largest file {run.archive_mib} MB, "
            f"idle {run.idle_rss_mib} MiB, {run.seconds} s",
        )
        for run in runs
    ]


def forecast(scale: float) -> list[Figure]:
    """Demand forecast: 1,000 series of two years (seed and store count no test uses)."""
    from salesphere_tools.bench.forecast import bench_forecast

    got = bench_forecast(workers=2, scale=scale)
    figures = [
        _forecast_time(got),
        _forecast_wape(got),
        _forecast_memory(got),
        _forecast_function(got),
    ]
    if "intermittent/chosen" in got["wape"]:  # a small sample may hold no intermittent series
        figures.append(_forecast_intermittent_wape(got))
    return figures


def _forecast_time(got: dict[str, Any]) -> Figure:
    """Wall time of fitting and forecasting every series, worker start-up included."""
    return Figure(
        "forecast",
        f"fit + forecast {got['series']:,} series x 2 years, incl. warm-up",
        got["fit_forecast_seconds"],
        "s",
        target=60,
        higher_is_better=False,
        note=f"{got['workers']} worker processes, started cold; backtest and model choice "
        f"{got['backtest_seconds']} s",
    )


def _forecast_wape(got: dict[str, Any]) -> Figure:
    """Holdout error of the chosen models against the seasonal naive they must beat."""
    wape = got["wape"]
    chosen, naive = wape["all/chosen"], wape["all/seasonal_naive"]
    return Figure(
        "forecast",
        "holdout WAPE, chosen models (56 days, overall)",
        chosen,
        "WAPE",
        target=round(naive * 0.85, 4),  # at least 15 % better than seasonal naive
        higher_is_better=False,
        baseline=naive,
        baseline_name="seasonal naive",
        note=f"{1 - chosen / naive:.1%} better than seasonal naive; trailing 28-day "
        f"average {wape['all/trailing_avg_28']}; backtest (in-sample choice) "
        f"{got['backtest_wape_chosen']} vs {got['backtest_wape_seasonal_naive']}",
    )


def _forecast_memory(got: dict[str, Any]) -> Figure:
    """The larger memory peak of the two phases (fit + forecast, and the backtest)."""
    return Figure(
        "forecast",
        "fit + forecast peak memory (all processes)",
        max(got["fit_forecast_peak_mib"], got["backtest_peak_mib"]),
        "MiB",
        target=1024,
        higher_is_better=False,
    )


def _forecast_function(got: dict[str, Any]) -> Figure:
    """The weekly backtest as the batch function runs it: one process within its timeout."""
    from salesphere import limits

    fn = limits.FUNCTIONS[limits.BATCH]
    return Figure(
        "forecast",
        f"batch function: weekly backtest of {got['function_series']:,} series, 1 process",
        got["function_backtest_seconds"],
        "s",
        target=fn.timeout_s,
        higher_is_better=False,
        note=f"peak {got['function_peak_mib']} MiB of {fn.memory_mib} MiB",
    )


def _forecast_intermittent_wape(got: dict[str, Any]) -> Figure:
    """Holdout error on intermittent series, where no model should do worse than naive."""
    wape = got["wape"]
    return Figure(
        "forecast",
        f"holdout WAPE, {got['intermittent_series']} intermittent series",
        wape["intermittent/chosen"],
        "WAPE",
        target=wape["intermittent/seasonal_naive"],  # no worse than seasonal naive
        higher_is_better=False,
        baseline=wape["intermittent/seasonal_naive"],
        baseline_name="seasonal naive",
    )


def fiscal(scale: float) -> list[Figure]:
    """Fiscal XML: the compiled NF-e schemas' memory and how fast documents are read."""
    from salesphere_tools.bench.fiscal import measure

    got = measure(scale)
    return [
        Figure(
            "fiscal",
            "compiled NF-e 4.00 + event schemas, resident memory",
            got["schemas_mib"],
            "MiB",
            target=32,  # small beside the 256 MiB ingest-http function
            higher_is_better=False,
            note=f"compiled once per process in {got['compile_ms']} ms; importing lxml, "
            f"nfelib and the fiscal package adds {got['import_mib']} MiB",
        ),
        Figure(
            "fiscal",
            "read + schema-validate + key-check real NF-e (nfelib samples)",
            got["documents_per_second"],
            "documents/s",
            target=100,
            note=f"{got['items_per_second']:,} items/s, one core",
        ),
    ]


#: The real-data sample ``make bench`` scores (``make bench-real`` scores every series).
REAL_SERIES = 1500
REAL_SEED = 7
REAL_ORIGINS = (28, 56, 84)


def forecast_real(scale: float = 1.0, *, series: int | None = None) -> list[Figure]:
    """The engine against the baselines on M5 sales (a fixed sample; ``scale`` shrinks it).

    Targets, pooled over the origins: dollar-weighted RMSSE at most 0.95 x the 28-day
    moving average's, WAPE at most 0.95 x MA28 x store weekday index's, |bias| at most
    5 %, and no origin worse than MA28 x weekday in WAPE.
    """
    from salesphere.forecast.engine import default_workers
    from salesphere_tools.forecast import m5
    from salesphere_tools.forecast.evaluate import MA28_WEEKDAY, POOLED, evaluate

    n = series if series is not None else max(5, int(REAL_SERIES * scale))
    got = evaluate(
        m5.load(), series=n, seed=REAL_SEED, origins=REAL_ORIGINS, workers=default_workers()
    )
    engine, ma28, weekday = (got.tallies[m] for m in ("engine", "ma28", MA28_WEEKDAY))
    label = f"M5, {got.series:,} series x {len(got.origins)} origins"
    worst = max(engine[str(k)].wape / weekday[str(k)].wape for k in got.origins)
    return [
        Figure(
            "forecast",
            f"{label}: dollar-weighted RMSSE",
            engine[POOLED].rmsse,
            "RMSSE",
            target=round(0.95 * ma28[POOLED].rmsse, 4),
            higher_is_better=False,
            baseline=ma28[POOLED].rmsse,
            baseline_name="MA28",
        ),
        Figure(
            "forecast",
            f"{label}: WAPE",
            engine[POOLED].wape,
            "WAPE",
            target=round(0.95 * weekday[POOLED].wape, 4),
            higher_is_better=False,
            baseline=weekday[POOLED].wape,
            baseline_name="MA28 x weekday",
            note=f"worst origin {worst:.3f} x MA28 x weekday's WAPE (target <= 1)",
        ),
        Figure(
            "forecast",
            f"{label}: |bias|",
            abs(engine[POOLED].bias),
            "share",
            target=0.05,
            higher_is_better=False,
            note=f"MA28's {ma28[POOLED].bias:+.1%}; engine {sum(got.seconds.values()):.0f} s",
        ),
    ]


#: The replay's fixed sample for ``make bench`` (``make bench-real`` replays every series).
REPLAY_SERIES = 600


def replay_real(scale: float = 1.0, *, series: int | None = None) -> list[Figure]:
    """The purchase policy replayed on M5 sales (weekly review, 3-day lead time, pack 1).

    Targets per service level: aggregate unit fill between 0.5 point below and 1.5
    points above the target, at least 75 % of the series reaching it, and at 0.98 at
    most 10 days of stock on hand.
    """
    from salesphere_tools import replay

    n = series if series is not None else max(5, int(REPLAY_SERIES * scale))
    got = replay.simulate(replay.m5_data(), series=n, seed=REAL_SEED)
    out = []
    for o in got.outcomes:
        label = f"M5 replay, {o.series:,} series, target {o.target}"
        inside = o.target - 0.005 <= o.fill <= o.target + 0.015
        out.append(
            Figure(
                "replenishment",
                f"{label}: unit fill",
                o.fill,
                "fill",
                target=round(o.target - 0.005, 4),
                note=f"{'inside' if inside else 'OUTSIDE'} [{o.target - 0.005:.3f}, "
                f"{o.target + 0.015:.3f}]; {o.orders_per_year:.0f} orders/year, "
                f"{o.stockout_days_per_year:.1f} stock-out days/year",
            )
        )
        out.append(
            Figure("replenishment", f"{label}: series meeting it", o.meeting, "share", target=0.75)
        )
        out.append(
            Figure(
                "replenishment",
                f"{label}: days of stock on hand",
                o.days_on_hand,
                "days",
                target=10.0 if o.target == 0.98 else None,
                higher_is_better=False,
            )
        )
    return out


def suite(scale: float = 1.0, twins: Twins = private_twin) -> dict[str, Benchmark]:
    """Benchmarks by name, in the order they run; ``scale`` multiplies every case's size."""
    return {
        "generate": lambda: generator(scale),
        "ingest-files": lambda: ingest_files(scale),
        "ingest-http": lambda: ingest_http(scale, twins),
        "ingest-load": lambda: ingest_load(scale, twins),
        "speed": lambda: speed(scale),
        "batch-1M": lambda: batch(scale, 1_000_000, twins),
        "batch-5M": lambda: batch(scale, 5_000_000, twins),
        "batch-function-memory": lambda: batch_function_memory(scale, twins),
        "forecast": lambda: forecast(scale),
        "fiscal": lambda: fiscal(scale),
        "forecast-real": lambda: forecast_real(scale),
        "replenishment-replay": lambda: replay_real(scale),
    }
