"""The forecast's pure logic: series with censored days, classes, metrics, model choice."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from salesphere.batch.forecast import BACKTEST as STEP_BACKTEST
from salesphere.batch.forecast import UPDATE as STEP_UPDATE
from salesphere.batch.forecast import due_mode
from salesphere.batch.forecast_tables import stockout_days
from salesphere.forecast import calendar, metrics
from salesphere.forecast.backtest import BacktestPlan, backtest
from salesphere.forecast.engine import BACKTEST, UPDATE, ForecastConfig, forecast_all
from salesphere.forecast.models import (
    BLEND,
    CANDIDATES,
    SEASONAL_NAIVE,
    TRAILING_AVG,
    StoreContext,
    WeekdayBlend,
    backtested_models,
    store_context,
)
from salesphere.forecast.series import (
    INTERMITTENT,
    REGULAR,
    build_series,
    classify,
    impute_censored,
)
from salesphere.settings import Settings

D0 = date(2026, 3, 2)  # a Monday


def _frame(rows: list[tuple[str, str, date, float, bool]]) -> dict[str, list]:
    return {
        "store_id": [r[0] for r in rows],
        "sku": [r[1] for r in rows],
        "day": [r[2] for r in rows],
        "units": [r[3] for r in rows],
        "stockout": [r[4] for r in rows],
    }


def test_days_without_sales_are_zero_and_stockout_days_are_missing() -> None:
    rows = [
        ("S1", "A", D0, 4, False),
        ("S1", "A", D0 + timedelta(days=2), 0, True),  # the shelf was empty: censored
        ("S1", "A", D0 + timedelta(days=3), 6, False),
        ("S2", "A", D0 + timedelta(days=1), 1, False),
    ]
    series = build_series(_frame(rows), origin=D0 + timedelta(days=4))
    assert [s.key for s in series] == [("S1", "A"), ("S2", "A")]
    s1 = series[0].y
    assert s1[0] == 4 and s1[1] == 0 and math.isnan(s1[2]) and s1[3] == 6 and s1[4] == 0
    assert series[0].origin == D0 + timedelta(days=4)
    assert series[1].start == D0 + timedelta(days=1) and list(series[1].y) == [1, 0, 0, 0]


def test_stockout_days_from_stock_positions_censor_whatever_was_sold() -> None:
    rows = [("S1", "A", D0 + timedelta(days=i), 3, False) for i in range(5)]
    series = build_series(
        _frame(rows), stockout_days={("S1", "A"): [D0 + timedelta(days=1), D0 + timedelta(days=9)]}
    )
    y = series[0].y
    assert len(y) == 5 and np.isnan(y).sum() == 1 and math.isnan(y[1])


def test_a_censored_day_is_left_out_of_every_error() -> None:
    actual = np.array([2.0, np.nan, 4.0])
    forecast = np.array([3.0, 100.0, 4.0])
    assert metrics.wape(actual, forecast) == pytest.approx(1 / 6)
    assert metrics.bias(actual, forecast) == pytest.approx(1 / 6)


def test_metrics_against_hand_computed_values() -> None:
    actual = np.array([10.0, 0.0, 5.0, 5.0])
    forecast = np.array([8.0, 1.0, 5.0, 8.0])
    # |e| = 2, 1, 0, 3 -> 6 over 20 units sold
    assert metrics.wape(actual, forecast) == pytest.approx(0.3)
    # forecast 22 vs actual 20
    assert metrics.bias(actual, forecast) == pytest.approx(0.1)
    history = np.array([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 9], dtype=float)
    # |y_t - y_(t-7)|: 2, 0, 0, 0, 0, 0, 2 -> mean 4/7
    assert metrics.seasonal_scale(history) == pytest.approx(4 / 7)
    assert metrics.mase(actual, forecast, 4 / 7) == pytest.approx(1.5 / (4 / 7))
    assert math.isnan(metrics.wape(np.zeros(3), np.ones(3)))
    assert math.isnan(metrics.mase(actual, forecast, 0.0))


def test_classification_by_average_demand_interval() -> None:
    steady = np.array([3, 2, 4, 3, 5, 2, 3] * 8, dtype=float)
    sparse = np.array([0, 0, 1, 0, 0, 0, 2] * 8, dtype=float)
    assert classify(steady).name == REGULAR and classify(steady).adi == 1.0
    got = classify(sparse)
    assert got.name == INTERMITTENT and got.adi == pytest.approx(3.5)
    # sizes 1 and 2: mean 1.5, variance 0.25 -> CV² = 0.25 / 2.25
    assert got.cv2 == pytest.approx(0.25 / 2.25)
    # stock-out days are not "no demand": the same series with its zeros censored is regular
    censored = sparse.copy()
    censored[sparse == 0] = np.nan
    assert classify(censored).name == REGULAR
    assert classify(np.zeros(30)).name == INTERMITTENT


def test_imputation_fills_a_censored_day_from_the_same_weekday() -> None:
    y = np.array([10, 1, 1, 1, 1, 1, 1, 12, 1, 1, 1, 1, 1, 1, np.nan, 1], dtype=float)
    filled = impute_censored(y)
    assert filled[14] == 11.0  # median of the two earlier Mondays
    assert not np.isnan(filled).any() and filled[0] == 10


def test_the_blend_is_a_robust_level_times_a_shrunk_weekday_profile() -> None:
    # a year selling 20 on weekdays and 90 on Saturday and Sunday, from a Monday.
    week = np.array([20.0, 20, 20, 20, 20, 90, 90])
    y = np.tile(week, 52)
    model = WeekdayBlend()
    assert model.level(y) == pytest.approx(week.mean())
    factors = model.weekday_factors(y, D0)
    assert factors.mean() == pytest.approx(1.0)
    # 4,680 Saturday units against a flat prior of 100: the own rhythm dominates
    assert factors[5] > 4 * factors[0]
    forecast = model.point(y, D0, 7)
    assert forecast.sum() == pytest.approx(week.sum())
    # one spike and a stock-out week move the median of the windows little
    bumpy = y.copy()
    bumpy[-1] = 200.0  # five times a Sunday
    bumpy[-14:-7] = np.nan
    assert model.level(bumpy) < 1.15 * week.mean()
    # a series selling almost nothing takes the store's profile
    store = store_context([(y, D0)])
    sparse = np.zeros(112)
    sparse[[3, 40, 90]] = 1.0
    shrunk = WeekdayBlend(store).weekday_factors(sparse, D0)
    assert shrunk == pytest.approx(np.array(store.profile), rel=0.05)


def test_the_store_total_follows_its_28_day_average() -> None:
    # two weeks of 30 between weeks of 10: the median of the windows (12.5) sits below the
    # store's 28-day average (20), and the store's series are scaled up together
    y = np.r_[np.full(84, 10.0), np.full(14, 30.0), np.full(14, 10.0)]
    context = store_context([(y, D0), (y / 2, D0)], offsets=(0, 28))
    blend = WeekdayBlend()
    assert blend.level(y) == pytest.approx(12.5)  # median of 10, 10, 20, 15, 12.5
    assert context.level_factor(0) == pytest.approx(20 / 12.5)
    assert context.level_factor(28) == pytest.approx(1.0)  # flat then
    made_now = WeekdayBlend(context, len(y)).point(y, D0, 7)
    assert made_now == pytest.approx(np.full(7, 20.0))
    made_four_weeks_ago = WeekdayBlend(context, len(y)).point(y[:-28], D0, 7)
    assert made_four_weeks_ago == pytest.approx(np.full(7, 10.0))
    bounded = WeekdayBlend(StoreContext(level_factors=((0, 9.0),))).point(y, D0, 1)
    assert bounded[0] == pytest.approx(12.5 * 2)  # a factor beyond 2 is a store gone wrong


def test_every_series_gets_the_blend_and_the_backtest_scores_it_with_the_baselines() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(140):
        day = D0 + timedelta(days=i)
        rows.append(("S1", "A", day, float(rng.poisson(4)), False))
        rows.append(("S1", "B", day, float(rng.random() < 0.2), False))
    series = build_series(_frame(rows))
    config = ForecastConfig(horizon=28, plan=BacktestPlan(folds=2, horizon=28, min_train=56))
    results = forecast_all(series, config, mode=BACKTEST)
    for r in results:
        assert r.model == BLEND
        assert {s.model for s in r.scores} == {BLEND, SEASONAL_NAIVE, TRAILING_AVG}


def test_backtest_folds_use_only_the_days_before_their_origin() -> None:
    plan = BacktestPlan(folds=2, horizon=7, step=7, min_train=14)
    assert plan.origins(35) == [21, 28]
    assert plan.origins(20) == []  # no fold has 14 days of training before it
    rng = np.random.default_rng(1)
    weekly = np.tile([2.0, 2, 2, 3, 5, 9, 6], 5) + rng.poisson(0.2, 35)
    series = build_series(
        {
            "store_id": ["S1"] * 35,
            "sku": ["A"] * 35,
            "day": [D0 + timedelta(days=i) for i in range(35)],
            "units": weekly,
        }
    )[0]
    scores = {s.model: s for s in backtest(series, backtested_models(), plan)}
    assert set(scores) == {BLEND, SEASONAL_NAIVE, TRAILING_AVG}
    naive = scores[SEASONAL_NAIVE]
    expected = (
        sum(np.abs(weekly[o : o + 7] - weekly[o - 7 : o]).sum() for o in (21, 28))
        / weekly[21:35].sum()
    )
    assert naive.folds == 2 and naive.wape == pytest.approx(expected)
    assert scores[BLEND].wape < scores[TRAILING_AVG].wape  # the weekly rhythm matters


def test_forecasts_are_non_negative_with_ordered_intervals() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(140):
        day = D0 + timedelta(days=i)
        rows.append(("S1", "REG", day, float(rng.poisson(6 + 4 * (day.weekday() >= 5))), False))
        rows.append(("S1", "INT", day, float(rng.random() < 0.15), i in (50, 51)))
    series = build_series(_frame(rows))
    config = ForecastConfig(horizon=28, plan=BacktestPlan(folds=2, horizon=28, min_train=56))
    results = forecast_all(series, config, mode=BACKTEST)
    by_sku = {r.sku: r for r in results}
    assert by_sku["REG"].series_class == REGULAR and by_sku["INT"].series_class == INTERMITTENT
    for r in results:
        assert r.backtested and r.model in {s.model for s in r.scores}
        assert len(r.mean) == 28 and (r.mean >= 0).all()
        assert (r.lo[95] <= r.lo[80] + 1e-9).all() and (r.lo[80] <= r.mean + 1e-9).all()
        assert (r.mean <= r.hi[80] + 1e-9).all() and (r.hi[80] <= r.hi[95] + 1e-9).all()
    # an update keeps each series' chosen model and scores nothing
    chosen = {(r.store_id, r.sku): r.model for r in results}
    again = forecast_all(series, config, mode=UPDATE, chosen=chosen)
    assert [r.model for r in again] == [r.model for r in results]
    assert all(not r.scores for r in again)
    assert [list(r.mean) for r in again] == [list(r.mean) for r in results]  # deterministic


def test_every_candidate_forecasts_every_class_without_failing() -> None:
    y = np.array([0, 0, 1, np.nan, 0, 3, 0] * 10, dtype=float)
    for model in CANDIDATES.values():
        pred = model.predict(y, D0, 14)
        assert pred.mean.shape == (14,) and (pred.mean >= 0).all(), model.name
    empty = CANDIDATES[BLEND].predict(np.full(20, np.nan), D0, 7)
    assert (empty.mean == 0).all()


def test_stockout_days_carry_forward_until_stock_returns() -> None:
    points = [(D0, 5.0), (D0 + timedelta(days=2), 0.0), (D0 + timedelta(days=5), 8.0)]
    assert stockout_days(points, D0 + timedelta(days=9)) == [
        D0 + timedelta(days=2),
        D0 + timedelta(days=3),
        D0 + timedelta(days=4),
    ]
    still_empty = [(D0, 0.0)]
    assert stockout_days(still_empty, D0 + timedelta(days=2)) == [
        D0,
        D0 + timedelta(days=1),
        D0 + timedelta(days=2),
    ]


def test_the_backtest_runs_weekly_and_updates_in_between() -> None:
    settings = Settings()
    at = datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert due_mode(settings, None, at) == STEP_BACKTEST
    assert due_mode(settings, at - timedelta(days=2), at) == STEP_UPDATE
    assert due_mode(settings, at - timedelta(days=7), at) == STEP_BACKTEST


def test_the_retail_calendar_dates() -> None:
    assert calendar.black_friday(2026) == date(2026, 11, 27)
    assert calendar.mothers_day(2026) == date(2026, 5, 10)
    assert calendar.fathers_day(2026) == date(2026, 8, 9)
    assert date(2026, 4, 21) in calendar.national_holidays(2026)  # Tiradentes
    names = calendar.feature_names(yearly=False)
    row = dict(zip(names, calendar.day_features(date(2026, 11, 27)), strict=True))
    assert row["black_friday"] == 1.0 and row["black_week"] == 0.0
    assert dict(zip(names, calendar.day_features(date(2026, 12, 25)), strict=True))["closed"] == 1
    assert calendar.features(date(2026, 1, 1), 10, yearly=True).shape == (10, len(names) + 4)


def test_settings_switch_the_forecast_off() -> None:
    assert Settings.from_env({"SALESPHERE_FORECAST": "off"}).forecast_enabled is False
    assert Settings.from_env({}).forecast_enabled is True
    with pytest.raises(ValueError, match="on or off"):
        Settings.from_env({"SALESPHERE_FORECAST": "maybe"})


def test_a_week_of_history_is_enough_for_a_forecast() -> None:
    week = build_series(
        {
            "store_id": ["S1"] * 7,
            "sku": ["A"] * 7,
            "day": [D0 + timedelta(days=i) for i in range(7)],
            "units": [3, 4, 2, 5, 6, 9, 7],
        }
    )
    (result,) = forecast_all(week, ForecastConfig(horizon=7), mode=BACKTEST)
    assert result.series_class == REGULAR and not result.backtested  # no fold fits a week
    assert result.model == BLEND
    # the week's level, spread over the weekdays as this week (the store's only series) sold
    assert result.mean.sum() == pytest.approx(36)
    assert int(np.argmax(result.mean)) == 5  # the Saturday's 9
