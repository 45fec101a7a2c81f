"""``make bench``: every benchmark side by side with its baseline, in one table.

Each benchmark is a function returning :class:`Figure` rows. A figure has the measured
value, the baseline measured in the same run (the naive way of doing the same work), a
target, and whether higher or lower is better; the ratio and pass/fail are derived here,
so every layer reports the same way. Results are printed as a table and written as JSON.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One measured number, its baseline and its target."""

    area: str
    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""
    ratio: float | None = field(init=False, default=None)
    passed: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.baseline:
            self.ratio = (
                (
                    self.value / self.baseline
                    if self.higher_is_better
                    else self.baseline / self.value
                )
                if self.value
                else None
            )
        if self.target is not None:
            self.passed = (
                self.value >= self.target if self.higher_is_better else self.value <= self.target
            )


Benchmark = Callable[[], list[Figure]]


@dataclass
class BenchRun:
    figures: list[Figure] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "figures": [asdict(f) for f in self.figures],
                "errors": self.errors,
                "seconds": self.seconds,
            },
            indent=2,
        )


def run_all(benchmarks: dict[str, Benchmark], progress: Callable[[str], None]) -> BenchRun:
    """Run each benchmark; one failing benchmark is reported, not fatal to the others."""
    run = BenchRun()
    for name, bench in benchmarks.items():
        progress(name)
        start = time.perf_counter()
        try:
            run.figures.extend(bench())
        except Exception:
            run.errors[name] = traceback.format_exc(limit=5)
        run.seconds[name] = round(time.perf_counter() - start, 1)
    return run


def write(run: BenchRun, path: Path) -> Path:
    path.write_text(run.to_json())
    return path
