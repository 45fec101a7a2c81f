"""Peak resident memory of this process *and its descendants*, sampled from ``/proc``.

Why not ``getrusage``: ``RUSAGE_SELF`` misses Beam's worker processes
(``--direct_running_mode=multi_processing``) and ``RUSAGE_CHILDREN`` reports the largest
single child, not the sum of a tree that is still running. The benchmark needs the sum
at its highest point, so a background thread adds up ``VmRSS`` of the tree every 100 ms.
Linux only; elsewhere it falls back to ``getrusage`` of this process.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path
from types import TracebackType

_PROC = Path("/proc")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _status_kib(pid: int | str, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (0 when the process or field is gone)."""
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def own_peak_mib() -> float:
    """This process's own peak RSS since it started its current program (``VmHWM``).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that high-water mark across
    ``exec``, so a child forked from a large parent (a benchmark run that already holds a
    forecast's memory) reports the parent's peak as its own.
    """
    peak = _status_kib("self", "VmHWM")
    return peak / 1024 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def descendants(root: int | None = None) -> set[int]:
    """Every process below ``root`` (default: this process), not ``root`` itself."""
    children = _children_map()
    found: set[int] = set()
    stack = list(children.get(root or os.getpid(), []))
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_rss_mib(root: int | None = None, exclude: frozenset[int] = frozenset()) -> float:
    """Current RSS (MiB) of ``root`` (default: this process) and every descendant.

    ``exclude`` drops processes (and what they started), e.g. emulators a test or the
    benchmark started before the measured work: they are not the pipeline's memory.
    """
    root = root or os.getpid()
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid in exclude:
            continue
        total += _rss_kib(pid)
        stack.extend(children.get(pid, []))
    return total / 1024


class PeakTreeMemory:
    """Context manager: ``peak_mib`` is the highest tree RSS seen while it was open.

    Processes already running below this one when it opens (a twin's emulators) are
    left out: only this process and what it starts meanwhile (Beam workers) count.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._before: frozenset[int] = frozenset()

    def _run(self) -> None:
        while True:
            self.peak_mib = max(self.peak_mib, tree_rss_mib(exclude=self._before))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakTreeMemory:
        if _PROC.is_dir():
            self._before = frozenset(descendants())
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        else:
            self.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
