"""Archive file -> canonical rows, deduplicated, as Arrow tables (vectorised, no per-event Python).

Why this shape: Beam's DirectRunner pays ~100 µs of Python per element, so one element
per event caps the batch layer near 10k events/s (FIELD_NOTES). Here a Beam element is a
whole archive file or a hash bucket of rows, and the work inside an element is done by
DuckDB over Arrow columns: parsing the envelopes, checking the canonical schema,
deduplicating by ``event_id``.

The archive only ever holds events that passed the shared validator at ingest, so the
batch layer re-checks, column-wise, what it relies on (types that cast, required fields,
known event types, UTC timestamps, the row sitting in its receive-date partition); a row
failing any of these is counted with its reason and kept out of master, never dropped
silently. ``full_validation=True`` re-runs every row through
:class:`salesphere.model.CanonicalEvent` as well (slow: pydantic per row).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from salesphere.model import CanonicalEvent, EventType
from salesphere.warehouse.schemas import MASTER_EVENTS

#: DuckDB types used to cast each canonical column (BigQuery types from schemas.py).
_DUCK_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "NUMERIC": "DECIMAL(18,2)",
    "TIMESTAMP": "TIMESTAMP",
}
COLUMNS = tuple(column.name for column in MASTER_EVENTS.columns)
REQUIRED = tuple(c.name for c in MASTER_EVENTS.columns if c.mode == "REQUIRED")
_TIMESTAMPS = tuple(c.name for c in MASTER_EVENTS.columns if c.type == "TIMESTAMP")

#: Arrow schema of a parsed chunk: exactly master.events' columns, in order.
ARROW_SCHEMA = pa.schema(
    [
        pa.field(
            c.name,
            {
                "STRING": pa.string(),
                "INT64": pa.int64(),
                "NUMERIC": pa.decimal128(18, 2),
                "TIMESTAMP": pa.timestamp("us", tz="UTC"),
            }[c.type],
        )
        for c in MASTER_EVENTS.columns
    ]
)


@dataclass
class ParsedChunk:
    """The valid rows of one archive file, and why the others were refused."""

    rows: pa.Table
    envelopes: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    bad_lines: int = 0


def _event_struct() -> str:
    # Everything is read as text first, so a bad value becomes a counted reason instead of
    # an exception that would fail the whole file.
    return "STRUCT(" + ", ".join(f"{name} VARCHAR" for name in COLUMNS) + ")[]"


def _checks(partition_date: str | None) -> list[tuple[str, str]]:
    """(reason, SQL predicate that is TRUE when the row breaks the rule), in report order."""
    types = {c.name: _DUCK_TYPES[c.type] for c in MASTER_EVENTS.columns}
    out = [(f"{name}_required", f"e.{name} IS NULL") for name in REQUIRED]
    for name in COLUMNS:
        if types[name] != "VARCHAR":
            out.append(
                (
                    f"{name}_type",
                    f"e.{name} IS NOT NULL AND TRY_CAST(e.{name} AS {types[name]}) IS NULL",
                )
            )
    for name in _TIMESTAMPS:
        out.append((f"{name}_not_utc", f"e.{name} IS NOT NULL AND NOT ends_with(e.{name}, 'Z')"))
    known = ", ".join(f"'{kind.value}'" for kind in EventType)
    out.append(("event_type_unknown", f"e.event_type NOT IN ({known})"))
    out.append(("quantity_negative", "TRY_CAST(e.quantity AS BIGINT) < 0"))
    if partition_date:
        out.append(
            (
                "received_at_outside_partition",
                f"CAST(TRY_CAST(e.received_at AS TIMESTAMP) AS DATE) <> DATE '{partition_date}'",
            )
        )
    return out


def parse_archive_file(
    data: bytes, partition_date: str | None = None, *, full_validation: bool = False
) -> ParsedChunk:
    """Parse one NDJSON archive file (one envelope per line) into canonical rows.

    ``partition_date`` is the file's ``received_date=`` folder: master is partitioned by
    ``DATE(received_at)``, so a row outside its folder would land in a partition the
    incremental plan does not rebuild; it is refused with a reason instead.
    """
    types = {c.name: _DUCK_TYPES[c.type] for c in MASTER_EVENTS.columns}
    checks = _checks(partition_date)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunk.ndjson"
        path.write_bytes(data)
        con = duckdb.connect()
        try:
            con.execute(
                "CREATE TEMP TABLE envelopes AS SELECT envelope_id, events FROM read_json(?, "
                "format='newline_delimited', ignore_errors=true, "
                f"columns={{'envelope_id': 'VARCHAR', 'events': '{_event_struct()}'}})",
                [str(path)],
            )
            envelopes = con.execute(
                "SELECT COUNT(*) FROM envelopes WHERE envelope_id IS NOT NULL"
            ).fetchone()[0]
            con.execute(
                "CREATE TEMP TABLE raw AS SELECT unnest(events) AS e FROM envelopes "
                "WHERE envelope_id IS NOT NULL"
            )
            lines = sum(1 for line in data.splitlines() if line.strip())
            reason = "CASE " + " ".join(f"WHEN {pred} THEN '{name}'" for name, pred in checks)
            reason += " END"
            con.execute(f"CREATE TEMP TABLE checked AS SELECT e, {reason} AS reason FROM raw")
            invalid = Counter(
                dict(
                    con.execute(
                        "SELECT reason, COUNT(*) FROM checked WHERE reason IS NOT NULL "
                        "GROUP BY reason"
                    ).fetchall()
                )
            )
            select = ", ".join(
                f"CAST(e.{name} AS {types[name]}) AS {name}"
                if types[name] != "VARCHAR"
                else f"e.{name} AS {name}"
                for name in COLUMNS
            )
            table = con.execute(
                f"SELECT {select} FROM checked WHERE reason IS NULL"
            ).to_arrow_table()
        finally:
            con.close()
    rows = table.cast(ARROW_SCHEMA)
    if full_validation:
        rows, refused = _validate_with_model(rows)
        invalid.update(refused)
    return ParsedChunk(rows=rows, envelopes=envelopes, invalid=invalid, bad_lines=lines - envelopes)


def _validate_with_model(rows: pa.Table) -> tuple[pa.Table, Counter[str]]:
    """Re-check each row with the shared model (the slow, exhaustive path)."""
    from pydantic import ValidationError

    keep: list[bool] = []
    refused: Counter[str] = Counter()
    for row in rows.to_pylist():
        try:
            CanonicalEvent.model_validate(row)
        except ValidationError as exc:
            refused[f"model:{exc.errors()[0]['type']}"] += 1
            keep.append(False)
        else:
            keep.append(True)
    return rows.filter(pa.array(keep, type=pa.bool_())), refused


def bucket_of(rows: pa.Table, buckets: int) -> list[pa.Table]:
    """Split rows into ``buckets`` tables by a stable hash of ``event_id``.

    Every copy of an event lands in the same bucket whichever file it came from, so each
    bucket can be deduplicated on its own (in parallel, as separate Beam elements).
    """
    con = duckdb.connect()
    try:
        con.register("rows", rows)
        hashed = con.execute(
            f"SELECT *, CAST(hash(event_id) % {buckets} AS INTEGER) AS _bucket FROM rows"
        ).to_arrow_table()
    finally:
        con.close()
    column = hashed.column("_bucket")
    out = []
    import pyarrow.compute as pc

    for bucket in range(buckets):
        part = hashed.filter(pc.equal(column, bucket)).drop_columns(["_bucket"])
        out.append(part)
    return out


def deduplicate(tables: list[pa.Table]) -> pa.Table:
    """One row per ``event_id``: the earliest ``received_at`` wins, as in the speed layer.

    Ties (the same envelope archived twice) are identical rows; ``source`` and
    ``source_ref`` break them deterministically so reruns pick the same row.
    """
    if not tables:
        return ARROW_SCHEMA.empty_table()
    combined = pa.concat_tables([t.cast(ARROW_SCHEMA) for t in tables])
    con = duckdb.connect()
    try:
        con.register("rows", combined)
        result = con.execute(
            "SELECT * FROM rows QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id "
            "ORDER BY received_at, source, source_ref NULLS FIRST) = 1"
        ).to_arrow_table()
    finally:
        con.close()
    return result.cast(ARROW_SCHEMA)
