"""The Pulumi program provisions batch tables from files that match what their SQL yields."""

from __future__ import annotations

from salesphere_tools.local.twin import Twin
from salesphere_tools.warehouse.export_schemas import TABLES_DIR, exported


def test_committed_batch_table_schemas_match_their_queries(twin: Twin) -> None:
    files = exported(twin.settings)
    assert "batch.sales_daily.json" in files and "batch.cutoff.json" in files
    for name, text in files.items():
        path = TABLES_DIR / name
        assert path.exists(), (
            f"{path} missing: run python -m salesphere_tools.warehouse.export_schemas"
        )
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run `python -m salesphere_tools.warehouse.export_schemas` against a twin"
        )
