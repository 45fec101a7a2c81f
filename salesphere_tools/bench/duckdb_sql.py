"""The batch layer's own metric templates, translated from BigQuery SQL to DuckDB's.

The DuckDB baseline must compute exactly what the batch run computes, so it renders the
same templates (with the same snippets) over the batch run's own source, and lets sqlglot
translate them; a hand copy would drift the first time a template or the source changes
(the source leaves out voids and the events they cancel, for one). The batch statements'
``@cutoff`` query parameter becomes DuckDB's ``$cutoff``, bound the same way. The one form
sqlglot cannot carry over, ``ARRAY_AGG(x ORDER BY y LIMIT n)``, is rewritten to DuckDB's
``list_slice`` here.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlglot
from sqlglot import exp

from salesphere.batch.sqlrender import BATCH_SOURCE, SqlFile, render, snippets
from salesphere.sql import SQL_DIR


def _limited_array_agg(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Limit):
        limit = node.this
        return exp.Anonymous(
            this="list_slice",
            expressions=[
                exp.ArrayAgg(this=limit.this.copy()),
                exp.Literal.number(1),
                limit.expression.copy(),
            ],
        )
    return node


def to_duckdb(sql: str) -> str:
    """One BigQuery statement as DuckDB runs it."""
    tree = sqlglot.parse_one(sql, read="bigquery").transform(_limited_array_agg)
    return tree.sql(dialect="duckdb")


def batch_statements() -> Iterator[tuple[str, str]]:
    """``(batch table name, DuckDB statement)`` for every metric template; each statement
    reads ``master.events`` and takes the ``$cutoff`` parameter, as the batch run's do."""
    metrics = SQL_DIR / "metrics"
    found = snippets(metrics)
    for path in sorted(metrics.glob("*.sql")):
        if path.name.endswith(".serving.sql"):
            continue
        template = SqlFile.read(path)
        view = template.tag("view")
        if template.tag("snippet") or not view:
            continue
        sql = render(template.body, {**found, "source": BATCH_SOURCE}, str(path))
        yield view.split(".", 1)[1], to_duckdb(sql)
