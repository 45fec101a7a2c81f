"""Statistical alternatives to the product's forecast, kept to measure it against.

The batch layer forecasts every series with
:class:`~salesphere.forecast.models.WeekdayBlend`. These models are what it replaced:
measured on real retail sales (``salesphere forecast evaluate --dataset m5``) each of them,
and a per-series choice among them by backtest, lost to a 28-day moving average times a
weekday index. They live here, with the evaluation tooling, so that statsforecast and the
scientific stack it pulls in (pandas, scipy, statsmodels, ...) stay out of the deployed
functions; the evaluation scores ``croston_sba`` beside the engine on every run.

Regular series
    ``auto_ets``: exponential smoothing with a 7-day additive season, the error and trend
    form chosen by AICc (statsforecast's AutoETS). Knows nothing of dates.
    ``ets_calendar``: the retail calendar (:mod:`salesphere.forecast.calendar`: holidays,
    Black Friday, ... and a yearly cycle once there is a year of history) as regressors,
    fitted by least squares beside weekday dummies, and AutoETS on what the calendar does
    not explain.
Intermittent series (censored days dropped: an interval between two sales that contained
a stock-out is not an interval without demand)
    ``croston_sba`` (Croston with the Syntetos-Boylan correction), ``tsb``
    (Teunter-Syntetos-Babai) and ``adida`` (aggregate to buckets, forecast, spread back);
    their intervals are conformal, like the product's.
"""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np

from salesphere.forecast import calendar
from salesphere.forecast.models import (
    LEVELS,
    SEASON,
    Model,
    Prediction,
    TrailingAverage,
)
from salesphere.forecast.series import impute_censored

#: A yearly cycle is estimated only from at least this much history.
YEARLY_MIN_DAYS = 300


def _quiet(fn):
    """statsforecast warns on every slow optimiser convergence; the fit is still used."""

    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)

    return wrapper


class AutoEts(Model):
    name = "auto_ets"
    #: Additive season; error, trend (and damping) chosen by AICc.
    spec = "ANA"

    @_quiet
    def _fit(self, y: np.ndarray, h: int, level: list[int] | None) -> dict:
        from statsforecast.models import AutoETS

        return AutoETS(season_length=SEASON, model=self.spec).forecast(
            y=y.astype(float), h=h, level=level
        )

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        return self._fit(impute_censored(y, SEASON), h, None)["mean"]

    def predict(self, y: np.ndarray, start: date, h: int, *, intervals: bool = True) -> Prediction:
        if np.isfinite(y).sum() < 2 * SEASON:
            return TrailingAverage().predict(y, start, h, intervals=intervals)
        out = self._fit(impute_censored(y, SEASON), h, list(LEVELS) if intervals else None)
        lo = {lv: out[f"lo-{lv}"] for lv in LEVELS} if intervals else {}
        hi = {lv: out[f"hi-{lv}"] for lv in LEVELS} if intervals else {}
        return Prediction(out["mean"], lo, hi).clipped()


class EtsCalendar(AutoEts):
    """Calendar regressors by least squares, AutoETS on the remainder (see module doc)."""

    name = "ets_calendar"

    def _design(self, start: date, n: int, h: int) -> tuple[np.ndarray, np.ndarray, int]:
        yearly = n >= YEARLY_MIN_DAYS
        features = calendar.features(start, n + h, yearly=yearly)
        weekday = (np.arange(n + h) + start.weekday()) % SEASON
        dummies = np.eye(SEASON)[weekday][:, 1:]
        return np.hstack([np.ones((n + h, 1)), dummies, features]), features, 1 + SEASON - 1

    def _split(self, y: np.ndarray, start: date, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(calendar part over the history, calendar part over the horizon)."""
        n = len(y)
        design, features, skip = self._design(start, n, h)
        fit = design[:n]
        # A date that never happened in the history (no Black Friday yet) has no effect
        # to learn: its column is dropped rather than left to the solver's whims.
        used = np.r_[np.ones(skip, dtype=bool), features[:n].std(axis=0) > 0]
        beta, *_ = np.linalg.lstsq(fit[:, used], y, rcond=None)
        coef = np.zeros(design.shape[1])
        coef[used] = beta
        part = features @ coef[skip:]
        return part[:n], part[n:]

    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        filled = impute_censored(y, SEASON)
        past, future = self._split(filled, start, h)
        return self._fit(filled - past, h, None)["mean"] + future

    def predict(self, y: np.ndarray, start: date, h: int, *, intervals: bool = True) -> Prediction:
        if np.isfinite(y).sum() < 4 * SEASON:
            return AutoEts().predict(y, start, h, intervals=intervals)
        filled = impute_censored(y, SEASON)
        past, future = self._split(filled, start, h)
        out = self._fit(filled - past, h, list(LEVELS) if intervals else None)
        mean = out["mean"] + future
        lo = {lv: out[f"lo-{lv}"] + future for lv in LEVELS} if intervals else {}
        hi = {lv: out[f"hi-{lv}"] + future for lv in LEVELS} if intervals else {}
        return Prediction(mean, lo, hi).clipped()


class _Intermittent(Model):
    @_quiet
    def point(self, y: np.ndarray, start: date, h: int) -> np.ndarray:
        observed = y[~np.isnan(y)]
        if observed.size < 2 or not (observed > 0).any():
            return np.zeros(h)
        return np.asarray(self._model().forecast(y=observed.astype(float), h=h)["mean"])

    def _model(self):
        raise NotImplementedError


class CrostonSba(_Intermittent):
    name = "croston_sba"

    def _model(self):
        from statsforecast.models import CrostonSBA

        return CrostonSBA()


class Tsb(_Intermittent):
    name = "tsb"

    def _model(self):
        from statsforecast.models import TSB

        return TSB(alpha_d=0.1, alpha_p=0.1)


class Adida(_Intermittent):
    name = "adida"

    def _model(self):
        from statsforecast.models import ADIDA

        return ADIDA()


ALTERNATIVES: dict[str, Model] = {
    model.name: model for model in (AutoEts(), EtsCalendar(), CrostonSba(), Tsb(), Adida())
}
