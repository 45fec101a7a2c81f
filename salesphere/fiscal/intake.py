"""One fiscal XML in, one decision out: read, check the register, convert.

:func:`take` is what ingest calls for each fiscal file or request body. It leaves the
canonical validation of the drafts (and so the event ids) to ingest's usual path, which
then calls :meth:`~salesphere.fiscal.register.FiscalRegister.record_document` with the
ids it published.

A transfer between our stores is received when its recipient confirms the operation
(``210200``): the confirmation after the document becomes the receiver's ``transfer_in``
from what the register kept of the document; a confirmation before the document is parked
in the register, and the document then publishes its receipt with its ``transfer_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from salesphere.fiscal.convert import (
    DEFAULT_POLICY,
    UNAUTHORISED_SUFFIX,
    Conversion,
    FiscalCatalog,
    FiscalPolicy,
    convert,
    convert_event,
    receipts,
)
from salesphere.fiscal.document import FiscalDocument, FiscalEvent, read
from salesphere.fiscal.register import CancellationResult, ConfirmationResult, FiscalRegister
from salesphere.fiscal.xmlsafe import DEFAULT_LIMITS, XmlLimits

#: ``source`` of what an event (cancellation, confirmation) publishes.
EVENT_SOURCE = "nfe-event"


@dataclass(frozen=True)
class Intake:
    """A fiscal item read and converted; ``duplicate`` if the register knew it already."""

    item: FiscalDocument | FiscalEvent
    conversion: Conversion
    duplicate: bool = False
    cancellation: CancellationResult | None = None
    confirmation: ConfirmationResult | None = None


def take(
    data: bytes,
    catalog: FiscalCatalog,
    register: FiscalRegister,
    policy: FiscalPolicy = DEFAULT_POLICY,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Intake:
    """Read ``data`` and decide; :class:`~salesphere.fiscal.errors.FiscalRejected` if refused.

    A document is checked against the register (cancelled first, then a conflicting
    earlier content) before it is converted; a cancellation or a confirmation of receipt
    is recorded in the register once it has passed the policy's gate.
    """
    item = read(data, limits)
    if isinstance(item, FiscalDocument):
        duplicate = register.check_document(item)
        conversion = convert(item, catalog, policy)
        if conversion.kind == "transfer":
            conversion = _with_parked_receipt(conversion, item, catalog, register)
        return Intake(item, conversion, duplicate=duplicate)
    conversion = convert_event(item, policy)
    if item.cancels:
        result = register.apply_cancellation(item)
        return Intake(item, conversion, duplicate=result.duplicate, cancellation=result)
    if item.confirms and catalog.store(item.author) is not None:
        confirmed = register.apply_confirmation(item)
        conversion = _confirmed(conversion, confirmed, catalog)
        return Intake(item, conversion, duplicate=confirmed.duplicate, confirmation=confirmed)
    return Intake(item, conversion)


def _by_receiver(author: str | None, outs: tuple, catalog: FiscalCatalog) -> bool:
    """Was the confirmation authored by the store the goods were sent to?"""
    store = catalog.store(author)
    return store is not None and all(o["counterpart_store_id"] == store.store_id for o in outs)


def _confirmed(
    conversion: Conversion, confirmed: ConfirmationResult, catalog: FiscalCatalog
) -> Conversion:
    """A confirmation after its transfer document: the receiver's ``transfer_in``."""
    outs = confirmed.transfer_outs
    if confirmed.cancelled:
        note = "the document was cancelled: it counts nowhere, its receipt neither"
    elif not confirmed.document_known:
        note = "recorded; the transfer is received when its document arrives"
    elif not outs:
        note = "the document is not a transfer between our stores: nothing more to count"
    elif not _by_receiver(confirmed.author, outs, catalog):
        note = f"confirmed by {confirmed.author}, not by the receiving store: not a receipt"
    else:
        source = EVENT_SOURCE + (UNAUTHORISED_SUFFIX if conversion.marked else "")
        at = datetime.fromisoformat(confirmed.confirmed_at)
        return replace(conversion, drafts=receipts(outs, at, source))
    return replace(conversion, note=f"{conversion.note}; {note}")


def _with_parked_receipt(
    conversion: Conversion,
    document: FiscalDocument,
    catalog: FiscalCatalog,
    register: FiscalRegister,
) -> Conversion:
    """A transfer whose receipt was confirmed before it arrived: out and in together."""
    parked = register.confirmation(document.key.text)
    outs = conversion.drafts
    if parked is None or not _by_receiver(parked.get("author"), outs, catalog):
        return conversion
    at = datetime.fromisoformat(str(parked["issued_at"]))
    received = receipts(outs, at, str(outs[0]["source"]))
    return replace(conversion, drafts=outs + received)
