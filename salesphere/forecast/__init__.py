"""Demand forecasts per store and SKU: series, models, backtest, and the batch step.

Pure logic lives in :mod:`.series` (daily series with stock-out days missing, and their
class), :mod:`.metrics` (WAPE, MASE, bias), :mod:`.models` (the candidate models on top of
``statsforecast``), :mod:`.backtest` (rolling-origin evaluation and model choice) and
:mod:`.engine` (all series of a run, in parallel when asked). :mod:`.warehouse` is the only
module that talks to BigQuery: it reads the batch layer's daily sales and stock, and
replaces ``batch.demand_forecast`` and ``batch.forecast_accuracy`` in one transaction.
See docs/forecast.md.
"""
