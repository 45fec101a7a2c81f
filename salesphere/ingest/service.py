"""The ingest service's use cases: a live request, a dropped file. I/O through salesphere.gcp.

Both use cases follow the same order, chosen so that a crash at any point is safe to
retry: (1) process every record (pure), (2) publish accepted envelopes, and quarantine
rejects and log counts **while** Pub/Sub confirms them, (3) only when all of it is
confirmed report success (HTTP 2xx / file marked processed). A retry repeats the same
event ids, envelope ids, reject ids and request id, so downstream deduplication and
BigQuery's ``insertId`` keep every count single.

Why the ledger writes may overlap the publish wait: everything they write (rejects,
counts) is decided in step 1, before anything is sent, and success is still reported
only after every write is confirmed. Only the *partial* state a failure leaves behind
changes: before, a failed log write could leave events published without a log row;
now a failed publish can also leave a log row without its events. Either way the
sender got 503 and must retry, and the retry writes the same ids, completing the
request without doubling anything (the log row's insertId is the request id; readers
that sum ``ops.ingest_log`` should count each ``request_id`` once, as a timed-out but
successful request re-sent by its sender already requires). The overlap saves one
BigQuery round trip (~60 ms in the twin) per request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salesphere.gcp import clients
from salesphere.ingest.catalog import Reference
from salesphere.ingest.ledger import IngestLedger
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.mapping import SourceMapping, live_mapping
from salesphere.ingest.processing import RecordProcessor
from salesphere.ingest.publish import EnvelopePublisher, pack_rows
from salesphere.ingest.results import (
    REJECTED,
    QuarantineRecord,
    RecordResult,
    RequestCounts,
    payload_text,
    quarantine_rows,
)
from salesphere.ingest.validate import TIME_FORMAT
from salesphere.model import utcnow
from salesphere.settings import Settings

log = logging.getLogger("salesphere.ingest")


@dataclass
class RequestReport:
    """What happened to one request: per-record answers plus the counts."""

    request_id: str
    source: str
    received_at: str
    results: list[RecordResult]
    summary: RequestCounts
    quarantined: list[QuarantineRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "source": self.source,
            "received_at": self.received_at,
            "summary": self.summary.to_json(),
            "results": [r.to_json() for r in self.results],
        }


class ReferenceUnavailable(RuntimeError):
    """The reference tables could not be read: ingest refuses work instead of guessing.

    Skipping the unknown-SKU/store checks would accept events nobody can join to the
    catalog, and nobody would notice; a request is answered 503 (retry later) and a file
    event is redelivered instead, while the log says what to fix.
    """


def load_catalog(settings: Settings) -> Reference:
    """Known SKUs and stores from ``reference.products`` / ``reference.stores``.

    Tables that exist but are empty (a fresh twin before ``salesphere batch
    load-reference``) skip the unknown-SKU/store check with a warning: refusing every
    event because the catalog is not loaded yet would quarantine the whole feed. A read
    that *fails* (no permission, missing table, warehouse down) raises
    :class:`ReferenceUnavailable`: that is never a reason to switch the checks off.
    """
    client = clients.bigquery_client(settings)
    try:
        skus = frozenset(
            row[0]
            for row in client.query(f"SELECT sku FROM `{settings.project}.reference.products`")
        )
        stores = {
            row[0]: row[1]
            for row in client.query(
                f"SELECT store_id, timezone FROM `{settings.project}.reference.stores`"
            )
        }
    except Exception as exc:
        raise ReferenceUnavailable(
            f"cannot read reference.products/reference.stores ({exc}); ingest needs them to "
            "check SKUs and stores. Check that the tables exist and that the ingest service "
            "account has roles/bigquery.dataViewer on dataset reference and "
            "roles/bigquery.jobUser (infra/ingest.py), then retry"
        ) from exc
    if not skus or not stores:
        log.warning("reference tables are empty; unknown SKU/store checks skipped")
    return Reference(skus=skus, stores=frozenset(stores), timezones=stores)


class IngestService:
    """Long-lived per process (a function instance); clients are created on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        publisher: EnvelopePublisher | None = None,
        ledger: IngestLedger | None = None,
        reference: Reference | None = None,
    ) -> None:
        self.settings = settings
        self._publisher = publisher
        self.ledger = ledger or IngestLedger(settings)
        self._reference = reference
        self._reference_at = 0.0
        self._fixed_reference = reference is not None
        self._lock = threading.Lock()
        # Ledger writes run here while the request thread waits for Pub/Sub.
        self._ledger_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ledger")
        #: Admission for live requests: at most ``max_inflight_requests`` at once (load shedding).
        self.admission = threading.BoundedSemaphore(max(1, settings.max_inflight_requests))

    @property
    def publisher(self) -> EnvelopePublisher:
        if self._publisher is None:
            self._publisher = EnvelopePublisher(self.settings)
        return self._publisher

    def reference(self) -> Reference:
        if self._fixed_reference and self._reference is not None:
            return self._reference
        with self._lock:
            now = time.monotonic()
            ref = self._reference
            fresh = (
                ref is not None
                and ref.loaded
                and now - self._reference_at < self.settings.reference_ttl_seconds
            )
            if not fresh:
                self._reference = load_catalog(self.settings)
                self._reference_at = now
            assert self._reference is not None
            return self._reference

    # -- shared core ----------------------------------------------------------------------

    def run(
        self,
        *,
        mapping: SourceMapping,
        records: Iterable[tuple[int, Mapping[str, Any]]],
        request_id: str,
        received_at: datetime,
        location: str = "record",
        column_names: bool = False,
        keep_results: bool = True,
        log: Callable[[RequestCounts], None] | None = None,
    ) -> RequestReport:
        """Process, publish (confirmed), quarantine and ``log`` one batch or file.

        The quarantine and ``log`` writes run while the publishes are confirmed (see the
        module docstring); any failure raises once every write has finished.
        """
        reference = self.reference()
        mapper = Mapper(mapping, reference.timezone_of)
        processor = RecordProcessor(mapper, reference, received_at)
        report = RequestReport(
            request_id, mapping.source, processor.received_text, [], RequestCounts()
        )
        futures = self._process(
            records,
            processor,
            report,
            location=location,
            column_of=mapper.column_of if column_names else None,
            keep_results=keep_results,
        )
        self._settle(futures, report, log)
        return report

    def _process(
        self,
        records: Iterable[tuple[int, Mapping[str, Any]]],
        processor: RecordProcessor,
        report: RequestReport,
        *,
        location: str,
        column_of: Callable[[str], str | None] | None,
        keep_results: bool,
    ) -> list[Future[Any]]:
        """Each record through the processor into ``report``; good rows are published in
        envelopes as they fill (not confirmed yet: the futures are returned)."""
        summary, results, quarantined = report.summary, report.results, report.quarantined
        pending: list[dict[str, Any]] = []
        futures: list[Future[Any]] = []
        chunk = self.settings.envelope_max_events
        source = report.source
        for index, record in records:
            result, rows = processor.process(index, record)
            summary.add(result)
            if keep_results:
                results.append(result)
            if result.status == REJECTED:
                if column_of is not None:
                    result.column = column_of(result.rejects[0].field.rsplit(".", 1)[-1])
                quarantined.extend(
                    quarantine_rows(
                        result,
                        request_id=report.request_id,
                        source=source,
                        location=f"{location} {index}",
                        payload=payload_text(record),
                        received_at=report.received_at,
                    )
                )
                if not keep_results:
                    results.append(result)
            elif rows:
                pending.extend(rows)
                if len(pending) >= chunk:
                    futures += self.publisher.start(pack_rows(pending, source, chunk))
                    pending = []
        if pending:
            futures += self.publisher.start(pack_rows(pending, source, chunk))
        return futures

    def _settle(
        self,
        futures: list[Future[Any]],
        report: RequestReport,
        log: Callable[[RequestCounts], None] | None,
    ) -> None:
        """Write the quarantine and the log while the publishes are confirmed; raise the
        first failure only once every write has finished."""

        def write_ledger() -> None:
            self.ledger.quarantine(
                report.quarantined, source=report.source, request_id=report.request_id
            )
            if log is not None:
                log(report.summary)

        ledger = self._ledger_pool.submit(write_ledger)
        try:
            self.publisher.wait(futures)
        finally:
            ledger_error = ledger.exception()  # waits: no write outlives the request
        if ledger_error is not None:
            raise ledger_error

    # -- HTTP ----------------------------------------------------------------------------

    def ingest_live(
        self, source: str, records: list[Any], body: bytes, received_at: datetime | None = None
    ) -> RequestReport:
        """A live request already authenticated and parsed; raises on publish/ledger failure."""
        mapping = live_mapping(source)
        if mapping is None:
            raise ValueError(f"unknown source {source!r}")
        request_id = request_id_for(source, body)
        when = received_at or utcnow()

        def log(summary: RequestCounts) -> None:
            self.ledger.log(
                request_id=request_id,
                source=mapping.source,
                channel="http",
                received_at=when.strftime(TIME_FORMAT),
                summary=summary,
            )

        return self.run(
            mapping=mapping,
            records=enumerate(records),
            request_id=request_id,
            received_at=when,
            log=log,
        )


def request_id_for(source: str, body: bytes) -> str:
    """Same source and bytes, same request id: a retried POST is recognisably the same."""
    return hashlib.sha256(source.encode() + b"\0" + body).hexdigest()[:32]
