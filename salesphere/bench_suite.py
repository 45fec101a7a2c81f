"""The benchmarks ``make bench`` runs, each turned into :class:`Figure` rows with targets.

Each layer measures itself (``salesphere/<layer>/bench.py``) and returns plain numbers;
this module attaches the targets from the issues and the baselines measured in the same
run, so the table is comparable across layers.
"""

from __future__ import annotations

from salesphere.benchmarks import Benchmark, Figure


def generator(scale: float) -> list[Figure]:
    from salesphere.generate import bench_generate

    events = int(1_000_000 * scale)
    got = bench_generate(events)
    return [
        Figure(
            "generate",
            f"{got['distinct_events']:,} events",
            got["events_per_second"],
            "events/s",
            # "1M events in well under a minute": 40 s at most for 1M.
            target=25_000,
        ),
        Figure("generate", "wall time", got["seconds"], "s", higher_is_better=False),
    ]


def suite(scale: float = 1.0) -> dict[str, Benchmark]:
    """Benchmarks by name, in the order they run."""
    return {
        "generate": lambda: generator(scale),
    }
