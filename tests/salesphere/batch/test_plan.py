"""Run planning: incremental picks only partitions with new files; full and backfill."""

from datetime import UTC, date, datetime, timedelta

import pytest

from salesphere.batch.plan import ArchiveFile, partition_of, plan_run

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _file(day: str, created: datetime, name: str = "a") -> ArchiveFile:
    return ArchiveFile(f"events/received_date={day}/{name}.ndjson", day, created, 10)


FILES = [
    _file("2026-11-26", T0 - timedelta(days=2)),
    _file("2026-11-27", T0 - timedelta(days=1)),
    _file("2026-11-28", T0 - timedelta(days=1), "old"),
    _file("2026-11-28", T0 + timedelta(hours=1), "new"),
]


def test_partition_of_reads_the_folder_name() -> None:
    assert partition_of("events/received_date=2026-11-28/x.ndjson") == "2026-11-28"
    assert partition_of("other/received_date=2026-11-28/x.ndjson") is None


def test_incremental_rebuilds_only_partitions_with_new_files_and_reads_all_their_files() -> None:
    plan = plan_run(FILES, last_success_started_at=T0)
    assert plan.mode == "incremental"
    assert plan.dates == ("2026-11-28",)
    assert {f.name.rsplit("/", 1)[1] for f in plan.files} == {"old.ndjson", "new.ndjson"}


def test_first_run_is_full() -> None:
    plan = plan_run(FILES, last_success_started_at=None)
    assert plan.mode == "full"
    assert plan.dates == ("2026-11-26", "2026-11-27", "2026-11-28")


def test_backfill_takes_the_inclusive_range() -> None:
    plan = plan_run(
        FILES, last_success_started_at=T0, date_from=date(2026, 11, 27), date_to=date(2026, 11, 27)
    )
    assert (plan.mode, plan.dates) == ("backfill", ("2026-11-27",))


def test_backfill_and_full_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either"):
        plan_run(FILES, last_success_started_at=T0, full=True, date_from=date(2026, 11, 27))


def test_nothing_new_gives_an_empty_plan() -> None:
    plan = plan_run(FILES, last_success_started_at=T0 + timedelta(days=1))
    assert plan.empty
