"""The dashboard renders in a real browser, offline, with the numbers it was given."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from salesphere_tools.report.browser import rendered_dom
from salesphere_tools.report.data import ReportData
from salesphere_tools.report.render import brl, render


def sample() -> ReportData:
    return ReportData(
        subtitle="test data",
        today=date(2026, 11, 7),
        daily=[
            {"day": "2026-11-05", "net": Decimal("1234.56"), "units": 80, "orders": 30},
            {"day": "2026-11-06", "net": Decimal("987.65"), "units": 61, "orders": 22},
        ],
        intraday=[{"hour": 9, "net": Decimal("100.00")}, {"hour": 10, "net": Decimal("55.50")}],
        stores=[{"store_id": "SP01", "revenue": Decimal("1500"), "margin": Decimal("600")}],
        top_products=[{"sku": "SKU-1", "name": "Café", "units": 9, "revenue": 90, "margin": 30}],
        bottom_products=[{"sku": "SKU-9", "name": "Chá", "units": 1, "revenue": 5, "margin": 1}],
        alerts=[
            {
                "store_id": "SP01",
                "sku": "SKU-1",
                "on_hand": 3,
                "reorder_point": 10,
                "days_of_cover": 1.5,
                "lead_time_days": 4,
                "at_risk": True,
            },
        ],
        freshness={
            "cutoff": "2026-11-07T00:00:00Z",
            "newest_speed_event": "2026-11-07T10:00:00Z",
            "lag_seconds": 2.0,
        },
        quality=[{"source": "pos", "rule": "min_value", "rejects": 3}],
    )


def test_brazilian_money_format() -> None:
    assert brl(Decimal("1234.5")) == "R$ 1.234,50"
    assert brl(Decimal("-0.5")) == "R$ -0,50"


def test_totals_come_from_the_rows() -> None:
    data = sample()
    assert data.total_net == Decimal("2222.21")
    assert (data.total_units, data.total_orders) == (141, 52)


def test_page_is_self_contained() -> None:
    page = render(sample())
    # Every script is inline and nothing is linked from outside: it opens offline.
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=[\"']https?:", page)
    assert page.count("<script") >= 5  # plotly.js itself + one per chart
    assert "R$ 2.222,21" in page


def test_charts_render_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "dashboard.html"
    page.write_text(render(sample()), encoding="utf-8")
    dom = rendered_dom(page)
    for chart in ("chart-daily", "chart-intraday", "chart-stores", "chart-quality"):
        block = dom[dom.index(f'id="{chart}"') :][:20000]
        assert "main-svg" in block, f"{chart} did not render an SVG"
    # Bar labels drawn by plotly carry the daily net figures we passed in.
    assert "1234.56" in dom and "987.65" in dom
    assert "reorder now" in dom


def test_each_alert_kind_gets_its_action_and_negative_stock_asks_for_a_count() -> None:
    data = sample()
    base = data.alerts[0]
    data.alerts = [
        base | {"sku": "NEG", "on_hand": -3, "days_of_cover": None, "alert": "count_needed"},
        base | {"sku": "OUT", "on_hand": 0, "days_of_cover": 0.0, "alert": "out_of_stock"},
    ]
    page = render(data)
    section = page[page.index('id="alerts"') :]
    neg = section[section.index("NEG") :].split("</tr>")[0]
    out = section[section.index("OUT") :].split("</tr>")[0]
    assert "count the shelf" in neg and "reorder now" not in neg
    assert "reorder now" in out and "count the shelf" not in out


def test_transfers_are_listed_before_the_purchases_they_reduce() -> None:
    data = sample()
    page = render(data)
    assert "no transfer suggested" in page[page.index('id="transfers"') :]
    data.transfers = [
        {
            "sku": "SKU-1",
            "product_name": "Café",
            "from_store": "SP01",
            "to_store": "SP02",
            "units": 16,
            "same_state": True,
            "lead_time_days": 2,
            "from_on_hand": 180,
            "to_on_hand": 0,
            "to_stockout_date": date(2026, 11, 7),
            "to_suggested_order_quantity": 4,
        }
    ]
    page = render(data)
    assert page.index('id="transfers"') < page.index('id="suggestions"')
    row = page[page.index('id="transfers"') :].split("<td>SKU-1</td>")[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[:3] == ["Café", "SP01", "SP02"]
    assert cells[3:6] == ["16", "yes", "2"] and cells[-1] == "4"


def test_unmatched_web_invoices_are_counted_under_data_quality() -> None:
    data = sample()
    assert '<p id="web-invoices">0 web-shop invoice(s)' in render(data)
    data.web_invoices = {"unmatched": 2, "uninvoiced": 5}
    page = render(data)
    assert '<p id="web-invoices" class="bad">2 web-shop invoice(s)' in page
    assert "5 web order(s) over 3 days old have no invoice" in page
