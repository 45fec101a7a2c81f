"""Daily demand series per store and SKU, with stock-out days missing rather than zero.

A day on which the shelf was empty says nothing about demand: sales were whatever stock
allowed, often zero. Reading those days as "no demand" teaches every model that demand
falls exactly when it outran stock, and the next forecast orders too little: the stock-out
repeats. So a censored day is ``NaN`` in :attr:`Series.y` and is left out of every fit
and every error measure; a day without sales on which stock *was* available is a real zero.

Censored days come from the stock positions (``salesphere.batch.forecast_tables`` derives
them from the events) or, for data that carries it, a ``stockout`` flag on the input frame.

The class decides which models are tried: Syntetos and Boylan's average demand interval
(ADI, days per day with demand) and squared coefficient of variation of the non-zero sizes
(CV²). A series with ADI >= 1.32 sells on fewer than three days in four and is
``intermittent`` (Croston-type models); otherwise it is ``regular`` (exponential smoothing,
ARIMA with calendar regressors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

REGULAR = "regular"
INTERMITTENT = "intermittent"
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
#: The class is judged on the recent past: a product can start or stop selling steadily.
CLASSIFY_DAYS = 182


@dataclass
class Series:
    """One store x SKU: daily units from ``start`` to the origin, ``NaN`` where censored."""

    store_id: str
    sku: str
    start: date
    y: np.ndarray  # float64, NaN on stock-out days

    @property
    def key(self) -> tuple[str, str]:
        return self.store_id, self.sku

    @property
    def origin(self) -> date:
        """The last day of actuals (the forecast starts the day after)."""
        return self.start + timedelta(days=len(self.y) - 1)

    @property
    def censored(self) -> np.ndarray:
        return np.isnan(self.y)

    def head(self, days: int) -> Series:
        """The first ``days`` days: the series as it was known on an earlier origin."""
        return Series(self.store_id, self.sku, self.start, self.y[:days])


def _column(frame: Any, name: str) -> np.ndarray | None:
    try:
        values = frame[name]
    except (KeyError, IndexError):
        return None
    return np.asarray(values)


def _days(values: np.ndarray) -> np.ndarray:
    """Dates (``date``, ``datetime64`` or ISO strings) as integer day numbers."""
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64)


def build_series(
    frame: Any,
    *,
    origin: date | None = None,
    stockout_days: Mapping[tuple[str, str], Iterable[date]] | None = None,
) -> list[Series]:
    """One :class:`Series` per (store_id, sku) in ``frame``, sorted by key.

    ``frame`` has columns ``store_id``, ``sku``, ``day`` (local business day), ``units``
    and optionally ``stockout`` (bool): a pandas DataFrame, a pyarrow Table or a dict of
    arrays. Days between a series' first row and ``origin`` (default: the newest day in
    the frame) without a row sold nothing. ``stockout_days`` adds censored days from stock
    positions; both sources together decide, and a censored day is ``NaN`` whatever units
    the frame holds for it.
    """
    stores = _column(frame, "store_id")
    skus = _column(frame, "sku")
    day_values = _column(frame, "day")
    units = _column(frame, "units")
    if stores is None or skus is None or day_values is None or units is None:
        raise ValueError("the frame needs columns store_id, sku, day and units")
    if len(units) == 0:
        return []
    days = _days(day_values)
    flags = _column(frame, "stockout")
    flags = np.zeros(len(days), dtype=bool) if flags is None else flags.astype(bool)
    last = int(days.max()) if origin is None else _days(np.array([origin]))[0]
    epoch = date(1970, 1, 1)
    keys = np.char.add(np.char.add(stores.astype(str), "\x1f"), skus.astype(str))
    order = np.lexsort((days, keys))
    keys, days, flags = keys[order], days[order], flags[order]
    values = np.asarray(units, dtype=float)[order]
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    out = []
    for lo, hi in pairwise(bounds):
        store_id, sku = str(keys[lo]).split("\x1f", 1)
        first = int(days[lo])
        if first > last:
            continue
        keep = days[lo:hi] <= last
        length = last - first + 1
        y = np.zeros(length)
        idx = days[lo:hi][keep] - first
        np.add.at(y, idx, values[lo:hi][keep])
        censored = np.zeros(length, dtype=bool)
        censored[idx[flags[lo:hi][keep]]] = True
        start = epoch + timedelta(days=first)
        for day in (stockout_days or {}).get((store_id, sku), ()):
            offset = (day - start).days
            if 0 <= offset < length:
                censored[offset] = True
        y[censored] = np.nan
        out.append(Series(store_id, sku, start, y))
    return out


@dataclass(frozen=True)
class SeriesClass:
    name: str  # REGULAR or INTERMITTENT
    adi: float
    cv2: float


def classify(y: np.ndarray, *, recent: int = CLASSIFY_DAYS) -> SeriesClass:
    """ADI and CV² over the last ``recent`` observed days; intermittent when ADI >= 1.32."""
    observed = y[~np.isnan(y)][-recent:]
    nonzero = observed[observed > 0]
    if nonzero.size == 0:
        return SeriesClass(INTERMITTENT, float("inf"), 0.0)
    adi = observed.size / nonzero.size
    mean = nonzero.mean()
    cv2 = float(nonzero.var() / mean**2) if nonzero.size > 1 else 0.0
    return SeriesClass(REGULAR if adi < ADI_CUTOFF else INTERMITTENT, float(adi), cv2)


def impute_censored(y: np.ndarray, season: int = 7) -> np.ndarray:
    """Fill censored days for models that need every day (not for scoring).

    Each missing day takes the median of the same weekday over the four nearest earlier
    observed weeks (later ones when there are none before), else the series' median:
    what the day would most likely have sold with stock on the shelf.
    """
    out = y.copy()
    missing = np.flatnonzero(np.isnan(y))
    if missing.size == 0:
        return out
    fallback = float(np.nanmedian(y)) if np.isfinite(y).any() else 0.0
    for t in missing:
        same = y[t % season :: season]
        pos = t // season
        before = same[:pos][~np.isnan(same[:pos])][-4:]
        after = same[pos + 1 :][~np.isnan(same[pos + 1 :])][:4]
        pick = before if before.size else after
        out[t] = float(np.median(pick)) if pick.size else fallback
    return out
