"""The file-drop use case: a finalized object in the landing bucket becomes events.

Landing bucket layout (objects starting with ``_`` belong to ingest and are ignored)::

    <source>/<file>                         what senders upload (salesphere ingest FILE)
    _processed/<sha256>                     marker: this content was ingested (JSON)
    _ingested/<sha256[:12]>/<source>/<file> the original, moved here once ingested
    _ingested/<sha256[:12]>/<source>/<file>.rejects.csv   row, column, value, rule, reason

Idempotency, by file identity and content:

* a redelivered notification finds the object gone (moved) or a stale generation and
  does nothing;
* a re-upload of the same bytes (any name) finds its ``_processed/<sha256>`` marker and
  is moved aside without ingesting again;
* a crash before the marker is written means the file is processed again on redelivery,
  which republishes the same event ids (derived from content), so nothing double counts.

A file that cannot be read at all (malformed or bomb XLSX, undecodable text, unknown
layout) is copied to the quarantine bucket under ``files/`` with a one-line report, and
the function still answers success so Pub/Sub does not redeliver it forever.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesphere.exports import safe_row
from salesphere.ingest.formats import normalise_header
from salesphere.ingest.mapping import Mapper, SourceMapping, file_candidates
from salesphere.ingest.readers import FileRejected, open_table, sniff_header
from salesphere.ingest.results import BatchSummary, QuarantineRecord, RecordResult
from salesphere.ingest.service import BatchReport, IngestService
from salesphere.ingest.validate import TIME_FORMAT
from salesphere.model import utcnow

log = logging.getLogger("salesphere.ingest.files")
MARKER_PREFIX = "_processed/"
INGESTED_PREFIX = "_ingested/"
QUARANTINED_FILES_PREFIX = "files/"
REPORT_SUFFIX = ".rejects.csv"
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
        try:
            data = json.loads(data)
        except ValueError:
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
            inner = json.loads(base64.b64decode(message.get("data") or b""))
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
    """Objects ingest itself writes (markers, moved originals, reports) are never input."""
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


class FileIngestor:
    """Handles one object notification end to end (see the module docstring)."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        self.settings = service.settings
        self._gcs: Any = None

    @property
    def gcs(self) -> Any:
        if self._gcs is None:
            from salesphere.io import clients

            self._gcs = clients.storage_client(self.settings)
        return self._gcs

    def handle(self, ref: ObjectRef) -> dict[str, Any]:
        """Ingest the object if it is new input; returns a summary for logs and tests."""
        if ref.bucket != self.settings.buckets.landing:
            # In cloud the trigger is bound to the landing bucket; fake-gcs-server notifies
            # for every bucket (archive, quarantine, ...), so the function must filter.
            return {"status": "ignored", "reason": "not the landing bucket", "object": ref.name}
        if is_own_object(ref.name):
            return {"status": "ignored", "reason": "ingest's own object", "object": ref.name}
        bucket = self.gcs.bucket(ref.bucket)
        blob = bucket.get_blob(ref.name)
        if blob is None:
            return {
                "status": "ignored",
                "reason": "object gone (already ingested)",
                "object": ref.name,
            }
        if ref.generation and str(blob.generation) != str(ref.generation):
            return {"status": "ignored", "reason": "stale generation", "object": ref.name}
        with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
            path = Path(tmp) / "object"
            blob.download_to_filename(str(path))
            digest = sha256_file(path)
            marker = bucket.blob(MARKER_PREFIX + digest)
            home = f"{INGESTED_PREFIX}{digest[:12]}/{ref.name}"
            if marker.exists():
                self._move(bucket, blob, home)
                return {"status": "duplicate", "object": ref.name, "sha256": digest}
            try:
                outcome = self._ingest(path, ref, digest, bucket, home)
            except FileRejected as exc:
                outcome = self._reject_file(path, ref, digest, bucket, home, exc)
        marker.upload_from_string(
            json.dumps({**outcome, "bucket": ref.bucket, "generation": str(blob.generation)}),
            content_type="application/json",
        )
        self._move(bucket, blob, home)
        return outcome

    def _ingest(
        self, path: Path, ref: ObjectRef, digest: str, bucket: Any, home: str
    ) -> dict[str, Any]:
        mapping = choose_mapping(path, ref.name)
        table = open_table(path, ref.name, mapping.delimiter, mapping.encodings)
        columns = {normalise_header(h): h for h in table.header}
        request_id = f"file-{digest[:32]}"
        received = utcnow()
        report: BatchReport = self.service.run(
            mapping=mapping,
            records=table.rows,
            request_id=request_id,
            received_at=received,
            location="row",
            keep_results=False,
        )
        mapper = Mapper(mapping)
        if report.results:
            bucket.blob(home + REPORT_SUFFIX).upload_from_string(
                report_csv(report.results, columns, mapper), content_type="text/csv"
            )
        self.service.ledger.log(
            request_id=request_id,
            source=mapping.source,
            channel="file",
            received_at=received.strftime(TIME_FORMAT),
            summary=report.summary,
            object_name=f"gs://{ref.bucket}/{ref.name}",
        )
        log.info("ingested %s with %s: %s", ref.name, mapping.name, report.summary.to_json())
        return {
            "status": "ingested",
            "object": ref.name,
            "mapping": mapping.name,
            "request_id": request_id,
            "sha256": digest,
            **report.summary.to_json(),
        }

    def _reject_file(
        self, path: Path, ref: ObjectRef, digest: str, bucket: Any, home: str, exc: FileRejected
    ) -> dict[str, Any]:
        request_id = f"file-{digest[:32]}"
        received = utcnow().strftime(TIME_FORMAT)
        source = ref.name.split("/", 1)[0] if "/" in ref.name else "unknown"
        record = QuarantineRecord(
            request_id=request_id,
            source=source,
            location="file",
            field=None,
            rule=exc.rule,
            message=str(exc),
            value=None,
            payload=f"gs://{ref.bucket}/{ref.name}",
            received_at=received,
        )
        quarantine = self.gcs.bucket(self.settings.buckets.quarantine)
        quarantine.blob(f"{QUARANTINED_FILES_PREFIX}{digest[:12]}/{ref.name}").upload_from_filename(
            str(path)
        )
        self.service.ledger.quarantine([record], source=source, request_id=request_id)
        self.service.ledger.log(
            request_id=request_id,
            source=source,
            channel="file",
            received_at=received,
            summary=BatchSummary(),
            object_name=f"gs://{ref.bucket}/{ref.name}",
        )
        bucket.blob(home + REPORT_SUFFIX).upload_from_string(
            report_bytes([[0, "", "", "", exc.rule, str(exc)]]), content_type="text/csv"
        )
        log.warning("rejected file %s: %s (%s)", ref.name, exc, exc.rule)
        return {
            "status": "rejected",
            "object": ref.name,
            "rule": exc.rule,
            "reason": str(exc),
            "request_id": request_id,
            "sha256": digest,
        }

    @staticmethod
    def _move(bucket: Any, blob: Any, target: str) -> None:
        from google.api_core.exceptions import NotFound

        bucket.copy_blob(blob, bucket, target)
        # a concurrent delivery of the same object may have moved it first
        with contextlib.suppress(NotFound):
            bucket.delete_blob(blob.name, generation=blob.generation)
