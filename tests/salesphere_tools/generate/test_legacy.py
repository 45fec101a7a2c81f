"""The old system's daily summary the demo imports: importable, and the demo's own catalogue."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from salesphere.ingest.history import parse_file
from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.generate.legacy import write_legacy_history


def test_the_summary_imports_whole_and_matches_the_generated_catalogue(tmp_path) -> None:
    end = date(2026, 11, 28)
    path, rows = write_legacy_history(
        tmp_path / "historico.csv", stores=1, skus=10, end=end, days=60, seed=7
    )
    raw = path.read_bytes()
    assert "Valor Líquido".encode("latin-1") in raw  # Latin-1, as old systems export
    report, good = parse_file(path)
    assert (report.received, report.accepted, report.rejected) == (rows, rows, 0)
    assert report.last_day == end - timedelta(days=1)
    assert report.first_day >= end - timedelta(days=60)
    assert all(r["units"] > 0 for r in good)

    generate(GeneratorConfig(out=tmp_path / "data", days=1, stores=1, seed=7, skus=10))
    with (tmp_path / "data" / "reference" / "products.csv").open(encoding="utf-8") as handle:
        skus = {row["sku"] for row in csv.DictReader(handle)}
    with (tmp_path / "data" / "reference" / "stores.csv").open(encoding="utf-8") as handle:
        stores = {row["store_id"] for row in csv.DictReader(handle)}
    assert {r["sku"] for r in good} <= skus
    assert {r["store_id"] for r in good} == stores
