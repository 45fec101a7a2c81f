"""Helpers for the batch/serving integration tests: archive files, speed rows, recomputation."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from salesphere.envelope import pack
from salesphere.gcp import clients
from salesphere.model import CanonicalEvent, finalize
from salesphere.settings import Settings

#: The business clock of a store without a reference.stores row (metrics/home_timezone.sql).
HOME_TIMEZONE = "America/Sao_Paulo"

RESET = [
    "DELETE FROM master.events WHERE TRUE",
    "DELETE FROM speed.events WHERE TRUE",
    "DELETE FROM ops.batch_runs WHERE TRUE",
    "DELETE FROM batch.cutoff WHERE TRUE",
    "DELETE FROM batch.sales_daily WHERE TRUE",
    "DELETE FROM batch.sales_hourly WHERE TRUE",
    "DELETE FROM batch.inventory_positions WHERE TRUE",
    "DELETE FROM batch.demand_forecast WHERE TRUE",
    "DELETE FROM batch.forecast_accuracy WHERE TRUE",
]


def reset(settings: Settings) -> None:
    """Empty the archive and the tables these tests write (the twin is shared)."""
    storage = clients.storage_client(settings)
    for blob in storage.list_blobs(settings.buckets.archive, prefix="events/"):
        blob.delete()
    bq = clients.bigquery_client(settings)
    for sql in RESET:
        bq.query_and_wait(sql)


def sale(
    order: int,
    received: datetime,
    *,
    sku: str = "K1",
    qty: int = 1,
    day: int = 27,
    hour: int = 10,
    store: str = "S1",
    line: int = 1,
):
    return finalize(
        {
            "event_type": "sale",
            "occurred_at": datetime(2026, 11, day, hour, order % 60, tzinfo=UTC),
            "source": "pos",
            "store_id": store,
            "sku": sku,
            "quantity": qty,
            "unit_price": "10.00",
            "discount": "1.00",
            "order_id": f"o{order}",
            "line_number": line,
        },
        received,
    )


def count(store: str, sku: str, qty: int, at: datetime, received: datetime) -> CanonicalEvent:
    return finalize(
        {
            "event_type": "stock_count",
            "occurred_at": at,
            "source": "inventory",
            "store_id": store,
            "sku": sku,
            "quantity": 0,
            "counted_quantity": qty,
        },
        received,
    )


def archive(settings: Settings, events: list[CanonicalEvent], name: str) -> None:
    """One archive file per receive date, as a batch run's drain writes them."""
    by_day: dict[str, list[CanonicalEvent]] = defaultdict(list)
    for event in events:
        by_day[event.received_at.date().isoformat()].append(event)
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    for day, group in by_day.items():
        data = b"\n".join(e.to_json() for e in pack(group, "pos", 50)) + b"\n"
        bucket.blob(f"events/received_date={day}/{name}.ndjson").upload_from_string(data)


def land_speed(settings: Settings, events: list[CanonicalEvent]) -> None:
    """What the speed layer writes: one row per copy received (dedup is the view's job)."""
    if not events:
        return
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = [e.to_row() | {"written_at": now} for e in events]
    errors = clients.bigquery_client(settings).insert_rows_json(
        f"{settings.project}.speed.events", rows
    )
    assert not errors, errors


def sales_daily_expected(
    events: list[CanonicalEvent], zones: dict[str, str] | None = None
) -> dict[tuple, tuple]:
    """Independent recomputation: earliest copy of each event, summed in Python per local
    business day: the store's timezone from ``zones`` (what reference.stores holds), else the
    company's home timezone, as the views fall back to. The last value is the distinct orders
    of the group, so an order whose lines straddle the cutoff must count once."""
    zones = zones or {}
    first: dict[str, CanonicalEvent] = {}
    for event in sorted(events, key=lambda e: e.received_at):
        first.setdefault(event.event_id, event)
    out: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), 0, set()])
    for event in first.values():
        if event.event_type.value != "sale":
            continue
        zone = ZoneInfo(zones.get(event.store_id, HOME_TIMEZONE))
        key = (event.occurred_at.astimezone(zone).date(), event.store_id, event.sku)
        out[key][0] += event.quantity
        out[key][1] += event.unit_price * event.quantity - event.discount
        out[key][2] += 1
        out[key][3].add(event.order_id)
    return {k: (v[0], v[1], v[2], len(v[3])) for k, v in out.items()}


def sales_daily_actual(settings: Settings) -> dict[tuple, tuple]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT sale_date, store_id, sku, units_sold, net_sales, sale_lines, orders "
        "FROM serving.sales_daily"
    )
    return {
        (r["sale_date"], r["store_id"], r["sku"]): (
            r["units_sold"],
            Decimal(str(r["net_sales"])),
            r["sale_lines"],
            r["orders"],
        )
        for r in rows
    }
