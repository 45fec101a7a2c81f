"""Batch-layer benchmark: rebuild throughput vs the naive pipeline and DuckDB, serving p95.

Functions return plain dicts so ``salesphere bench`` can print and store them. Events are
synthesised by DuckDB straight into archive-format NDJSON (one envelope of 500 events per
line, ~5 % redelivered copies) so generating 5M events takes seconds, not the benchmark.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere_tools.bench.duckdb_sql import batch_statements
from salesphere_tools.bench.rss import PeakTreeMemory
from sql.views import serving_views

FILE_EVENTS = 100_000
ENVELOPE_EVENTS = 500
SERVING_VIEWS = tuple(v.name for v in serving_views())


def synthesize_archive(
    settings: Settings, events: int, day: str | None = None, files_of: int = FILE_EVENTS
) -> dict[str, Any]:
    """Write ``events`` canonical events (+5 % duplicates) to the archive, ``files_of`` events
    per archive object; returns counts."""
    day = day or (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    con = duckdb.connect()
    files = 0
    with tempfile.TemporaryDirectory() as tmp:
        for start in range(0, events, files_of):
            stop = min(events, start + files_of)
            path = Path(tmp) / f"f{files}.ndjson"
            con.execute(
                f"""
                COPY (
                  WITH ev AS (
                    SELECT i, CASE WHEN i % 20 = 0 AND i > 0 THEN i - 1 ELSE i END AS k
                    FROM range({start}, {stop}) t(i)
                  )
                  SELECT md5(i // {ENVELOPE_EVENTS} || '-{day}') AS envelope_id, 'bench' AS source,
                    '{day}T12:00:00.000000Z' AS received_at, 1 AS schema_version,
                    list({{
                      'event_id': md5('e' || k::VARCHAR),
                      'event_type': CASE WHEN k % 10 = 0 THEN 'stock_receipt' ELSE 'sale' END,
                      'occurred_at': strftime(TIMESTAMP '{day} 00:00:00'
                          + (k % 43200) * INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ'),
                      'received_at': '{day}T12:00:00.000000Z',
                      'source': 'bench', 'source_ref': NULL,
                      'store_id': 'S' || (k % 20)::VARCHAR, 'sku': 'K' || (k % 500)::VARCHAR,
                      'quantity': 1 + k % 3, 'unit_price': '19.90', 'discount': '0.00',
                      'currency': 'BRL', 'order_id': 'o' || k::VARCHAR, 'line_number': 1,
                      'channel': 'store', 'counted_quantity': NULL,
                      'counterpart_store_id': NULL, 'schema_version': 1
                    }}) AS events
                  FROM ev GROUP BY i // {ENVELOPE_EVENTS}
                ) TO '{path}' (FORMAT JSON)
                """
            )
            bucket.blob(
                f"events/received_date={day}/bench-{files:05d}.ndjson"
            ).upload_from_filename(str(path))
            files += 1
    distinct = events - len([i for i in range(1, events) if i % 20 == 0])
    return {"events": events, "distinct": distinct, "files": files, "day": day}


def bench_rebuild(
    settings: Settings, events: int, *, beam_args: list[str] | None = None
) -> dict[str, Any]:
    """Archive -> master -> every batch view, as ``salesphere batch run --full`` does it.

    ``peak_rss_mib`` is the highest summed RSS of this process and every process it
    started during the run (Beam workers in multi-processing mode), not the emulators.
    """
    archive = synthesize_archive(settings, events)
    # The rebuild alone: the forecast step has its own benchmark and would time series fits.
    rebuild_only = replace(settings, forecast_enabled=False)
    with PeakTreeMemory() as memory:
        t0 = time.monotonic()
        report = run_batch(rebuild_only, full=True, archive_lag=timedelta(0), beam_args=beam_args)
        seconds = time.monotonic() - t0
    return {
        "events": events,
        "distinct": report.events_distinct,
        "files": archive["files"],
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "stages_s": report.seconds,
        "peak_rss_mib": round(memory.peak_mib),
        "beam_args": beam_args or [],
    }


def _explode(path: str):
    """Every event of an archive file. A line that is not an envelope (what other
    publishers left in a shared twin's archive) is skipped, as the batch pipeline
    counts it as a bad line and goes on."""
    with Path(path).open("rb") as handle:
        for line in handle:
            try:
                envelope = json.loads(line)
            except ValueError:
                continue
            if isinstance(envelope, dict):
                yield from envelope.get("events") or ()


def bench_naive(settings: Settings, events: int) -> dict[str, Any]:
    """One Beam element per event (parse, dedup by id, sum per day/store/sku): the baseline."""
    import apache_beam as beam

    client = clients.storage_client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for blob in client.list_blobs(settings.buckets.archive, prefix="events/"):
            paths.append(str(Path(tmp) / blob.name.rsplit("/", 1)[1]))
            blob.download_to_filename(paths[-1])
        with PeakTreeMemory() as memory:
            t0 = time.monotonic()
            with beam.Pipeline() as pipeline:
                _ = (
                    pipeline
                    | beam.Create(paths)
                    | beam.FlatMap(_explode)
                    | beam.Map(lambda e: (e["event_id"], e))
                    | beam.GroupByKey()
                    | beam.Map(lambda kv: min(kv[1], key=lambda e: e["received_at"]))
                    | beam.Map(
                        lambda e: ((e["occurred_at"][:10], e["store_id"], e["sku"]), e["quantity"])
                    )
                    | beam.CombinePerKey(sum)
                )
            seconds = time.monotonic() - t0
    return {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "peak_rss_mib": round(memory.peak_mib),
    }


def store_clocks(settings: Settings) -> list[dict[str, Any]]:
    """Each store's timezone, as the batch templates join it (``reference.stores``)."""
    return clients.query_rows(settings, "SELECT s.store_id, s.timezone FROM reference.stores AS s")


def duckdb_tables(
    con: duckdb.DuckDBPyConnection,
    archive_glob: str,
    stores: list[dict[str, Any]],
    cutoff: datetime,
) -> dict[str, int]:
    """Every batch table computed by DuckDB from archive NDJSON files: ``master.events``
    (first copy of each event), then each of the batch layer's own templates over the
    events received before ``cutoff``, translated by sqlglot (:mod:`.duckdb_sql`).
    Returns each table's row count.

    The session runs on UTC, as BigQuery does: DuckDB otherwise takes the machine's zone,
    reads the archive's ``...Z`` timestamps as wall time in it, and the translated
    ``DATE(ts, zone)`` casts back through it, so the cutoff and a store's business day
    would move with the machine the benchmark runs on.
    """
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA master; CREATE SCHEMA reference")
    con.execute("CREATE TABLE reference.stores (store_id VARCHAR, timezone VARCHAR)")
    if stores:
        con.executemany(
            "INSERT INTO reference.stores VALUES (?, ?)",
            [(r.get("store_id"), r.get("timezone")) for r in stores],
        )
    con.execute(
        f"CREATE TABLE ev AS SELECT unnest(events, recursive := true) FROM "
        f"read_json('{archive_glob}', format='newline_delimited')"
    )
    con.execute(
        "CREATE TABLE master.events AS SELECT * REPLACE ("
        "CAST(occurred_at AS TIMESTAMPTZ) AS occurred_at, "
        "CAST(received_at AS TIMESTAMPTZ) AS received_at, "
        "CAST(quantity AS BIGINT) AS quantity, "
        "CAST(counted_quantity AS BIGINT) AS counted_quantity, "
        "CAST(unit_price AS DECIMAL(18,2)) AS unit_price, "
        "CAST(discount AS DECIMAL(18,2)) AS discount) FROM ev "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) = 1"
    )
    tables = {}
    for name, statement in batch_statements():
        con.execute(f"CREATE TABLE {name} AS {statement}", {"cutoff": cutoff})
        tables[name] = con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
    return tables


def bench_duckdb(settings: Settings, events: int) -> dict[str, Any]:
    """The practical limit: DuckDB reads the same archive files and computes every batch
    table from the batch layer's own templates (:func:`duckdb_tables`).

    ``tables`` holds each table's row count, so a template DuckDB computes differently from
    the warehouse shows up as a mismatch beside the rebuild's.
    """
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    stores = store_clocks(settings)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        for blob in bucket.list_blobs(prefix="events/"):
            blob.download_to_filename(str(Path(tmp) / blob.name.rsplit("/", 1)[1]))
        # As the rebuild's full run with no archive lag: everything received until now.
        cutoff = datetime.now(UTC)
        tables = duckdb_tables(duckdb.connect(), f"{tmp}/*.ndjson", stores, cutoff)
        seconds = time.monotonic() - t0
    return {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "tables": tables,
    }


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return round(times[min(len(times) - 1, int(0.95 * len(times)))], 3)


def bench_serving(settings: Settings, repeats: int = 10) -> dict[str, Any]:
    """p50/p95 latency (s) of ``SELECT *`` on each serving view, through the BigQuery API.

    ``_floor`` times ``SELECT 1`` the same way: the emulator's own cost per query (HTTP,
    job bookkeeping, SQL translation), which no view can go below.
    """
    client = clients.bigquery_client(settings)
    out = {}
    for view in ("_floor", *SERVING_VIEWS):
        sql = "SELECT 1" if view == "_floor" else f"SELECT * FROM serving.{view}"
        times = []
        for _ in range(repeats):
            t0 = time.monotonic()
            list(client.query_and_wait(sql))
            times.append(time.monotonic() - t0)
        out[view] = {"p50_s": round(statistics.median(times), 3), "p95_s": _p95(times)}
    return out


def run_all(
    settings: Settings, events: int, naive_events: int | None = None, repeats: int = 10
) -> dict[str, Any]:
    """Everything above for one size, with the ratios the issue asks for."""
    rebuild = bench_rebuild(settings, events)
    limit = bench_duckdb(settings, events)
    serving = bench_serving(settings, repeats)
    naive_n = naive_events or events
    if naive_n != events:  # the naive pipeline on a subset; its rate is per event
        for blob in clients.storage_client(settings).list_blobs(
            settings.buckets.archive, prefix="events/"
        ):
            blob.delete()
        synthesize_archive(settings, naive_n)
    naive = bench_naive(settings, naive_n)
    return {
        "rebuild": rebuild,
        "naive": naive,
        "duckdb": limit,
        "serving": serving,
        "speedup_vs_naive": round(rebuild["events_per_s"] / naive["events_per_s"], 1),
        "fraction_of_duckdb": round(rebuild["events_per_s"] / limit["events_per_s"], 3),
    }
