"""The DuckDB baseline computes what the batch run computes, from the batch's own SQL.

No twin: a tiny archive is written as the archive writes it (envelopes of events, one JSON
object a line) and DuckDB builds every batch table from it with the translated templates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from salesphere.sql import SQL_DIR
from salesphere_tools.bench.batch import duckdb_tables
from salesphere_tools.bench.duckdb_sql import batch_statements

RECEIVED = "2026-11-25T02:00:00.000000Z"
CUTOFF = datetime(2026, 11, 25, 3, tzinfo=UTC)
STORES = [{"store_id": "SP01", "timezone": "America/Sao_Paulo"}]


def _event(event_id: str, event_type: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        # 22:30 on 24/11 in São Paulo: 01:30 on 25/11 in UTC
        "occurred_at": "2026-11-25T01:30:00.000000Z",
        "received_at": RECEIVED,
        "source": "pos",
        "source_ref": None,
        "store_id": "SP01",
        "sku": "ELE-10001",
        "quantity": quantity,
        "unit_price": "10.00",
        "discount": "1.00",
        "currency": "BRL",
        "order_id": f"o-{event_id}",
        "line_number": 1,
        "channel": "store",
        "counted_quantity": None,
        "counterpart_store_id": None,
        "schema_version": 1,
        **extra,
    }


def _archive(tmp_path: Path, *envelopes: list[dict[str, Any]]) -> str:
    path = tmp_path / "archive.ndjson"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "envelope_id": f"env-{n}",
                    "source": "pos",
                    "received_at": RECEIVED,
                    "schema_version": 1,
                    "events": events,
                }
            )
            + "\n"
            for n, events in enumerate(envelopes)
        )
    )
    return str(tmp_path / "*.ndjson")


def _on_a_machine_in_tokyo() -> duckdb.DuckDBPyConnection:
    """A session in a zone far from UTC and from São Paulo, as a developer's laptop may be."""
    return duckdb.connect(config={"TimeZone": "Asia/Tokyo"})


def _sales_daily(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT sale_date, store_id, sku, units_sold, net_sales FROM sales_daily"
    ).fetchall()


def test_every_batch_table_has_its_translated_statement() -> None:
    built = {path.stem for path in (SQL_DIR / "batch").glob("*.sql")}
    assert {name for name, _ in batch_statements()} == built
    for _name, statement in batch_statements():
        # DuckDB's forms: the batch's @cutoff parameter is bound as $cutoff
        assert "$cutoff" in statement and "@cutoff" not in statement


def test_business_day_is_the_stores_whatever_the_machines_zone(tmp_path: Path) -> None:
    con = _on_a_machine_in_tokyo()
    tables = duckdb_tables(con, _archive(tmp_path, [_event("s1", "sale", 2)]), STORES, CUTOFF)
    assert tables["sales_daily"] == 1
    assert _sales_daily(con) == [
        (datetime(2026, 11, 24).date(), "SP01", "ELE-10001", 2, Decimal("19.00"))
    ]


def test_redeliveries_voids_and_late_events_are_left_out_as_in_the_batch(tmp_path: Path) -> None:
    sale, cancelled = _event("s1", "sale", 2), _event("s2", "sale", 5)
    void = _event("v1", "void", 0, source_ref="s2")
    late = _event("s3", "sale", 7, received_at="2026-11-25T04:00:00.000000Z")
    glob = _archive(tmp_path, [sale, cancelled], [sale, void, late])  # s1 delivered twice
    con = _on_a_machine_in_tokyo()  # the cutoff is an instant, not Tokyo's wall time
    duckdb_tables(con, glob, STORES, CUTOFF)
    assert _sales_daily(con) == [
        (datetime(2026, 11, 24).date(), "SP01", "ELE-10001", 2, Decimal("19.00"))
    ]
