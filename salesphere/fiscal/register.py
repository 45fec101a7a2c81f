"""What the platform remembers per access key: the document's content and cancellations.

Two facts decide whether a document may count, and neither is in the document itself:

* **Has this key been seen with other content?** The first document recorded under a key
  fixes its content hash (see ``FiscalDocument.content_hash``: the canonical ``infNFe``,
  whatever the envelope). The same key again with the same hash is a duplicate (its
  events have the same ids, so publishing them again changes nothing); with a different
  hash it is refused as ``key_conflict``: a key names one document for ever, so one of
  the two is forged or corrupted, and a person must decide which.
* **Has it been cancelled?** A cancellation (``110111``/``110112``) is recorded under the
  key whether or not the document has arrived. A document arriving after its cancellation
  is refused (``cancelled``): it counts nowhere, and is kept in quarantine for audit.
  A cancellation arriving after its document is recorded, and answered with the events
  the document produced (id, store, SKU, time), so ingest can publish one ``void`` per
  event (see docs/fiscal.md).

The store behind it is a small key-value interface (:class:`RegisterStore`): the ingest
functions keep it as objects in the landing bucket, tests in memory. ``put_new`` must be
create-only (an object precondition), so two deliveries racing on one key cannot both
win.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from salesphere.fiscal.document import FiscalDocument, FiscalEvent
from salesphere.fiscal.errors import FiscalRejected

DOCUMENTS = "documents/"
CANCELLATIONS = "cancellations/"


class RegisterStore(Protocol):
    """A tiny key-value store: read a JSON value, create one only if absent."""

    def get(self, name: str) -> dict[str, Any] | None: ...

    def put_new(self, name: str, value: dict[str, Any]) -> bool:
        """Create ``name``; ``False`` (nothing written) when it exists already."""
        ...


@dataclass
class MemoryStore:
    """:class:`RegisterStore` in a dict (tests, one-off tools)."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Any] | None:
        value = self.values.get(name)
        return json.loads(json.dumps(value)) if value is not None else None

    def put_new(self, name: str, value: dict[str, Any]) -> bool:
        if name in self.values:
            return False
        self.values[name] = json.loads(json.dumps(value))
        return True


@dataclass(frozen=True)
class CancellationResult:
    """What a cancellation found: whether the document had already been counted."""

    key: str
    document_counted: bool
    voided_event_ids: tuple[str, ...] = ()
    duplicate: bool = False
    #: Per voided event: ``event_id``, ``store_id``, ``sku``, ``occurred_at`` (ISO, UTC).
    #: Empty for a document recorded before the register kept them.
    voided_events: tuple[dict[str, Any], ...] = ()


class FiscalRegister:
    """The per-key memory over a :class:`RegisterStore`."""

    def __init__(self, store: RegisterStore) -> None:
        self.store = store

    def check_document(self, document: FiscalDocument) -> bool:
        """Raise if the document may not count; ``True`` when it is a known duplicate."""
        key = document.key.text
        cancelled = self.store.get(CANCELLATIONS + key)
        if cancelled is not None:
            raise FiscalRejected(
                "cancelled",
                f"document {key} was cancelled (event {cancelled.get('event_type')} of "
                f"{cancelled.get('issued_at')}) before it arrived; it counts nowhere",
            )
        known = self.store.get(DOCUMENTS + key)
        if known is None:
            return False
        if known.get("content_hash") != document.content_hash:
            raise FiscalRejected(
                "key_conflict",
                f"access key {key} was first received with other content (hash "
                f"{str(known.get('content_hash'))[:16]}..., now {document.content_hash[:16]}"
                "...); a key names one document, so this one is held for a person to check",
            )
        return True

    def record_document(
        self,
        document: FiscalDocument,
        event_ids: list[str],
        events: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Remember the document's hash and events; ``False`` when the key was recorded
        already (first writer wins). Two deliveries racing on one key with different
        content can both pass :meth:`check_document`; the loser learns it here (its
        caller reports it) and any later copy is refused as a conflict."""
        return self.store.put_new(
            DOCUMENTS + document.key.text,
            {
                "content_hash": document.content_hash,
                "event_ids": list(event_ids),
                # What a later cancellation needs to void each event (store, SKU, time).
                "events": [
                    {k: e[k] for k in ("event_id", "store_id", "sku", "occurred_at")}
                    for e in events or ()
                ],
                "model": document.model,
                "issued_at": document.issued_at.isoformat(),
            },
        )

    def apply_cancellation(self, event: FiscalEvent) -> CancellationResult:
        """Record the cancellation of ``event.key``; say whether its document had counted."""
        key = event.key.text
        fresh = self.store.put_new(
            CANCELLATIONS + key,
            {
                "event_type": event.event_type,
                "issued_at": event.issued_at.isoformat(),
                "content_hash": event.content_hash,
                "replacing_key": event.replacing_key,
            },
        )
        known = self.store.get(DOCUMENTS + key)
        ids = tuple(known.get("event_ids", ())) if known else ()
        events = tuple(known.get("events") or ()) if known else ()
        return CancellationResult(
            key=key,
            document_counted=known is not None,
            voided_event_ids=ids,
            duplicate=not fresh,
            voided_events=events if len(events) == len(ids) else (),
        )
