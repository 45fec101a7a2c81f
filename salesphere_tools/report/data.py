"""What the dashboard shows, fetched from the serving views (and only from them).

The dashboard reads the same views analysts query, so a number on the page is always a
number an analyst can reproduce with ``salesphere query``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass
class ReportData:
    subtitle: str = ""
    today: date | None = None
    daily: list[dict[str, Any]] = field(default_factory=list)  # day, net, units, orders
    intraday: list[dict[str, Any]] = field(default_factory=list)  # hour, net
    stores: list[dict[str, Any]] = field(default_factory=list)  # store_id, revenue, margin
    top_products: list[dict[str, Any]] = field(
        default_factory=list
    )  # sku, name, units, revenue, margin
    bottom_products: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    freshness: dict[str, Any] = field(
        default_factory=dict
    )  # cutoff, newest_speed_event, lag_seconds
    quality: list[dict[str, Any]] = field(default_factory=list)  # source, rule, rejects

    @property
    def total_net(self) -> Decimal:
        return sum((Decimal(str(r["net"])) for r in self.daily), Decimal("0"))

    @property
    def total_units(self) -> int:
        return sum(int(r["units"]) for r in self.daily)

    @property
    def total_orders(self) -> int:
        return sum(int(r.get("orders") or 0) for r in self.daily)


def fetch(settings: Any, *, top: int = 10) -> ReportData:
    """Query the serving views (and nothing else) into :class:`ReportData`."""
    from salesphere.io import clients

    daily = clients.query_rows(
        settings,
        "SELECT d.sale_date AS day, SUM(d.net_sales) AS net, SUM(d.units_sold) AS units, "
        "SUM(d.orders) AS orders FROM serving.sales_daily AS d "
        "GROUP BY d.sale_date ORDER BY d.sale_date",
    )
    for row in daily:
        row["day"] = str(row["day"])
    # The newest business day with a full trading day of hours (the newest may have just
    # begun). Days and hours are the stores' own (sale_date, sale_hour_local), so the chart
    # reads like the till: a 22:30 sale in São Paulo is in the 22h bar of its own day.
    day = clients.query_rows(
        settings,
        "SELECT COALESCE(MAX(IF(hours >= 8, d, NULL)), MAX(d)) AS d FROM "
        "(SELECT i.sale_date AS d, COUNT(DISTINCT i.sale_hour_local) AS hours "
        "FROM serving.sales_intraday AS i GROUP BY d)",
    )
    today = day[0]["d"] if day else None
    intraday = (
        clients.query_rows(
            settings,
            "SELECT i.sale_hour_local AS hour, SUM(i.net_sales) AS net "
            f"FROM serving.sales_intraday AS i WHERE i.sale_date = DATE '{today}' "
            "GROUP BY hour ORDER BY hour",
        )
        if today
        else []
    )
    stores = clients.query_rows(
        settings,
        "SELECT store_id, net_sales AS revenue, gross_margin AS margin "
        "FROM serving.store_performance ORDER BY store_id",
    )
    products = (
        "SELECT sku, product_name AS name, units_sold AS units, net_sales AS revenue, "
        "gross_margin AS margin FROM serving.product_performance WHERE units_sold > 0 "
    )
    top_products = clients.query_rows(
        settings, products + f"ORDER BY net_sales DESC, sku LIMIT {top}"
    )
    bottom_products = clients.query_rows(
        settings, products + f"ORDER BY net_sales ASC, sku LIMIT {top}"
    )
    alerts = clients.query_rows(
        settings,
        "SELECT store_id, sku, on_hand, reorder_point, days_of_cover, "
        "supplier_lead_time_days AS lead_time_days, TRUE AS at_risk, alert "
        "FROM serving.stock_alerts ORDER BY on_hand, store_id, sku LIMIT 40",
    )
    fresh_rows = clients.query_rows(settings, "SELECT * FROM serving.freshness")
    fresh = fresh_rows[0] if fresh_rows else {}
    freshness = {
        "cutoff": str(fresh.get("cutoff") or "no batch run yet"),
        "newest_speed_event": str(fresh.get("newest_speed_received_at") or "–"),
        "lag_seconds": float(fresh.get("speed_lag_seconds") or 0),
    }
    quality = clients.query_rows(
        settings,
        "SELECT source, rule, rejects FROM serving.data_quality "
        "WHERE rule IS NOT NULL ORDER BY rejects DESC LIMIT 20",
    )
    return ReportData(
        subtitle=f"project {settings.project} · env {settings.env} · "
        f"batch complete up to {freshness['cutoff']}",
        today=today,
        daily=daily,
        intraday=intraday,
        stores=stores,
        top_products=top_products,
        bottom_products=bottom_products,
        alerts=alerts,
        freshness=freshness,
        quality=quality,
    )
