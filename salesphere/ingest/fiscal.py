"""Fiscal XML (NF-e, NFC-e and their events) through ingest's doors: file drops and HTTP.

A dropped object is fiscal when its content is XML (any name: the first meaningful byte is
``<``, or the name ends in ``.xml``); an HTTP request when its ``Content-Type`` is
``application/xml`` or ``text/xml``, one document per request. Both go through
:class:`FiscalIngest`, which reads the document with :mod:`salesphere.fiscal`, validates the
drafts with ingest's usual :func:`~salesphere.ingest.validate.validate` (so ids and limits
are exactly those of every other source), publishes and logs like :meth:`IngestService.run`.

One document is one record: it is accepted whole (every item's event), a duplicate, or
rejected whole with the reason (an order is never half-counted). A file that is refused is
quarantined whole by the file ingestor (``FileRejected`` with the fiscal rule); a refused
HTTP body is kept in the quarantine bucket under ``documents/<request id>.xml`` besides the
usual reject rows.

The per-key register (:mod:`salesphere.fiscal.register`) lives in the landing bucket under
``_fiscal/`` (objects ingest owns; create-only writes). A document is recorded there only
after its events are confirmed published, so a failed attempt is retried as new.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from salesphere.fiscal.convert import FiscalCatalog, FiscalPolicy, StoreRef, SupplierItem
from salesphere.fiscal.document import FiscalDocument, FiscalEvent
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.intake import Intake, take
from salesphere.fiscal.register import DOCUMENTS, CancellationResult, FiscalRegister
from salesphere.fiscal.xmlsafe import looks_like_xml
from salesphere.gcp import clients
from salesphere.ingest.publish import pack_rows
from salesphere.ingest.readers import FileRejected
from salesphere.ingest.results import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    RecordResult,
    RequestCounts,
    payload_text,
    quarantine_rows,
)
from salesphere.ingest.service import IngestService, ReferenceUnavailable, RequestReport
from salesphere.ingest.validate import TIME_FORMAT, validate
from salesphere.settings import Settings
from salesphere.validation import Reject

log = logging.getLogger("salesphere.ingest.fiscal")
#: Source name of a fiscal record refused before its kind is known.
FISCAL_SOURCE = "fiscal"
REGISTER_PREFIX = "_fiscal/"
XML_CONTENT_TYPES = ("application/xml", "text/xml")
#: Rule of a cancellation whose counted document cannot be voided (see docs/fiscal.md).
CANCELLED_AFTER_COUNTING = "cancelled_after_counting"
_SNIFF_BYTES = 512


def is_xml_content(head: bytes, name: str = "") -> bool:
    """Does an object's first bytes (or its name) say it is XML?

    XML in UTF-16/UTF-32 counts too: the fiscal reader refuses it as ``wrong_encoding`` by
    name instead of a spreadsheet reader's guess.
    """
    return looks_like_xml(head) or name.lower().endswith(".xml")


def is_fiscal_file(path: Path, name: str) -> bool:
    with path.open("rb") as handle:
        return is_xml_content(handle.read(_SNIFF_BYTES), name)


def is_xml_request(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in XML_CONTENT_TYPES


class BucketStore:
    """The register's key-value store: JSON objects under ``_fiscal/`` in the landing bucket."""

    def __init__(self, bucket: Any) -> None:
        self.bucket = bucket

    def get(self, name: str) -> dict[str, Any] | None:
        blob = self.bucket.get_blob(f"{REGISTER_PREFIX}{name}.json")
        return None if blob is None else json.loads(blob.download_as_bytes())

    def put_new(self, name: str, value: dict[str, Any]) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        try:
            self.bucket.blob(f"{REGISTER_PREFIX}{name}.json").upload_from_string(
                json.dumps(value), content_type="application/json", if_generation_match=0
            )
        except PreconditionFailed:
            return False
        return True


def load_fiscal_catalog(settings: Settings) -> FiscalCatalog:
    """Stores by CNPJ, products by GTIN and suppliers' codes from ``reference.*``."""
    client = clients.bigquery_client(settings)
    ref = f"{settings.project}.reference"
    try:
        stores = [
            (row[0], StoreRef(row[1], channel=row[2], timezone=row[3]))
            for row in client.query(
                f"SELECT cnpj, store_id, channel, timezone FROM `{ref}.stores` "
                "WHERE cnpj IS NOT NULL"
            )
        ]
        products = [
            (row[0], row[1]) for row in client.query(f"SELECT sku, gtin FROM `{ref}.products`")
        ]
        items = [
            SupplierItem(row[0], row[1], row[2], int(row[3]))
            for row in client.query(
                "SELECT supplier_cnpj, supplier_code, sku, units_per_supplier_unit "
                f"FROM `{ref}.supplier_items`"
            )
        ]
    except Exception as exc:
        raise ReferenceUnavailable(
            f"cannot read reference.stores/products/supplier_items ({exc}); fiscal documents "
            "resolve stores by cnpj, products by gtin and suppliers' codes through them. "
            "Check the tables exist with those columns and the ingest account can read "
            "dataset reference, then retry"
        ) from exc
    return FiscalCatalog.build(stores, products, items)


class FiscalIngest:
    """Fiscal documents for one :class:`IngestService` (one per process)."""

    def __init__(self, service: IngestService, catalog: FiscalCatalog | None = None) -> None:
        self.service = service
        self.settings = service.settings
        self.policy = FiscalPolicy(accept_unauthorised=self.settings.fiscal_accepts_unauthorised)
        self._catalog = catalog
        self._fixed = catalog is not None
        self._catalog_at = 0.0
        self._lock = threading.Lock()
        self._register: FiscalRegister | None = None
        self._gcs: Any = None

    @property
    def gcs(self) -> Any:
        if self._gcs is None:
            self._gcs = clients.storage_client(self.settings)
        return self._gcs

    @property
    def register(self) -> FiscalRegister:
        if self._register is None:
            self._register = FiscalRegister(
                BucketStore(self.gcs.bucket(self.settings.buckets.landing))
            )
        return self._register

    def catalog(self) -> FiscalCatalog:
        if self._fixed and self._catalog is not None:
            return self._catalog
        with self._lock:
            now = time.monotonic()
            stale = now - self._catalog_at >= self.settings.reference_ttl_seconds
            if self._catalog is None or not self._catalog.stores_by_cnpj or stale:
                # an empty catalog (reference not loaded yet) is read again every time
                self._catalog = load_fiscal_catalog(self.settings)
                self._catalog_at = now
            return self._catalog

    # -- one document -----------------------------------------------------------------------

    def ingest(
        self,
        data: bytes,
        *,
        request_id: str,
        received_at: datetime,
        channel: str,
        object_name: str | None = None,
        refuse_as_file: bool = False,
    ) -> RequestReport:
        """Read, publish, quarantine and log one document (see the module docstring).

        ``refuse_as_file``: a refused document raises :class:`FileRejected` instead, so the
        file ingestor quarantines the file whole. Raises on publish/ledger failure.
        """
        received_text = received_at.strftime(TIME_FORMAT)
        delivery = _Delivery(data, request_id, received_text, channel, object_name)
        try:
            intake = take(data, self.catalog(), self.register, self.policy)
        except FiscalRejected as exc:
            if refuse_as_file:
                raise FileRejected(exc.rule, str(exc)) from exc
            result = RecordResult(
                0,
                REJECTED,
                rejects=[
                    Reject(
                        field=exc.path or "document", value=None, rule=exc.rule, message=str(exc)
                    )
                ],
            )
            return self._finish(delivery, result, [], FISCAL_SOURCE, None)
        source = self._source(intake)
        result, rows = self._rows(intake, received_at, received_text)
        return self._finish(delivery, result, rows, source, intake)

    @staticmethod
    def _source(intake: Intake) -> str:
        drafts = intake.conversion.drafts
        if drafts:
            return str(drafts[0]["source"])
        item = intake.item
        kind = item.kind if isinstance(item, FiscalDocument) else "nfe-event"
        return kind + ("-unauthorised" if intake.conversion.marked else "")

    def _rows(
        self, intake: Intake, received_at: datetime, received_text: str
    ) -> tuple[RecordResult, list[dict[str, Any]]]:
        reference = self.service.reference()
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for position, draft in enumerate(intake.conversion.drafts):
            row, problems = validate(draft, received_at, received_text)
            if row is not None:
                problems = reference.check(row)
            if problems:
                rejects.extend(
                    r.model_copy(update={"field": f"det[{position}].{r.field}"}) for r in problems
                )
            elif row is not None:
                rows.append(row)
        if rejects:
            return RecordResult(0, REJECTED, rejects=rejects), []
        ids = [row["event_id"] for row in rows]
        cancelled = intake.cancellation
        if cancelled is not None and cancelled.document_counted:
            return self._voids(intake, cancelled, received_at, received_text)
        if intake.duplicate:
            # A confirmation delivered again publishes its receipts again (same ids), which
            # repairs a first delivery that was recorded and then failed to publish.
            again = rows if intake.confirmation is not None else []
            return RecordResult(0, DUPLICATE, event_ids=ids), again
        return RecordResult(0, ACCEPTED, event_ids=ids), rows

    def _voids(
        self,
        intake: Intake,
        cancelled: CancellationResult,
        received_at: datetime,
        received_text: str,
    ) -> tuple[RecordResult, list[dict[str, Any]]]:
        """A cancellation of a document already counted: one ``void`` per event it produced.

        Each void carries the voided event's id (``source_ref``), store, SKU and time, so
        its own id is derived from the voided one: a redelivered cancellation publishes
        the same voids again (deduplicated downstream like any event), which also covers a
        first delivery that recorded the cancellation and then failed to publish.
        """
        if not cancelled.voided_event_ids:
            # The document counted nothing (a web-shop invoice: its order feed counts the
            # sale): the cancellation is accepted and has nothing to void.
            status = DUPLICATE if cancelled.duplicate else ACCEPTED
            return RecordResult(0, status), []
        if not cancelled.voided_events:
            return RecordResult(
                0,
                REJECTED,
                rejects=[
                    Reject(
                        field="chNFe",
                        value=cancelled.key,
                        rule=CANCELLED_AFTER_COUNTING,
                        message=f"document {cancelled.key} was cancelled after it was counted, "
                        "but its register entry predates the events' store and SKU, so they "
                        "cannot be voided automatically; void by hand: "
                        + ", ".join(cancelled.voided_event_ids),
                    )
                ],
            ), []
        source = self._source(intake)
        rows: list[dict[str, Any]] = []
        for voided in cancelled.voided_events:
            draft = {
                "event_type": "void",
                "occurred_at": datetime.fromisoformat(voided["occurred_at"].replace("Z", "+00:00")),
                "source": source,
                "source_ref": voided["event_id"],
                "store_id": voided["store_id"],
                "sku": voided["sku"],
                "quantity": 0,
                "channel": "backoffice",
            }
            row, problems = validate(draft, received_at, received_text)
            if row is None:
                return RecordResult(0, REJECTED, rejects=problems), []
            rows.append(row)
        ids = [row["event_id"] for row in rows]
        return RecordResult(0, DUPLICATE if cancelled.duplicate else ACCEPTED, event_ids=ids), rows

    def _finish(
        self,
        delivery: _Delivery,
        result: RecordResult,
        rows: list[dict[str, Any]],
        source: str,
        intake: Intake | None,
    ) -> RequestReport:
        """Publish the document's rows, keep a refused one, log the request in the ledger and
        only then record an accepted document in the register, so a failed attempt is
        retried as new."""
        service = self.service
        summary = RequestCounts()
        summary.add(result)
        quarantined = []
        if result.status == REJECTED:
            quarantined = quarantine_rows(
                result,
                request_id=delivery.request_id,
                source=source,
                location="document",
                payload=payload_text(delivery.data.decode("utf-8", "replace")),
                received_at=delivery.received_text,
            )
        self._publish(rows, source)
        if quarantined and delivery.object_name is None:  # HTTP: keep the whole document
            self.gcs.bucket(self.settings.buckets.quarantine).blob(
                f"documents/{delivery.request_id}.xml"
            ).upload_from_string(delivery.data, content_type="application/xml")
        service.ledger.quarantine(quarantined, source=source, request_id=delivery.request_id)
        service.ledger.log(
            request_id=delivery.request_id,
            source=source,
            channel=delivery.channel,
            received_at=delivery.received_text,
            summary=summary,
            object_name=delivery.object_name,
            **_web_invoice_link(intake, result),
        )
        if (
            intake is not None
            and result.status == ACCEPTED
            and isinstance(intake.item, FiscalDocument)
        ):
            self._record(intake.item, result, rows, delivery.request_id)
        log.info("fiscal %s %s: %s", source, delivery.request_id, summary.to_json())
        return RequestReport(
            delivery.request_id, source, delivery.received_text, [result], summary, quarantined
        )

    def _publish(self, rows: list[dict[str, Any]], source: str) -> None:
        """Publish the rows and wait until every envelope is confirmed (raises otherwise)."""
        futures = []
        if rows:
            futures = self.service.publisher.start(
                pack_rows(rows, source, self.service.settings.envelope_max_events)
            )
        self.service.publisher.wait(futures)

    def _record(
        self,
        document: FiscalDocument,
        result: RecordResult,
        rows: list[dict[str, Any]],
        request_id: str,
    ) -> None:
        """Record a published document under its key. Losing the create-only write to a
        concurrent delivery of the same content is a plain duplicate; of other content, an
        error an operator must look at (both sets of events were published)."""
        if self.register.record_document(document, result.event_ids, rows):
            return
        known = self.register.store.get(DOCUMENTS + document.key.text) or {}
        if known.get("content_hash") != document.content_hash:
            log.error(
                "access key %s was recorded with other content by a concurrent "
                "delivery while %s published its events; check both documents",
                document.key.text,
                request_id,
            )


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One document as it arrived: its bytes and what the ledger and quarantine record."""

    data: bytes
    request_id: str
    received_text: str
    channel: str
    #: The dropped file's object; ``None`` for an HTTP body.
    object_name: str | None


def _web_invoice_link(intake: Intake | None, result: RecordResult) -> dict[str, str]:
    """A web-shop invoice's access key and order number, for its ``ops.ingest_log`` row.

    The invoice adds no sale (the order feed counts it); this link is what
    ``serving.web_invoice_orders`` matches against the web orders received. A re-sent
    invoice (duplicate) logs it again: the view keeps one row per key. An accepted
    cancellation logs the key it cancels without an order, and the view leaves that
    invoice out (for any other document the key matches no invoice and changes nothing).
    """
    if intake is None or result.status == REJECTED:
        return {}
    cancelled = intake.cancellation
    if isinstance(intake.item, FiscalEvent) and cancelled is not None:
        # A cancellation names its document with no order: the view drops that invoice.
        return {"document_key": cancelled.key}
    if not intake.conversion.order_reference:
        return {}
    return {"document_key": intake.item.key.text, "order_id": intake.conversion.order_reference}


_INSTANCES: weakref.WeakKeyDictionary[IngestService, FiscalIngest] = weakref.WeakKeyDictionary()
_INSTANCES_LOCK = threading.Lock()


def for_service(service: IngestService) -> FiscalIngest:
    """The process's :class:`FiscalIngest` for ``service`` (created on first use)."""
    with _INSTANCES_LOCK:
        found = _INSTANCES.get(service)
        if found is None:
            found = _INSTANCES[service] = FiscalIngest(service)
        return found
