"""The Beam path of the forecast gives what the in-process engine gives, series for series.

No emulator: DirectRunner in two worker processes, the work directory a local folder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from salesphere.batch import forecast_beam
from salesphere.forecast.backtest import BacktestPlan
from salesphere.forecast.engine import BACKTEST, UPDATE, ForecastConfig, forecast_all
from salesphere.forecast.models import LEVELS
from salesphere.forecast.series import build_series
from salesphere_tools.generate.history import daily_history

BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture(scope="module")
def series():
    history = daily_history(stores=2, skus=12, days=150, seed=7)  # 3 x 12 = 36 series
    return build_series(history.frame(), origin=history.dates[-1])


def _same(beam_results, local_results) -> None:
    assert [(r.store_id, r.sku) for r in beam_results] == [
        (r.store_id, r.sku) for r in local_results
    ]
    for b, a in zip(beam_results, local_results, strict=True):
        assert (b.model, b.series_class, b.origin, b.backtested) == (
            a.model,
            a.series_class,
            a.origin,
            a.backtested,
        )
        np.testing.assert_allclose(b.mean, a.mean, rtol=0, atol=1e-9)
        for level in LEVELS:
            np.testing.assert_allclose(b.lo[level], a.lo[level], rtol=0, atol=1e-9)
            np.testing.assert_allclose(b.hi[level], a.hi[level], rtol=0, atol=1e-9)
        assert [s.model for s in b.scores] == [s.model for s in a.scores]
        for sb, sa in zip(b.scores, a.scores, strict=True):
            assert (sb.folds, sb.horizon) == (sa.folds, sa.horizon)
            assert sb.abs_error == pytest.approx(sa.abs_error, abs=1e-9)
            assert sb.actual == pytest.approx(sa.actual, abs=1e-9)


@pytest.mark.slow
def test_beam_forecasts_equal_the_in_process_forecasts(series, tmp_path) -> None:
    assert len(series) == 36 and any(np.isnan(s.y).any() for s in series)
    # Small chunks, so the 36 series are 6 chunks spread over both workers; one fold keeps
    # the backtest quick.
    config = ForecastConfig(
        horizon=28, plan=BacktestPlan(folds=1, horizon=28, step=28), workers=1, chunk=6
    )
    backtest = forecast_all(series, config, mode=BACKTEST)
    assert any(r.backtested for r in backtest)
    on_beam = forecast_beam.forecast_beam(
        series, config, mode=BACKTEST, chosen=None, workdir=str(tmp_path), beam_args=BEAM_ARGS
    )
    _same(on_beam, backtest)

    # An update keeps each series' choice; one series without a choice is backtested alone.
    chosen = {(r.store_id, r.sku): r.model for r in backtest[1:]}
    update = forecast_all(series, config, mode=UPDATE, chosen=chosen)
    on_beam = forecast_beam.forecast_beam(
        series, config, mode=UPDATE, chosen=chosen, workdir=str(tmp_path), beam_args=BEAM_ARGS
    )
    _same(on_beam, update)
    assert on_beam[0].backtested and not any(r.backtested for r in on_beam[1:])
    assert list(tmp_path.iterdir()) == []  # input and result shards are cleaned up


def test_encoding_round_trips_censored_days_and_floats_exactly(series) -> None:
    config = ForecastConfig(chunk=4)
    censored = next(s for s in series if np.isnan(s.y).any())
    task = ([series[0], censored], config, ["auto_ets", None], False)
    line = forecast_beam.encode_task(3, task)
    assert "NaN" in line and json.loads(line)["chosen"] == ["auto_ets", None]
    index, back = forecast_beam.decode_task(line, config)
    assert index == 3 and back[1] is config and back[2:] == (["auto_ets", None], False)
    for s, t in zip(task[0], back[0], strict=True):
        assert (t.store_id, t.sku, t.start) == (s.store_id, s.sku, s.start)
        np.testing.assert_array_equal(t.y, s.y)  # NaN where censored, in the same places


def test_a_job_that_loses_a_series_is_refused(series, tmp_path, monkeypatch) -> None:
    config = ForecastConfig(horizon=7, plan=BacktestPlan(folds=1, horizon=7, step=7), chunk=5)
    real = forecast_beam._read_results
    monkeypatch.setattr(forecast_beam, "_read_results", lambda workdir: real(workdir)[1:])
    with pytest.raises(forecast_beam.ForecastJobIncomplete, match="returned 9 forecasts"):
        forecast_beam.forecast_beam(
            series[:10], config, mode=UPDATE, chosen={}, workdir=str(tmp_path)
        )


def test_the_settings_choose_where_the_forecast_runs(series, monkeypatch) -> None:
    from salesphere.batch import forecast as step
    from salesphere.settings import Settings, SettingsError

    assert Settings.from_env({}).forecast_runtime == "process"
    beam_settings = Settings.from_env({"SALESPHERE_FORECAST_RUNTIME": "Beam"})
    assert beam_settings.forecast_runtime == "beam"
    assert Settings.from_env(beam_settings.to_environ()).forecast_runtime == "beam"
    with pytest.raises(SettingsError, match="SALESPHERE_FORECAST_RUNTIME must be one of"):
        Settings.from_env({"SALESPHERE_FORECAST_RUNTIME": "spark"})

    config = ForecastConfig(horizon=7, plan=BacktestPlan(folds=1, horizon=7, step=7), chunk=4)
    few = series[:6]
    monkeypatch.delenv("SALESPHERE_BATCH_RUNTIME", raising=False)
    runtime, local = step.fit_all(Settings(), "run-x", few, config, mode=UPDATE, chosen={})
    assert runtime == "process"
    runtime, on_beam = step.fit_all(beam_settings, "run-x", few, config, mode=UPDATE, chosen={})
    assert runtime == "beam"
    _same(on_beam, local)

    # A Dataflow stack sends the forecast to Dataflow, whatever forecast_runtime says.
    calls = []
    monkeypatch.setattr(step, "forecast_beam", lambda *a, **kw: calls.append(kw) or local)
    monkeypatch.setenv("SALESPHERE_BATCH_RUNTIME", "dataflow")
    monkeypatch.delenv("SALESPHERE_WORKER_PACKAGE", raising=False)
    monkeypatch.setenv("SALESPHERE_DATAFLOW_SERVICE_ACCOUNT", "batch@p.iam.gserviceaccount.com")
    with pytest.raises(ValueError, match="SALESPHERE_WORKER_PACKAGE"):
        step.fit_all(Settings(), "run-x", few, config, mode=UPDATE, chosen={})
    monkeypatch.setenv("SALESPHERE_WORKER_PACKAGE", "gs://art/worker.whl")
    runtime, _ = step.fit_all(Settings(), "run-x", few, config, mode=UPDATE, chosen={})
    assert runtime == "dataflow" and len(calls) == 1
    assert calls[0]["workdir"] == (
        f"gs://{Settings().buckets.artifacts}/batch/staging/run-x/forecast_beam"
    )
    args = calls[0]["beam_args"]
    assert "--runner=DataflowRunner" in args and "--extra_package=gs://art/worker.whl" in args
    assert "--job_name=salesphere-forecast-local-run-x" in args
