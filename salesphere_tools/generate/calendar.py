"""When people shop: weekday rhythm, opening hours, the promotion calendar.

The tables here are what make the data look like a Brazilian retailer's: Saturdays
are the busiest store days, malls open late on Sundays, online orders peak in the
evening, Black Friday (fourth Friday of November) and the Christmas run-up spike demand
with deep discounts, and stores close on Christmas and New Year's Day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

#: Demand multiplier by weekday (Monday = 0). Weekends are busier for stores.
STORE_WEEKDAY = (0.85, 0.85, 0.9, 0.95, 1.1, 1.55, 1.3)
WEB_WEEKDAY = (1.0, 0.95, 0.95, 1.0, 1.0, 1.15, 1.25)

#: Opening hours (local, [open, close) in hours) by weekday for mall stores. Friday and
#: Saturday nights the malls stay open until 23:00, so the late-evening sales (22:00-23:00
#: local, already the next day in UTC) are part of every week.
STORE_HOURS = ((10, 22),) * 4 + ((10, 23),) * 2 + ((12, 20),)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Demand and promotion settings for one calendar day."""

    day: date
    store_factor: float  # 0 means stores are closed
    web_factor: float
    promo_depth: tuple[int, int]  # discount % range on promoted SKUs; (0, 0) = no promotion
    label: str


def black_friday(year: int) -> date:
    """Fourth Friday of November: the Brazilian retail calendar's biggest day."""
    first = date(year, 11, 1)
    first_friday = first + timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + timedelta(weeks=3)


def plan_day(day: date) -> DayPlan:
    """The promotion calendar for ``day``; the multipliers compound with the weekday."""
    weekday = day.weekday()
    store = STORE_WEEKDAY[weekday]
    web = WEB_WEEKDAY[weekday]
    bf = black_friday(day.year)
    delta = (day - bf).days
    label = ""
    depth = (0, 0)
    if (day.month, day.day) in ((12, 25), (1, 1)):
        return DayPlan(day, 0.0, 0.35, (0, 0), "feriado (lojas fechadas)")
    if delta == 0:
        store, web, depth, label = store * 2.6, web * 4.0, (20, 50), "Black Friday"
    elif 1 <= delta <= 2:
        store, web, depth, label = store * 1.5, web * 1.8, (15, 40), "fim de semana Black Friday"
    elif delta == 3:
        store, web, depth, label = store * 1.1, web * 2.5, (15, 35), "Cyber Monday"
    elif -4 <= delta < 0:
        store, web, depth, label = store * 1.15, web * 1.4, (10, 25), "Black Week"
    elif day.month == 12 and 10 <= day.day <= 24:
        ramp = 1.2 + (day.day - 10) * 0.06
        store, web, depth, label = store * ramp, web * (ramp - 0.1), (0, 0), "Natal"
    elif day.day <= 7:
        # Payday (first business days of the month) lifts demand a little.
        store, web, label = store * 1.08, web * 1.05, "início do mês"
    return DayPlan(day, store, web, depth, label)


def _minute_table(weights_by_hour: dict[int, float]) -> list[float]:
    """Cumulative per-minute weights for one day (1440 entries)."""
    per_minute = [weights_by_hour.get(minute // 60, 0.0) for minute in range(1440)]
    return list(accumulate(per_minute))


def store_minutes(weekday: int) -> list[float]:
    """Cumulative minute weights for a store: lunch and after-work peaks."""
    opens, closes = STORE_HOURS[weekday]
    shape = {
        11: 0.8,
        12: 1.3,
        13: 1.3,
        14: 0.9,
        15: 0.8,
        16: 0.9,
        17: 1.1,
        18: 1.4,
        19: 1.5,
        20: 1.2,
        21: 0.9,
        22: 0.7,
    }
    return _minute_table({h: shape.get(h, 0.6) for h in range(opens, closes)})


def web_minutes() -> list[float]:
    """Cumulative minute weights for the web shop: open all night, evening peak."""
    shape = {
        0: 0.5,
        1: 0.3,
        2: 0.15,
        3: 0.1,
        4: 0.1,
        5: 0.15,
        6: 0.3,
        7: 0.5,
        8: 0.7,
        9: 0.9,
        10: 1.0,
        11: 1.0,
        12: 1.1,
        13: 1.0,
        14: 0.95,
        15: 0.95,
        16: 1.0,
        17: 1.05,
        18: 1.2,
        19: 1.4,
        20: 1.6,
        21: 1.6,
        22: 1.3,
        23: 0.9,
    }
    return _minute_table(shape)
