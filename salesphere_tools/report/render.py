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
from salesphere_tools.report.data import ReportData

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


def _figure_html(fig: go.Figure, element_id: str) -> str:
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40}, height=300, template="plotly_white"
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


def render(data: ReportData) -> str:
    """The complete HTML page for ``data``."""
    parts: list[str] = []
    kpis = [
        ("Net revenue", brl(data.total_net), "kpi-net"),
        ("Units sold", f"{data.total_units:,}".replace(",", "."), "kpi-units"),
        ("Orders", f"{data.total_orders:,}".replace(",", "."), "kpi-orders"),
        ("Stock alerts", str(len(data.alerts)), "kpi-alerts"),
        ("Speed lag", f"{data.freshness.get('lag_seconds', 0):.0f} s", "kpi-lag"),
    ]
    parts.append(
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi" id="{i}"><div class="v">{text(v)}</div>'
            f'<div class="l">{text(label)}</div></div>'
            for label, v, i in kpis
        )
        + "</div>"
    )

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
    parts.append(
        f'<section class="wide"><h2>Daily sales (local business days)</h2>{_figure_html(trend, "chart-daily")}</section>'
    )

    intraday = go.Figure(
        go.Bar(x=[r["hour"] for r in data.intraday], y=[float(r["net"]) for r in data.intraday])
    )
    intraday.update_xaxes(title="hour (store's local time)", dtick=1)
    parts.append(
        f"<section><h2>Intraday sales, {text(data.today)} (local hours)</h2>"
        f"{_figure_html(intraday, 'chart-intraday')}</section>"
    )

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
    parts.append(
        f"<section><h2>Store comparison</h2>{_figure_html(stores, 'chart-stores')}</section>"
    )

    def product_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
        return [
            [r["sku"], r.get("name", ""), r["units"], brl(r["revenue"]), brl(r["margin"])]
            for r in rows
        ]

    headers = ["SKU", "product", "units", "revenue", "margin"]
    parts.append(
        "<section><h2>Top products</h2>"
        + _table(headers, product_rows(data.top_products), {2, 3, 4})
        + "</section><section><h2>Bottom products</h2>"
        + _table(headers, product_rows(data.bottom_products), {2, 3, 4})
        + "</section>"
    )

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
    parts.append(
        '<section class="wide" id="alerts"><h2>Inventory on hand: stock alerts</h2>'
        + _table(
            [
                "store",
                "SKU",
                "on hand",
                "reorder point",
                "days of cover",
                "lead time (d)",
                "status",
            ],
            alert_rows,
            {2, 3, 4, 5},
        )
        + "</section>"
    )

    fresh = data.freshness
    parts.append(
        '<section id="freshness"><h2>Freshness</h2>'
        + _table(
            ["measure", "value"],
            [
                ["batch cutoff (complete up to)", fresh.get("cutoff", "–")],
                ["newest speed event", fresh.get("newest_speed_event", "–")],
                ["lag", f"{fresh.get('lag_seconds', 0):.0f} s"],
            ],
            set(),
        )
        + "</section>"
    )
    quality = go.Figure(
        go.Bar(
            y=[f"{r['source']}: {r['rule']}" for r in data.quality],
            x=[int(r["rejects"]) for r in data.quality],
            orientation="h",
        )
    )
    parts.append(
        f"<section><h2>Data quality: rejects by source and reason</h2>"
        f"{_figure_html(quality, 'chart-quality')}</section>"
    )

    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>SalesSphere dashboard</title>"
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>SalesSphere — sales and stock</h1><p>{text(data.subtitle)}</p></header>"
        f"<main>{''.join(parts)}</main></body></html>"
    )
