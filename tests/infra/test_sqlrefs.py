"""salesphere.sqlrefs: qualify platform tables with a project, nothing else."""

from __future__ import annotations

import pytest

from salesphere.sqlrefs import SqlRefError, qualify, references


def test_qualifies_platform_tables_only() -> None:
    sql = """
    WITH recent AS (SELECT * FROM speed.events WHERE received_at >= (SELECT cutoff FROM batch.cutoff))
    SELECT r.sku, 'master.events' AS label, p.name
    FROM recent AS r
    JOIN reference.products AS p USING (sku)
    JOIN `other-proj.master.events` AS o USING (sku)
    CROSS JOIN UNNEST([1, 2]) AS n
    """
    out = qualify(sql, "salesphere-dev")
    assert "`salesphere-dev`.speed.events" in out
    assert "`salesphere-dev`.batch.cutoff" in out
    assert "`salesphere-dev`.reference.products" in out
    assert "'master.events' AS label" in out  # string literal untouched
    assert "other-proj" in out and "`salesphere-dev`.`other-proj`" not in out
    assert "FROM recent AS r" in out  # CTE reference untouched


def test_references_lists_dataset_table_pairs() -> None:
    sql = "SELECT * FROM serving.sales_daily s JOIN ops.batch_runs b ON TRUE, public_data.x"
    assert references(sql) == {("serving", "sales_daily"), ("ops", "batch_runs")}


def test_errors_name_the_file() -> None:
    with pytest.raises(SqlRefError, match=r"views/bad\.sql"):
        qualify("SELECT FROM WHERE (", "p", source="views/bad.sql")
    with pytest.raises(SqlRefError, match="project id"):
        qualify("SELECT 1", "")
