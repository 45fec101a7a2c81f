"""The file-drop use case: a finalized object in the landing bucket becomes events.

Landing bucket layout (objects starting with ``_`` belong to ingest and are ignored)::

    <source>/<file>                         what senders upload (salesphere ingest FILE),
                                            kept where it landed (the bucket's lifecycle
                                            deletes it with everything else)
    _processed/<sha256>                     marker: this content was handled, by which
                                            object and generation, and how (JSON)
    _ingested/<sha256[:12]>/<source>/<file>.rejects.csv   row, column, value, rule, reason
    _attempts/<hash of name#generation>     deliveries so far of a file not yet done (JSON)

The original stays where it landed: copying it to a content-addressed home cost a class A
operation a file (Cloud Storage's free 5,000 a month are shared with the archive and the
batch runs; docs/infra.md, "What a month costs") and told nothing the marker does not.

Idempotency, by file identity and content:

* a redelivered notification finds the marker naming its own object and generation (or a
  stale generation) and does nothing;
* a re-upload of the same bytes (any name) finds its ``_processed/<sha256>`` marker and
  is left where it landed without ingesting again;
* a crash before the marker is written means the file is processed again on redelivery,
  which republishes the same event ids (derived from content), so nothing double counts.

A file that cannot be read at all (malformed or bomb XLSX, undecodable text, unknown
layout, JSON nested too deep) is copied to the quarantine bucket under ``files/`` with a
one-line report, and the function still answers success so Pub/Sub does not redeliver it
forever.

Any other failure (one nobody foresaw: a reader that panics, a bug, an outage) answers
500 so Pub/Sub redelivers, in case it was transient, but only ``limits.FILE_MAX_ATTEMPTS``
times: each delivery is counted in ``_attempts/`` before the file is touched, and the
last attempt quarantines the file with rule ``ingest_failed`` and the error instead of
failing again (a delivery past the limit, after attempts that died without a word,
quarantines at once). A poison file therefore ends in quarantine, never in a loop.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salesphere import limits
from salesphere.exports import safe_row
from salesphere.fiscal.xmlsafe import DEFAULT_LIMITS as FISCAL_LIMITS
from salesphere.gcp import clients
from salesphere.ingest import fiscal, jsonparse, orders
from salesphere.ingest.formats import normalise_header
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.mapping import SourceMapping, file_candidates
from salesphere.ingest.readers import FileRejected, open_table, sniff_header
from salesphere.ingest.results import QuarantineRecord, RecordResult, RequestCounts
from salesphere.ingest.service import IngestService, RequestReport
from salesphere.ingest.validate import TIME_FORMAT
from salesphere.model import utcnow
from salesphere.validation import Reject

if TYPE_CHECKING:
    from google.cloud.storage import Blob, Bucket, Client

log = logging.getLogger("salesphere.ingest.files")
MARKER_PREFIX = "_processed/"
INGESTED_PREFIX = "_ingested/"
QUARANTINED_FILES_PREFIX = "files/"
REPORT_SUFFIX = ".rejects.csv"
#: Per-object delivery counters, so a file that keeps failing is quarantined, not retried.
ATTEMPTS_PREFIX = "_attempts/"
#: Rule and status of a file quarantined after failed attempts (any unforeseen error).
INGEST_FAILED = "ingest_failed"
QUARANTINED = "quarantined"
#: A storage notification is a flat object with a few nested maps (metadata).
NOTIFICATION_MAX_DEPTH = 8
FINALIZE_TYPES = ("OBJECT_FINALIZE", "google.cloud.storage.object.v1.finalized")


@dataclass(frozen=True)
class ObjectRef:
    """Which object a notification is about."""

    bucket: str
    name: str
    generation: str | None = None


def object_from_event(ce_type: str, data: Any) -> ObjectRef | None:
    """Read both deliveries: Eventarc (``{bucket, name, generation}``) and a Pub/Sub push.

    A push arrives (via functions-framework) as ``{"message": {"data": b64, "attributes":
    {bucketId, objectId, objectGeneration, eventType}}}``. Returns ``None`` for events
    that are not object finalizations.
    """
    if isinstance(data, (bytes, str)):
        raw = data.encode() if isinstance(data, str) else data
        try:
            data = jsonparse.loads(raw, max_depth=NOTIFICATION_MAX_DEPTH)
        except ValueError:  # malformed, too deep or not UTF-8: not a notification
            return None
    if not isinstance(data, dict):
        return None
    message = data.get("message")
    if isinstance(message, dict):
        attrs = message.get("attributes") or {}
        if attrs.get("eventType") and attrs["eventType"] not in FINALIZE_TYPES:
            return None
        if attrs.get("bucketId") and attrs.get("objectId"):
            return ObjectRef(attrs["bucketId"], attrs["objectId"], attrs.get("objectGeneration"))
        try:
            inner = jsonparse.loads(
                base64.b64decode(message.get("data") or b""), max_depth=NOTIFICATION_MAX_DEPTH
            )
        except ValueError:
            return None
        data = inner if isinstance(inner, dict) else {}
    elif ce_type and "storage" in ce_type and ce_type not in FINALIZE_TYPES:
        return None
    if data.get("bucket") and data.get("name"):
        generation = data.get("generation")
        return ObjectRef(
            str(data["bucket"]), str(data["name"]), str(generation) if generation else None
        )
    return None


def is_own_object(name: str) -> bool:
    """Objects ingest itself writes (markers, counters, reports) are never input."""
    return name.startswith("_") or name.endswith(REPORT_SUFFIX)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def choose_mapping(path: Path, name: str) -> SourceMapping:
    """The layout for an object: by folder and file name, then by the header it carries."""
    candidates = file_candidates(name)
    if not candidates:
        raise FileRejected(
            "unknown_layout",
            f"no mapping matches {name!r}; upload under a known source folder "
            "(salesphere ingest FILE --source NAME) or add salesphere/mappings/<layout>.yaml",
        )
    missing: list[str] = []
    for mapping in candidates:
        if not mapping.tabular or name.rsplit(".", 1)[-1].lower() not in ("csv", "xlsx"):
            return mapping
        header = sniff_header(path, name, mapping.encodings)
        missing = Mapper(mapping).resolve_headers(header)
        if not missing:
            return mapping
    raise FileRejected(
        "missing_columns",
        f"header lacks required column(s) {', '.join(missing)}; rename the column or add the "
        "header as an alias in the layout's mapping",
    )


REPORT_HEADER = ("row", "column", "field", "value", "rule", "reason")


def report_bytes(rows: list[list[Any]]) -> bytes:
    """A rejects report: UTF-8 with BOM (Excel opens it), every cell formula-neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_HEADER)
    writer.writerows(safe_row(row) for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_csv(results: list[RecordResult], columns: dict[str, str], mapper: Mapper) -> bytes:
    """``row, column, value, rule, reason`` per broken rule, in the file's own header names."""
    rows: list[list[Any]] = []
    for result in results:
        for reject in result.rejects:
            field = reject.field.rsplit(".", 1)[-1]
            alias = mapper.column_of(field) or field
            column = columns.get(normalise_header(alias), alias)
            rows.append(
                [result.index, column, reject.field, reject.value, reject.rule, reject.message]
            )
    return report_bytes(rows)


class AttemptFailed(RuntimeError):
    """An attempt on a file failed and Pub/Sub should redeliver it (answer 500)."""


class AttemptsExhausted(RuntimeError):
    """Earlier attempts on a file ended without recording a result."""


class _ReadGuard:
    """A file's rows until its reader fails; remembers the failure and the last row."""

    def __init__(self, rows: Iterator[tuple[int, dict[str, Any]]]) -> None:
        self.rows = rows
        self.error: BaseException | None = None
        self.last_row = 1  # the header

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for number, record in self.rows:
                self.last_row = number
                yield number, record
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # see FileIngestor._ingest
            self.error = exc


class StoppedReading(RuntimeError):
    """On the last attempt the reader failed mid-file; the rows before it were ingested."""

    def __init__(self, guard: _ReadGuard, report: RequestReport, rejects_csv: bytes) -> None:
        super().__init__(f"reading stopped after row {guard.last_row}: {describe(guard.error)}")
        self.guard = guard
        self.report = report
        self.rejects_csv = rejects_csv


def describe(exc: BaseException | None) -> str:
    """An error as a reason a person can act on: its type and message, shortened."""
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


@dataclass(frozen=True)
class LandedFile:
    """One landed object on its way in: the local copy, the object it came from, its
    content digest and the landing bucket. Every step of a file's ingest (reading,
    reporting, quarantining, moving) needs them together, and the names derived from the
    digest (where the original is kept, the request id) are defined here once."""

    path: Path
    ref: ObjectRef
    digest: str
    bucket: Bucket

    @property
    def home(self) -> str:
        """Where the file's rejects report is written (``<home>.rejects.csv``): by content,
        so the reports of two files with the same name do not meet."""
        return f"{INGESTED_PREFIX}{self.digest[:12]}/{self.ref.name}"

    @property
    def request_id(self) -> str:
        """The file's request id in ops.ingest_log: the same bytes, the same id."""
        return f"file-{self.digest[:32]}"

    @property
    def uri(self) -> str:
        return f"gs://{self.ref.bucket}/{self.ref.name}"

    def write_report(self, body: bytes) -> None:
        """The rejects report (``<home>.rejects.csv``)."""
        self.bucket.blob(self.home + REPORT_SUFFIX).upload_from_string(
            body, content_type="text/csv"
        )

    def ingested(self, mapping: str, request_id: str, counts: RequestCounts) -> dict[str, Any]:
        """The summary ``handle`` returns for a file that was read (for logs and tests)."""
        return {
            "status": "ingested",
            "object": self.ref.name,
            "mapping": mapping,
            "request_id": request_id,
            "sha256": self.digest,
            **counts.to_json(),
        }


class FileIngestor:
    """Handles one object notification end to end (see the module docstring)."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        self.settings = service.settings
        self._gcs: Client | None = None
        #: Deliveries of one object before a failing file is quarantined (salesphere.limits).
        self.max_attempts = limits.FILE_MAX_ATTEMPTS

    @property
    def gcs(self) -> Client:
        if self._gcs is None:
            self._gcs = clients.storage_client(self.settings)
        return self._gcs

    def handle(self, ref: ObjectRef) -> dict[str, Any]:
        """Ingest the object if it is new input; returns a summary for logs and tests."""
        if ref.bucket != self.settings.buckets.landing:
            # In cloud the trigger is bound to the landing bucket; fake-gcs-server notifies
            # for every bucket (archive, quarantine, ...), so the function must filter.
            return _ignored(ref, "not the landing bucket")
        if is_own_object(ref.name):
            return _ignored(ref, "ingest's own object")
        bucket = self.gcs.bucket(ref.bucket)
        blob = bucket.get_blob(ref.name)
        if blob is None:
            return _ignored(ref, "object gone (deleted by the bucket's lifecycle or its sender)")
        if ref.generation and str(blob.generation) != str(ref.generation):
            return _ignored(ref, "stale generation")
        from google.api_core.exceptions import NotFound

        with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
            path = Path(tmp) / "object"
            try:
                blob.download_to_filename(str(path))
            except NotFound:  # deleted between the lookup and the download
                return _ignored(ref, "object gone")
            return self._handle_copy(path, ref, bucket, blob)

    def _handle_copy(
        self, path: Path, ref: ObjectRef, bucket: Bucket, blob: Blob
    ) -> dict[str, Any]:
        """Ingest the downloaded copy once: skip known bytes, count the attempt, read,
        then mark the content as handled. The original stays where it landed."""
        landed = LandedFile(path, ref, sha256_file(path), bucket)
        marker = bucket.blob(MARKER_PREFIX + landed.digest)
        done = self._marker(marker)
        if done is not None and _same_object(done, blob):
            # A redelivery of a notification already handled (ingested or quarantined).
            return _ignored(ref, "already handled")
        if done is not None and done.get("status") != QUARANTINED:
            return {"status": "duplicate", "object": ref.name, "sha256": landed.digest}
        # Counted before the file is read, so an attempt that kills the process counts
        # (hashing the bytes above reads no structure and cannot fail on them).
        counter = self._attempts_blob(bucket, blob)
        attempt, last_error = self._count_attempt(bucket, counter, blob)
        outcome = self._attempt(landed, blob, counter, attempt, last_error)
        marker.upload_from_string(
            json.dumps({**outcome, "bucket": ref.bucket, "generation": str(blob.generation)}),
            content_type="application/json",
        )
        self._forget_attempts(counter)
        return outcome

    def _attempt(
        self, landed: LandedFile, blob: Blob, counter: Blob, attempt: int, last_error: str | None
    ) -> dict[str, Any]:
        """Read the file on this delivery; a failure is retried (500) until the last
        attempt, which quarantines the file instead, so a poison file never loops."""
        last = attempt >= self.max_attempts
        try:
            if attempt > self.max_attempts:  # earlier attempts died without a word
                raise AttemptsExhausted(
                    last_error
                    or "the function stopped before it could record an error "
                    "(out of memory or past its timeout?)"
                )
            return self._ingest(landed, last_attempt=last)
        except FileRejected as exc:
            return self._reject_file(landed, exc)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # any failure a file causes
            # (calamine panics with a BaseException): retry while it may be transient,
            # then quarantine
            if not last:
                self._record_failure(counter, blob, attempt, exc)
                raise AttemptFailed(
                    f"attempt {attempt} of {self.max_attempts} on {landed.ref.name} failed: "
                    f"{describe(exc)}; Pub/Sub redelivers it"
                ) from exc
            return self._give_up(landed, exc, attempt)

    # -- bounded attempts ------------------------------------------------------------------

    @staticmethod
    def _attempts_blob(bucket: Bucket, blob: Blob) -> Blob:
        key = hashlib.sha256(f"{blob.name}#{blob.generation}".encode()).hexdigest()[:32]
        return bucket.blob(f"{ATTEMPTS_PREFIX}{key}")

    def _count_attempt(self, bucket: Bucket, counter: Blob, blob: Blob) -> tuple[int, str | None]:
        """Count this delivery of ``blob`` (this generation) before reading the file.

        Counted in the landing bucket before anything can fail on the file's content, so
        that an attempt that kills the process (out of memory, timeout) still counts; the
        push that functions-framework hands over carries no delivery count. Returns the
        attempt number and the error the previous attempt recorded. Concurrent deliveries
        each get their own number (generation preconditions).
        """
        from google.api_core.exceptions import PreconditionFailed

        for _ in range(5):
            current = bucket.get_blob(counter.name)
            info = json.loads(current.download_as_bytes()) if current is not None else {}
            attempt = int(info.get("attempts", 0)) + 1
            body = {**info, "object": blob.name, "generation": str(blob.generation)}
            try:
                counter.upload_from_string(
                    json.dumps({**body, "attempts": attempt}),
                    content_type="application/json",
                    if_generation_match=current.generation if current is not None else 0,
                )
            except PreconditionFailed:
                continue  # another delivery counted at the same moment: count again
            return attempt, info.get("last_error")
        raise AttemptFailed(f"could not count the attempts on {blob.name}; retrying")

    def _record_failure(self, counter: Blob, blob: Blob, attempt: int, exc: BaseException) -> None:
        """Keep the error for the report of a later attempt (best effort: we are failing)."""
        info = {
            "object": blob.name,
            "generation": str(blob.generation),
            "attempts": attempt,
            "last_error": describe(exc),
        }
        try:
            counter.upload_from_string(json.dumps(info), content_type="application/json")
        except Exception as write_error:
            log.warning("could not record the failure of %s: %s", blob.name, write_error)

    @staticmethod
    def _forget_attempts(counter: Blob) -> None:
        try:
            counter.delete()
        except Exception:  # a hiccup: it is only a count, for an object now marked
            log.debug("could not delete the attempt counter %s", counter.name)

    @staticmethod
    def _marker(marker: Blob) -> dict[str, Any] | None:
        """What the marker of these bytes says (None: never handled).

        Bytes a marker names were handled, unless ingest gave up on them: a file
        quarantined after failed attempts is ingested again when it is uploaded again (a
        new object or generation), never when its own notification comes again.
        """
        from google.api_core.exceptions import NotFound

        try:
            body = marker.download_as_bytes()
        except NotFound:
            return None
        try:
            found = json.loads(body)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    # -- reading, by kind of file ----------------------------------------------------------

    def _ingest(self, landed: LandedFile, last_attempt: bool) -> dict[str, Any]:
        path, ref = landed.path, landed.ref
        if fiscal.is_fiscal_file(path, ref.name):  # recognised by content, any name
            return self._ingest_fiscal(landed)
        if orders.is_order_object(ref.name):
            return self._ingest_orders(landed)
        mapping = choose_mapping(path, ref.name)
        table = open_table(path, ref.name, mapping.delimiter, mapping.encodings, self.settings)
        columns = {normalise_header(h): h for h in table.header}
        received = utcnow()
        # On the last attempt a reader that fails mid-file ends the rows instead of the
        # attempt: earlier attempts may have published the rows before it, so they are
        # ingested and counted, and the file is quarantined with the row it stopped at.
        guard = _ReadGuard(table.rows) if last_attempt else None
        report: RequestReport = self.service.run(
            mapping=mapping,
            records=guard if guard is not None else table.rows,
            request_id=landed.request_id,
            received_at=received,
            location="row",
            keep_results=False,
        )
        mapper = Mapper(mapping)
        if guard is not None and guard.error is not None:
            raise StoppedReading(guard, report, report_csv(report.results, columns, mapper))
        if report.results:
            landed.write_report(report_csv(report.results, columns, mapper))
        self.service.ledger.log(
            request_id=landed.request_id,
            source=mapping.source,
            channel="file",
            received_at=received.strftime(TIME_FORMAT),
            summary=report.summary,
            object_name=landed.uri,
        )
        log.info("ingested %s with %s: %s", ref.name, mapping.name, report.summary.to_json())
        return landed.ingested(mapping.name, landed.request_id, report.summary)

    def _ingest_orders(self, landed: LandedFile) -> dict[str, Any]:
        """A purchase order export: its lines appended to ``ops.purchase_order_lines``.

        No events: an order line is a plan, not a movement. Each row is one record in
        ``ops.ingest_log`` (source ``purchase_orders``); a bad row is quarantined with its
        field and rule like any other, the good rows still land.
        """
        layout = orders.choose_layout(landed.path, landed.ref.name)
        lines, rejects = orders.read_order_lines(landed.path, landed.ref.name, layout)
        received = utcnow().strftime(TIME_FORMAT)
        rows = [
            orders.line_row(
                line,
                received_at=received,
                request_id=landed.request_id,
                source=layout.name,
                object_name=landed.uri,
            )
            for line in lines
        ]
        ledger = self.service.ledger
        ledger.order_lines(rows, [orders.line_row_id(row) for row in rows])
        ledger.quarantine(
            _order_rejects(rejects, landed.request_id, received),
            source=orders.ORDERS_SOURCE,
            request_id=landed.request_id,
        )
        bad_rows = len({number for number, _ in rejects})
        summary = RequestCounts(
            received=len(lines) + bad_rows, accepted=len(lines), rejected=bad_rows
        )
        if rejects:
            landed.write_report(
                report_bytes([[n, "", r.field, r.value, r.rule, r.message] for n, r in rejects])
            )
        ledger.log(
            request_id=landed.request_id,
            source=orders.ORDERS_SOURCE,
            channel="file",
            received_at=received,
            summary=summary,
            object_name=landed.uri,
        )
        log.info("ingested orders %s with %s: %s", landed.ref.name, layout.name, summary.to_json())
        return landed.ingested(layout.name, landed.request_id, summary)

    def _ingest_fiscal(self, landed: LandedFile) -> dict[str, Any]:
        """One NF-e/NFC-e or event (salesphere.ingest.fiscal); refused whole as a file."""
        size = landed.path.stat().st_size
        if size > FISCAL_LIMITS.max_bytes:
            raise FileRejected(
                "too_large",
                f"a fiscal XML is at most {FISCAL_LIMITS.max_bytes} bytes, this file is {size}",
            )
        report = fiscal.for_service(self.service).ingest(
            landed.path.read_bytes(),
            request_id=landed.request_id,
            received_at=utcnow(),
            channel="file",
            object_name=landed.uri,
            refuse_as_file=True,
        )
        rows = [
            [0, "", r.field, r.value, r.rule, r.message]
            for result in report.results
            for r in result.rejects
        ]
        if rows:
            landed.write_report(report_bytes(rows))
        log.info("ingested fiscal %s: %s", landed.ref.name, report.summary.to_json())
        return landed.ingested(report.source, landed.request_id, report.summary)

    # -- files that cannot be ingested -----------------------------------------------------

    def _reject_file(self, landed: LandedFile, exc: FileRejected) -> dict[str, Any]:
        outcome = self._quarantine_file(landed, rule=exc.rule, reason=str(exc))
        log.warning("rejected file %s: %s (%s)", landed.ref.name, exc, exc.rule)
        return {**outcome, "status": "rejected"}

    def _give_up(self, landed: LandedFile, exc: BaseException, attempt: int) -> dict[str, Any]:
        """Quarantine a file that failed ``attempt`` times, with the reason, and stop.

        Its ledger row has its own request id (``…-failed``): uploading the same bytes
        again (once the cause is fixed) ingests them under the usual one and counts them
        there.
        """
        summary, report = RequestCounts(), b""
        if isinstance(exc, StoppedReading):  # the rows before the failure are ingested
            summary, report = exc.report.summary, exc.rejects_csv
            request_id = landed.request_id
            reason = (
                f"reading stopped after row {exc.guard.last_row} on attempt {attempt}: "
                f"{describe(exc.guard.error)}; the rows before it were ingested; fix the "
                "file and upload it again"
            )
        else:
            request_id = f"{landed.request_id}-failed"
            reason = (
                f"ingest failed {attempt} times: {describe(exc)}; the file is kept in "
                "quarantine; fix it (or the cause) and upload it again"
            )
        outcome = self._quarantine_file(
            landed,
            rule=INGEST_FAILED,
            reason=reason,
            request_id=request_id,
            summary=summary,
            report=report,
        )
        log.error("quarantined %s after %d attempts: %s", landed.ref.name, attempt, reason)
        return {**outcome, "status": QUARANTINED, "attempts": attempt, **summary.to_json()}

    def _quarantine_file(
        self,
        landed: LandedFile,
        *,
        rule: str,
        reason: str,
        request_id: str | None = None,
        summary: RequestCounts | None = None,
        report: bytes = b"",
    ) -> dict[str, Any]:
        """Copy the file to quarantine, record why (``ops.rejects``, topic) and log it."""
        ref = landed.ref
        request_id = request_id or landed.request_id
        received = utcnow().strftime(TIME_FORMAT)
        source = ref.name.split("/", 1)[0] if "/" in ref.name else "unknown"
        record = QuarantineRecord(
            request_id=request_id,
            source=source,
            location="file",
            field=None,
            rule=rule,
            message=reason,
            value=None,
            payload=landed.uri,
            received_at=received,
        )
        quarantine = self.gcs.bucket(self.settings.buckets.quarantine)
        quarantine.blob(
            f"{QUARANTINED_FILES_PREFIX}{landed.digest[:12]}/{ref.name}"
        ).upload_from_filename(str(landed.path))
        self.service.ledger.quarantine([record], source=source, request_id=request_id)
        self.service.ledger.log(
            request_id=request_id,
            source=source,
            channel="file",
            received_at=received,
            summary=summary or RequestCounts(),
            object_name=landed.uri,
        )
        line = report_bytes([[0, "", "", "", rule, reason]])
        if report:  # the rows' own rejects first, then the file's line (without its header)
            line = report + line.split(b"\r\n", 1)[1]
        landed.write_report(line)
        return {
            "object": ref.name,
            "rule": rule,
            "reason": reason,
            "request_id": request_id,
            "sha256": landed.digest,
        }


def _ignored(ref: ObjectRef, reason: str) -> dict[str, Any]:
    return {"status": "ignored", "reason": reason, "object": ref.name}


def _same_object(marker: dict[str, Any], blob: Blob) -> bool:
    """Does this marker record the handling of this very object (name and generation)?"""
    return marker.get("object") == blob.name and marker.get("generation") == str(blob.generation)


def _order_rejects(
    rejects: list[tuple[int, Reject]], request_id: str, received: str
) -> list[QuarantineRecord]:
    """The quarantine records of an order file's bad rows (one per failed check)."""
    return [
        QuarantineRecord(
            request_id=request_id,
            source=orders.ORDERS_SOURCE,
            location=f"row {number}",
            field=reject.field,
            rule=reject.rule,
            message=reject.message,
            value=reject.value,
            payload="",
            received_at=received,
        )
        for number, reject in rejects
    ]
