"""Demand forecasts per store and SKU: series, models, backtest, and the batch step.

Pure logic lives in :mod:`.series` (daily series with stock-out days missing, and their
class), :mod:`.metrics` (WAPE, MASE, bias), :mod:`.models` (the product's forecast and its
baselines, plain numpy), :mod:`.backtest` (rolling-origin evaluation) and
:mod:`.engine` (all series of a run, in parallel when asked). Nothing here does I/O: the
batch step (:mod:`salesphere.batch.forecast`, its tables in
:mod:`salesphere.batch.forecast_tables`) reads the daily sales and stock and replaces
``batch.demand_forecast`` and ``batch.forecast_accuracy`` in one transaction.
See docs/forecast.md.
"""
