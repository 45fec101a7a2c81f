"""Business days and hours are the store's, on both sides of the cutoff (hand-computed).

A sale at 22:30 on 24/11 in São Paulo is 01:30 UTC on 25/11; a sale at 23:30 on 24/11 in
Manaus (UTC-4) is 03:30 UTC on 25/11. Both belong to the stores' 24/11, in the speed half
(before any batch run) and in the batch half (after one), and the intraday view puts them
in the 22h and 23h local hours of that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from tests.support import batch as h
from tests.support.ingest import load_test_catalog

pytestmark = pytest.mark.twin


def _daily(settings) -> dict[tuple[date, str], tuple[int, Decimal]]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT d.sale_date, d.store_id, SUM(d.units_sold) AS units, SUM(d.net_sales) AS net "
        "FROM serving.sales_daily AS d GROUP BY d.sale_date, d.store_id"
    )
    return {(r["sale_date"], r["store_id"]): (r["units"], Decimal(str(r["net"]))) for r in rows}


def _hours(settings) -> set[tuple[date, int, str, datetime]]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT i.sale_date, i.sale_hour_local, i.store_id, i.sale_hour "
        "FROM serving.sales_intraday AS i"
    )
    return {(r["sale_date"], r["sale_hour_local"], r["store_id"], r["sale_hour"]) for r in rows}


def test_late_evening_sales_stay_on_the_stores_local_day(quiet_twin) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    load_test_catalog(settings)  # SP01 America/Sao_Paulo, AM01 America/Manaus, WEB
    received = datetime.now(UTC) - timedelta(hours=1)
    sp = h.sale(30, received, store="SP01", day=25, hour=1, qty=2)  # 22:30 on 24/11 local
    am = h.sale(90, received, store="AM01", day=25, hour=3, qty=3)  # 23:30 on 24/11 local
    early = h.sale(5, received, store="SP01", day=25, hour=3, qty=1)  # 00:05 on 25/11 local
    events = [sp, am, early]
    h.archive(settings, events, "midnight")
    h.land_speed(settings, events)
    nov24, nov25 = date(2026, 11, 24), date(2026, 11, 25)
    # 10.00 x qty - 1.00 discount per line (batch_helpers.sale)
    expected = {
        (nov24, "SP01"): (2, Decimal("19.00")),
        (nov24, "AM01"): (3, Decimal("29.00")),
        (nov25, "SP01"): (1, Decimal("9.00")),
    }
    hours = {
        (nov24, 22, "SP01", datetime(2026, 11, 25, 1, tzinfo=UTC)),
        (nov24, 23, "AM01", datetime(2026, 11, 25, 3, tzinfo=UTC)),
        (nov25, 0, "SP01", datetime(2026, 11, 25, 3, tzinfo=UTC)),
    }
    assert _daily(settings) == expected  # speed half only: no batch run yet
    assert _hours(settings) == hours
    run_batch(settings, archive_lag=datetime.now(UTC) - received - timedelta(seconds=1))
    assert _daily(settings) == expected  # now all in the batch half, still counted once
    assert _hours(settings) == hours
    zones = {"SP01": "America/Sao_Paulo", "AM01": "America/Manaus"}
    recomputed = h.sales_daily_expected(events, zones)
    assert {(k[0], k[1]) for k in recomputed} == set(expected)


def test_local_days_recomputed_from_the_raw_archive_files_agree_with_serving(quiet_twin) -> None:
    """An independent derivation (plain Python over the archive objects, zoneinfo, Decimal)
    agrees with serving.sales_daily per store-day on both sides of the cutoff, and flags an
    event the warehouse never counted."""
    from salesphere_tools.recompute import DayTotals, compare

    settings = quiet_twin.settings
    h.reset(settings)
    load_test_catalog(settings)
    received = datetime.now(UTC) - timedelta(hours=1)
    late_sp = h.sale(31, received, store="SP01", day=25, hour=1, qty=2)  # 22:31 on 24/11
    late_am = h.sale(91, received, store="AM01", day=25, hour=3, qty=3)  # 23:31 on 24/11
    early = h.sale(6, received, store="SP01", day=25, hour=3, qty=1)  # 00:06 on 25/11
    resent = late_sp.model_copy(update={"received_at": received + timedelta(minutes=1)})
    refund = h.finalize(
        {
            "event_type": "return",
            "occurred_at": datetime(2026, 11, 25, 3, 40, tzinfo=UTC),  # 23:40 Manaus, 24/11
            "source": "pos",
            "store_id": "AM01",
            "sku": "K1",
            "quantity": 1,
            "unit_price": "10.00",
            "discount": "0.00",
            "order_id": "o91",
            "line_number": 1,
        },
        received,
    )
    first = [late_sp, late_am, early, resent, refund]
    h.archive(settings, first, "before-cutoff")
    h.land_speed(settings, first)
    run_batch(settings, archive_lag=datetime.now(UTC) - resent.received_at - timedelta(seconds=1))
    after = [h.sale(92, datetime.now(UTC), store="AM01", day=25, hour=2, qty=1)]  # 22:32, 24/11
    h.archive(settings, after, "after-cutoff")
    h.land_speed(settings, after)

    result = compare(settings)

    nov24, nov25 = date(2026, 11, 24), date(2026, 11, 25)
    assert result.recomputed == {
        (nov24, "SP01"): DayTotals(2, Decimal("19.00"), 1),
        # 29.00 + 9.00 sold, 10.00 refunded, all before midnight on the Manaus clock
        (nov24, "AM01"): DayTotals(4, Decimal("28.00"), 2),
        (nov25, "SP01"): DayTotals(1, Decimal("9.00"), 1),
    }
    assert result.ok and result.archived_events == result.served_events == 5
    # An archived sale no layer counted (a lost write): the check names its store-day.
    lost = h.sale(7, datetime.now(UTC), store="SP01", day=26, hour=15)
    h.archive(settings, [lost], "lost-write")
    flagged = compare(settings)
    assert not flagged.ok and flagged.differences == [(date(2026, 11, 26), "SP01")]
