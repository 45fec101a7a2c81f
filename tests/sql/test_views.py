"""The SQL under sql/: generated files are current, views are documented, sqlfluff passes."""

import re
import subprocess
import sys

from salesphere import sqlrefs
from salesphere.batch.sqlrender import SqlFile, render_all
from salesphere.sql import SQL_DIR
from salesphere.warehouse.views import load
from sql import GENERATED_DIR
from sql.render import stale_files
from sql.views import serving_views
from tests import REPO_ROOT

ROOT = REPO_ROOT


def test_generated_sql_matches_its_templates() -> None:
    assert stale_files() == [], "run `python -m sql.render` and commit"


def test_batch_and_speed_renderings_share_the_metric_text() -> None:
    rendered = render_all(GENERATED_DIR)
    batch = rendered[SQL_DIR / "batch" / "sales_daily.sql"]
    serving = rendered[GENERATED_DIR / "sales_daily.sql"]
    for line in (
        "SUM(IF(src.event_type = 'sale', SIGN(src.quantity), 0)) AS sale_lines",
        "DATE(src.occurred_at, COALESCE(st.timezone, ('America/Sao_Paulo'))) AS sale_date",
    ):
        assert line in batch and line in serving
    assert "@cutoff" in batch and "serving.events_counted_since_cutoff" in serving
    assert "event_type != 'void'" in batch  # voids and what they cancel count nowhere


def test_every_view_documents_itself_and_each_output_column() -> None:
    for views in (load("batch"), serving_views()):
        for view in views:
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
    order = [v.name for v in serving_views()]
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
            "sql",
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


#: A day or hour taken from occurred_at without a timezone argument is a UTC day or hour.
UTC_DAY_OR_HOUR = re.compile(
    r"DATE\(\s*(\w+\.)?occurred_at\s*\)"
    r"|TIMESTAMP_TRUNC\(\s*(\w+\.)?occurred_at\s*,\s*(HOUR|DAY)\s*\)"
    r"|EXTRACT\(\s*(HOUR|DATE)\s+FROM\s+(\w+\.)?occurred_at\s*\)",
    re.IGNORECASE,
)


def test_no_view_takes_a_utc_day_or_hour() -> None:
    """Business days and hours are the store's: a bare DATE(occurred_at) would book a
    22:30 São Paulo sale (01:30 UTC) on the next day."""
    assert UTC_DAY_OR_HOUR.search("DATE(e.occurred_at)")  # the pattern itself can fail
    assert not UTC_DAY_OR_HOUR.search("DATE(e.occurred_at, st.timezone)")
    for views in (load("batch"), serving_views()):
        for view in views:
            assert not UTC_DAY_OR_HOUR.search(view.query), view.path
