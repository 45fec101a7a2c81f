"""The speed layer's BigQuery edge: idempotent writes to ``speed.*`` and the reads it needs.

**Write path: ``tabledata.insertAll`` with ``insertId = event_id``, after an existence check.**

* *Why not the Storage Write API?* Its default stream is free up to 2 TiB/month but is
  at-least-once: no ``insertId``, so every redelivery would be a duplicate row. Exactly
  once needs application-created committed streams with offsets tracked per writer,
  which a short-lived, horizontally scaled function cannot keep; Beam's Python SDK
  reaches it only through a Java expansion service (not available offline).
* *Why insertAll?* One HTTP call, rows visible to queries at once, per-row errors
  (poison rows can be dead-lettered while the rest land), and ``insertId`` collapses two
  writers racing on the same rows. BigQuery honours ``insertId`` best-effort for about a
  minute; the twin's emulator (local-bigquery 0.4.0) honours it for exactly 60 s, in
  memory. Cost: legacy streaming inserts are billed (about $0.01 per 200 MB, 1 KB
  minimum per row) — roughly 1 cent per 200k events, the only non-free item here.
* *Why also check?* ``insertId`` does not cover a redelivery after the window (a crash,
  a dead-letter replay, a POS retry minutes later). Before inserting, Beam's sink asks
  which ids already exist (:meth:`SpeedWarehouse.existing_event_ids`, partition-pruned
  to the rows' receive dates and the day before) and inserts only the rest: one job per
  read bundle, billed at BigQuery's 10 MB minimum in cloud, so ~100k bundles fit the
  free 1 TiB/month. The function asks the same question of its process memory
  (``salesphere.speed.memory``), loaded with :meth:`SpeedWarehouse.ids_and_pairs`
  and kept current with :meth:`SpeedWarehouse.rows_written_since`.

Transient failures (network, 5xx, quota) propagate as exceptions so the caller can let
Pub/Sub redeliver; per-row rejections come back as data for the dead-letter table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.speed.dedup import unseen
from salesphere.warehouse.schemas import PRODUCTS, SPEED_DEAD_LETTERS, SPEED_EVENTS, STOCK_ALERTS

if TYPE_CHECKING:
    from google.cloud import bigquery

#: Stay well under the Pub/Sub ack deadline (30 s): a write that cannot finish in this
#: time fails, the message is redelivered, and the existence check makes that safe.
WRITE_DEADLINE_SECONDS = 20.0
#: Columns the stock state machine replays (see salesphere.speed.alerts.replay).
HISTORY_COLUMNS = (
    "event_id",
    "event_type",
    "store_id",
    "sku",
    "occurred_at",
    "quantity",
    "counted_quantity",
    "source_ref",
    "written_at",
)


@dataclass
class InsertReport:
    """What one write did: rows inserted, rows skipped as already present, rows refused."""

    inserted: int = 0
    skipped: int = 0
    refused: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SpeedWarehouse:
    """Reads and idempotent writes for the speed layer, against the twin or BigQuery."""

    def __init__(self, settings: Settings, client: bigquery.Client | None = None) -> None:
        from google.cloud import bigquery

        self.settings = settings
        self.client = client or clients.bigquery_client(settings)
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(WRITE_DEADLINE_SECONDS)
        self.events_table = f"{settings.project}.{SPEED_EVENTS.ref}"
        self.alerts_table = f"{settings.project}.{STOCK_ALERTS.ref}"
        self.dead_letters_table = f"{settings.project}.{SPEED_DEAD_LETTERS.ref}"
        self.products_table = f"{settings.project}.{PRODUCTS.ref}"

    # -- reads ---------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        from google.cloud import bigquery

        # ``query_and_wait`` (jobs.query) answers small queries in one round trip;
        # ``query().result()`` costs three (insert, poll, fetch): ~0.15 s each here.
        config = bigquery.QueryJobConfig(query_parameters=list(params))
        rows = self.client.query_and_wait(
            sql,
            job_config=config,
            retry=self._retry,
            api_timeout=WRITE_DEADLINE_SECONDS,
            wait_timeout=WRITE_DEADLINE_SECONDS,
        )
        return [dict(row.items()) for row in rows]

    def reorder_points(self, skus: list[str] | None = None) -> dict[str, int]:
        """SKU → reorder point from ``reference.products``: all SKUs, or only ``skus``."""
        from google.cloud import bigquery

        sql = f"SELECT sku, reorder_point FROM `{self.products_table}`"
        params = []
        if skus is not None:
            sql += " WHERE sku IN UNNEST(@skus)"
            params = [bigquery.ArrayQueryParameter("skus", "STRING", skus)]
        return {row["sku"]: int(row["reorder_point"]) for row in self._query(sql, params)}

    def existing_event_ids(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Which of these rows' ids ``speed.events`` already holds (receive day and the one before)."""
        from google.cloud import bigquery

        if not rows:
            return set()
        since = min(_parse_ts(r["received_at"]) for r in rows) - timedelta(days=1)
        found = self._query(
            f"SELECT DISTINCT event_id FROM `{self.events_table}` "
            "WHERE received_at >= @since AND event_id IN UNNEST(@ids)",
            [
                bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
                bigquery.ArrayQueryParameter("ids", "STRING", [r["event_id"] for r in rows]),
            ],
        )
        return {row["event_id"] for row in found}

    def history(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every retained event of these store/SKU pairs: the function runtime's state.

        Filtering on ``store_id`` and ``sku`` (the clustering columns) lets BigQuery prune
        blocks; the pair filter then removes cross combinations.
        """
        from google.cloud import bigquery

        pairs = sorted(set(keys))
        if not pairs:
            return []
        return self._query(
            f"SELECT {', '.join(HISTORY_COLUMNS)} FROM `{self.events_table}` "
            "WHERE store_id IN UNNEST(@stores) AND sku IN UNNEST(@skus) "
            "AND CONCAT(store_id, '|', sku) IN UNNEST(@pairs)",
            [
                bigquery.ArrayQueryParameter("stores", "STRING", sorted({s for s, _ in pairs})),
                bigquery.ArrayQueryParameter("skus", "STRING", sorted({k for _, k in pairs})),
                bigquery.ArrayQueryParameter("pairs", "STRING", [f"{s}|{k}" for s, k in pairs]),
            ],
        )

    def ids_and_pairs(
        self, since: datetime, limit: int
    ) -> tuple[list[tuple[str, datetime]], set[str]]:
        """What a process loads at start, in one query (one job, one 10 MB minimum).

        ``(event_id, received_at)`` of rows received since ``since`` (at most ``limit``),
        and every ``store_id|sku`` with at least one row (pairs outside it have no
        history). Rows are read straight off the result pages (no dict per row): a
        process loads up to a few hundred thousand ids at start.
        """
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("since", "TIMESTAMP", since)]
        )
        rows = self.client.query_and_wait(
            "SELECT event_id, received_at, CAST(NULL AS STRING) AS pair FROM ("
            f"SELECT event_id, received_at FROM `{self.events_table}` "
            f"WHERE received_at >= @since LIMIT {int(limit)}) "
            "UNION ALL "
            "SELECT DISTINCT CAST(NULL AS STRING), CAST(NULL AS TIMESTAMP), "
            f"CONCAT(store_id, '|', sku) FROM `{self.events_table}`",
            job_config=config,
            retry=self._retry,
            api_timeout=WRITE_DEADLINE_SECONDS,
            wait_timeout=WRITE_DEADLINE_SECONDS,
        )
        ids: list[tuple[str, datetime]] = []
        pairs: set[str] = set()
        for row in rows:
            if row[2] is None:
                ids.append((row[0], row[1]))
            else:
                pairs.add(row[2])
        return ids, pairs

    def rows_written_since(
        self, written_after: datetime, received_since: datetime
    ) -> list[dict[str, Any]]:
        """History columns (and ``received_at``) of rows written after ``written_after``.

        ``received_since`` prunes partitions: callers only care about recent receipts.
        """
        from google.cloud import bigquery

        return self._query(
            f"SELECT {', '.join(HISTORY_COLUMNS)}, received_at FROM `{self.events_table}` "
            "WHERE received_at >= @received AND written_at > @written",
            [
                bigquery.ScalarQueryParameter("received", "TIMESTAMP", received_since),
                bigquery.ScalarQueryParameter("written", "TIMESTAMP", written_after),
            ],
        )

    def existing_alert_ids(self, alert_ids: Sequence[str]) -> set[str]:
        from google.cloud import bigquery

        if not alert_ids:
            return set()
        found = self._query(
            f"SELECT alert_id FROM `{self.alerts_table}` WHERE alert_id IN UNNEST(@ids)",
            [bigquery.ArrayQueryParameter("ids", "STRING", list(alert_ids))],
        )
        return {row["alert_id"] for row in found}

    # -- writes --------------------------------------------------------------------------

    def _insert(
        self, table: str, rows: list[dict[str, Any]], ids: list[str]
    ) -> list[tuple[dict[str, Any], str]]:
        if not rows:
            return []
        errors = self.client.insert_rows_json(
            table,
            rows,
            row_ids=ids,
            skip_invalid_rows=True,
            retry=self._retry,
            timeout=WRITE_DEADLINE_SECONDS,
        )
        refused = []
        for entry in errors:
            reasons = [e for e in entry.get("errors", []) if e.get("reason") != "stopped"]
            if reasons:
                text = "; ".join(
                    f"{e.get('location', '')}: {e.get('message', '')}" for e in reasons
                )
                refused.append((rows[entry["index"]], f"BigQuery refused the row: {text}"))
        return refused

    def insert_events(
        self, rows: Sequence[dict[str, Any]], known_ids: set[str] | None = None
    ) -> InsertReport:
        """Insert rows not yet in ``speed.events``; ``known_ids`` skips the existence query.

        Pass ``known_ids`` only when the caller has just read a superset of the relevant
        ids itself (the function runtime's history query does).
        """
        known = self.existing_event_ids(rows) if known_ids is None else known_ids
        fresh = unseen(rows, known)
        refused = self._insert(self.events_table, fresh, [r["event_id"] for r in fresh])
        return InsertReport(len(fresh) - len(refused), len(rows) - len(fresh), refused)

    def unrecorded_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The alerts ``speed.stock_alerts`` does not hold yet (to publish, then insert)."""
        known = self.existing_alert_ids([a["alert_id"] for a in alerts])
        return [a for a in alerts if a["alert_id"] not in known]

    def insert_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Insert alerts (``insertId = alert_id``); call with :meth:`unrecorded_alerts`."""
        refused = self._insert(self.alerts_table, list(alerts), [a["alert_id"] for a in alerts])
        if refused:
            raise RuntimeError(f"speed.stock_alerts refused rows: {refused[0][1]}")

    def insert_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record poison; raises if even that fails, so the message is redelivered, not lost."""
        ids = [
            hashlib.sha256(f"{r['message_id']}|{r['error']}|{r['payload']}".encode()).hexdigest()
            for r in rows
        ]
        refused = self._insert(self.dead_letters_table, list(rows), ids)
        if refused:
            raise RuntimeError(f"speed.dead_letters refused a row: {refused[0][1]}")
