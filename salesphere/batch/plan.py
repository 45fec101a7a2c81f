"""Which receive-date partitions a batch run rebuilds (pure logic, no I/O).

Incremental (the default, what the schedule runs): only partitions holding an archive
file created since the last *successful* run started, minus a clock margin, so a file
that landed while that run was listing is picked up next time. ``full``: every
partition. ``date_from``/``date_to``: a backfill of exactly that range. Rebuilding a
partition replaces it, so planning too much is only slower, never wrong; planning too
little is what the margin guards against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from salesphere import names

_PARTITION = re.compile(rf"^{names.ARCHIVE_PREFIX}/received_date=(\d{{4}}-\d{{2}}-\d{{2}})/")
#: Clock skew allowance between the GCS clock and the batch runner's clock.
CLOCK_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class ArchiveFile:
    """One archive object (``events/received_date=YYYY-MM-DD/<name>.ndjson``)."""

    name: str
    received_date: str
    created: datetime
    size: int
    generation: int = 0

    @property
    def uri_path(self) -> str:
        return self.name


def partition_of(object_name: str) -> str | None:
    """The ``received_date`` of an archive object name, or None when it is not one."""
    match = _PARTITION.match(object_name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class RunPlan:
    """What one run does: the mode and the files of the partitions it rebuilds."""

    mode: str  # incremental, full or backfill
    dates: tuple[str, ...]
    files: tuple[ArchiveFile, ...]

    @property
    def empty(self) -> bool:
        return not self.dates


def plan_run(
    files: Iterable[ArchiveFile],
    *,
    last_success_started_at: datetime | None,
    full: bool = False,
    date_from: date | None = None,
    date_to: date | None = None,
    margin: timedelta = CLOCK_MARGIN,
) -> RunPlan:
    """Choose the partitions to rebuild; every file of a chosen partition is read."""
    all_files = sorted(files, key=lambda f: (f.received_date, f.name))
    if date_from or date_to:
        if full:
            raise ValueError("choose either --full or --from/--to, not both")
        low = (date_from or date.min).isoformat()
        high = (date_to or date.max).isoformat()
        if low > high:
            raise ValueError(f"--from {low} is after --to {high}; swap them")
        mode = "backfill"
        dates = {f.received_date for f in all_files if low <= f.received_date <= high}
    elif full or last_success_started_at is None:
        mode = "full"
        dates = {f.received_date for f in all_files}
    else:
        mode = "incremental"
        since = last_success_started_at - margin
        dates = {f.received_date for f in all_files if f.created >= since}
    chosen = tuple(f for f in all_files if f.received_date in dates)
    return RunPlan(mode=mode, dates=tuple(sorted(dates)), files=chosen)
