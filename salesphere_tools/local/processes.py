"""Start, track and stop the twin's background processes.

Every process is started in its own session (process group) and recorded in
``<twin_dir>/state.json`` with its pid *and* its kernel start time, so ``down`` stops
exactly what ``up`` started, even if the pid was reused by something else meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from salesphere_tools.local.polling import TimedOut, eventually


@dataclass
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    argv: list[str]
    log: str
    endpoint: str


def _start_ticks(pid: int) -> int | None:
    """Kernel start time of a pid (field 22 of /proc/<pid>/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields after it are space-separated.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def is_running(record: ProcessRecord) -> bool:
    """True only if the recorded process is still the same process (pid not reused)."""
    ticks = _start_ticks(record.pid)
    if ticks is None or ticks != record.start_ticks:
        return False
    state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    endpoint: str = "",
    cwd: Path | None = None,
    inherit_env: bool = True,
) -> ProcessRecord:
    """Start ``argv`` in a new session with output to ``<log_dir>/<name>.log``.

    ``inherit_env=False`` gives the process ``env`` alone: a Cloud Function must not see
    the caller's PYTHONPATH or virtual environment.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    ticks = _start_ticks(proc.pid) or 0
    return ProcessRecord(name, proc.pid, ticks, list(argv), str(log_path), endpoint)


def stop(record: ProcessRecord, timeout: float = 10.0) -> bool:
    """SIGTERM the record's process group, then SIGKILL after ``timeout``. True if stopped."""
    if not is_running(record):
        return True
    try:
        os.killpg(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if _exits(record, timeout):
        return True
    try:
        os.killpg(record.pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return _exits(record, 5.0)


def _exits(record: ProcessRecord, timeout: float) -> bool:
    """Whether the record's process is gone within ``timeout`` (reaping it if ours)."""

    def gone() -> bool:
        _reap(record.pid)
        return not is_running(record)

    try:
        return eventually(gone, timeout=timeout, what=f"{record.name} to exit")
    except TimedOut:
        return False


def _reap(pid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    record: ProcessRecord | None = None,
) -> float:
    """Poll ``check`` until it is true; return seconds waited. A readiness check, not a sleep.

    Errors from ``check`` mean "not ready yet" (a port still closed). Fails fast if the
    process being waited for has died, quoting its log's last lines.
    """
    start = time.monotonic()

    def died() -> str | None:
        if record is not None and not is_running(record):
            return f"exited during start-up.\n{tail(record.log)}"
        return None

    try:
        eventually(check, timeout=timeout, what=what, errors_mean_not_yet=True, give_up=died)
    except TimedOut as exc:
        hint = f"\n{tail(record.log)}" if record else ""
        raise TimedOut(f"{what} was not ready after {timeout:.0f} s.{hint}") from exc
    return time.monotonic() - start


def read_log(path: str) -> str:
    """A process log's text ('' if it cannot be read)."""
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "\n".join(f"    {line}" for line in text)


def group_members(leaders: set[int]) -> set[int]:
    """Every live pid whose process group is led by one of ``leaders`` (children included)."""
    members = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[2]) in leaders:
            members.add(int(proc.name))
    return members


def listening_addresses(leaders: set[int]) -> list[str]:
    """Local addresses (``host:port``) that the process groups of ``leaders`` listen on."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    members = group_members(leaders)
    return [
        line.split()[3]
        for line in out.splitlines()
        if any(f"pid={pid}," in line for pid in members)
    ]


def rss_mib(pid: int) -> float:
    """Resident memory of a process group's leader and its children, in MiB."""
    total = 0
    for member in group_members({pid}):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


class StateFile:
    """``state.json`` in the twin directory: what is running and where."""

    def __init__(self, twin_dir: Path) -> None:
        self.path = twin_dir / "state.json"

    def load(self) -> dict[str, ProcessRecord]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text())
        return {name: ProcessRecord(**rec) for name, rec in raw.get("processes", {}).items()}

    def save(self, records: Mapping[str, ProcessRecord], **extra: object) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"processes": {n: asdict(r) for n, r in records.items()}, **extra}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
