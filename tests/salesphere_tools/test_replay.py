"""The policy replay: day-by-day mechanics on a hand-made series, and a smoke on real data."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from typer.testing import CliRunner

from salesphere import replenishment as policy
from salesphere_tools import replay
from salesphere_tools.bench.suite import replay_real
from salesphere_tools.cli.main import app


def _data(demand: np.ndarray, *, lead: int, review: int, pack: int = 1, moq: int = 0):
    n = demand.shape[0]
    return replay.ReplayData(
        "hand",
        date(2026, 1, 5),
        np.array(["S1"] * n),
        demand.astype(float),
        np.full(n, lead),
        np.full(n, review),
        np.full(n, pack),
        np.full(n, moq),
    )


def test_steady_demand_is_served_with_a_cycle_of_stock() -> None:
    # 4 a day, every day: sigma over the cover is 0, so the policy orders exactly what
    # sells and never runs out.
    data = _data(np.full((1, 200), 4.0), lead=3, review=7)
    out = replay.replay(data, 0.95, days=70)
    assert out.fill == 1.0 and out.meeting == 1.0 and out.stockout_days_per_year == 0
    # every review but the first (the window starts at the order-up-to level) orders
    assert out.orders_per_year == pytest.approx(9 * 364 / 70)
    # the lead time's units are in transit, not on the shelf: (R - 1) / 2 days at close
    assert out.days_on_hand == pytest.approx(3, abs=0.5)


def test_lost_sales_cases_and_minimum_order() -> None:
    # a burst the history never saw is lost, not back-ordered; orders come in cases of 6
    # with a minimum of 12
    demand = np.full((1, 200), 1.0)
    demand[0, 150] = 40
    data = _data(demand, lead=2, review=7, pack=6, moq=12)
    out = replay.replay(data, 0.9, days=56)
    assert out.fill < 1.0 and out.stockout_days_per_year > 0
    assert out.days_on_hand > 5  # cases of 6 and a minimum of 12 for 1 a day


def test_the_replay_uses_the_policy_modules_levels() -> None:
    assert replay.TARGETS == (0.9, 0.95, 0.98)
    with pytest.raises(ValueError, match="service level"):
        replay.simulate(_data(np.ones((1, 100)), lead=1, review=7), targets=(0.93,), days=56)
    assert policy.order_quantity(9.5, 2, 3, 1, 0) == 5


def test_a_few_real_series_replay_at_every_target(tmp_path) -> None:
    out = tmp_path / "replay.json"
    run = CliRunner().invoke(
        app,
        [
            "replenishment",
            "simulate",
            "--series",
            "5",
            "--seed",
            "3",
            "--days",
            "56",
            "--json",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    written = json.loads(out.read_text())
    assert [t["target"] for t in written["targets"]] == [0.9, 0.95, 0.98]
    for t in written["targets"]:
        assert 0.3 < t["fill"] <= 1 and 0 <= t["meeting"] <= 1
        assert 0 < t["days_on_hand"] < 100 and t["orders_per_year"] > 0
    fills = [t["fill"] for t in written["targets"]]
    assert fills == sorted(fills)  # more safety stock never serves less


def test_generated_history_replays_with_the_catalogues_terms() -> None:
    data = replay.generated_data(stores=1, skus=6, days=200, seed=5)
    assert set(data.lead_time) != {3} or set(data.pack) != {1}  # the catalogue's own terms
    result = replay.simulate(data, series=4, seed=1, targets=(0.95,), days=56)
    assert result.outcomes[0].series > 0 and 0 < result.outcomes[0].fill <= 1


def test_the_bench_case_runs_at_a_tiny_scale() -> None:
    figures = replay_real(series=5)
    assert len(figures) == 9 and all(f.value >= 0 for f in figures)
