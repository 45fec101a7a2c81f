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
* **Has the recipient confirmed a transfer?** The receiving store's confirmation of the
  operation (``210200``) is recorded under the key whether or not the document has
  arrived, first one wins. The document's entry keeps each ``transfer_out``'s SKU, units
  and stores, so a confirmation after the document is answered with them (the receiver's
  ``transfer_in`` needs no catalogue); a document arriving after its confirmation finds
  it here and publishes its receipt with it.

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
from salesphere.identity import event_id_of, key_text

DOCUMENTS = "documents/"
CANCELLATIONS = "cancellations/"
CONFIRMATIONS = "confirmations/"
#: What the register keeps of each event: enough to void it, and for a ``transfer_out``
#: enough to publish the receiver's ``transfer_in`` when the receipt is confirmed.
KEPT = ("event_id", "store_id", "sku", "occurred_at")
KEPT_OF_TRANSFER = ("event_type", "quantity", "source_ref", "counterpart_store_id")


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


@dataclass(frozen=True)
class ConfirmationResult:
    """What a confirmation of receipt found: the transfer it confirms, if known yet."""

    key: str
    #: When the receipt was confirmed: the first recorded confirmation's ``dhEvento``.
    confirmed_at: str
    #: The CNPJ that confirmed (the first recorded confirmation's author).
    author: str | None
    duplicate: bool = False
    document_known: bool = False
    cancelled: bool = False
    #: The document's ``transfer_out`` events (store, SKU, units, ``source_ref``,
    #: counterpart); empty when the document is unknown or not a transfer.
    transfer_outs: tuple[dict[str, Any], ...] = ()


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
                "events": [_kept(e) for e in events or ()],
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
        received = self._receipts_confirmed_after(key, events)
        if len(events) == len(ids):
            ids, events = ids + tuple(e["event_id"] for e in received), events + received
        return CancellationResult(
            key=key,
            document_counted=known is not None,
            voided_event_ids=ids,
            duplicate=not fresh,
            voided_events=events if len(events) == len(ids) else (),
        )

    def _receipts_confirmed_after(
        self, key: str, events: tuple[dict[str, Any], ...]
    ) -> tuple[dict[str, Any], ...]:
        """The ``transfer_in`` a confirmation published after the document was counted
        (a document that arrived after its confirmation already lists them)."""
        confirmed = self.confirmation(key)
        outs = tuple(e for e in events if e.get("event_type") == "transfer_out")
        if confirmed is None or not outs or len(outs) != len(events):
            return ()
        return confirmed_receipts(outs, str(confirmed["issued_at"]))

    def confirmation(self, key: str) -> dict[str, Any] | None:
        """The recorded confirmation of receipt of ``key`` (``issued_at``, ``author``)."""
        return self.store.get(CONFIRMATIONS + key)

    def apply_confirmation(self, event: FiscalEvent) -> ConfirmationResult:
        """Record the recipient's confirmation of ``event.key`` (first one wins); answer
        with the transfer it confirms when the document is known and not cancelled."""
        key = event.key.text
        fresh = self.store.put_new(
            CONFIRMATIONS + key,
            {
                "issued_at": event.issued_at.isoformat(),
                "author": event.author,
                "content_hash": event.content_hash,
            },
        )
        first = self.confirmation(key) or {}
        known = self.store.get(DOCUMENTS + key)
        outs = [e for e in (known or {}).get("events") or () if e.get("event_type")]
        return ConfirmationResult(
            key=key,
            confirmed_at=str(first.get("issued_at", event.issued_at.isoformat())),
            author=first.get("author", event.author),
            duplicate=not fresh,
            document_known=known is not None,
            cancelled=self.store.get(CANCELLATIONS + key) is not None,
            transfer_outs=tuple(e for e in outs if e["event_type"] == "transfer_out"),
        )


def _kept(event: dict[str, Any]) -> dict[str, Any]:
    kept = {k: event[k] for k in KEPT}
    if event.get("event_type") == "transfer_out":
        kept.update({k: event[k] for k in KEPT_OF_TRANSFER})
    return kept


def confirmed_receipts(
    outs: tuple[dict[str, Any], ...], confirmed_at: str
) -> tuple[dict[str, Any], ...]:
    """The receiver's ``transfer_in`` events a confirmation published for ``outs``, as a
    cancellation must void them (id, store, SKU, time), their ids from the natural key."""
    return tuple(
        {
            "event_id": event_id_of(
                key_text(
                    "transfer_in",
                    out["counterpart_store_id"],
                    out["sku"],
                    "",
                    source_ref=out["source_ref"],
                    counterpart_store_id=out["store_id"],
                )
            ),
            "store_id": out["counterpart_store_id"],
            "sku": out["sku"],
            "occurred_at": confirmed_at,
        }
        for out in outs
    )
