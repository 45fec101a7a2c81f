"""serving.replenishment against hand-computed cases, in the twin, on both sides of the cutoff.

Each position is small enough to work out on paper; the comment above each case shows the
working. ``Z`` is the standard normal quantile of the view's 95% service level. Forecast
rows are written relative to today on the store's clock (the view's window starts there),
sales and counts relative to now.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from salesphere import replenishment as policy
from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.model import finalize
from salesphere_tools import purchasing
from salesphere_tools.report import data
from tests.support import batch as h

pytestmark = pytest.mark.twin

Z = 1.6448536269514722
Z95 = 1.959963984540054  # the 95% interval's half-width in sigmas
Z80 = 1.2815515655446004
_orders = count(1)

#: sku -> (lead time, review period, pack size, min order); None: blank in the catalogue.
PRODUCTS: dict[str, tuple[int, int | None, int | None, int | None]] = {
    "FULL": (2, 3, 6, 12),
    "PART": (3, 7, 1, 0),
    "MOQ": (0, 7, 4, 10),
    "TRAIL": (5, 7, 1, 0),
    "NEG": (3, None, None, None),
    "NOSALE": (4, 7, 1, 0),
    "PEAK": (3, 7, 1, 0),
}


def _sale(store: str, sku: str, qty: int, at: datetime, received: datetime):
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": at,
            "source": "pos",
            "store_id": store,
            "sku": sku,
            "quantity": qty,
            "unit_price": "10.00",
            "discount": "0.00",
            "order_id": f"r{next(_orders)}",
            "line_number": 1,
        },
        received,
    )


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)  # 09:00 in São Paulo


def _events(today: date, now: datetime, received: datetime) -> list:
    ago = lambda days: _noon(today - timedelta(days=days))  # noqa: E731
    counted = now - timedelta(minutes=1)  # after every sale below: on hand = the count
    events = [
        h.count("S1", "FULL", 10, counted, received),
        h.count("S1", "PART", 100, counted, received),
        h.count("S1", "MOQ", 0, counted, received),
        h.count("S1", "TRAIL", 20, counted, received),
        h.count("AM01", "NOSALE", 10, counted, received),
        h.count("S1", "PEAK", 20, counted, received),
    ]
    # PEAK: 1 sold on each of the 28 days up to yesterday (a quiet history).
    events += [_sale("S1", "PEAK", 1, ago(d), received) for d in range(1, 29)]
    # TRAIL: 7 sold on each of 4 days within the 28 up to the newest sale day (yesterday);
    # 100 sold 29 days ago fall outside the window.
    events += [_sale("S1", "TRAIL", 7, ago(d), received) for d in (1, 8, 15, 22)]
    events.append(_sale("S1", "TRAIL", 100, ago(29), received))
    # NEG: counted 2 yesterday morning, then 5 sold: on hand -3.
    events.append(h.count("S1", "NEG", 2, ago(1) - timedelta(hours=1), received))
    events.append(_sale("S1", "NEG", 5, ago(1), received))
    return events


def _forecasts(today: date) -> list[dict]:
    def row(sku: str, offset: int, units: float, hi_80=None, hi_95=None) -> dict:
        return {
            "store_id": "S1",
            "sku": sku,
            "forecast_date": (today + timedelta(days=offset)).isoformat(),
            "origin_date": (today - timedelta(days=1)).isoformat(),
            "model": "test",
            "units": units,
            "units_lo_80": None,
            "units_hi_80": hi_80,
            "units_lo_95": None,
            "units_hi_95": hi_95,
            "run_id": "run-test",
            "computed_at": datetime.now(UTC).isoformat(),
        }

    rows = [row("FULL", d, 4.0, hi_95=4.0 + Z95 * 2) for d in range(10)]  # sigma 2 a day
    rows += [row("PART", d, 2.0, hi_80=2.0 + Z80 * 1) for d in range(5)]  # sigma 1, 5 days
    rows.append(row("PART", -1, 100.0))  # yesterday: before the window, ignored
    rows += [row("MOQ", d, 1.0) for d in range(14)]  # no interval: sigma 0
    rows += [row("PEAK", d, 10.0) for d in range(10)]  # a peak the history never saw
    return rows


def _trail_units() -> list[float]:
    """TRAIL's daily sales from its first day (29 days ago) to yesterday, oldest first."""
    units = [0.0] * 29
    units[0] = 100.0
    for days_ago in (1, 8, 15, 22):
        units[29 - days_ago] = 7.0
    return units


TRAIL_SIGMA = policy.cover_sigma(_trail_units(), 12)


def _expected(today: date, manaus_today: date) -> dict[tuple[str, str], dict]:
    d = lambda n: today + timedelta(days=n)  # noqa: E731
    return {
        # FULL: L 2 + R 3 = 5 days of 4 units, sigma 2 a day. Lead 8, window 20,
        # sigma sqrt(5 * 4) = sqrt(20). On hand 10: cumulative 4, 8, 12 > 10 on day 2.
        # Order up to 20 + Z sqrt(20) = 27.36 - 10 = 17.36 -> 3 cases of 6 = 18 (min 12).
        ("S1", "FULL"): dict(
            as_of_date=today,
            on_hand=10,
            demand_source="forecast",
            forecast_days=5,
            demand_days=0,
            daily_demand=4.0,
            demand_lead_time=8.0,
            demand_lead_review=20.0,
            sigma_lead_review=math.sqrt(20),
            safety_stock=Z * math.sqrt(20),
            computed_reorder_point=8 + Z * math.sqrt(20),
            order_up_to=20 + Z * math.sqrt(20),
            stockout_date=d(2),
            suggested_order_quantity=18,
            urgent=True,
        ),
        # PART: L 3 + R 7 = 10 days, the forecast covers 5 (2 units, sigma 1 from the 80%
        # interval). Window 10 * 10 / 5 = 20; lead 3 days covered = 6; variance 5 * 10 / 5
        # = 10. On hand 100 outlasts the horizon (cumulative 10): no stock-out date, and
        # 20 + Z sqrt(10) = 25.2 < 100: nothing to order.
        ("S1", "PART"): dict(
            as_of_date=today,
            on_hand=100,
            demand_source="forecast",
            forecast_days=5,
            demand_days=0,
            daily_demand=2.0,
            demand_lead_time=6.0,
            demand_lead_review=20.0,
            sigma_lead_review=math.sqrt(10),
            safety_stock=Z * math.sqrt(10),
            computed_reorder_point=6 + Z * math.sqrt(10),
            order_up_to=20 + Z * math.sqrt(10),
            stockout_date=None,
            suggested_order_quantity=0,
            urgent=False,
        ),
        # MOQ: L 0 + R 7, 1 unit a day, no interval. Nothing on hand: out today. Need 7 ->
        # 2 cases of 4 = 8, but the minimum 10 is 3 cases: 12.
        ("S1", "MOQ"): dict(
            as_of_date=today,
            on_hand=0,
            demand_source="forecast",
            forecast_days=7,
            demand_days=0,
            daily_demand=1.0,
            demand_lead_time=0.0,
            demand_lead_review=7.0,
            sigma_lead_review=0.0,
            safety_stock=0.0,
            computed_reorder_point=0.0,
            order_up_to=7.0,
            stockout_date=today,
            suggested_order_quantity=12,
            urgent=True,
        ),
        # TRAIL: no forecast; observed since 29 days ago and never empty, so all 28 days of
        # the window count. 28 sold in them: 1 a day. L 5 + R 7 = 12: sigma is measured over
        # the 18 windows of 12 days from its first day (29 days ago, the 100 sold) to
        # yesterday (TRAIL_SIGMA). Order up to 12 + Z sigma, less 20 on hand. 20 on hand at
        # 1 a day: cumulative exceeds 20 on day 20.
        ("S1", "TRAIL"): dict(
            as_of_date=today,
            on_hand=20,
            demand_source="trailing_average",
            forecast_days=0,
            demand_days=28,
            daily_demand=1.0,
            demand_lead_time=5.0,
            demand_lead_review=12.0,
            sigma_lead_review=TRAIL_SIGMA,
            safety_stock=Z * TRAIL_SIGMA,
            computed_reorder_point=5 + Z * TRAIL_SIGMA,
            order_up_to=12 + Z * TRAIL_SIGMA,
            stockout_date=d(20),
            suggested_order_quantity=policy.order_quantity(12 + Z * TRAIL_SIGMA, 20, 0, 1, 0),
            urgent=5 + Z * TRAIL_SIGMA >= 20,
        ),
        # NEG: blank terms take the defaults (R 7, pack 1, no minimum). On hand -3 counts as
        # 0: out today. Observed from its first stock event, yesterday: 1 day, 5 sold (not
        # 5 / 28: a new SKU). L 3 + R 7 = 10: window 50, no spread in one day: order 50.
        ("S1", "NEG"): dict(
            as_of_date=today,
            on_hand=-3,
            demand_source="trailing_average",
            forecast_days=0,
            demand_days=1,
            daily_demand=5.0,
            demand_lead_time=15.0,
            demand_lead_review=50.0,
            sigma_lead_review=0.0,
            safety_stock=0.0,
            computed_reorder_point=15.0,
            order_up_to=50.0,
            stockout_date=today,
            suggested_order_quantity=50,
            urgent=True,
        ),
        # PEAK: the history says 1 a day, the forecast 10 a day for L 3 + R 7 = 10 days, no
        # interval. Lead 30, window 100; 20 on hand: cumulative 10, 20, 30 > 20 on day 2.
        # Order 100 - 20 = 80, urgent (20 <= 30).
        ("S1", "PEAK"): dict(
            as_of_date=today,
            on_hand=20,
            demand_source="forecast",
            forecast_days=10,
            demand_days=28,
            daily_demand=10.0,
            demand_lead_time=30.0,
            demand_lead_review=100.0,
            sigma_lead_review=0.0,
            safety_stock=0.0,
            computed_reorder_point=30.0,
            order_up_to=100.0,
            stockout_date=d(2),
            suggested_order_quantity=80,
            urgent=True,
        ),
        # NOSALE in Manaus: its own today; nothing sold, nothing expected, nothing to order.
        ("AM01", "NOSALE"): dict(
            as_of_date=manaus_today,
            on_hand=10,
            demand_source="trailing_average",
            forecast_days=0,
            demand_days=0,
            daily_demand=0.0,
            demand_lead_time=0.0,
            demand_lead_review=0.0,
            sigma_lead_review=0.0,
            safety_stock=0.0,
            computed_reorder_point=0.0,
            order_up_to=0.0,
            stockout_date=None,
            suggested_order_quantity=0,
            urgent=False,
        ),
    }


def _backtest() -> list[dict]:
    """Two series of the newest run (and an older run the dashboard must ignore)."""

    def row(sku: str, cls: str, model: str, wape: float, chosen: bool, run: str) -> dict:
        return {
            "store_id": "S1",
            "sku": sku,
            "series_class": cls,
            "model": model,
            "chosen": chosen,
            "wape": wape,
            "mase": 1.0,
            "bias": 0.0,
            "folds": 3,
            "horizon_days": 28,
            "run_id": run,
            "computed_at": ("2026-11-01T00:00:00Z" if run == "old" else "2026-11-30T00:00:00Z"),
        }

    return [
        row("FULL", "regular", "AutoETS", 0.3, True, "new"),
        row("FULL", "regular", "seasonal_naive", 0.4, False, "new"),
        row("FULL", "regular", "trailing_avg_28", 0.5, False, "new"),
        row("PART", "intermittent", "CrostonSBA", 0.75, True, "new"),
        row("PART", "intermittent", "seasonal_naive", 0.8, False, "new"),
        row("PART", "intermittent", "trailing_avg_28", 0.7, False, "new"),
        row("FULL", "regular", "AutoETS", 9.9, True, "old"),
    ]


#: (class, model) -> (series, mean WAPE) of the newest run, by hand.
BACKTEST_EXPECTED = {
    ("all", "AutoETS"): (1, 0.3),
    ("all", "CrostonSBA"): (1, 0.75),
    ("all", "chosen per series"): (2, 0.525),
    ("all", "seasonal_naive"): (2, 0.6),
    ("all", "trailing_avg_28"): (2, 0.6),
    ("regular", "AutoETS"): (1, 0.3),
    ("regular", "chosen per series"): (1, 0.3),
    ("regular", "seasonal_naive"): (1, 0.4),
    ("regular", "trailing_avg_28"): (1, 0.5),
    ("intermittent", "CrostonSBA"): (1, 0.75),
    ("intermittent", "chosen per series"): (1, 0.75),
    ("intermittent", "seasonal_naive"): (1, 0.8),
    ("intermittent", "trailing_avg_28"): (1, 0.7),
}


def _load_reference(settings) -> None:
    bq = clients.bigquery_client(settings)
    for sql in (
        "DELETE FROM reference.products WHERE TRUE",
        "DELETE FROM reference.stores WHERE TRUE",
        "DELETE FROM batch.demand_forecast WHERE TRUE",
        "DELETE FROM batch.forecast_accuracy WHERE TRUE",
    ):
        bq.query_and_wait(sql)
    products = [
        {
            "sku": sku,
            "name": sku.title(),
            "category": "test",
            "unit_cost": "1.00",
            "list_price": "2.00",
            "reorder_point": 5,
            "supplier_lead_time_days": lead,
            "supplier": "x",
            "review_period_days": review,
            "pack_size": pack,
            "min_order_quantity": minimum,
        }
        for sku, (lead, review, pack, minimum) in PRODUCTS.items()
    ]
    stores = [
        {"store_id": s, "name": s, "city": "c", "state": "SP", "channel": "store", "timezone": tz}
        for s, tz in (("S1", "America/Sao_Paulo"), ("AM01", "America/Manaus"))
    ]
    assert bq.insert_rows_json(f"{settings.project}.reference.products", products) == []
    assert bq.insert_rows_json(f"{settings.project}.reference.stores", stores) == []


#: serving.stock_alerts over the same data: sku -> (on_hand, avg_daily_units, demand_days,
#: demand_source, days_of_cover, alert). PEAK alerts only because of its forecast: 10 a day
#: over the 3-day lead time covers 20 on hand for 2 days; its history (1 a day) says 20.
#: FULL (4 a day over its 2-day lead time: 2.5 days), PART, TRAIL, NOSALE: no alert.
ALERTS = {
    "MOQ": (0, 1.0, 0, "forecast", 0.0, "out_of_stock"),  # lead time 0: the window's average
    "NEG": (-3, 5.0, 1, "observed", None, "count_needed"),
    "PEAK": (20, 10.0, 28, "forecast", 2.0, "cover_below_lead_time"),
}


def _alerts(settings) -> dict[str, tuple]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT sku, on_hand, avg_daily_units, demand_days, demand_source, days_of_cover, alert "
        "FROM serving.stock_alerts"
    )
    return {
        r["sku"]: (
            r["on_hand"],
            round(r["avg_daily_units"], 6),
            r["demand_days"],
            r["demand_source"],
            None if r["days_of_cover"] is None else round(r["days_of_cover"], 6),
            r["alert"],
        )
        for r in rows
    }


FLOATS = (
    "daily_demand",
    "demand_lead_time",
    "demand_lead_review",
    "sigma_lead_review",
    "safety_stock",
    "computed_reorder_point",
    "order_up_to",
)


def _actual(settings) -> dict[tuple[str, str], dict]:
    columns = ", ".join(
        (
            "store_id, sku, as_of_date, on_hand, demand_source, forecast_days, demand_days",
            *FLOATS,
            "stockout_date, suggested_order_quantity, urgent",
        )
    )
    rows = clients.bigquery_client(settings).query_and_wait(
        f"SELECT {columns} FROM serving.replenishment"
    )
    out = {}
    for r in rows:
        values = {k: v for k, v in dict(r.items()).items() if k not in ("store_id", "sku")}
        for name in FLOATS:
            values[name] = round(values[name], 6)
        out[(r["store_id"], r["sku"])] = values
    return out


def _rounded(expected: dict[tuple[str, str], dict]) -> dict[tuple[str, str], dict]:
    return {
        key: {k: round(v, 6) if k in FLOATS else v for k, v in row.items()}
        for key, row in expected.items()
    }


def test_replenishment_matches_hand_computed_cases_on_both_sides_of_the_cutoff(
    quiet_twin, tmp_path
) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _load_reference(settings)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/Sao_Paulo")).date()
    manaus_today = now.astimezone(ZoneInfo("America/Manaus")).date()
    received = now - timedelta(minutes=1)
    events = _events(today, now, received)
    bq = clients.bigquery_client(settings)
    assert bq.insert_rows_json(f"{settings.project}.batch.demand_forecast", _forecasts(today)) == []
    h.archive(settings, events, "replenishment")
    h.land_speed(settings, events)
    expected = _rounded(_expected(today, manaus_today))
    assert _actual(settings) == expected  # stock and sales in the speed half
    # The forecast rows above are this test's hand-computed input: the batch run moves the
    # events to the batch half but must not refit them (its own step is tested elsewhere).
    run_batch(
        dataclasses.replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - received - timedelta(seconds=1),
    )
    assert _actual(settings) == expected  # ...and in the batch half
    assert _alerts(settings) == ALERTS

    # The purchasing export of the same view: what to order, urgent first, then by the day
    # stock runs out, in pt-BR cells.
    out = purchasing.export(settings, "S1", tmp_path / "s1.csv").path
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [r["SKU"] for r in rows] == ["MOQ", "NEG", "FULL", "PEAK", "TRAIL"]
    by_sku = {r["SKU"]: r for r in rows}
    assert by_sku["FULL"]["Sugestão de compra (un.)"] == "18"
    assert by_sku["FULL"]["Sugestão de compra (caixas)"] == "3"
    assert by_sku["FULL"]["Ruptura prevista em"] == f"{today + timedelta(days=2):%d/%m/%Y}"
    assert by_sku["TRAIL"]["Estoque de segurança (un.)"] == f"{Z * TRAIL_SIGMA:.1f}".replace(
        ".", ","
    )

    # The dashboard's reads of the same data, as the emulator runs them.
    assert bq.insert_rows_json(f"{settings.project}.batch.forecast_accuracy", _backtest()) == []
    report = data.fetch(settings)
    assert report.has_forecast
    assert [r["sku"] for r in report.suggestions] == ["MOQ", "NEG", "FULL", "PEAK", "TRAIL"]
    charted = {s["sku"]: s for s in report.forecast_series}
    assert list(charted) == ["TRAIL", "PEAK", "NEG"]  # by revenue: 128, 28 and 5 units
    assert [h["units"] for h in charted["TRAIL"]["history"]] == [100, 7, 7, 7, 7]
    assert charted["TRAIL"]["forecast"] == [] and charted["NEG"]["stockout_date"] == today
    scores = {
        (r["series_class"], r["model"]): (r["series"], round(r["wape"], 6)) for r in report.accuracy
    }
    assert scores == BACKTEST_EXPECTED
