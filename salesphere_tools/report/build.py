"""Fetch, render, write and (optionally) verify the dashboard in a browser."""

from __future__ import annotations

from pathlib import Path

from salesphere.settings import Settings
from salesphere_tools.report.data import ReportData, fetch
from salesphere_tools.report.render import render

CHART_IDS = ("chart-daily", "chart-intraday", "chart-stores", "chart-forecast", "chart-quality")


def check_rendered(page: Path, data: ReportData) -> list[str]:
    """Problems found when Chromium renders ``page`` (empty list: all charts drawn)."""
    from salesphere_tools.report.browser import rendered_dom

    dom = rendered_dom(page)
    problems = []
    for chart in CHART_IDS:
        at = dom.find(f'id="{chart}"')
        if at < 0 or "main-svg" not in dom[at : at + 20000]:
            problems.append(f"{chart} did not render")
    for row in data.daily:
        label = f"{float(row['net']):.2f}"
        if label not in dom:
            problems.append(f"daily net {label} for {row['day']} is not on the page")
    return problems


def build_report(
    out: Path, *, check: bool = False, settings: Settings | None = None
) -> tuple[Path, list[str]]:
    data = fetch(settings or Settings.from_env())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    return out, (check_rendered(out, data) if check else [])
