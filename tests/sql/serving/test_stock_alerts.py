"""serving.stock_alerts against hand-computed cases, in the twin, before and after a batch run.

Each position below is small enough to work out on paper; the expected numbers in
``EXPECTED`` are those hand computations (the docstring of each builder shows them), so a
change to the demand rule (observed days, censored out-of-stock days, the 28-day cap) or to
the alert kinds fails here with the case that broke.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.model import finalize
from tests.support import batch as h

pytestmark = pytest.mark.twin

ANCHOR = date(2026, 11, 28)  # the newest sale date of the data below
_orders = count(1)


def _sale(day: date, qty: int, sku: str, received: datetime):
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
            "source": "pos",
            "store_id": "S1",
            "sku": sku,
            "quantity": qty,
            "unit_price": "10.00",
            "discount": "0.00",
            "order_id": f"t{next(_orders)}",
            "line_number": 1,
        },
        received,
    )


def _receipt(day: date, qty: int, sku: str, received: datetime):
    return finalize(
        {
            "event_type": "stock_receipt",
            "occurred_at": datetime(day.year, day.month, day.day, 8, tzinfo=UTC),
            "source": "inventory",
            "store_id": "S1",
            "sku": sku,
            "quantity": qty,
            "source_ref": f"NF-{sku}-{day.isoformat()}",
        },
        received,
    )


def _count(day: date, qty: int, sku: str, received: datetime):
    return h.count("S1", sku, qty, datetime(day.year, day.month, day.day, 8, tzinfo=UTC), received)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _history(received: datetime) -> list:
    nov = lambda d: date(2026, 11, d)  # noqa: E731
    events = []
    # NEW: a week of history. Count 100 on 22/11, 10 sold each day 22..28.
    # on hand 100 - 70 = 30; demand 70 / 7 observed days = 10 (not 70 / 28 = 2.5);
    # cover 3.0 < lead time 5 -> cover_below_lead_time.
    events.append(_count(nov(22), 100, "NEW", received))
    events += [_sale(d, 10, "NEW", received) for d in _days(nov(22), nov(28))]
    # CENSORED: count 20 on 21/11; 10 sold on 21 and 22 (closes 22 at 0); nothing on 23, 24
    # (closed at 0 and sold nothing: out of stock, excluded); 50 received on 25; 10 sold
    # each day 25..28. on hand 20 - 20 + 50 - 40 = 10; demand 60 / 6 in-stock days = 10;
    # cover 1.0 < lead time 3 -> cover_below_lead_time.
    events.append(_count(nov(21), 20, "CENSORED", received))
    events += [_sale(d, 10, "CENSORED", received) for d in (nov(21), nov(22))]
    events.append(_receipt(nov(25), 50, "CENSORED", received))
    events += [_sale(d, 10, "CENSORED", received) for d in _days(nov(25), nov(28))]
    # NEGATIVE: count 5 on 27/11, 8 sold the same day: on hand -3 -> count_needed, no days
    # of cover. 28/11 closed at -3 and sold nothing (excluded): demand 8 / 1 day = 8.
    events.append(_count(nov(27), 5, "NEGATIVE", received))
    events.append(_sale(nov(27), 8, "NEGATIVE", received))
    # LONG: 40 days of history, 1 sold a day from 20/10: only the 28 days up to the anchor
    # count: demand 28 / 28 = 1; on hand 100 - 40 = 60 <= reorder point 70.
    events.append(_count(date(2026, 10, 20), 100, "LONG", received))
    events += [_sale(d, 1, "LONG", received) for d in _days(date(2026, 10, 20), ANCHOR)]
    # ZERO: count 4 on 28/11, all 4 sold: on hand 0 -> out_of_stock, 0 days of cover.
    events.append(_count(nov(28), 4, "ZERO", received))
    events.append(_sale(nov(28), 4, "ZERO", received))
    # HEALTHY: count 500 on 20/11, 1 sold a day: no alert (cover 492 days, above reorder).
    events.append(_count(nov(20), 500, "HEALTHY", received))
    events += [_sale(d, 1, "HEALTHY", received) for d in _days(nov(21), nov(28))]
    return events


#: sku -> (on_hand, avg_daily_units, demand_days, days_of_cover, alert), by hand.
EXPECTED = {
    "NEW": (30, 10.0, 7, 3.0, "cover_below_lead_time"),
    "CENSORED": (10, 10.0, 6, 1.0, "cover_below_lead_time"),
    "NEGATIVE": (-3, 8.0, 1, None, "count_needed"),
    "LONG": (60, 1.0, 28, 60.0, "below_reorder_point"),
    "ZERO": (0, 4.0, 1, 0.0, "out_of_stock"),
}
#: sku -> (reorder_point, supplier_lead_time_days)
PRODUCTS = {
    "NEW": (10, 5),
    "CENSORED": (5, 3),
    "NEGATIVE": (5, 3),
    "LONG": (70, 3),
    "ZERO": (2, 3),
    "HEALTHY": (10, 3),
}


def _load_products(settings) -> None:
    bq = clients.bigquery_client(settings)
    bq.query_and_wait("DELETE FROM reference.products WHERE TRUE")
    rows = [
        {
            "sku": sku,
            "name": sku.title(),
            "category": "test",
            "unit_cost": "1.00",
            "list_price": "2.00",
            "reorder_point": point,
            "supplier_lead_time_days": lead,
            "supplier": "x",
        }
        for sku, (point, lead) in PRODUCTS.items()
    ]
    assert bq.insert_rows_json(f"{settings.project}.reference.products", rows) == []


def _alerts(settings) -> dict[str, tuple]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT sku, on_hand, avg_daily_units, demand_days, days_of_cover, alert "
        "FROM serving.stock_alerts"
    )
    return {
        r["sku"]: (
            r["on_hand"],
            round(r["avg_daily_units"], 6),
            r["demand_days"],
            None if r["days_of_cover"] is None else round(r["days_of_cover"], 6),
            r["alert"],
        )
        for r in rows
    }


def test_stock_alerts_match_hand_computed_cases_on_both_sides_of_the_cutoff(quiet_twin) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    _load_products(settings)
    received = datetime.now(UTC) - timedelta(hours=1)
    events = _history(received)
    h.archive(settings, events, "stock")
    h.land_speed(settings, events)
    assert _alerts(settings) == EXPECTED  # all in the speed half
    # The observed-average rule is what these cases compute by hand: no forecast step (with
    # one, the alerts read the forecast's demand; tests/sql/serving/test_replenishment.py).
    run_batch(
        replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - received - timedelta(seconds=1),
    )
    assert _alerts(settings) == EXPECTED  # all in the batch half
    covers = clients.bigquery_client(settings).query_and_wait(
        "SELECT COUNTIF(days_of_cover < 0) AS negative FROM serving.stock_alerts"
    )
    assert [r["negative"] for r in covers] == [0]
