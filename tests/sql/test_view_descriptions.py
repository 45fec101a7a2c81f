"""Serving views carry their documentation in the warehouse, column by column."""

from __future__ import annotations

from salesphere.gcp import clients
from salesphere.sqldocs import parse
from salesphere_tools.local.twin import Twin
from sql import GENERATED_DIR


def test_view_and_column_descriptions_come_from_the_sql_docs(twin: Twin) -> None:
    doc = parse(GENERATED_DIR / "sales_daily.sql")
    table = clients.bigquery_client(twin.settings).get_table(
        f"{twin.settings.project}.serving.sales_daily"
    )
    assert table.description == doc.description
    described = {f.name: f.description for f in table.schema}
    assert described["net_sales"] == doc.columns["net_sales"]
    assert all(described[c] for c in doc.columns)
