"""Years of daily demand: seeded, with the retail calendar, slow movers and censored sales."""

from __future__ import annotations

from datetime import date

import numpy as np

from salesphere.forecast.series import build_series, classify
from salesphere_tools.generate.history import daily_history, intermittent_share


def test_same_seed_same_history_and_sales_never_exceed_demand() -> None:
    a = daily_history(stores=2, skus=24, days=400, seed=11)
    b = daily_history(stores=2, skus=24, days=400, seed=11)
    assert (a.sales == b.sales).all() and (a.stockout == b.stockout).all()
    assert not (a.sales == daily_history(stores=2, skus=24, days=400, seed=12).sales).all()
    assert a.sales.shape == (3 * 24, 400)  # two stores and WEB
    assert (a.sales <= a.demand).all()
    # a stock-out day is one where the shelf ran empty; sales were cut short on some
    assert a.stockout.any() and (a.sales[a.stockout] < a.demand[a.stockout]).any()
    assert (a.receipts > 0).any()


def test_the_calendar_and_slow_movers_show_in_the_data() -> None:
    h = daily_history(stores=3, skus=48, days=730, seed=13, start=date(2024, 11, 1))
    dates = h.dates
    toys = np.array([sku.startswith("BRI") for sku in h.skus])
    store = np.array([s != "WEB" for s in h.store_ids])
    demand = h.demand[toys & store].sum(axis=0)
    before_childrens_day = [
        i for i, d in enumerate(dates) if date(2025, 10, 1) <= d <= date(2025, 10, 11)
    ]
    september = [i for i, d in enumerate(dates) if date(2025, 9, 1) <= d <= date(2025, 9, 20)]
    assert demand[before_childrens_day].mean() > 1.5 * demand[september].mean()
    christmas = [i for i, d in enumerate(dates) if d in (date(2024, 12, 25), date(2025, 12, 25))]
    assert h.demand[store][:, christmas].sum() == 0  # malls closed
    assert 0.2 < intermittent_share(h) < 0.7  # many slow movers (0.39 at the bench scale)
    series = build_series(h.frame())
    classes = {classify(s.y).name for s in series}
    assert classes == {"regular", "intermittent"}
    # censored days are missing in the series the forecaster reads
    assert sum(int(np.isnan(s.y).sum()) for s in series) == int(h.stockout.sum())
