"""Stock direction has two spellings, SQL and Python; this test holds them to one answer.

The serving views sum movements with the ``signed_quantity`` snippet
(``salesphere/sql/metrics/signed_quantity.sql``); the speed layer's alert state machine
signs them with ``salesphere.speed.alerts.DIRECTION``. A movement type added or flipped
in one and not the other would make the dashboard's stock and the alerts disagree, so the
snippet is evaluated (DuckDB) for every event type the model knows and compared with the
Python rule.
"""

from __future__ import annotations

import duckdb
import pytest

from salesphere.batch.sqlrender import SqlFile
from salesphere.model import EventType
from salesphere.speed import alerts
from salesphere.sql import SQL_DIR

SNIPPET = SQL_DIR / "metrics" / "signed_quantity.sql"


def _sql_signed(event_type: str, quantity: int) -> int:
    """The snippet's value for one event, exactly as the views include it."""
    body = SqlFile.read(SNIPPET).body
    row = duckdb.execute(
        f"SELECT {body} AS signed FROM (SELECT ?::VARCHAR AS event_type, ?::BIGINT AS quantity)",
        [event_type, quantity],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _python_signed(event_type: str, quantity: int) -> int:
    """The speed layer's rule: counts are absolute snapshots and move nothing."""
    return alerts.DIRECTION.get(event_type, 0) * quantity


def test_the_snippet_is_the_one_being_read() -> None:
    assert SqlFile.read(SNIPPET).tag("snippet") == "signed_quantity"


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
def test_sql_and_python_sign_every_event_type_alike(event_type: str) -> None:
    for quantity in (1, 7):
        assert _sql_signed(event_type, quantity) == _python_signed(event_type, quantity)


def test_every_movement_type_has_a_direction_and_only_counts_and_voids_move_nothing() -> None:
    unsigned = {t.value for t in EventType} - set(alerts.DIRECTION)
    assert unsigned == {EventType.STOCK_COUNT.value, EventType.VOID.value}
    assert _sql_signed(EventType.STOCK_COUNT.value, 5) == 0
    assert _sql_signed(EventType.VOID.value, 5) == 0
    assert set(alerts.DIRECTION) <= {t.value for t in EventType}
