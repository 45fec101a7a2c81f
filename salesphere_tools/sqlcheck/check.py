"""Check every SQL statement the platform sends to BigQuery with Google's own analyzer.

The local twin's BigQuery emulator is DuckDB underneath and accepts SQL that BigQuery
refuses (a table name shadowing a column of the same name, for one). This package runs
ZetaSQL, the analyzer BigQuery is built on, over every statement the code sends (see
:mod:`.collect`) against a catalog typed from the warehouse's own table definitions, so
such a statement fails ``make test`` instead of ``pulumi up``.

``analyze_all()`` is the API for tests and ``salesphere infra check``: one
:class:`StatementResult` per statement, in a stable order, ready to print as a table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from salesphere import names
from salesphere_tools.sqlcheck.collect import PROJECT, Statement, all_statements

__all__ = ["Statement", "StatementResult", "analyze", "analyze_all", "build_analyzer"]


@dataclass(frozen=True)
class StatementResult:
    """One statement's verdict: ``error`` holds the analyzer's full message when not ok."""

    name: str
    origin: str
    ok: bool
    error: str = ""
    statements: int = 1  # statements analysed (a script has several)
    sql: str = ""


def build_analyzer():
    """An analyzer whose catalog holds every table the platform provisions.

    Tables come from the Pulumi program's own table list (``infra.schemas.table_specs``:
    ``salesphere.warehouse.schemas.TABLES``, overridden by ``salesphere/sql/tables/*.json``),
    plus the batch run's staging table (the master schema); views are added as their
    statements are analysed.
    """
    from infra.schemas import table_specs
    from salesphere.batch import commit
    from salesphere.sql import SQL_DIR
    from salesphere.warehouse.schemas import MASTER_EVENTS
    from salesphere_tools.sqlcheck.analyzer import Analyzer, Catalog
    from salesphere_tools.sqlcheck.collect import RUN_ID, settings

    catalog = Catalog(PROJECT)
    for spec in table_specs(SQL_DIR / "tables").values():
        catalog.add_schema(spec.dataset, spec.table, spec.fields)
    staging = commit.staging_table(settings(), RUN_ID).split(".")[-1]
    catalog.add_schema(
        names.DATASET_BATCH,
        staging,
        ({"name": c.name, "type": c.type, "mode": c.mode} for c in MASTER_EVENTS.columns),
    )
    from salesphere.batch import forecast_tables as warehouse

    for table in (warehouse.DEMAND_FORECAST, warehouse.FORECAST_ACCURACY):
        catalog.add_schema(
            names.DATASET_BATCH,
            warehouse.staging_table(settings(), RUN_ID, table).split(".")[-1],
            ({"name": c.name, "type": c.type, "mode": c.mode} for c in table.columns),
        )
    return Analyzer(catalog)


def analyze(statement: Statement, analyzer) -> StatementResult:
    """Analyse one statement; a view's output columns join the catalog when it passes."""
    from salesphere_tools.sqlcheck.analyzer import AnalysisError

    try:
        if statement.script:
            count = analyzer.analyze_script(statement.sql, statement.parameters)
        else:
            analyzer.analyze(statement.sql, statement.parameters)
            count = 1
        if statement.defines:
            dataset, table = statement.defines
            columns = analyzer.output_columns(statement.sql, statement.parameters)
            analyzer.add_table(dataset, table, columns)
    except AnalysisError as exc:
        return StatementResult(statement.name, statement.origin, False, exc.text, sql=statement.sql)
    return StatementResult(
        statement.name, statement.origin, True, statements=count, sql=statement.sql
    )


@dataclass(frozen=True)
class Summary:
    results: list[StatementResult]
    seconds: float
    engine_seconds: float
    engine_cached: bool

    @property
    def rejected(self) -> list[StatementResult]:
        return [r for r in self.results if not r.ok]


def analyze_all() -> list[StatementResult]:
    """Every collected statement through the analyzer, in collection order."""
    return run().results


def run() -> Summary:
    """:func:`analyze_all` with timings (engine start, total) for reports and the CLI."""
    started = time.monotonic()
    analyzer = build_analyzer()
    results = [analyze(statement, analyzer) for statement in all_statements()]
    return Summary(
        results, time.monotonic() - started, analyzer.engine.load_seconds, analyzer.engine.cached
    )
