"""Files written for people are safe to open in a spreadsheet; the stored values are not
touched. One rule (salesphere.exports), checked here in every writer that uses it."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from salesphere.exports import neutralise_formula, safe_row
from salesphere.ingest.files import report_bytes
from salesphere_tools.report.render import render
from tests.salesphere_tools.report.test_render import sample

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","y")',
    "@SUM(A1)",
    "+1+1",
    "-2+3",
    "-",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("cell", FORMULAS)
def test_text_that_a_spreadsheet_would_run_becomes_text(cell: str) -> None:
    assert neutralise_formula(cell) == "'" + cell


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("-12,50", "-12,50"),  # a negative amount, Brazilian style: stays a number
        ("-1.234,56", "-1.234,56"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        (-7, "-7"),  # typed numbers are never changed
        (Decimal("-0.10"), "-0.10"),
        (-1.5, "-1.5"),
        ("SP01", "SP01"),
        ("Café = bom", "Café = bom"),  # only the first character matters
        (None, ""),
    ],
)
def test_numbers_and_plain_text_are_kept(cell: object, shown: str) -> None:
    assert neutralise_formula(cell) == shown


def test_safe_row_and_the_rejects_report() -> None:
    assert safe_row(["=1+1", -3, None]) == ["'=1+1", "-3", ""]
    text = report_bytes([[4, "SKU", "sku", "=HYPERLINK(1)", "pattern", "-bad"]]).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["row"], row["value"], row["reason"]) == ("4", "'=HYPERLINK(1)", "'-bad")


def test_dashboard_tables_neither_run_formulas_nor_inject_html() -> None:
    data = sample()
    data = replace(
        data,
        top_products=[
            {"sku": "SKU-1", "name": "=HYPERLINK(1)", "units": 9, "revenue": 90, "margin": -30},
            {
                "sku": "SKU-2",
                "name": "<img src=x onerror=alert(1)>",
                "units": 1,
                "revenue": 1,
                "margin": 0,
            },
        ],
    )
    page = render(data)
    assert "<td>&#x27;=HYPERLINK(1)</td>" in page  # the quote, HTML-escaped
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "R$ -30,00" in page  # a negative amount is shown as a number
    assert '<span class="bad">reorder now</span>' in page  # the page's own badge is HTML


def test_query_csv_export_is_neutralised(monkeypatch: pytest.MonkeyPatch) -> None:
    """`salesphere query --format csv`: text cells neutralised, negative numbers kept."""
    from salesphere.gcp import clients
    from salesphere_tools.cli.main import app

    rows = [{"name": "=cmd|' /C calc'!A0", "net": Decimal("-12.50"), "units": -2}]

    class Result(list[Any]):
        schema = tuple(SimpleNamespace(name=k) for k in rows[0])

    fake = SimpleNamespace(
        query_and_wait=lambda sql: Result(SimpleNamespace(values=r.values) for r in rows)
    )
    monkeypatch.setattr(clients, "bigquery_client", lambda settings: fake)
    out = CliRunner().invoke(app, ["query", "SELECT 1", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert list(csv.reader(io.StringIO(out.output))) == [
        ["name", "net", "units"],
        ["'=cmd|' /C calc'!A0", "-12.50", "-2"],
    ]
