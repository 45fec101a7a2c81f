"""Generator throughput, for ``salesphere bench``: how fast can we make a test data set?

Not a test (timing depends on the machine); the bench command records it next to the
other layers' figures.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.generator import generate

#: Distinct events one size-1.0 store produces per simulated day at default volumes
#: (sale lines, returns, counts, stock movements), measured on 30-day runs.
EVENTS_PER_STORE_DAY = 960
BENCH_DAYS = 30


def bench_config(events: int, out: Path, seed: int = 7, xlsx: bool = True) -> GeneratorConfig:
    """A 30-day config sized to produce roughly ``events`` distinct events."""
    stores = max(1, min(200, math.ceil(events / (EVENTS_PER_STORE_DAY * BENCH_DAYS))))
    return GeneratorConfig(out=out, days=BENCH_DAYS, stores=stores, seed=seed, xlsx=xlsx)


def bench_generate(
    events: int = 1_000_000, out: Path | None = None, xlsx: bool = True
) -> dict[str, Any]:
    """Generate about ``events`` events and report throughput (events/s, records/s, MB/s).

    ``xlsx=False`` writes the Excel store's exports as CSV, isolating openpyxl's cost
    (it writes ~4k rows/s and is the single largest item of a run).
    """
    with tempfile.TemporaryDirectory(prefix="salesphere-bench-") as tmp:
        target = out or Path(tmp) / "data"
        config = bench_config(events, target, xlsx=xlsx)
        began = time.perf_counter()
        cpu_began = time.process_time()
        manifest = generate(config)
        seconds = time.perf_counter() - began
        cpu_seconds = time.process_time() - cpu_began
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    accepted = manifest.expected["accepted_events"]
    written = manifest.total_events
    return {
        "name": "generate",
        "days": config.days,
        "stores": config.stores,
        "xlsx": xlsx,
        "seconds": round(seconds, 2),
        # CPU time too: on a shared machine wall time mostly measures the neighbours.
        "cpu_seconds": round(cpu_seconds, 2),
        "events_per_cpu_second": round(accepted / cpu_seconds),
        "distinct_events": accepted,
        "records_written": written,
        "files": len(manifest.files),
        "bytes": size,
        "events_per_second": round(accepted / seconds),
        "records_per_second": round(written / seconds),
        "mb_per_second": round(size / seconds / 1e6, 1),
    }
