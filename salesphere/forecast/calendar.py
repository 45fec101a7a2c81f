"""The Brazilian retail calendar, as dates and as the model's calendar features.

Demand in Brazilian retail moves with a handful of dates everyone knows in advance: Black
Friday (fourth Friday of November) and its week, the Christmas run-up, the two days the
malls close (25 December, 1 January), Dia das Mães (second Sunday of May), Dia dos Pais
(second Sunday of August), Dia das Crianças (12 October), back to school (late January to
February) and the national holidays (from the ``holidays`` package, pinned, so a change
in a holiday law arrives with a reviewed upgrade rather than silently). Because these dates
are known for the whole horizon, they are the features a model with regressors (ARIMA
with exogenous columns) can use; a model without them learns only the weekly rhythm.

The generator (``salesphere_tools.generate.demand``) takes the *dates* from here and
decides on its own how strongly each one moves each category; the forecaster sees only the
dates and learns the effect per series from history.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

#: Feature columns, in the order of :func:`features` (documented in docs/forecast.md).
FEATURES: tuple[str, ...] = (
    "black_week",
    "black_friday",
    "black_weekend",
    "cyber_monday",
    "christmas_runup",
    "closed",
    "after_christmas",
    "mothers_day_runup",
    "fathers_day_runup",
    "childrens_day_runup",
    "back_to_school",
    "holiday",
    "month_start",
)
#: Yearly Fourier terms, added only when the history covers most of a year.
YEARLY: tuple[str, ...] = ("year_sin1", "year_cos1", "year_sin2", "year_cos2")


def black_friday(year: int) -> date:
    """Fourth Friday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7) + timedelta(weeks=3)


def nth_sunday(year: int, month: int, n: int) -> date:
    """The ``n``-th Sunday of ``month`` (Dia das Mães: May, 2; Dia dos Pais: August, 2)."""
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7) + timedelta(weeks=n - 1)


def mothers_day(year: int) -> date:
    return nth_sunday(year, 5, 2)


def fathers_day(year: int) -> date:
    return nth_sunday(year, 8, 2)


def childrens_day(year: int) -> date:
    return date(year, 10, 12)


def back_to_school(year: int) -> tuple[date, date]:
    """The school-supplies season: from 20 January to 20 February (inclusive)."""
    return date(year, 1, 20), date(year, 2, 20)


@lru_cache(maxsize=64)
def national_holidays(year: int) -> frozenset[date]:
    """Brazil's national public holidays of ``year`` (the ``holidays`` package)."""
    import holidays

    return frozenset(holidays.country_holidays("BR", years=year, categories=("public",)))


def closed(day: date) -> bool:
    """The two days the malls close: Christmas Day and New Year's Day."""
    return (day.month, day.day) in ((12, 25), (1, 1))


def _runup(day: date, target: date, days: int) -> float:
    """1 on the ``days`` days up to and including ``target``, else 0."""
    return 1.0 if 0 <= (target - day).days < days else 0.0


@lru_cache(maxsize=8192)
def day_features(day: date) -> tuple[float, ...]:
    """One day's values of :data:`FEATURES` (indicators, and a 0..1 Christmas ramp)."""
    bf = black_friday(day.year)
    delta = (day - bf).days
    start, end = back_to_school(day.year)
    christmas = 0.0
    if day.month == 12 and 10 <= day.day <= 24:
        christmas = (day.day - 9) / 15
    holiday = 1.0 if day in national_holidays(day.year) and not closed(day) else 0.0
    return (
        1.0 if -4 <= delta < 0 else 0.0,
        1.0 if delta == 0 else 0.0,
        1.0 if 1 <= delta <= 2 else 0.0,
        1.0 if delta == 3 else 0.0,
        christmas,
        1.0 if closed(day) else 0.0,
        1.0 if day.month == 12 and day.day >= 26 else 0.0,
        _runup(day, mothers_day(day.year), 8),
        _runup(day, fathers_day(day.year), 8),
        _runup(day, childrens_day(day.year), 11),
        1.0 if start <= day <= end else 0.0,
        holiday,
        1.0 if day.day <= 7 else 0.0,
    )


def features(first: date, days: int, *, yearly: bool) -> np.ndarray:
    """Feature matrix (``days`` rows from ``first``): :data:`FEATURES` then :data:`YEARLY`.

    Cached (read-only): the series of one run share their dates, and building the rows is
    the slowest part of a cheap model's fit.
    """
    return _features(first, days, yearly)


@lru_cache(maxsize=256)
def _features(first: date, days: int, yearly: bool) -> np.ndarray:
    return _build(first, days, yearly=yearly)


def _build(first: date, days: int, *, yearly: bool) -> np.ndarray:
    rows = [day_features(first + timedelta(days=i)) for i in range(days)]
    out = np.asarray(rows, dtype=float).reshape(days, len(FEATURES))
    if yearly:
        ordinal = np.arange(first.toordinal(), first.toordinal() + days, dtype=float)
        angle = 2 * math.pi * ordinal / 365.25
        fourier = np.column_stack(
            [np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)]
        )
        out = np.hstack([out, fourier])
    out.setflags(write=False)
    return out


def feature_names(*, yearly: bool) -> tuple[str, ...]:
    return FEATURES + (YEARLY if yearly else ())
