"""The SQL under sql/: generated files are current, views are documented, sqlfluff passes."""

import subprocess
import sys
from pathlib import Path

from salesphere import sqlrefs
from salesphere.batch.sqlrender import SQL_DIR, SqlFile, render_all, stale_files
from salesphere.warehouse.views import load

ROOT = Path(__file__).resolve().parents[2]


def test_generated_sql_matches_its_templates() -> None:
    assert stale_files() == [], "run `python -m salesphere.batch.sqlrender` and commit"


def test_batch_and_speed_renderings_share_the_metric_text() -> None:
    rendered = render_all()
    batch = rendered[SQL_DIR / "batch" / "sales_daily.sql"]
    serving = rendered[SQL_DIR / "serving" / "sales_daily.sql"]
    for line in ("COUNTIF(event_type = 'sale') AS sale_lines", "DATE(occurred_at) AS sale_date"):
        assert line in batch and line in serving
    assert "@cutoff" in batch and "serving.events_since_cutoff" in serving


def test_every_view_documents_itself_and_each_output_column() -> None:
    for dataset in ("batch", "serving"):
        for view in load(dataset):
            sql = SqlFile.read(view.path)
            assert sql.tag("view") == view.ref, view.path
            assert "-- description:" in sql.header, view.path
            documented = {
                line.split(":")[1].strip()
                for line in sql.header.splitlines()
                if line.startswith("-- column:")
            }
            tree = sqlrefs._parse(view.query.replace("@cutoff", "TIMESTAMP '2000-01-01'"), "x")
            named = {e.alias_or_name for e in tree.selects if e.alias_or_name != "*"}
            assert documented, view.path
            assert named <= documented, (view.path, named - documented)


def test_serving_views_only_read_platform_datasets_in_dependency_order() -> None:
    order = [v.name for v in load("serving")]
    assert order.index("events_since_cutoff") < order.index("sales_daily")
    assert order.index("sales_daily") < order.index("stock_alerts")


def test_sqlfluff_bigquery_lint_passes() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqlfluff",
            "lint",
            "salesphere/sql",
            "--dialect",
            "bigquery",
            "--disable-progress-bar",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
