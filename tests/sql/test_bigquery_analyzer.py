"""Every SQL statement the platform sends to BigQuery passes Google's own analyzer.

The twin's BigQuery emulator (DuckDB) is more lenient than BigQuery, so a green twin says
little about GoogleSQL. ZetaSQL (``zetasql`` on PyPI, Google's analyzer compiled to
WASM) checks each statement as collected by ``salesphere_tools.sqlcheck.collect``:
names, types, parameters as the code binds them, every statement kind. The defect tests
show the check rejects the shapes that broke the serving layer in cloud, so a pass here
means something.
"""

from __future__ import annotations

import ast

import pytest

from salesphere_tools.sqlcheck import check, collect, engine
from salesphere_tools.sqlcheck.analyzer import AnalysisError, Analyzer
from sql import view_files as view_files_on_disk
from tests import REPO_ROOT

ROOT = REPO_ROOT
SOURCE_DIRS = ("salesphere", "salesphere_tools", "infra", "services")
#: Calls that send SQL: the client's two methods and the runtime's one-round-trip helper.
QUERY_CALLS = {"query", "query_and_wait", "query_rows"}


@pytest.fixture(scope="module")
def summary() -> check.Summary:
    return check.run()


@pytest.fixture(scope="module")
def analyzer(summary: check.Summary) -> Analyzer:
    """A fresh catalog (tables and every view) for the defect tests."""
    fresh = check.build_analyzer()
    for statement in collect.serving_views_pulumi():
        assert check.analyze(statement, fresh).ok
    return fresh


def test_every_statement_passes_googles_analyzer(summary: check.Summary) -> None:
    rejected = [
        f"{r.name} [{r.origin}]:\n{r.error}\n--- SQL ---\n{r.sql}" for r in summary.rejected
    ]
    assert not rejected, (
        f"BigQuery would refuse {len(rejected)} statement(s); fix the SQL (templates in "
        "salesphere/sql/metrics, then `python -m sql.render`) and run "
        "`python -m salesphere_tools.sqlcheck`:\n\n" + "\n\n".join(rejected)
    )


def test_collects_each_kind_of_statement(summary: check.Summary) -> None:
    """Both deployments of every serving view, both commit scripts, and each reader."""
    view_files = sorted(p.stem for p in view_files_on_disk())
    by_name = {r.name: r for r in summary.results}
    for view in view_files:
        assert f"view serving.{view} (Pulumi)" in by_name
        assert f"view serving.{view} (twin CREATE VIEW)" in by_name
    for script in ("batch commit script (incremental)", "batch commit script (full)"):
        # One BEGIN, the partition swap, a DELETE+INSERT per batch view, cutoff, COMMIT.
        assert by_name[script].statements >= 10, by_name[script]
    origins = {r.origin.split(":")[0] for r in summary.results}
    for path in (
        "sql/views.py",
        "salesphere/warehouse/views.py",
        "salesphere/batch/commit.py",
        "salesphere/batch/runner.py",
        "salesphere/batch/forecast_tables.py",
        "salesphere/speed/sink.py",
        "salesphere/ingest/service.py",
        "salesphere_tools/reconcile.py",
        "salesphere_tools/report/data.py",
        "salesphere_tools/speed/tail.py",
        "salesphere_tools/demo.py",
    ):
        assert path in origins, f"no statement collected from {path}"


def test_pulumi_views_are_project_qualified() -> None:
    from sql.views import load_views

    reading = {v.name for v in load_views(collect.PROJECT) if v.reads}
    assert reading, "no view reads a table"
    for statement in collect.serving_views_pulumi():
        if statement.defines[1] in reading:  # a view of constants has nothing to qualify
            assert f"`{collect.PROJECT}`." in statement.sql, statement.name


def test_parameters_are_typed_as_the_code_binds_them() -> None:
    commit = next(s for s in collect.batch_commit() if "incremental" in s.name)
    assert commit.parameters == {
        "cutoff": "TIMESTAMP",
        "run_id": "STRING",
        "partitions": "INT64",
        "dates": "ARRAY<DATE>",
    }
    history = next(s for s in collect.speed_reads() if s.name == "speed: history")
    assert history.parameters == dict.fromkeys(("stores", "skus", "pairs"), "ARRAY<STRING>")


# -- the check bites: shapes BigQuery refuses are refused here -----------------------------


def _rejects(analyzer: Analyzer, sql: str, params: dict[str, str] | None = None) -> str:
    with pytest.raises(AnalysisError) as caught:
        analyzer.analyze(sql, params)
    return caught.value.text


def test_table_name_shadows_a_column_of_the_same_name(analyzer: Analyzer) -> None:
    """The serving layer's old cutoff read: ``cutoff`` is the row of ``batch.cutoff``."""
    error = _rejects(
        analyzer, "SELECT COALESCE(MAX(cutoff), TIMESTAMP '1970-01-01') FROM batch.cutoff"
    )
    assert "MAX is not defined for arguments of type STRUCT" in error
    analyzer.analyze(
        "SELECT COALESCE(MAX(c.cutoff), TIMESTAMP '1970-01-01') FROM batch.cutoff AS c"
    )


def test_struct_built_from_the_shadowed_name(analyzer: Analyzer) -> None:
    """freshness.sql's old shape: ``STRUCT(cutoff AS cutoff)`` nests the whole row."""
    sql = (
        "SELECT TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), latest.cutoff, SECOND) FROM ("
        "SELECT ARRAY_AGG(STRUCT({col} AS cutoff) ORDER BY committed_at DESC LIMIT 1)"
        "[SAFE_OFFSET(0)] AS latest FROM batch.cutoff{alias})"
    )
    assert "TIMESTAMP_DIFF" in _rejects(analyzer, sql.format(col="cutoff", alias=""))
    analyzer.analyze(sql.format(col="b.cutoff", alias=" AS b"))


def test_the_full_error_text_is_reported(analyzer: Analyzer) -> None:
    """Line, column and a caret under the culprit (``ServerError.message`` drops them)."""
    error = _rejects(analyzer, "SELECT MAX(cutoff)\nFROM batch.cutoff")
    assert "[at 1:8]" in error
    assert "\n" in error and "^" in error


def test_parameters_are_checked(analyzer: Analyzer) -> None:
    sql = "SELECT COUNT(*) FROM master.events WHERE DATE(received_at) IN UNNEST(@dates)"
    analyzer.analyze(sql, {"dates": "ARRAY<DATE>"})
    assert "@dates" in _rejects(analyzer, sql)  # an unbound parameter
    # Bound with a type that does not coerce to DATE (STRING parameters do, like literals).
    assert "IN UNNEST" in _rejects(analyzer, sql, {"dates": "ARRAY<INT64>"})


def test_unknown_tables_and_columns_are_rejected(analyzer: Analyzer) -> None:
    assert "not found" in _rejects(analyzer, "SELECT * FROM serving.no_such_view")
    assert "no_such_column" in _rejects(analyzer, "SELECT no_such_column FROM serving.sales_daily")


def test_bigquery_features_and_name_forms_resolve(analyzer: Analyzer) -> None:
    """What the platform relies on: QUALIFY, DML, transactions, every way to name a table."""
    for sql in (
        "SELECT * FROM ops.ingest_log "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY request_id ORDER BY received_at) = 1",
        f"SELECT cutoff FROM `{collect.PROJECT}.batch.cutoff`",
        f"SELECT cutoff FROM `{collect.PROJECT}`.batch.cutoff",
        "SELECT SAFE_CAST('1.5' AS BIGNUMERIC), JSON '{\"a\": 1}'",
        "BEGIN TRANSACTION",
        "DELETE FROM batch.cutoff WHERE TRUE",
        "COMMIT TRANSACTION",
    ):
        analyzer.analyze(sql)


def test_views_become_catalog_tables_typed_by_the_analyzer(analyzer: Analyzer) -> None:
    """A view that reads a view resolves: serving.sales_daily is typed from its query."""
    columns = analyzer.output_columns("SELECT sale_date, net_sales FROM serving.sales_daily")
    assert [c.name for c in columns] == ["sale_date", "net_sales"]


# -- the collector cannot fall behind the code --------------------------------------------


def _query_call_sites() -> set[str]:
    """``path::function`` of every call that sends SQL (``.query(``, ``query_rows(``...)."""
    sites = set()
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for call in ast.walk(node):
                    if not isinstance(call, ast.Call):
                        continue
                    func = call.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in QUERY_CALLS:
                        sites.add(f"{rel}::{node.name}")
    return sites


def test_every_query_call_site_is_collected() -> None:
    """A new ``client.query(`` (or ``query_rows(``) the collector never reaches fails here.

    Each site must be on the call stack of some collected statement, or be listed in
    ``collect.UNCOLLECTED`` with the reason it sends no SQL of the platform's own.
    """
    reached = {site for s in collect.all_statements() for site in s.sites}
    # Nested helpers (lambdas, inner functions) report their enclosing function's frame
    # too, so a site counts when the function holding the call was on the stack.
    found = _query_call_sites()
    missing = sorted(found - reached - set(collect.UNCOLLECTED))
    assert not missing, (
        "these functions send SQL that salesphere_tools/sqlcheck/collect.py never runs, so "
        "Google's analyzer does not check it; add a collector that calls them (or, if the "
        f"SQL is not the platform's, list them in UNCOLLECTED with why): {missing}"
    )
    stale = sorted(set(collect.UNCOLLECTED) - found)
    assert not stale, f"UNCOLLECTED names call sites that no longer exist: {stale}"


def test_compiled_module_is_cached_outside_the_repository(summary: check.Summary) -> None:
    path = engine.cache_file()
    assert path.is_file(), "the first analyzer start should have written the module cache"
    assert not path.resolve().is_relative_to(ROOT)
    assert path.name.startswith("zetasql-0.1.5-wasmtime-")
