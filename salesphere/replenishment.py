"""The order policy: one definition read by ``serving.replenishment`` and by the replay.

A periodic-review, order-up-to policy. At each review (every ``R`` days) the position is
brought up to

    order_up_to = demand over L + R  +  z(service level) x sigma over L + R

where ``L`` is the supplier's lead time and ``R`` the review period: an order placed
today arrives in ``L`` days and the next chance to order is in ``R``, so today's order
must cover ``L + R`` days. The order is the shortfall against stock on hand plus on
order, rounded up to whole cases and at least the supplier's minimum.

**Sigma over L + R is measured, not assumed.** It is the spread of what the position
really sold over every window of ``L + R`` consecutive days in the last
:data:`SIGMA_DAYS` days (population standard deviation of the window sums). Adding up
daily forecast intervals as if days were independent understated the error of busy
series (a level error lasts the whole window) and overstated it for intermittent ones;
replayed against real sales (``salesphere replenishment simulate``) the measured spread
brings the achieved fill close to the target where the interval-based sigma did not.

**The service level is per SKU** (``reference.products.service_level``, default
:data:`DEFAULT_SERVICE_LEVEL`), one of :data:`SERVICE_LEVELS`: BigQuery has no inverse
normal function, so the view carries the table of z values rendered by
:func:`service_levels_sql` and a test checks it is this module's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: The service levels a SKU may have (chance of not running out in a review cycle).
SERVICE_LEVELS: tuple[float, ...] = (0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995)
DEFAULT_SERVICE_LEVEL = 0.95
#: Days of sales behind sigma over L + R.
SIGMA_DAYS = 91


def z(service_level: float) -> float:
    """The standard normal quantile of ``service_level`` (one of :data:`SERVICE_LEVELS`)."""
    if service_level not in SERVICE_LEVELS:
        raise ValueError(
            f"service level {service_level} is not one of "
            f"{', '.join(str(v) for v in SERVICE_LEVELS)}; pick the nearest"
        )
    return NormalDist().inv_cdf(service_level)


def service_levels_sql() -> str:
    """The body of ``serving.service_levels`` (service level -> z), rendered by ``sql.render``."""
    rows = [f"STRUCT({level} AS service_level, {z(level)!r} AS z)" for level in SERVICE_LEVELS]
    return "SELECT * FROM UNNEST([\n        " + ",\n        ".join(rows) + "\n    ])"


@dataclass(frozen=True)
class Terms:
    """A SKU's replenishment terms (reference.products) and its service level."""

    lead_time_days: int
    review_period_days: int = 7
    pack_size: int = 1
    min_order_quantity: int = 0
    service_level: float = DEFAULT_SERVICE_LEVEL

    @property
    def cover_days(self) -> int:
        return self.lead_time_days + self.review_period_days


def cover_sigma(units: np.ndarray, cover_days: int, days: int = SIGMA_DAYS) -> float:
    """Spread of the units sold over every ``cover_days`` window in the last ``days`` days.

    ``units`` are daily sales up to the newest day (a day without a row sold 0, so a
    censored day counts as 0 here, as in the view). 0 when fewer days than one window.
    """
    recent = np.nan_to_num(np.asarray(units, dtype=float)[-days:])
    if cover_days <= 0 or recent.size < cover_days:
        return 0.0
    sums = np.convolve(recent, np.ones(cover_days), mode="valid")
    return float(math.sqrt(max(float(np.mean(sums**2) - np.mean(sums) ** 2), 0.0)))


def order_up_to(demand_cover: float, sigma: float, service_level: float) -> float:
    return demand_cover + z(service_level) * sigma


def order_quantity(
    up_to: float, available: float, on_order: float, pack_size: int, min_order_quantity: int
) -> int:
    """Units to order: the shortfall in whole cases, at least the minimum (0 if none).

    The shortfall is rounded to a millionth first, as in the view, so float noise cannot
    add a whole case.
    """
    shortfall = round(up_to - max(available, 0.0) - on_order, 6)
    if shortfall <= 0:
        return 0
    cases = max(math.ceil(shortfall / pack_size), math.ceil(min_order_quantity / pack_size))
    return int(cases * pack_size)
