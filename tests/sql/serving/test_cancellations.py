"""A fiscal document cancelled after it was counted counts nowhere, on both sides of the
cutoff, whichever half holds the ticket and the void, and however often the void arrives.

Store S1, SKU K1: counted 10 at the start of the day. Three tickets sell it:
T1 (2 units, 2 lines of 1) and T3 (1 unit) arrive before the first batch run; T1 is
cancelled after the run (its voids land in the speed half, one of them twice); T2
(3 units) and its cancellation both arrive after the run. Only T3 counts: 1 unit sold,
net 10.00 - 1.00 = 9.00, 1 line, 1 order, nothing returned, 10 - 1 = 9 on hand.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.model import CanonicalEvent, finalize
from tests.support import batch as h

pytestmark = pytest.mark.twin


def _sale(ticket: str, line: int, qty: int, at: datetime, received: datetime) -> CanonicalEvent:
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": at,
            "source": "nfce",
            "store_id": "S1",
            "sku": "K1",
            "quantity": qty,
            "unit_price": "10.00",
            "discount": "1.00",
            "order_id": ticket,
            "line_number": line,
        },
        received,
    )


def _void(voided: CanonicalEvent, received: datetime) -> CanonicalEvent:
    return finalize(
        {
            "event_type": "void",
            "occurred_at": voided.occurred_at,
            "source": "nfe-event",
            "source_ref": voided.event_id,
            "store_id": voided.store_id,
            "sku": voided.sku,
            "quantity": 0,
            "channel": "backoffice",
        },
        received,
    )


def _served(settings) -> tuple:
    (day,) = clients.query_rows(
        settings,
        "SELECT SUM(units_sold) AS units, SUM(net_sales) AS net, SUM(sale_lines) AS lines, "
        "SUM(orders) AS orders, SUM(units_returned) AS returned FROM serving.sales_daily",
    )
    (hourly,) = clients.query_rows(
        settings,
        "SELECT SUM(units_sold) AS units, SUM(sale_lines) AS lines FROM serving.sales_intraday",
    )
    (stock,) = clients.query_rows(
        settings, "SELECT on_hand FROM serving.inventory_on_hand WHERE sku = 'K1'"
    )
    (moves,) = clients.query_rows(
        settings,
        "SELECT SUM(units_sold) AS sold, SUM(net_movement) AS net FROM serving.stock_daily",
    )
    return (
        day["units"],
        Decimal(str(day["net"])),
        day["lines"],
        day["orders"],
        day["returned"],
        hourly["units"],
        hourly["lines"],
        stock["on_hand"],
        moves["sold"],
        moves["net"],
    )


#: units, net, lines, orders, returned; hourly units, lines; on hand; stock_daily sold, net.
ONLY_T3 = (1, Decimal("9.00"), 1, 1, 0, 1, 1, 9, 1, -1)


def test_a_ticket_cancelled_after_counting_counts_nowhere_on_either_side(quiet_twin) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    bq = clients.bigquery_client(settings)
    bq.query_and_wait("DELETE FROM reference.stores WHERE TRUE")
    store = {
        "store_id": "S1",
        "name": "S1",
        "city": "c",
        "state": "SP",
        "channel": "store",
        "timezone": "America/Sao_Paulo",
    }
    assert bq.insert_rows_json(f"{settings.project}.reference.stores", [store]) == []
    now = datetime.now(UTC)
    local_midnight = now.astimezone(ZoneInfo("America/Sao_Paulo")).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start = max(local_midnight.astimezone(UTC), now - timedelta(hours=2))
    at = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731  same local day
    first = now - timedelta(minutes=10)
    t1 = [_sale("T1", 1, 1, at(2), first), _sale("T1", 2, 1, at(2), first)]
    t3 = _sale("T3", 1, 1, at(3), first)
    before = [h.count("S1", "K1", 10, at(1), first), *t1, t3]
    h.archive(settings, before, "before")
    h.land_speed(settings, before)
    assert _served(settings)[:4] == (3, Decimal("27.00"), 3, 2)  # T1 and T3 count so far
    run_batch(
        dataclasses.replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - first - timedelta(seconds=1),
    )

    later = now - timedelta(minutes=1)
    t2 = _sale("T2", 1, 3, at(4), later)
    voids = [_void(e, later) for e in (*t1, t2)]
    after = [t2, *voids, voids[0]]  # the first void delivered twice
    h.archive(settings, [t2, *voids], "after")
    h.land_speed(settings, after)
    assert _served(settings) == ONLY_T3  # T1 in batch, its voids in speed; T2 all in speed

    run_batch(
        dataclasses.replace(settings, forecast_enabled=False),
        archive_lag=datetime.now(UTC) - later - timedelta(seconds=1),
    )
    assert _served(settings) == ONLY_T3  # everything absorbed by the batch half
    (absorbed,) = clients.query_rows(
        settings, "SELECT COUNT(*) AS n FROM master.events WHERE event_type = 'void'"
    )
    assert absorbed["n"] == 3  # the redelivered void is one event
