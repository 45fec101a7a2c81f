"""salesphere_tools.costs: measured sizes, billing rules, and which quota runs out first."""

from __future__ import annotations

import dataclasses
import json

import pytest

from salesphere.envelope import pack
from salesphere_tools.costs import (
    PUBSUB_MIN_BILLED_BYTES,
    QUOTAS,
    EventSizes,
    StackProfile,
    Traffic,
    estimate,
    exhaustion_point,
    measure_sizes,
    runs_per_day,
    sample_events,
)


def test_sizes_are_measured_from_the_real_envelope_format() -> None:
    sizes = measure_sizes(50)
    events = sample_events(50)
    actual = len(next(pack(events, "pos", 50)).to_json())
    assert sizes.envelope_bytes(50) == pytest.approx(actual, rel=1e-9)
    one = len(next(pack(events[:1], "pos", 1)).to_json())
    assert sizes.envelope_bytes(1) == pytest.approx(one, abs=60)  # per-event size varies a bit
    assert 200 < sizes.event_bytes < 1000


def test_small_messages_are_billed_at_the_pubsub_minimum() -> None:
    from salesphere_tools import costs

    tiny = EventSizes(event_bytes=10, envelope_overhead_bytes=10, row_logical_bytes=100)
    traffic = Traffic(live_share=1.0, other_events_per_line=0.0, files_per_day=0, reject_share=0)
    found = costs.designs()
    now = estimate(1000, StackProfile(), traffic, tiny, found["now"])
    # 1000 envelopes/day, published once and pushed to the speed layer, each >= 1000 B,
    # and pulled by the batch run in one page of 1000: billed at their real 30 B each
    # (two events an order), since the page is one request above the minimum
    pushed = 1000 * 2 * PUBSUB_MIN_BILLED_BYTES
    pulled = 1000 * tiny.envelope_bytes(2)
    assert now.use("pubsub_gib").used == pytest.approx((pushed + pulled) * 30.4 / 1024**3, rel=1e-6)
    assert now.use("pubsub_export_gib").used == 0
    # A Cloud Storage subscription's throughput is billed apart, with no free tier.
    before = estimate(1000, StackProfile(), traffic, tiny, found["before"])
    export = before.use("pubsub_export_gib")
    assert export.used == pytest.approx(1000 * 30 * 30.4 / 1024**3, rel=1e-6)
    assert export in before.billed_without_free_tier and export.overage_usd > 0


def test_usage_grows_with_volume_and_scheduler_does_not() -> None:
    sizes = measure_sizes(50)
    low, high = estimate(10_000, sizes=sizes), estimate(200_000, sizes=sizes)
    for key in ("pubsub_gib", "bq_storage_gib", "bq_query_tib", "fn_invocations", "fn_vcpu_s"):
        assert high.use(key).used > 10 * low.use(key).used, key
    assert high.use("scheduler_jobs").used == low.use("scheduler_jobs").used == 1


def test_first_to_run_out_is_the_most_used_quota() -> None:
    sizes = measure_sizes(50)
    est = estimate(200_000, sizes=sizes)
    assert est.first_to_run_out.share == max(u.share for u in est.uses if u.quota.free)
    assert est.first_to_run_out.share > 1
    assert est.overage_usd > 0


def test_exhaustion_point_is_where_share_crosses_one() -> None:
    sizes = measure_sizes(50)
    point = exhaustion_point("bq_storage_gib", sizes=sizes)
    assert point is not None
    assert estimate(point * 0.99, sizes=sizes).use("bq_storage_gib").share <= 1
    assert estimate(point * 1.01, sizes=sizes).use("bq_storage_gib").share > 1
    too_many = StackProfile(scheduler_jobs=4)
    assert exhaustion_point("scheduler_jobs", too_many, sizes=sizes) == 0.0
    assert exhaustion_point("scheduler_jobs", sizes=sizes) is None


def test_dataflow_profile_adds_a_note_and_removes_speed_invocations() -> None:
    sizes = measure_sizes(50)
    fn = estimate(50_000, StackProfile(), sizes=sizes)
    df = estimate(50_000, StackProfile(speed_runtime="dataflow"), sizes=sizes)
    assert df.use("fn_invocations").used < fn.use("fn_invocations").used
    assert any("Dataflow" in n for n in df.notes)


@pytest.mark.parametrize(
    ("cron", "runs"),
    [("15 3 * * *", 1), ("0 1,13 * * *", 2), ("*/15 * * * *", 96), ("0 8-17 * * *", 10)],
)
def test_runs_per_day(cron: str, runs: int) -> None:
    assert runs_per_day(cron) == runs


def test_cost_cli_names_first_quota(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from salesphere_tools.cli.main import app

    result = CliRunner().invoke(app, ["cost", "--orders-per-day", "200000", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    shares = {q["key"]: q["share"] for q in body["quotas"] if q["share"] is not None}
    assert body["first_to_run_out"] == max(shares, key=shares.__getitem__)
    assert len(body["quotas"]) == len(QUOTAS)
    assert "kms_key_versions" in body["billed_without_free_tier"]
    unverified = {q["key"] for q in body["quotas"] if not q["verified"]}
    assert unverified == {q.key for q in QUOTAS if not q.verified} and unverified
    text = CliRunner().invoke(app, ["cost", "--orders-per-day", "10000", "--stack", "pr-7"])
    assert text.exit_code == 0 and "runs out first" in text.output and "†" in text.output
    bad = CliRunner().invoke(app, ["cost", "--orders-per-day", "1", "--stack", "qa"])
    assert bad.exit_code != 0 and "pr-<number>" in bad.output


def test_the_forecast_is_counted_in_the_batch_run_and_its_queries() -> None:
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    without = costs.estimate(10_000, traffic=costs.Traffic(forecast_series=0), sizes=sizes)
    with_forecast = costs.estimate(
        10_000, traffic=costs.Traffic(forecast_series=4_000), sizes=sizes
    )
    # 4,000 series: 6 days of 0.03 s and 1 of 0.13 s per series a week -> ~177 s per run
    assert costs.forecast_seconds_per_run(costs.Traffic(forecast_series=4_000)) == pytest.approx(
        4_000 * (6 / 7 * 0.03 + 1 / 7 * 0.13)
    )
    batch_cpu = costs.StackProfile().function_sizes["batch"][0]
    extra_seconds = 177.14 * costs.DAYS_PER_MONTH * batch_cpu
    assert with_forecast.use("fn_vcpu_s").used - without.use("fn_vcpu_s").used == pytest.approx(
        extra_seconds, rel=0.01
    )
    assert with_forecast.use("bq_query_tib").used > without.use("bq_query_tib").used
    assert any("demand forecast" in note for note in with_forecast.notes)


def test_each_function_is_billed_at_its_own_size_from_the_limits() -> None:
    from salesphere import limits
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    profile = costs.StackProfile()
    assert profile.function_sizes["batch"] == (limits.FUNCTIONS["batch"].cpu, 2.0)
    est = costs.estimate(10_000, profile, sizes=sizes)
    bigger = dict(profile.function_sizes, batch=(2.0, 4.0))
    grown = costs.estimate(10_000, dataclasses.replace(profile, function_sizes=bigger), sizes=sizes)
    runs = costs.DAYS_PER_MONTH  # one nightly run
    traffic = costs.Traffic()
    envelopes = 8_000 + 11  # one per live order, and the files' 5,200 events in 500s
    per_run = (
        traffic.batch_seconds_fixed
        + 26_000 / 5_000
        + costs.forecast_seconds_per_run(traffic)
        + traffic.archive_seconds_fixed
        + envelopes / 1000 * traffic.archive_seconds_per_1000_messages
    )
    assert grown.use("fn_vcpu_s").used - est.use("fn_vcpu_s").used == pytest.approx(
        runs * per_run * 1.0, rel=1e-6
    )


def test_class_a_counts_file_drop_writes_the_archive_writer_listings_and_the_lock() -> None:
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    found = costs.designs()
    now = found["now"]
    quiet = costs.Traffic(files_per_day=0, deploys_per_month=0)
    base = costs.estimate(10_000, traffic=quiet, sizes=sizes, design=now).use("gcs_class_a")
    drops = costs.estimate(
        10_000, traffic=dataclasses.replace(quiet, files_per_day=10), sizes=sizes, design=now
    ).use("gcs_class_a")
    # each drop: its own upload, then ingest's writes (salesphere/ingest/files.py), a
    # rejects report when one of its rows is rejected (26,000 events a day, 20 % of them in
    # 10 files: 520 rows a file, 1 % rejected), and the quarantined copies
    assert now.file_drop_writes == costs.FILE_DROP_WRITES
    with_report = 1 - 0.99**520
    assert drops.used - base.used == pytest.approx(
        costs.DAYS_PER_MONTH * 10 * (1 + costs.FILE_DROP_WRITES + with_report + 0.01 * 10),
        rel=1e-6,
    )
    # the design before also copied every original to a second home
    assert found["before"].file_drop_writes == costs.FILE_DROP_WRITES + 1
    # The batch run writes one archive object per receive date it drains (two a day for
    # one nightly run); a Cloud Storage subscription closes one every 600 s (144 a day).
    profile = costs.StackProfile()
    assert costs.archive_objects_per_day(26_000, profile, now) == 2
    assert costs.archive_objects_per_day(26_000, profile, found["before"]) == 144
    before = costs.estimate(10_000, traffic=quiet, sizes=sizes, design=found["before"])
    assert before.use("gcs_class_a").used - base.used > costs.DAYS_PER_MONTH * 140
    # The run lock is renewed every quarter of its lease while the run works.
    longer = costs.estimate(
        10_000,
        dataclasses.replace(profile, batch_lock_lease_seconds=40.0),
        quiet,
        sizes,
        now,
    ).use("gcs_class_a")
    assert longer.used > base.used + costs.DAYS_PER_MONTH * 5


def test_the_batch_run_pays_for_its_archive_drain() -> None:
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    found = costs.designs()
    now = costs.estimate(10_000, sizes=sizes, design=found["now"])
    before = costs.estimate(10_000, sizes=sizes, design=found["before"])
    assert now.use("fn_vcpu_s").used > before.use("fn_vcpu_s").used
    # pulled once more than pushed: more basic throughput, no export
    assert now.use("pubsub_gib").used > before.use("pubsub_gib").used
    assert before.use("pubsub_export_gib").used > 0 == now.use("pubsub_export_gib").used


def test_image_cleanup_bounds_artifact_registry_storage() -> None:
    from infra.foundation import KEEP_IMAGE_VERSIONS
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    found = costs.designs()
    assert found["now"].image_keep_versions == KEEP_IMAGE_VERSIONS
    kept = costs.estimate(10_000, sizes=sizes, design=found["now"]).use("ar_storage_gb")
    uncleaned = dataclasses.replace(found["now"], image_keep_versions=None)
    never = costs.estimate(10_000, sizes=sizes, design=uncleaned).use("ar_storage_gb")
    assert never.used > 20 * kept.used
    assert kept.used < 1.0


def test_the_serving_windows_are_read_from_the_views(tmp_path) -> None:
    from salesphere_tools import costs

    found = costs.serving_windows()
    assert found == {"speed.events": 3.0, "master.events": 5.0}
    now = costs.designs()["now"]
    assert (now.speed_window_days, now.master_window_days) == (3.0, 5.0)
    # A read of master.events without a constant window means: all of it.
    for name in ("events_since_cutoff.sql", "events_counted_since_cutoff.sql"):
        text = (costs.SERVING_SQL / name).read_text()
        if name == "events_counted_since_cutoff.sql":
            text = text.replace("INTERVAL 5 DAY", "INTERVAL 9 DAY", 1)
        (tmp_path / name).write_text(text)
    assert costs.serving_windows(tmp_path)["master.events"] == 9.0
    unbounded = (tmp_path / "events_since_cutoff.sql").read_text()
    unbounded = unbounded.replace(
        "AND m.received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 5 DAY)", ""
    )
    (tmp_path / "events_since_cutoff.sql").write_text(unbounded)
    costs.serving_windows.cache_clear()
    assert costs.serving_windows(tmp_path)["master.events"] is None


def test_a_dashboard_query_bills_each_table_behind_its_view() -> None:
    from salesphere_tools import costs

    tables = costs.view_tables("sales_daily")
    assert {"speed.events", "master.events", "batch.cutoff", "batch.sales_daily"} <= tables
    sizes = costs.measure_sizes(50)
    profile, traffic = costs.StackProfile(), costs.Traffic()
    found = costs.designs()
    floor = len(tables) * costs.BQ_MIN_BILLED_BYTES_PER_TABLE
    windowed = costs.dashboard_query_bytes(26_000, profile, traffic, sizes, found["now"])
    whole = costs.dashboard_query_bytes(26_000, profile, traffic, sizes, found["before"])
    assert floor <= windowed < 2 * floor
    assert whole > 10 * windowed
    now = costs.estimate(10_000, sizes=sizes, design=found["now"]).use("bq_query_tib")
    before = costs.estimate(10_000, sizes=sizes, design=found["before"]).use("bq_query_tib")
    assert before.used > 3 * now.used


def test_insert_all_rows_are_billed_per_kilobyte() -> None:
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    est = costs.estimate(10_000, sizes=sizes, design=costs.designs()["now"])
    rows = 26_000 + 8_000 + 30  # speed rows + ingest-log rows (requests and files) a day
    assert est.use("bq_streaming_gib").used == pytest.approx(
        rows * 1024 * costs.DAYS_PER_MONTH / 1024**3, rel=1e-6
    )
    assert est.use("bq_streaming_gib") in est.billed_without_free_tier


def test_query_bytes_are_split_by_what_reads_them() -> None:
    from salesphere_tools import costs

    sizes = costs.measure_sizes(50)
    est = costs.estimate(10_000, sizes=sizes, design=costs.designs()["now"])
    assert sum(est.query_tib.values()) == pytest.approx(est.use("bq_query_tib").used)
    quiet = costs.estimate(10_000, traffic=costs.Traffic(dashboard_queries_per_day=0), sizes=sizes)
    dashboards = next(k for k in est.query_tib if "dashboard" in k)
    assert est.use("bq_query_tib").used - quiet.use("bq_query_tib").used == pytest.approx(
        est.query_tib[dashboards]
    )


def test_file_drop_writes_are_what_ingest_writes_for_a_file_with_a_reject() -> None:
    """FILE_DROP_WRITES counts the class A writes the file function really makes: run it
    on an in-memory landing bucket and count every object it writes (deletes are free)."""
    from salesphere.ingest.catalog import Reference
    from salesphere.ingest.files import FileIngestor
    from salesphere.ingest.service import IngestService
    from salesphere_tools import costs
    from tests.salesphere.ingest import test_files_attempts as fake

    service = IngestService(
        fake.SETTINGS, publisher=fake.Publisher(), ledger=fake.Ledger(), reference=Reference()
    )  # type: ignore[arg-type]
    files = FileIngestor(service)
    files._gcs = fake.Storage()  # type: ignore[assignment]
    ref = fake.drop(files, "inventory/estoque_1.ndjson", b'{"a": 1}\n')  # one bad row
    landing = files.gcs.bucket(fake.LANDING)
    uploads = landing.generations
    outcome = files.handle(ref)
    assert outcome["status"] == "ingested" and outcome["rejected"] == 1
    # the counter and the marker every drop writes, and this file's rejects report
    assert landing.generations - uploads == costs.FILE_DROP_WRITES + 1
    assert any(name.endswith(".rejects.csv") for name in landing.objects)
    assert ref.name in landing.objects  # kept where it landed: no copy


def test_a_cold_speed_process_loads_its_memory_in_the_counted_queries() -> None:
    """SPEED_LOAD_QUERIES is what SpeedMemory's first load asks the warehouse."""
    from datetime import UTC, datetime

    from salesphere.speed.memory import SpeedMemory
    from salesphere_tools import costs

    class Warehouse:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            def call(*args, **kwargs):  # type: ignore[no-untyped-def]
                self.calls.append(name)
                return ([], set()) if name == "ids_and_pairs" else []

            return call

    warehouse = Warehouse()
    memory = SpeedMemory(
        warehouse,  # type: ignore[arg-type]
        reorder_point=lambda sku: None,
        clock=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC),
    )
    memory.prepare([], [])
    assert len(warehouse.calls) == costs.SPEED_LOAD_QUERIES
    now, before = costs.designs()["now"], costs.designs()["before"]
    traffic = costs.Traffic()
    assert costs.speed_queries_per_cold_start(traffic, before) == (
        costs.speed_queries_per_cold_start(traffic, now) + 1
    )
