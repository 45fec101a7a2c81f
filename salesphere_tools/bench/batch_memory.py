"""Peak memory of the batch function's process on realistic inputs, to size it in cloud.

The batch function runs the whole batch layer in its own process (Beam DirectRunner in
process, then the warehouse SQL), so what Cloud Functions must give it is the peak
resident memory of that process and anything it starts. This measures exactly that: a
fresh interpreter imports the batch entry point the way functions-framework does and
answers one request, while this process samples its tree's RSS from ``/proc``.

Two inputs matter: a busy day (10,000 orders of three lines, with redeliveries) and one
large archive object (about 100 MB, a backlog of several days drained at once would be
written in chunks of ``salesphere.batch.archive.MAX_CHUNK_BYTES``), read by one Beam
bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere_tools.bench.batch import synthesize_archive
from salesphere_tools.bench.rss import tree_rss_mib

#: Lines per order in the busy-day case (the generator's web and store orders average 2-3).
LINES_PER_ORDER = 3
#: Canonical events that make one archive object of just over 100 MB (measured ~400 bytes
#: per event in archive NDJSON).
EVENTS_PER_100MB = 260_000

_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from main import handle
from salesphere.settings import Settings
body, status = handle({"mode": "full", "archive_lag_seconds": 0}, {}, Settings.from_env())
print(json.dumps({"status": status, "body": body}, default=str))
"""


@dataclass(frozen=True)
class MemoryRun:
    case: str
    events: int
    archive_mib: float
    peak_rss_mib: float
    idle_rss_mib: float
    seconds: float
    status: int


def _sample_peak(pid: int, done: threading.Event, out: list[float]) -> None:
    peak = 0.0
    while not done.wait(0.05):
        peak = max(peak, tree_rss_mib(pid))
    out.append(peak)


def _archive_mib(settings: Settings) -> float:
    client = clients.storage_client(settings)
    blobs = list(client.list_blobs(settings.buckets.archive, prefix="events/"))
    return max((b.size or 0) for b in blobs) / 2**20 if blobs else 0.0


def idle_rss_mib(service_dir: Path, environ: dict[str, str]) -> float:
    """RSS of an interpreter that has imported the batch entry point and nothing more."""
    code = (
        "import sys, pathlib; sys.path.insert(0, sys.argv[1]); import main; "
        "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() "
        "if l.startswith('VmRSS')][0].split()[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(service_dir)],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def measure(settings: Settings, case: str, events: int, service_dir: Path) -> MemoryRun:
    """Fill the archive with ``events`` (one file) and run one full batch in a child."""
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    for blob in bucket.list_blobs(prefix="events/"):
        blob.delete()
    synthesize_archive(settings, events, files_of=events)
    environ = {**os.environ, **settings.to_environ()}
    idle = idle_rss_mib(service_dir, environ)
    done, peak = threading.Event(), []
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(service_dir)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = threading.Thread(target=_sample_peak, args=(proc.pid, done, peak))
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.monotonic() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"batch child failed ({proc.returncode}):\n{stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return MemoryRun(
        case=case,
        events=events,
        archive_mib=round(_archive_mib(settings), 1),
        peak_rss_mib=round(peak[0], 1),
        idle_rss_mib=round(idle, 1),
        seconds=round(seconds, 1),
        status=int(result["status"]),
    )


def run_cases(settings: Settings, service_dir: Path, scale: float = 1.0) -> list[MemoryRun]:
    """The two sizing cases: a day of 10,000 orders, and one 100 MB archive file
    (``scale`` shrinks both for a smoke run; the case names say the size measured)."""
    orders = max(100, round(10_000 * scale))
    big = max(500, round(EVENTS_PER_100MB * scale))
    return [
        measure(settings, f"day of {orders:,} orders", orders * LINES_PER_ORDER, service_dir),
        measure(settings, f"one archive file of {big:,} events", big, service_dir),
    ]
