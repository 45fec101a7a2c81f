"""Ingest's paper trail: quarantined rejects and per-request counts.

Every refused record is written three ways, so nothing is silently dropped and each
consumer reads what suits it:

* an NDJSON object in the quarantine bucket,
  ``rejects/received_date=YYYY-MM-DD/<source>/<request_id>.ndjson`` (replayable payloads);
* rows in ``ops.rejects`` (analysts group by ``rule``; the data-quality view reads it);
* one message per request on the ``quarantine`` topic (alerting, other consumers).

Every request or file also gets one ``ops.ingest_log`` row with records received /
accepted / rejected: the starting point of reconciliation. Both tables are written with
``insertId`` = a deterministic id (request id, reject id), so a retried request does
not double the counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from salesphere import names
from salesphere.gcp import clients
from salesphere.groupcommit import GroupCommitter
from salesphere.ingest.results import QuarantineRecord, RequestCounts
from salesphere.settings import Settings
from salesphere.warehouse.schemas import INGEST_LOG, PURCHASE_ORDER_LINES, REJECTS

BQ_DEADLINE_SECONDS = 30.0
#: Log rows one insert carries at most (well inside insertAll's 50k rows / 10 MB).
LOG_ROWS_PER_INSERT = 5_000


class LedgerError(RuntimeError):
    """A quarantine or log write failed; the request must be retried (answer 503)."""


def quarantine_object_name(source: str, request_id: str, received_at: str) -> str:
    return (
        f"{names.QUARANTINE_PREFIX}/received_date={received_at[:10]}/{source}/{request_id}.ndjson"
    )


class IngestLedger:
    """Writes rejects and counts; one per process, clients created on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._bq: Any = None
        self._gcs: Any = None
        self._pub: Any = None
        # Group commit of ops.ingest_log rows (see _log_row); BigQuery takes them in one call.
        self._log: GroupCommitter[dict[str, Any], None] = GroupCommitter(
            self._insert_log_rows,
            max_size=LOG_ROWS_PER_INSERT,
            interrupted=lambda: LedgerError("the ingest log insert was interrupted"),
        )

    @property
    def bq(self) -> Any:
        if self._bq is None:
            self._bq = clients.bigquery_client(self.settings)
        return self._bq

    @property
    def gcs(self) -> Any:
        if self._gcs is None:
            self._gcs = clients.storage_client(self.settings)
        return self._gcs

    def _insert(self, table: str, rows: list[dict[str, Any]], ids: list[str]) -> None:
        from google.api_core.retry import Retry

        ref = f"{self.settings.project}.{table}"
        try:
            errors = self.bq.insert_rows_json(
                ref,
                rows,
                row_ids=ids,
                retry=Retry(deadline=BQ_DEADLINE_SECONDS),
                timeout=BQ_DEADLINE_SECONDS,
            )
        except Exception as exc:
            raise LedgerError(f"could not write {table}: {exc}") from exc
        if errors:
            raise LedgerError(f"{table} refused rows: {errors[:3]}")

    def quarantine(
        self, records: Sequence[QuarantineRecord], *, source: str, request_id: str
    ) -> str | None:
        """Store rejects in the bucket, ``ops.rejects`` and the topic; returns the object name."""
        if not records:
            return None
        rows = [record.to_row() for record in records]
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
        name = quarantine_object_name(source, request_id, records[0].received_at)
        try:
            blob = self.gcs.bucket(self.settings.buckets.quarantine).blob(name)
            blob.upload_from_string(body, content_type="application/x-ndjson")
        except Exception as exc:
            raise LedgerError(f"could not write quarantine object {name}: {exc}") from exc
        self._insert(REJECTS.ref, rows, [row["reject_id"] for row in rows])
        try:
            if self._pub is None:
                self._pub = clients.publisher(self.settings)
            topic = clients.topic_path(self.settings, names.TOPIC_QUARANTINE)
            self._pub.publish(
                topic, body, source=source, request_id=request_id, rejects=str(len(rows))
            ).result(timeout=BQ_DEADLINE_SECONDS)
        except Exception as exc:
            raise LedgerError(f"could not publish to the quarantine topic: {exc}") from exc
        return name

    def order_lines(self, rows: list[dict[str, Any]], ids: list[str]) -> None:
        """Append purchase order lines to ``ops.purchase_order_lines`` (insert ids dedupe)."""
        for start in range(0, len(rows), LOG_ROWS_PER_INSERT):
            end = start + LOG_ROWS_PER_INSERT
            self._insert(PURCHASE_ORDER_LINES.ref, rows[start:end], ids[start:end])

    def log(
        self,
        *,
        request_id: str,
        source: str,
        channel: str,
        received_at: str,
        summary: RequestCounts,
        object_name: str | None = None,
        document_key: str | None = None,
        order_id: str | None = None,
    ) -> None:
        """One ``ops.ingest_log`` row. Duplicates within a batch count as accepted records.

        ``document_key`` and ``order_id``: a web-shop invoice and the web order it names
        (written only when given, so every other row keeps its shape).
        """
        row: dict[str, Any] = {
            "request_id": request_id,
            "source": source,
            "channel": channel,
            "object_name": object_name,
            "received_at": received_at,
            "records_received": summary.received,
            "records_accepted": summary.accepted + summary.duplicate,
            "records_rejected": summary.rejected,
            "events_accepted": summary.events,
        }
        if document_key is not None:
            row.update(document_key=document_key, order_id=order_id)
        self._log_row(row)

    def _log_row(self, row: dict[str, Any]) -> None:
        """Insert one log row, sharing the insert with requests logging at the same time.

        Group commit (:class:`salesphere.groupcommit.GroupCommitter`): while one request's
        insert is in flight, rows of other requests queue; when it returns, one of them
        inserts everything queued in one call. Each caller returns only once its own row is
        stored (or raises), so the answer still comes after the log is written; concurrent
        requests just share the round trip. A refused insert fails every row in it
        (BigQuery refuses the whole call), and each of those requests answers 503 and is
        retried with the same insertId.
        """
        self._log.submit(row)

    def _insert_log_rows(self, rows: list[dict[str, Any]]) -> list[None]:
        self._insert(INGEST_LOG.ref, rows, [r["request_id"] for r in rows])
        return [None] * len(rows)
