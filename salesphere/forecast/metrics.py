"""Forecast error measures, over the days whose demand was observed.

* **WAPE** (weighted absolute percentage error) = sum |actual - forecast| / sum actual.
  Unlike MAPE it is defined on days without sales and weighs each unit once, so it can be
  added up over series and stores: the overall WAPE is the same formula over all rows.
* **MASE** (mean absolute scaled error) = mean |actual - forecast| divided by the in-sample
  mean absolute change over one season (seasonal naive with season 7). Below 1, the
  forecast beats "same as last week" as seen in the history; comparable across series of
  any size.
* **Bias** = (sum forecast - sum actual) / sum actual: positive means over-forecasting
  (over-stock), negative under-forecasting (stock-outs).

Censored (stock-out) days are ``NaN`` in the actuals and are left out of every sum.
"""

from __future__ import annotations

import math

import numpy as np


def _pairs(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype=float)
    forecast = np.asarray(forecast, dtype=float)
    keep = ~np.isnan(actual)
    return actual[keep], forecast[keep]


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sum |a - f| / sum a over observed days; NaN when nothing sold (undefined)."""
    a, f = _pairs(actual, forecast)
    total = a.sum()
    return float(np.abs(a - f).sum() / total) if total > 0 else math.nan


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """(sum f - sum a) / sum a over observed days; NaN when nothing sold."""
    a, f = _pairs(actual, forecast)
    total = a.sum()
    return float((f.sum() - total) / total) if total > 0 else math.nan


def seasonal_scale(history: np.ndarray, season: int = 7) -> float:
    """Mean |y_t - y_(t-season)| over the history's observed pairs (MASE's denominator)."""
    y = np.asarray(history, dtype=float)
    if y.size <= season:
        return math.nan
    diff = np.abs(y[season:] - y[:-season])
    diff = diff[~np.isnan(diff)]
    return float(diff.mean()) if diff.size else math.nan


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean |a - f| over observed days divided by ``scale``; NaN when the scale is 0."""
    a, f = _pairs(actual, forecast)
    if a.size == 0 or not scale or math.isnan(scale):
        return math.nan
    return float(np.abs(a - f).mean() / scale)


def absolute_error_sums(actual: np.ndarray, forecast: np.ndarray) -> tuple[float, float, float]:
    """(sum |a - f|, sum a, sum f) over observed days: WAPE and bias of many series add up."""
    a, f = _pairs(actual, forecast)
    return float(np.abs(a - f).sum()), float(a.sum()), float(f.sum())
