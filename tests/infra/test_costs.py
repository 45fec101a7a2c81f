"""salesphere_tools.costs: measured sizes, billing rules, and which quota runs out first."""

from __future__ import annotations

import json

import pytest

from salesphere.envelope import pack
from salesphere_tools.costs import (
    PUBSUB_MIN_BILLED_BYTES,
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
    tiny = EventSizes(event_bytes=10, envelope_overhead_bytes=10, row_logical_bytes=100)
    traffic = Traffic(live_share=1.0, other_events_per_line=0.0, files_per_day=0, reject_share=0)
    est = estimate(1000, StackProfile(), traffic, tiny)
    # 1000 envelopes/day, published once and delivered to 2 subscriptions, each >= 1000 B
    expected = 1000 * 3 * PUBSUB_MIN_BILLED_BYTES * 30.4 / 1024**3
    assert est.use("pubsub_gib").used == pytest.approx(expected, rel=1e-6)


def test_usage_grows_with_volume_and_scheduler_does_not() -> None:
    sizes = measure_sizes(50)
    low, high = estimate(10_000, sizes=sizes), estimate(200_000, sizes=sizes)
    for key in ("pubsub_gib", "bq_storage_gib", "bq_query_tib", "fn_invocations", "fn_vcpu_s"):
        assert high.use(key).used > 10 * low.use(key).used, key
    assert high.use("scheduler_jobs").used == low.use("scheduler_jobs").used == 1


def test_first_to_run_out_is_the_most_used_quota() -> None:
    sizes = measure_sizes(50)
    est = estimate(200_000, sizes=sizes)
    assert est.first_to_run_out.share == max(u.share for u in est.uses)
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
    shares = {q["key"]: q["share"] for q in body["quotas"]}
    assert body["first_to_run_out"] == max(shares, key=shares.__getitem__)
    assert len(body["quotas"]) == 10
    text = CliRunner().invoke(app, ["cost", "--orders-per-day", "10000", "--stack", "pr-7"])
    assert text.exit_code == 0 and "runs out first" in text.output
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
    extra_seconds = 177.14 * costs.DAYS_PER_MONTH * costs.StackProfile().function_cpu
    assert with_forecast.use("fn_vcpu_s").used - without.use("fn_vcpu_s").used == pytest.approx(
        extra_seconds, rel=0.01
    )
    assert with_forecast.use("bq_query_tib").used > without.use("bq_query_tib").used
    assert any("demand forecast" in note for note in with_forecast.notes)
