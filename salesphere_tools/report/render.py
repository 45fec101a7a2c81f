"""Render the analysts' dashboard: one self-contained HTML file, charts included, no CDN.

Plotly's JavaScript is embedded once in the page, so the file opens offline, can be mailed
around, and shows exactly the numbers the serving views returned when it was written.
Rendering is pure (data in, HTML out); fetching the data is in :mod:`.data`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from salesphere.exports import neutralise_formula
from salesphere_tools.report.data import CHOSEN, ReportData

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; background: #f6f7f9;
       color: #1d2330; }
header { background: #163a5f; color: white; padding: 18px 28px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; opacity: .85; font-size: 13px; }
main { padding: 18px 28px; display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
       gap: 18px; }
section { background: white; border-radius: 8px; padding: 14px 18px; box-shadow: 0 1px 3px #0002; }
section h2 { font-size: 16px; margin: 0 0 8px; }
.kpis { display: flex; gap: 18px; flex-wrap: wrap; grid-column: 1 / -1; }
.kpi { background: white; border-radius: 8px; padding: 12px 18px; box-shadow: 0 1px 3px #0002;
       min-width: 160px; }
.kpi .v { font-size: 22px; font-weight: 600; } .kpi .l { font-size: 12px; color: #5b6475; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e8ec; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #b42318; font-weight: 600; } .ok { color: #067647; }
.wide { grid-column: 1 / -1; }
"""


def brl(value: Decimal | float | int | None) -> str:
    """Brazilian money format, as the business reads it: R$ 1.234,56."""
    if value is None:
        return "–"
    text = f"{Decimal(value):,.2f}"
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def _figure_html(fig: go.Figure, element_id: str, height: int = 300) -> str:
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40}, height=height, template="plotly_white"
    )
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=element_id,
        config={"displaylogo": False, "responsive": True},
    )


class Markup(str):
    """A cell the page itself rendered as HTML (a status badge); inserted as it is."""


def text(value: object) -> str:
    """A value from the data as page text: HTML-escaped, and formula-neutralised because
    Excel runs ``=...`` cells of an HTML table it opens (salesphere.exports)."""
    return html.escape(neutralise_formula(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="num">{text(h)}</th>' if i in numeric else f"<th>{text(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            # only the page's own badges are HTML; data is text, whatever it starts with
            cells.append(f"<td{cls}>{cell if isinstance(cell, Markup) else text(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


#: What a store manager should do per serving.stock_alerts kind. Negative on hand is not a
#: purchasing problem: the record is wrong (a missed movement or a bad count), and ordering
#: more would not fix it, so it gets its own action.
ALERT_ACTIONS = {
    "count_needed": "count the shelf",
    "out_of_stock": "reorder now",
    "below_reorder_point": "reorder now",
    "cover_below_lead_time": "reorder now",
}


def alert_action(row: dict[str, Any]) -> Markup:
    """The status cell of one stock-alert row: the action its alert kind asks for, as
    markup the table inserts unescaped (the action text itself is escaped here)."""
    action = ALERT_ACTIONS.get(str(row.get("alert") or ""))
    if action is None:
        action = "reorder now" if row.get("at_risk") else None
    if action is None:
        return Markup('<span class="ok">ok</span>')
    return Markup(f'<span class="bad">{html.escape(action)}</span>')


#: Shown wherever the forecast tables are still empty.
NO_FORECAST = "no forecast yet — run `salesphere batch run`"
#: Traces drawn per charted series, in this order (the selector shows one series' set).
SERIES_TRACES = (
    "95% low",
    "95% interval",
    "80% low",
    "80% interval",
    "units sold",
    "forecast",
    "out of stock",
    "projected stock-out",
)


def series_label(series: dict[str, Any]) -> str:
    """The selector's entry for one series. Escaped: plotly draws labels as markup."""
    return html.escape(f"{series['store_id']} · {series['sku']} · {series['name']}")


def _bound(rows: list[dict[str, Any]], key: str) -> list[float | None]:
    return [None if f.get(key) is None else float(f[key]) for f in rows]


def _interval_traces(fc: list[dict[str, Any]], visible: bool) -> list[go.Scatter]:
    """The 95 % and 80 % bands: each an invisible lower edge, then the upper edge filled
    down to it."""
    days = [f["day"] for f in fc]
    line = {"width": 0}
    traces = []
    for level, shade in ((95, 0.12), (80, 0.25)):
        traces.append(
            go.Scatter(
                x=days,
                y=_bound(fc, f"lo_{level}"),
                line=line,
                showlegend=False,
                hoverinfo="skip",
                visible=visible,
                name=f"{level}% low",
            )
        )
        traces.append(
            go.Scatter(
                x=days,
                y=_bound(fc, f"hi_{level}"),
                line=line,
                fill="tonexty",
                fillcolor=f"rgba(22,58,95,{shade})",
                name=f"{level}% interval",
                visible=visible,
            )
        )
    return traces


def _series_traces(s: dict[str, Any], visible: bool) -> list[go.Scatter]:
    """Sales, forecast, out-of-stock days and the projected stock-out of one series."""
    fc = s["forecast"]
    projected = [s["stockout_date"]] if s.get("stockout_date") else []
    return [
        *_interval_traces(fc, visible),
        go.Scatter(
            x=[h["day"] for h in s["history"]],
            y=[h["units"] for h in s["history"]],
            mode="lines+markers",
            name="units sold",
            line={"color": "#1d2330"},
            marker={"size": 4},
            visible=visible,
        ),
        go.Scatter(
            x=[f["day"] for f in fc],
            y=_bound(fc, "units"),
            mode="lines",
            name="forecast",
            line={"color": "#163a5f", "dash": "dash"},
            visible=visible,
        ),
        go.Scatter(
            x=s["stockout_days"],
            y=[0] * len(s["stockout_days"]),
            mode="markers",
            name="out of stock",
            marker={"symbol": "x", "color": "#b42318", "size": 9},
            visible=visible,
        ),
        go.Scatter(
            x=projected,
            y=[0] * len(projected),
            mode="markers",
            name="projected stock-out",
            marker={"symbol": "triangle-up", "color": "#b42318", "size": 13},
            visible=visible,
        ),
    ]


def forecast_figure(series: list[dict[str, Any]]) -> go.Figure:
    """Daily sales, forecast and its 80/95% bands per series, one series shown at a time.

    Days the position was out of stock are marked on the x axis (their zero sales are
    censored demand, which the forecast does not learn from); the projected stock-out day
    from serving.replenishment is marked too. A dropdown switches between the series.
    """
    fig = go.Figure()
    per = len(SERIES_TRACES)
    for index, s in enumerate(series):
        fig.add_traces(_series_traces(s, visible=index == 0))
    buttons = [
        {
            "label": series_label(s),
            "method": "update",
            "args": [{"visible": [i // per == index for i in range(per * len(series))]}],
        }
        for index, s in enumerate(series)
    ]
    menu = {"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.18, "yanchor": "top"}
    fig.update_layout(
        xaxis={"type": "date"},
        yaxis={"title": "units per day", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.15},
        updatemenus=[{**menu, "showactive": True}] if buttons else [],
    )
    return fig


def suggestion_status(row: dict[str, Any]) -> Markup:
    """Urgent orders stand out; the rest top stock up at this review."""
    if row.get("urgent"):
        return Markup('<span class="bad">order today</span>')
    return Markup('<span class="ok">top up</span>')


def _units(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def accuracy_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per series class: the chosen models' WAPE against seasonal naive."""
    by = {(r["series_class"], r["model"]): r for r in rows}
    lines = []
    for cls in ("all", "regular", "intermittent"):
        chosen, naive = by.get((cls, CHOSEN)), by.get((cls, "seasonal_naive"))
        if not chosen or not naive or not naive.get("wape") or chosen.get("wape") is None:
            continue
        gain = 1 - float(chosen["wape"]) / float(naive["wape"])
        word = "better" if gain >= 0 else "worse"
        lines.append(
            f"{cls}: WAPE {_percent(chosen['wape'])} for the chosen models vs "
            f"{_percent(naive['wape'])} seasonal naive ({abs(gain) * 100:.1f}% {word})"
        )
    return lines


def kpi_section(data: ReportData) -> str:
    """The headline figures a manager reads first."""
    kpis = [
        ("Net revenue", brl(data.total_net), "kpi-net"),
        ("Units sold", f"{data.total_units:,}".replace(",", "."), "kpi-units"),
        ("Orders", f"{data.total_orders:,}".replace(",", "."), "kpi-orders"),
        ("Stock alerts", str(len(data.alerts)), "kpi-alerts"),
        ("Speed lag", f"{data.freshness.get('lag_seconds', 0):.0f} s", "kpi-lag"),
    ]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi" id="{i}"><div class="v">{text(v)}</div>'
            f'<div class="l">{text(label)}</div></div>'
            for label, v, i in kpis
        )
        + "</div>"
    )


def daily_section(data: ReportData) -> str:
    """Net revenue and units per local business day."""
    days = [r["day"] for r in data.daily]
    nets = [float(r["net"]) for r in data.daily]
    trend = go.Figure(
        [
            go.Bar(
                x=days,
                y=nets,
                name="net revenue (R$)",
                text=[f"{v:.2f}" for v in nets],
                textposition="inside",
            ),
            go.Scatter(
                x=days,
                y=[int(r["units"]) for r in data.daily],
                name="units",
                yaxis="y2",
                mode="lines+markers",
            ),
        ]
    )
    trend.update_layout(
        xaxis={"type": "category"},
        yaxis={"title": "net revenue (R$)"},
        yaxis2={"overlaying": "y", "side": "right", "title": "units"},
        legend={"orientation": "h"},
    )
    return (
        '<section class="wide"><h2>Daily sales (local business days)</h2>'
        f"{_figure_html(trend, 'chart-daily')}</section>"
    )


def intraday_section(data: ReportData) -> str:
    """Today's net sales per local hour."""
    intraday = go.Figure(
        go.Bar(x=[r["hour"] for r in data.intraday], y=[float(r["net"]) for r in data.intraday])
    )
    intraday.update_xaxes(title="hour (store's local time)", dtick=1)
    return (
        f"<section><h2>Intraday sales, {text(data.today)} (local hours)</h2>"
        f"{_figure_html(intraday, 'chart-intraday')}</section>"
    )


def stores_section(data: ReportData) -> str:
    """Revenue and margin side by side per store."""
    stores = go.Figure(
        [
            go.Bar(
                x=[r["store_id"] for r in data.stores],
                y=[float(r["revenue"]) for r in data.stores],
                name="revenue",
            ),
            go.Bar(
                x=[r["store_id"] for r in data.stores],
                y=[float(r["margin"]) for r in data.stores],
                name="margin",
            ),
        ]
    )
    stores.update_layout(barmode="group", legend={"orientation": "h"})
    return f"<section><h2>Store comparison</h2>{_figure_html(stores, 'chart-stores')}</section>"


def products_section(data: ReportData) -> str:
    """Best and worst sellers by net sales."""

    def product_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
        return [
            [r["sku"], r.get("name", ""), r["units"], brl(r["revenue"]), brl(r["margin"])]
            for r in rows
        ]

    headers = ["SKU", "product", "units", "revenue", "margin"]
    return (
        "<section><h2>Top products</h2>"
        + _table(headers, product_rows(data.top_products), {2, 3, 4})
        + "</section><section><h2>Bottom products</h2>"
        + _table(headers, product_rows(data.bottom_products), {2, 3, 4})
        + "</section>"
    )


def alerts_section(data: ReportData) -> str:
    """Positions at or below their reorder point, with what to do."""
    alert_rows = [
        [
            r["store_id"],
            r["sku"],
            r["on_hand"],
            r["reorder_point"],
            "–" if r.get("days_of_cover") is None else f"{float(r['days_of_cover']):.1f}",
            r["lead_time_days"],
            alert_action(r),
        ]
        for r in data.alerts
    ]
    headers = ["store", "SKU", "on hand", "reorder point", "days of cover", "lead time (d)"]
    return (
        '<section class="wide" id="alerts"><h2>Inventory on hand: stock alerts</h2>'
        + _table([*headers, "status"], alert_rows, {2, 3, 4, 5})
        + "</section>"
    )


def forecast_note(data: ReportData) -> str:
    """Warnings a reader of the forecast or the suggestion must see first."""
    note = "" if data.has_forecast else f'<p class="bad">{text(NO_FORECAST)}</p>'
    if data.freshness.get("stale_forecast"):
        note += f'<p class="bad" id="stale-forecast">{text(data.freshness["stale_forecast"])}</p>'
    return note


def forecast_section(data: ReportData) -> str:
    """Sales, forecast and intervals of the top series."""
    return (
        '<section class="wide" id="forecast"><h2>Demand forecast: top series by revenue</h2>'
        + forecast_note(data)
        + _figure_html(forecast_figure(data.forecast_series), "chart-forecast", height=380)
        + "</section>"
    )


def transfers_section(data: ReportData) -> str:
    """What to move between stores before buying: the purchase table below is net of it."""
    rows = [
        [
            r["sku"],
            r.get("product_name") or "",
            r["from_store"],
            r["to_store"],
            r["units"],
            "yes" if r.get("same_state") else "no",
            r["lead_time_days"],
            r["from_on_hand"],
            r["to_on_hand"],
            "–" if r.get("to_stockout_date") is None else str(r["to_stockout_date"]),
            r["to_suggested_order_quantity"],
        ]
        for r in data.transfers
    ]
    headers = [
        "SKU",
        "product",
        "from",
        "to",
        "move (units)",
        "same state",
        "transfer days",
        "on hand at origin",
        "on hand at destination",
        "stock-out at destination",
        "still to buy (units)",
    ]
    body = (
        _table(headers, rows, {4, 6, 7, 8, 10})
        if rows
        else "<p>no transfer suggested: no store holds more than it needs of a SKU another "
        "lacks.</p>"
    )
    return (
        '<section class="wide" id="transfers"><h2>Transfers between stores '
        "(serving.transfer_suggestions)</h2><p>Stock above a store's order-up-to level, sent "
        "to a store at or below its reorder point (same state first). The purchase "
        "suggestions below already count these units.</p>" + body + "</section>"
    )


def suggestions_section(data: ReportData) -> str:
    """What to order, with the numbers that explain each quantity."""
    suggestion_rows = [
        [
            r["store_id"],
            r["sku"],
            r.get("product_name") or "",
            r["on_hand"],
            r.get("on_order") or 0,
            r.get("transfer_in") or 0,
            _units(r.get("demand_lead_review")),
            _units(r.get("safety_stock")),
            _units(r.get("computed_reorder_point")),
            "–" if r.get("stockout_date") is None else str(r["stockout_date"]),
            r["suggested_order_quantity"],
            int(r["suggested_order_quantity"]) // max(int(r.get("pack_size") or 1), 1),
            "forecast" if r.get("demand_source") == "forecast" else "observed average",
            suggestion_status(r),
        ]
        for r in data.suggestions
    ]
    headers = [
        "store",
        "SKU",
        "product",
        "on hand",
        "on order (incl. in transit)",
        "by transfer",
        "demand lead+review",
        "safety stock",
        "reorder point (calc.)",
        "stock-out",
        "order (units)",
        "cases",
        "demand from",
        "status",
    ]
    suggestions = (
        _table(headers, suggestion_rows, {3, 4, 5, 6, 7, 8, 10, 11})
        if suggestion_rows
        else "<p>nothing to order at this review.</p>"
    )
    return (
        '<section class="wide" id="suggestions"><h2>Purchase suggestions '
        "(serving.replenishment)</h2>" + forecast_note(data) + suggestions + "</section>"
    )


def late_orders_section(data: ReportData) -> str:
    """Purchase orders in transit and the late ones: what on_order already subtracts."""
    transit = data.in_transit or {}
    late_rows = [
        [
            r["order_number"],
            r["line_number"],
            r["store_id"],
            r["sku"],
            r.get("product_name") or "",
            r["open_units"],
            str(r["expected_delivery"]),
            r["days_late"],
        ]
        for r in data.late_orders
    ]
    late = (
        _table(
            ["order", "line", "store", "SKU", "product", "open (units)", "expected", "days late"],
            late_rows,
            {1, 5, 7},
        )
        if late_rows
        else "<p>no purchase order is late.</p>"
    )
    return (
        '<section class="wide" id="late-orders"><h2>Late purchase orders '
        "(serving.open_purchase_orders)</h2>"
        f"<p>{int(transit.get('lines') or 0)} order line(s) in transit, "
        f"{int(transit.get('units') or 0)} units; {int(transit.get('late_lines') or 0)} "
        "past their expected delivery. Units in transit are already subtracted from the "
        "suggestions (on order).</p>" + late + "</section>"
    )


def accuracy_section(data: ReportData) -> str:
    """The newest backtest's accuracy per model against the baselines."""
    accuracy_rows = [
        [
            r["series_class"],
            r["model"],
            "baseline" if r.get("baseline") else ("chosen" if r["model"] == CHOSEN else "model"),
            r["series"],
            _percent(r.get("wape")),
            "–" if r.get("mase") is None else f"{float(r['mase']):.2f}",
            _percent(r.get("bias")),
        ]
        for r in data.accuracy
    ]
    if accuracy_rows:
        summary = "".join(f"<li>{text(line)}</li>" for line in accuracy_summary(data.accuracy))
        accuracy = (
            (f"<ul>{summary}</ul>" if summary else "")
            + _table(
                ["series", "model", "kind", "series count", "WAPE", "MASE", "bias"],
                accuracy_rows,
                {3, 4, 5, 6},
            )
            + "<p>Means over series of the newest rolling-origin backtest; bias above 0 is "
            "over-forecasting.</p>"
        )
    else:
        accuracy = f'<p class="bad">{text(NO_FORECAST)}</p>'
    return (
        '<section class="wide" id="accuracy"><h2>Forecast accuracy (backtest)</h2>'
        + accuracy
        + "</section>"
    )


def freshness_section(data: ReportData) -> str:
    """How complete (cutoff) and how fresh (speed lag, forecast) the numbers are."""
    fresh = data.freshness
    return (
        '<section id="freshness"><h2>Freshness</h2>'
        + _table(
            ["measure", "value"],
            [
                ["batch cutoff (complete up to)", fresh.get("cutoff", "–")],
                ["newest speed event", fresh.get("newest_speed_event", "–")],
                ["lag", f"{fresh.get('lag_seconds', 0):.0f} s"],
                ["demand forecast made at", fresh.get("forecast_computed_at", "–")],
            ],
            set(),
        )
        + "</section>"
    )


def quality_section(data: ReportData) -> str:
    """Rejected records by source and reason."""
    quality = go.Figure(
        go.Bar(
            y=[f"{r['source']}: {r['rule']}" for r in data.quality],
            x=[int(r["rejects"]) for r in data.quality],
            orientation="h",
        )
    )
    web = data.web_invoices or {}
    unmatched = int(web.get("unmatched") or 0)
    uninvoiced = int(web.get("uninvoiced") or 0)
    flag = ' class="bad"' if unmatched else ""
    return (
        f"<section><h2>Data quality: rejects by source and reason</h2>"
        f"{_figure_html(quality, 'chart-quality')}"
        f'<p id="web-invoices"{flag}>{unmatched} web-shop invoice(s) name an order the '
        f"order feed never sent; {uninvoiced} web order(s) over 3 days old have no invoice "
        "(serving.web_invoice_orders).</p></section>"
    )


#: The dashboard, top to bottom: one function per section.
SECTIONS = (
    kpi_section,
    daily_section,
    intraday_section,
    stores_section,
    products_section,
    alerts_section,
    forecast_section,
    transfers_section,
    suggestions_section,
    late_orders_section,
    accuracy_section,
    freshness_section,
    quality_section,
)


def render(data: ReportData) -> str:
    """The complete HTML page for ``data``."""
    parts = [section(data) for section in SECTIONS]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>SalesSphere dashboard</title>"
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>SalesSphere — sales and stock</h1><p>{text(data.subtitle)}</p></header>"
        f"<main>{''.join(parts)}</main></body></html>"
    )
