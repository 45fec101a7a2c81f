"""What the dashboard shows, fetched from the serving views and the forecast tables.

The dashboard reads the same views analysts query, so a number on the page is always a
number an analyst can reproduce with ``salesphere query``. The forecast and its backtest
are read from the batch tables the forecast step writes (``batch.demand_forecast``,
``batch.forecast_accuracy``): they are complete as written, no serving view adds to them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from salesphere_tools.purchasing import read_freshness, stale_forecast_warning

#: Days of sales history the forecast chart shows before the forecast starts.
HISTORY_DAYS = 56
#: The top store x SKU series by revenue over those days get a forecast chart each.
FORECAST_SERIES = 10


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
    #: One per charted store x SKU: store_id, sku, name, revenue, history [{day, units}],
    #: forecast [{day, units, lo_80, hi_80, lo_95, hi_95}], stockout_days [day] (closed
    #: with nothing on hand and sold nothing), stockout_date (projected), demand_source.
    forecast_series: list[dict[str, Any]] = field(default_factory=list)
    #: serving.replenishment rows with something to order, urgent first.
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    #: serving.transfer_suggestions rows, soonest stock-out at the receiver first.
    transfers: list[dict[str, Any]] = field(default_factory=list)
    #: Backtest per model and series class (and "all"): model, series_class, series,
    #: wape, mase, bias (means over series), baseline (seasonal_naive / trailing_avg_28).
    accuracy: list[dict[str, Any]] = field(default_factory=list)
    has_forecast: bool = False  # batch.demand_forecast holds any row
    #: serving.open_purchase_orders lines in transit past their expected delivery, latest
    #: first: order_number, line_number, store_id, sku, product_name, open_units,
    #: expected_delivery, days_late.
    late_orders: list[dict[str, Any]] = field(default_factory=list)
    #: Units and lines in transit (open and late) over every store.
    in_transit: dict[str, Any] = field(default_factory=dict)
    #: serving.web_invoice_orders counts: unmatched (web-shop invoices naming an order
    #: never received) and uninvoiced (web orders over 3 days old without an invoice).
    web_invoices: dict[str, Any] = field(default_factory=dict)

    @property
    def total_net(self) -> Decimal:
        return sum((Decimal(str(r["net"])) for r in self.daily), Decimal("0"))

    @property
    def total_units(self) -> int:
        return sum(int(r["units"]) for r in self.daily)

    @property
    def total_orders(self) -> int:
        return sum(int(r.get("orders") or 0) for r in self.daily)


#: The baselines every forecast model is compared against in the backtest.
BASELINE_MODELS = ("seasonal_naive", "trailing_avg_28")
#: Label of the rows aggregating the model each series' backtest chose.
CHOSEN = "chosen per series"

#: The charted series: the top store x SKU pairs by net revenue over the history window.
_TOP_SERIES = (
    "WITH anchor AS (SELECT MAX(d.sale_date) AS last_day FROM serving.sales_daily AS d), "
    "top_series AS (SELECT d.store_id, d.sku, SUM(d.net_sales) AS revenue "
    "FROM serving.sales_daily AS d CROSS JOIN anchor "
    f"WHERE d.sale_date > DATE_SUB(anchor.last_day, INTERVAL {HISTORY_DAYS} DAY) "
    "GROUP BY d.store_id, d.sku ORDER BY revenue DESC, d.store_id, d.sku LIMIT {top}) "
)


def stockout_days(
    on_hand: int | None, moves: list[dict[str, Any]], first: date, last: date
) -> list[date]:
    """Days in ``first..last`` a position closed with nothing on hand and sold nothing.

    The rule serving.replenishment (and so serving.stock_alerts) censors demand with: closing stock of a day is today's
    on hand minus the net movement of every later day; a day before the position's first
    stock event is not observed, so never marked. ``moves``: stock_daily rows (day, units,
    net) of the position, all of them.
    """
    if on_hand is None or not moves:
        return []
    by_day = {m["day"]: m for m in moves}
    start = max(first, min(by_day))
    later = sum(int(m["net"]) for m in moves if m["day"] > last)
    out = []
    day = last
    while day >= start:
        closing = on_hand - later
        sold = int(by_day[day]["units"]) if day in by_day else 0
        if closing <= 0 and sold == 0:
            out.append(day)
        later += int(by_day[day]["net"]) if day in by_day else 0
        day -= timedelta(days=1)
    return sorted(out)


#: One query per part of a chart, each over the charted series (``_TOP_SERIES``).
_SERIES_SQL = (
    "SELECT t.store_id, t.sku, t.revenue, r.product_name AS name, r.on_hand, "
    "r.stockout_date, r.demand_source, anchor.last_day FROM top_series AS t "
    "CROSS JOIN anchor LEFT JOIN serving.replenishment AS r "
    "ON t.store_id = r.store_id AND t.sku = r.sku ORDER BY t.revenue DESC, t.store_id, t.sku"
)
_CHART_PARTS_SQL = {
    "history": "SELECT t.store_id, t.sku, d.sale_date AS day, d.units_sold AS units "
    "FROM top_series AS t INNER JOIN serving.sales_daily AS d "
    "ON t.store_id = d.store_id AND t.sku = d.sku CROSS JOIN anchor "
    f"WHERE d.sale_date > DATE_SUB(anchor.last_day, INTERVAL {HISTORY_DAYS} DAY) "
    "ORDER BY d.sale_date",
    "forecast": "SELECT t.store_id, t.sku, f.forecast_date AS day, f.units, "
    "f.units_lo_80 AS lo_80, f.units_hi_80 AS hi_80, f.units_lo_95 AS lo_95, "
    "f.units_hi_95 AS hi_95, f.model FROM top_series AS t "
    "INNER JOIN batch.demand_forecast AS f ON t.store_id = f.store_id AND t.sku = f.sku "
    "ORDER BY f.forecast_date",
    "moves": "SELECT t.store_id, t.sku, s.stock_date AS day, s.units_sold AS units, "
    "s.net_movement AS net FROM top_series AS t INNER JOIN serving.stock_daily AS s "
    "ON t.store_id = s.store_id AND t.sku = s.sku ORDER BY s.stock_date",
}

#: Rows of one chart part per store x SKU.
_BySeries = dict[tuple[str, str], list[dict[str, Any]]]


def fetch_forecasts(settings: Any, top: int = FORECAST_SERIES) -> list[dict[str, Any]]:
    """History, forecast band and stock-outs of the top ``top`` series by revenue."""
    from salesphere.gcp import clients

    head = _TOP_SERIES.format(top=int(top))
    series = clients.query_rows(settings, head + _SERIES_SQL)
    if not series:
        return []
    parts = {name: _fetch_by_series(settings, head + sql) for name, sql in _CHART_PARTS_SQL.items()}
    return [_chart_series(row, parts) for row in series]


def _fetch_by_series(settings: Any, sql: str) -> _BySeries:
    """The rows of one query, grouped by (store_id, sku) in the order the query gave."""
    from salesphere.gcp import clients

    grouped: _BySeries = defaultdict(list)
    for row in clients.query_rows(settings, sql):
        grouped[(row["store_id"], row["sku"])].append(row)
    return grouped


def _chart_series(row: dict[str, Any], parts: dict[str, _BySeries]) -> dict[str, Any]:
    """One charted series (see :attr:`ReportData.forecast_series`) from its parts."""
    key = (row["store_id"], row["sku"])
    last = row["last_day"]
    first = last - timedelta(days=HISTORY_DAYS - 1)
    forecast = parts["forecast"][key]
    return {
        "store_id": row["store_id"],
        "sku": row["sku"],
        "name": row.get("name") or row["sku"],
        "revenue": row["revenue"],
        "history": [{"day": h["day"], "units": int(h["units"])} for h in parts["history"][key]],
        "forecast": [
            {k: f[k] for k in ("day", "units", "lo_80", "hi_80", "lo_95", "hi_95")}
            for f in forecast
        ],
        "models": sorted({f["model"] for f in forecast}),
        "stockout_days": stockout_days(row.get("on_hand"), parts["moves"][key], first, last),
        "stockout_date": row.get("stockout_date"),
        "demand_source": row.get("demand_source"),
    }


def fetch_suggestions(settings: Any, limit: int = 40) -> list[dict[str, Any]]:
    """What to order (serving.replenishment), urgent first, then by stock-out date."""
    from salesphere.gcp import clients

    return clients.query_rows(
        settings,
        "SELECT r.store_id, r.sku, r.product_name, r.on_hand, r.on_order, r.transfer_in, "
        "r.demand_lead_review, "
        "r.safety_stock, r.computed_reorder_point, r.stockout_date, "
        "r.suggested_order_quantity, r.pack_size, r.urgent, r.demand_source "
        "FROM serving.replenishment AS r WHERE r.suggested_order_quantity > 0 "
        "ORDER BY r.urgent DESC, r.stockout_date IS NULL, r.stockout_date, r.store_id, r.sku "
        f"LIMIT {int(limit)}",
    )


def fetch_transfers(settings: Any, limit: int = 40) -> list[dict[str, Any]]:
    """What to move between stores (serving.transfer_suggestions), soonest need first."""
    from salesphere.gcp import clients

    return clients.query_rows(
        settings,
        "SELECT t.sku, t.product_name, t.from_store, t.to_store, t.units, t.same_state, "
        "t.lead_time_days, t.from_on_hand, t.to_on_hand, t.to_stockout_date, "
        "t.to_suggested_order_quantity "
        "FROM serving.transfer_suggestions AS t "
        "ORDER BY t.to_stockout_date IS NULL, t.to_stockout_date, t.sku, t.from_store, "
        f"t.to_store LIMIT {int(limit)}",
    )


def fetch_accuracy(settings: Any) -> list[dict[str, Any]]:
    """The newest backtest: mean WAPE, MASE and bias per model and series class.

    Means over series (each series weighs the same, slow movers included); the rows for
    :data:`CHOSEN` average the model each series' backtest picked, which is what the
    forecast uses.
    """
    from salesphere.gcp import clients

    rows = clients.query_rows(
        settings,
        "WITH newest AS (SELECT ARRAY_AGG(b.run_id ORDER BY b.computed_at DESC LIMIT 1)"
        "[SAFE_OFFSET(0)] AS run_id FROM batch.forecast_accuracy AS b), "
        "scored AS (SELECT a.model, a.series_class, a.wape, a.mase, a.bias "
        "FROM batch.forecast_accuracy AS a INNER JOIN newest ON a.run_id = newest.run_id "
        f"UNION ALL SELECT '{CHOSEN}' AS model, a.series_class, a.wape, a.mase, a.bias "
        "FROM batch.forecast_accuracy AS a INNER JOIN newest ON a.run_id = newest.run_id "
        "WHERE a.chosen) "
        "SELECT s.model, c AS series_class, COUNT(*) AS series, AVG(s.wape) AS wape, "
        "AVG(s.mase) AS mase, AVG(s.bias) AS bias "
        "FROM scored AS s CROSS JOIN UNNEST([s.series_class, 'all']) AS c "
        "GROUP BY s.model, c ORDER BY c, s.model",
    )
    for row in rows:
        row["baseline"] = row["model"] in BASELINE_MODELS
    return rows


#: Late purchase order lines the dashboard lists at most.
LATE_ORDERS = 40


def fetch_orders(settings: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Late purchase order lines (most days late first) and the totals in transit."""
    from salesphere.gcp import clients

    late = clients.query_rows(
        settings,
        "SELECT o.order_number, o.line_number, o.store_id, o.sku, o.product_name, "
        "o.supplier_cnpj, o.open_units, o.expected_delivery, o.days_late "
        "FROM serving.open_purchase_orders AS o WHERE o.status = 'late' "
        "ORDER BY o.days_late DESC, o.order_number, o.line_number "
        f"LIMIT {LATE_ORDERS}",
    )
    totals = clients.query_rows(
        settings,
        "SELECT COUNT(*) AS lines, COALESCE(SUM(o.open_units), 0) AS units, "
        "COUNTIF(o.status = 'late') AS late_lines "
        "FROM serving.open_purchase_orders AS o WHERE o.open_units > 0",
    )
    return late, (totals[0] if totals else {})


#: What the overview charts and tables read, one query each.
_DAILY_SQL = (
    "SELECT d.sale_date AS day, SUM(d.net_sales) AS net, SUM(d.units_sold) AS units, "
    "SUM(d.orders) AS orders FROM serving.sales_daily AS d "
    "GROUP BY d.sale_date ORDER BY d.sale_date"
)
_TRADING_DAY_SQL = (
    "SELECT COALESCE(MAX(IF(hours >= 8, d, NULL)), MAX(d)) AS d FROM "
    "(SELECT i.sale_date AS d, COUNT(DISTINCT i.sale_hour_local) AS hours "
    "FROM serving.sales_intraday AS i GROUP BY d)"
)
_STORES_SQL = (
    "SELECT store_id, net_sales AS revenue, gross_margin AS margin "
    "FROM serving.store_performance ORDER BY store_id"
)
_PRODUCTS_SQL = (
    "SELECT sku, product_name AS name, units_sold AS units, net_sales AS revenue, "
    "gross_margin AS margin FROM serving.product_performance WHERE units_sold > 0 "
)
_ALERTS_SQL = (
    "SELECT store_id, sku, on_hand, reorder_point, days_of_cover, "
    "supplier_lead_time_days AS lead_time_days, TRUE AS at_risk, alert "
    "FROM serving.stock_alerts ORDER BY on_hand, store_id, sku LIMIT 40"
)
_QUALITY_SQL = (
    "SELECT source, rule, rejects FROM serving.data_quality "
    "WHERE rule IS NOT NULL ORDER BY rejects DESC LIMIT 20"
)
_WEB_INVOICES_SQL = (
    "SELECT COUNTIF(w.status = 'unmatched') AS unmatched, "
    "COUNTIF(w.status = 'uninvoiced') AS uninvoiced FROM serving.web_invoice_orders AS w"
)
_HAS_FORECAST_SQL = "SELECT 1 AS x FROM batch.demand_forecast AS f LIMIT 1"


def fetch(settings: Any, *, top: int = 10) -> ReportData:
    """Query the serving views (and nothing else) into :class:`ReportData`."""
    from salesphere.gcp import clients

    daily = _fetch_daily(settings)
    today = _trading_day(settings)
    intraday = _fetch_intraday(settings, today)
    stores = clients.query_rows(settings, _STORES_SQL)
    top_products = clients.query_rows(
        settings, _PRODUCTS_SQL + f"ORDER BY net_sales DESC, sku LIMIT {top}"
    )
    bottom_products = clients.query_rows(
        settings, _PRODUCTS_SQL + f"ORDER BY net_sales ASC, sku LIMIT {top}"
    )
    alerts = clients.query_rows(settings, _ALERTS_SQL)
    freshness = _freshness(settings)
    quality = clients.query_rows(settings, _QUALITY_SQL)
    has_forecast = bool(clients.query_rows(settings, _HAS_FORECAST_SQL))
    late_orders, in_transit = fetch_orders(settings)
    web_invoices = clients.query_rows(settings, _WEB_INVOICES_SQL)
    return ReportData(
        late_orders=late_orders,
        in_transit=in_transit,
        web_invoices=web_invoices[0] if web_invoices else {},
        forecast_series=fetch_forecasts(settings),
        suggestions=fetch_suggestions(settings),
        transfers=fetch_transfers(settings),
        accuracy=fetch_accuracy(settings),
        has_forecast=has_forecast,
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


def _fetch_daily(settings: Any) -> list[dict[str, Any]]:
    """Net sales, units and orders per business day; days as text, as the chart labels them."""
    from salesphere.gcp import clients

    daily = clients.query_rows(settings, _DAILY_SQL)
    for row in daily:
        row["day"] = str(row["day"])
    return daily


def _trading_day(settings: Any) -> date | None:
    """The newest business day with a full trading day of hours (the newest may have just
    begun); None before the first sale.

    Days and hours are the stores' own (sale_date, sale_hour_local), so the chart reads like
    the till: a 22:30 sale in São Paulo is in the 22h bar of its own day.
    """
    from salesphere.gcp import clients

    day = clients.query_rows(settings, _TRADING_DAY_SQL)
    return day[0]["d"] if day else None


def _fetch_intraday(settings: Any, today: date | None) -> list[dict[str, Any]]:
    """Net sales per local hour of ``today`` (none without a day)."""
    from salesphere.gcp import clients

    if not today:
        return []
    return clients.query_rows(
        settings,
        "SELECT i.sale_hour_local AS hour, SUM(i.net_sales) AS net "
        f"FROM serving.sales_intraday AS i WHERE i.sale_date = DATE '{today}' "
        "GROUP BY hour ORDER BY hour",
    )


def _freshness(settings: Any) -> dict[str, Any]:
    """How current the page is: the batch cutoff, the speed layer's lag, the forecast's age."""
    fresh = read_freshness(settings)
    return {
        "cutoff": str(fresh.get("cutoff") or "no batch run yet"),
        "newest_speed_event": str(fresh.get("newest_speed_received_at") or "–"),
        "lag_seconds": float(fresh.get("speed_lag_seconds") or 0),
        "forecast_computed_at": str(fresh.get("forecast_computed_at") or "–"),
        "stale_forecast": stale_forecast_warning(fresh),
    }
