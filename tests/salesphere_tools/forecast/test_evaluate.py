"""The real-data evaluation end to end on a few M5 series: every method scored, sane numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from salesphere.forecast import metrics
from salesphere_tools.bench.suite import forecast_real
from salesphere_tools.cli.main import app
from salesphere_tools.forecast import m5
from salesphere_tools.forecast.evaluate import METHODS, POOLED, evaluate


@pytest.fixture(scope="module")
def data() -> m5.M5:
    return m5.load()


def test_the_subset_is_the_documented_one(data: m5.M5) -> None:
    assert len(data) == 6098 and data.days == 1913
    assert str(data.last_day) == "2016-04-24"
    assert set(data.store_id) == {"CA_1", "TX_2"}
    # a price wherever something sold
    assert not np.isnan(data.price[data.units > 0]).any()


def test_rmsse_and_weights_as_the_m5_rules_define_them() -> None:
    history = np.array([0, 0, 2, 0, 4, 4.0])  # from the first sale: 2, 0, 4, 4
    assert metrics.rmsse_scale(history) == pytest.approx((4 + 16 + 0) / 3)
    assert metrics.rmsse(np.array([1.0, 3]), np.array([2.0, 2]), 4.0) == pytest.approx(0.5)
    assert metrics.dollar_weight(np.array([1.0, 2, 3]), np.array([9.0, 2, 1.5]), days=2) == 8.5


def test_a_small_evaluation_scores_every_method_per_origin_and_pooled(data, tmp_path) -> None:
    result = evaluate(data, series=6, seed=3, origins=(28,), horizon=14)
    assert set(result.tallies) == set(METHODS)
    for method in METHODS:
        pooled = result.tally(method, POOLED)
        assert pooled.series > 0
        assert 0 < pooled.wape < 3 and -1 <= pooled.bias < 3
        assert 0 < pooled.rmsse < 5 and math.isfinite(pooled.rmsse)
        assert result.tally(method, 28).abs_error == pooled.abs_error  # one origin
    # the same sums for every method: the baselines see the series the engine sees
    actual = {result.tally(m, POOLED).actual for m in METHODS}
    assert len(actual) == 1

    out = tmp_path / "eval.json"
    run = CliRunner().invoke(
        app,
        [
            "forecast",
            "evaluate",
            "--series",
            "5",
            "--seed",
            "3",
            "--origins",
            "28",
            "--workers",
            "1",
            "--json",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    for method in METHODS:
        assert method in run.output
    written = json.loads(out.read_text())
    assert set(written["scores"]) == set(METHODS)
    assert set(written["scores"]["engine"]) == {"28", POOLED}


def test_origins_outside_the_data_are_refused(data) -> None:
    with pytest.raises(ValueError, match="origin"):
        evaluate(data, series=2, origins=(5,), horizon=28)


def test_the_bench_case_runs_at_a_tiny_scale() -> None:
    figures = forecast_real(series=5)
    assert [f.unit for f in figures] == ["RMSSE", "WAPE", "share"]
    assert all(f.value >= 0 and f.target is not None for f in figures)
