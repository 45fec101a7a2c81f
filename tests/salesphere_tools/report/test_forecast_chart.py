"""The dashboard's forecast chart, purchase suggestions and backtest panel.

Data from sources (product names, store ids) reaches the page as text: HTML-escaped and
formula-neutralised in tables, escaped in chart labels (plotly draws labels as markup).
Only the page's own badges are markup.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from salesphere_tools.report.browser import rendered_dom
from salesphere_tools.report.data import CHOSEN, ReportData, stockout_days
from salesphere_tools.report.render import (
    NO_FORECAST,
    SERIES_TRACES,
    accuracy_summary,
    forecast_figure,
    render,
)

EVIL = "<img src=x onerror=\"document.title='pwned'\"></script><script>document.title='pwned'"
D = date(2026, 11, 30)


def _series(sku: str, name: str, with_forecast: bool = True) -> dict:
    history = [{"day": D - timedelta(days=i), "units": 3 + i % 4} for i in range(14, -1, -1)]
    forecast = [
        {
            "day": D + timedelta(days=i),
            "units": 4.0,
            "lo_80": 2.5,
            "hi_80": 5.5,
            "lo_95": 1.5,
            "hi_95": 6.5,
        }
        for i in range(1, 29)
    ]
    return {
        "store_id": "SP01",
        "sku": sku,
        "name": name,
        "revenue": Decimal("900.00"),
        "history": history,
        "forecast": forecast if with_forecast else [],
        "models": ["AutoETS"],
        "stockout_days": [D - timedelta(days=6), D - timedelta(days=5)],
        "stockout_date": D + timedelta(days=9),
        "demand_source": "forecast",
    }


def _accuracy() -> list[dict]:
    rows = []
    for cls, chosen, naive, trailing in (
        ("all", 0.30, 0.40, 0.45),
        ("regular", 0.25, 0.36, 0.41),
        ("intermittent", 0.80, 0.78, 0.90),
    ):
        for model, wape in (
            (CHOSEN, chosen),
            ("seasonal_naive", naive),
            ("trailing_avg_28", trailing),
        ):
            rows.append(
                {
                    "model": model,
                    "series_class": cls,
                    "series": 12,
                    "wape": wape,
                    "mase": 0.9,
                    "bias": -0.02,
                    "baseline": model != CHOSEN,
                }
            )
    return rows


def _suggestion(**values) -> dict:
    base = {
        "store_id": "SP01",
        "sku": "MER-10001",
        "product_name": "Café em Grãos",
        "on_hand": 4,
        "demand_lead_review": 20.0,
        "safety_stock": 7.356,
        "computed_reorder_point": 15.356,
        "stockout_date": D + timedelta(days=1),
        "suggested_order_quantity": 18,
        "pack_size": 6,
        "urgent": True,
        "demand_source": "forecast",
    }
    return base | values


def _data(**values) -> ReportData:
    base = ReportData(
        subtitle="test",
        today=D,
        forecast_series=[_series("MER-10001", "Café em Grãos"), _series("ELE-10002", EVIL)],
        suggestions=[
            _suggestion(),
            _suggestion(
                sku="ELE-10002",
                product_name='=HYPERLINK("http://x")' + EVIL,
                urgent=False,
                demand_source="trailing_average",
                stockout_date=None,
                pack_size=1,
                suggested_order_quantity=7,
            ),
        ],
        accuracy=_accuracy(),
        has_forecast=True,
    )
    for key, value in values.items():
        setattr(base, key, value)
    return base


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def test_empty_forecast_tables_say_what_to_run() -> None:
    page = render(ReportData())
    for section in ("forecast", "suggestions", "accuracy"):
        assert "no forecast yet — run `salesphere batch run`" in _section(page, section)
    assert 'id="chart-forecast"' in page
    assert "nothing to order" in _section(page, "suggestions")
    # With a forecast the note is gone.
    assert NO_FORECAST not in render(_data())


def test_suggestions_table_escapes_and_neutralises_data() -> None:
    table = _section(render(_data()), "suggestions")
    rows = table.split("<tr>")[2:]
    first, second = rows
    assert "Café em Grãos" in first and ">18<" in first and ">3<" in first  # 3 cases of 6
    assert '<span class="bad">order today</span>' in first
    assert "15.4" in first and "2026-12-01" in first
    assert '<span class="ok">top up</span>' in second and "observed average" in second
    assert "&#x27;=HYPERLINK(&quot;http://x&quot;)&lt;img src=x" in second
    assert "<img" not in table and "<script" not in table


def test_accuracy_panel_compares_chosen_models_with_the_baselines() -> None:
    panel = _section(render(_data()), "accuracy")
    assert "all: WAPE 30.0% for the chosen models vs 40.0% seasonal naive (25.0% better)" in panel
    assert (
        "intermittent: WAPE 80.0% for the chosen models vs 78.0% seasonal naive (2.6% worse)"
        in panel
    )
    assert panel.count(">baseline<") == 6 and panel.count(">chosen<") == 3
    assert accuracy_summary([]) == []


def test_forecast_figure_shows_one_series_at_a_time() -> None:
    series = [_series("A", "first"), _series("B", EVIL, with_forecast=False)]
    fig = forecast_figure(series)
    per = len(SERIES_TRACES)
    assert len(fig.data) == 2 * per
    assert [t.visible for t in fig.data] == [True] * per + [False] * per
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.args[0]["visible"] for b in buttons] == [
        [True] * per + [False] * per,
        [False] * per + [True] * per,
    ]
    assert buttons[1].label.startswith("SP01 · B · &lt;img src=x")
    out_of_stock = fig.data[SERIES_TRACES.index("out of stock")]
    assert list(out_of_stock.x) == [D - timedelta(days=6), D - timedelta(days=5)]
    band = fig.data[SERIES_TRACES.index("95% interval")]
    assert band.fill == "tonexty" and list(band.y)[:2] == [6.5, 6.5]
    assert forecast_figure([]).layout.updatemenus == ()


def test_forecast_chart_renders_in_chromium_and_labels_stay_text(tmp_path: Path) -> None:
    page = tmp_path / "dashboard.html"
    page.write_text(render(_data()), encoding="utf-8")
    dom = rendered_dom(page)
    block = dom[dom.index('id="chart-forecast"') :][:200000]
    assert "main-svg" in block and 'class="updatemenu-container"' in block
    # The selector, drawn by plotly in the SVG, shows the first series.
    assert 'class="updatemenu-item-text"' in block
    assert 'data-unformatted="SP01 · MER-10001 · Café em Grãos"' in block
    assert "<title>SalesSphere dashboard</title>" in dom  # no injected script ran
    assert '<img src="x"' not in dom


def test_stockout_days_are_the_closed_empty_days_with_no_sales() -> None:
    """Hand case: 10 received on day 1, 5 sold on days 2 and 3 (closes at 0), nothing on
    days 4 and 5 (closed empty, no sale: out of stock). Day 0 precedes the first stock
    event, so it is not observed."""
    d = [date(2026, 11, 20) + timedelta(days=i) for i in range(6)]
    moves = [
        {"day": d[1], "units": 0, "net": 10},
        {"day": d[2], "units": 5, "net": -5},
        {"day": d[3], "units": 5, "net": -5},
    ]
    assert stockout_days(0, moves, d[0], d[5]) == [d[4], d[5]]
    # 7 received the day after the window and on hand now: the window's days closed 7
    # lower, so days 4 and 5 still closed at 0.
    later = [*moves, {"day": d[5] + timedelta(days=1), "units": 0, "net": 7}]
    assert stockout_days(7, later, d[0], d[5]) == [d[4], d[5]]
    assert stockout_days(None, moves, d[0], d[5]) == []
    assert stockout_days(3, moves, d[0], d[5]) == []  # 3 on hand all along: never empty
