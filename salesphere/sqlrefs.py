"""Qualify the warehouse SQL with a project, and find which tables a query reads.

The SQL under ``sql/`` names tables as ``dataset.table`` (``master.events``,
``serving.sales_daily``) so the same file runs in the local twin and in every cloud
project. A BigQuery *view* however is resolved in the project that owns it only when its
references are fully qualified, so before a view is created in cloud every reference to
one of the platform's datasets gets the project prepended. Parsing (sqlglot, BigQuery
dialect) rather than text substitution means CTE names, aliases, column names and string
literals that happen to look like ``master.events`` are left alone.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from salesphere import names

DIALECT = "bigquery"


class SqlRefError(ValueError):
    """The SQL could not be parsed; the message names the file when the caller gives it."""


def _parse(sql: str, source: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(sql, read=DIALECT)
    except ParseError as exc:
        raise SqlRefError(
            f"{source}: not valid BigQuery SQL ({exc}); check it with "
            "`sqlfluff lint --dialect bigquery`"
        ) from exc
    if tree is None:
        raise SqlRefError(f"{source}: no SQL statement found")
    return tree


def _platform_tables(tree: exp.Expression) -> list[exp.Table]:
    """Table nodes written as ``<one of our datasets>.<table>`` without a project."""
    return [
        table
        for table in tree.find_all(exp.Table)
        if table.db in names.DATASETS and not table.catalog and table.name
    ]


def references(sql: str, source: str = "<sql>") -> set[tuple[str, str]]:
    """The ``(dataset, table)`` pairs of the platform's datasets that ``sql`` reads."""
    return {(table.db, table.name) for table in _platform_tables(_parse(sql, source))}


def qualify(sql: str, project: str, source: str = "<sql>") -> str:
    """Return ``sql`` with every platform ``dataset.table`` prefixed by ``project``.

    References that already name a project, and tables outside the platform's datasets
    (``UNNEST`` aliases, CTEs, public datasets), are kept as written.
    """
    if not project:
        raise SqlRefError("qualify() needs a project id, e.g. 'salesphere-dev'")
    tree = _parse(sql, source)
    for table in _platform_tables(tree):
        table.set("catalog", exp.to_identifier(project))
    return tree.sql(dialect=DIALECT, pretty=True)
