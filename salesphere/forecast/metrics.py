"""Forecast error measures, over the days whose demand was observed.

* **WAPE** (weighted absolute percentage error) = sum |actual - forecast| / sum actual.
  Unlike MAPE it is defined on days without sales and weighs each unit once, so it can be
  added up over series and stores: the overall WAPE is the same formula over all rows.
* **MASE** (mean absolute scaled error) = mean |actual - forecast| divided by the in-sample
  mean absolute change over one season (seasonal naive with season 7). Below 1, the
  forecast beats "same as last week" as seen in the history; comparable across series of
  any size.
* **RMSSE** (root mean squared scaled error, the M5 competition's measure) = sqrt(mean
  squared error / in-sample mean squared one-day change), dollar-weighted over series
  with :func:`dollar_weight`.
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


def rmsse_scale(history: np.ndarray) -> float:
    """RMSSE's denominator: mean squared one-day change from the first day that sold.

    As the M5 competition defines it: the in-sample error of the naive forecast
    (tomorrow sells what today sold), squared, over the history from the series' first
    non-zero day on (the leading zeros of a product not yet listed are not demand).
    Censored days are left out of the pairs. NaN when fewer than two such days exist.
    """
    y = np.asarray(history, dtype=float)
    sold = np.flatnonzero(y > 0)
    if sold.size == 0:
        return math.nan
    y = y[sold[0] :]
    diff = np.diff(y)
    diff = diff[~np.isnan(diff)]
    return float(np.mean(diff**2)) if diff.size else math.nan


def rmsse(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Root mean squared scaled error: sqrt(mean (a - f)² / ``scale``), observed days only.

    Squared errors reward the mean (what an order quantity needs) where absolute errors
    reward the median, which on intermittent demand is often zero.
    """
    a, f = _pairs(actual, forecast)
    if a.size == 0 or not scale or math.isnan(scale):
        return math.nan
    return float(math.sqrt(np.mean((a - f) ** 2) / scale))


def dollar_weight(units: np.ndarray, price: np.ndarray, days: int = 28) -> float:
    """A series' weight in a dollar-weighted score: its sales value over its last ``days``.

    The M5 rules weight each series by units x sell price summed over the last 28 days of
    the training history, so the series that carry the money carry the score.
    """
    u = np.asarray(units, dtype=float)[-days:]
    p = np.asarray(price, dtype=float)[-days:]
    return float(np.nansum(u * np.nan_to_num(p)))
