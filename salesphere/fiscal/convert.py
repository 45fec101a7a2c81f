"""What a fiscal document means to the platform: canonical event drafts, or nothing.

:func:`convert` turns a :class:`~salesphere.fiscal.document.FiscalDocument` into drafts
(the ``EventDraft`` shape of :mod:`salesphere.model`, as dicts, for ingest's usual
validation) using the company's reference data (:class:`FiscalCatalog`):

=============================================  =============================================
document                                       becomes
=============================================  =============================================
NFC-e (65) issued by one of our stores          one ``sale`` per item at ``dhEmi``
NF-e (55) issued by a physical store            one ``sale`` per item (B2B)
NF-e issued by the web shop                     nothing: its order feed counts the sale; the
                                                invoice is matched to the order by ``xPed`` or
                                                the free text (``web_invoice_unmatched`` if not)
NF-e to our store from a supplier               one ``stock_receipt`` per item at the store,
                                                in units (supplier unit x units per unit)
NF-e our store issues to itself on entry        one ``stock_receipt`` per item (a purchase
(``tpNF`` 0, ``finNFe`` 1, entry CFOPs)          from a person or abroad: the buyer writes it)
NF-e between two of our stores (CFOP           ``transfer_out`` at the issuer at ``dhEmi``;
5151/5152/6151/6152/...)                        in transit until the recipient confirms
``finNFe`` 4 issued by our store, entry         ``return`` per item (a customer's goods back)
``finNFe`` 4 issued by our store, exit          ``stock_adjustment`` per item (goods back to
                                                the supplier leave the store's stock)
``finNFe`` 4 to our store from a company        ``return`` per item (a B2B customer's return)
``finNFe`` 2 / 3 (complementary, adjustment)    nothing countable (values only)
the recipient store's confirmation (210200)     ``transfer_in`` at the recipient per item of
of a transfer between our stores                a transfer, at ``dhEvento`` (:func:`receipts`,
                                                applied by :mod:`salesphere.fiscal.intake`)
=============================================  =============================================

A transfer nobody confirms within the pair's lead time + 1 day is assumed received by the
batch layer (``salesphere/batch/receipts.py``, source ``nfe-assumed-receipt``).

Identity follows :mod:`salesphere.identity`: sales and returns carry the access key as
``order_id`` and the item number as ``line_number``; stock movements carry
``<access key>/<item number>`` as ``source_ref``. The same document always gives the same
event ids, so a re-sent or re-dropped XML is a duplicate.

Money is taken from the line's ``vProd``: a ``vUnCom`` with up to 10 decimals (as the
layout allows) gives a unit price rounded up to the cent, and the difference goes into the
line's discount, so quantity x price - discount is exactly ``vProd - vDesc``.

Nothing is guessed: an issuer or recipient that is not a store, an item whose product
cannot be resolved or a quantity that is not a whole number of units raises :class:`~salesphere.fiscal.errors.FiscalRejected` naming the
item. Documents without SEFAZ's authorisation or from the homologation environment are
refused unless the policy allows them (the twin and dev); then they are accepted with
``source`` ``nfe-unauthorised`` / ``nfce-unauthorised`` so they are never mistaken for
real sales.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from salesphere.fiscal.document import (
    CANCELLATION_BY_SUBSTITUTION,
    CORRECTION_LETTER,
    FiscalDocument,
    FiscalEvent,
    Item,
)
from salesphere.fiscal.errors import FiscalRejected
from salesphere.model import Channel, EventType
from salesphere.taxid import TaxIdError, normalise_cnpj

CENT = Decimal("0.01")
#: CFOPs of a transfer between establishments of the same company (goods and
#: production, in the state and between states, with and without tax substitution).
TRANSFER_CFOPS = frozenset(
    {"5151", "5152", "5155", "5156", "5408", "5409", "6151", "6152", "6155", "6156", "6408", "6409"}
)
#: ``finNFe``: 1 normal, 2 complementary, 3 adjustment, 4 return.
PURPOSE_RETURN = "4"
PURPOSES_WITHOUT_GOODS = frozenset({"2", "3"})
#: First digit of an entry CFOP: in the state, from another state, from abroad.
ENTRY_CFOP_PREFIXES = ("1", "2", "3")
UNAUTHORISED_SUFFIX = "-unauthorised"


@dataclass(frozen=True)
class StoreRef:
    """What conversion needs of a store: its id, channel and timezone."""

    store_id: str
    channel: str = Channel.STORE.value
    timezone: str = "America/Sao_Paulo"


@dataclass(frozen=True)
class SupplierItem:
    """A supplier's product code in our catalogue: which SKU, how many units per its unit."""

    supplier_cnpj: str
    supplier_code: str
    sku: str
    units_per_supplier_unit: int = 1


@dataclass(frozen=True)
class FiscalCatalog:
    """The reference data fiscal documents resolve against (from ``reference.*``)."""

    stores_by_cnpj: Mapping[str, StoreRef] = field(default_factory=dict)
    skus: frozenset[str] = frozenset()
    skus_by_gtin: Mapping[str, str] = field(default_factory=dict)
    supplier_items: Mapping[tuple[str, str], SupplierItem] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        stores: Iterable[tuple[str | None, StoreRef]],
        products: Iterable[tuple[str, str | None]],
        supplier_items: Iterable[SupplierItem] = (),
    ) -> FiscalCatalog:
        """From ``(cnpj, store)`` and ``(sku, gtin)`` pairs; blank CNPJs and GTINs skipped."""
        product_list = list(products)
        return cls(
            stores_by_cnpj={normalise_cnpj(c): s for c, s in stores if c},
            skus=frozenset(sku for sku, _ in product_list),
            skus_by_gtin={gtin: sku for sku, gtin in product_list if gtin},
            supplier_items={
                (normalise_cnpj(i.supplier_cnpj), i.supplier_code): i for i in supplier_items
            },
        )

    def store(self, cnpj: str | None) -> StoreRef | None:
        if not cnpj:
            return None
        try:
            return self.stores_by_cnpj.get(normalise_cnpj(cnpj))
        except TaxIdError:
            return None


@dataclass(frozen=True)
class FiscalPolicy:
    """What this stack accepts and how web-shop invoices name their order."""

    #: Accept documents without an authorisation protocol or from homologation (tpAmb 2),
    #: marked in ``source``. Only the twin and dev stacks should.
    accept_unauthorised: bool = False
    #: Where a web-shop invoice carries the order number: ``xPed`` or ``infCpl``.
    web_order_from: str = "xPed"
    #: In ``infCpl``: the order number is the first group of this pattern.
    web_order_pattern: str = r"(?i)pedido\W{0,3}(?:n[ºo°.]*\s*)?([A-Za-z0-9_-]{3,64})"


DEFAULT_POLICY = FiscalPolicy()


@dataclass(frozen=True)
class Conversion:
    """What a document or event became: event drafts, or nothing with a reason."""

    kind: str
    drafts: tuple[dict[str, Any], ...] = ()
    note: str = ""
    marked: bool = False
    order_reference: str | None = None


def gate(item: FiscalDocument | FiscalEvent, policy: FiscalPolicy) -> bool:
    """Refuse what this stack does not accept; ``True`` when accepted only by the policy."""
    if item.authorised and item.production:
        return False
    if policy.accept_unauthorised:
        return True
    if not item.production:
        raise FiscalRejected(
            "homologation",
            "document is from the homologation environment (tpAmb 2, no fiscal value); "
            "this stack accepts only production documents",
        )
    what = "nfeProc with protNFe" if isinstance(item, FiscalDocument) else "procEventoNFe"
    status = f" (protocol status {item.protocol.status})" if item.protocol is not None else ""
    raise FiscalRejected(
        "not_authorised",
        f"document carries no SEFAZ authorisation for key {item.key}{status}; send the "
        f"authorised {what} (this stack accepts only authorised documents)",
    )


def convert(
    document: FiscalDocument, catalog: FiscalCatalog, policy: FiscalPolicy = DEFAULT_POLICY
) -> Conversion:
    """The drafts ``document`` becomes (see the module docstring), or why not."""
    marked = gate(document, policy)
    source = document.kind + (UNAUTHORISED_SUFFIX if marked else "")
    issuer = catalog.store(document.issuer.cnpj)
    recipient_cnpj = document.recipient.cnpj if document.recipient else None
    recipient = catalog.store(recipient_cnpj)
    context = _Context(document, catalog, source, marked, policy)
    if document.model == "65":
        if issuer is None:
            raise _unknown_issuer(document)
        if document.purpose != "1":
            raise _unsupported(document, "an NFC-e that is not a normal sale (finNFe 1)")
        return context.money(EventType.SALE, issuer)
    return _convert_nfe(document, context, issuer, recipient)


def _convert_nfe(
    document: FiscalDocument,
    context: _Context,
    issuer: StoreRef | None,
    recipient: StoreRef | None,
) -> Conversion:
    """An NF-e (55): by who issued it to whom, its direction and purpose."""
    marked = context.marked
    recipient_cnpj = document.recipient.cnpj if document.recipient else None
    if issuer is not None and recipient is not None:
        if all(item.cfop in TRANSFER_CFOPS for item in document.items):
            return context.transfer(issuer, recipient)
        raise _unsupported(
            document, "an NF-e between two of our stores whose CFOPs are not all transfers"
        )
    if document.purpose in PURPOSES_WITHOUT_GOODS:
        return Conversion(
            kind="no_movement",
            note=f"finNFe {document.purpose} (complementary/adjustment) moves no goods",
            marked=marked,
        )
    if issuer is not None:
        if document.purpose == PURPOSE_RETURN:
            if document.direction == "0":
                return context.money(EventType.RETURN, issuer)
            return context.stock(EventType.STOCK_ADJUSTMENT, issuer, supplier=recipient_cnpj)
        if document.direction != "1":
            if all(item.cfop.startswith(ENTRY_CFOP_PREFIXES) for item in document.items):
                # Our own entry note: goods bought from someone who issues no NF-e (a
                # person, a producer, abroad); the buyer writes the note, so it is a receipt.
                return context.stock(EventType.STOCK_RECEIPT, issuer, supplier=recipient_cnpj)
            raise _unsupported(document, "an entry note (tpNF 0) without entry CFOPs")
        if issuer.channel == Channel.ONLINE.value:
            return context.web_invoice()
        return context.money(EventType.SALE, issuer)
    if recipient is not None:
        if document.purpose == PURPOSE_RETURN:
            return context.money(EventType.RETURN, recipient)
        if document.direction != "1":
            raise _unsupported(document, "an entry note (tpNF 0) issued by another company")
        return context.stock(EventType.STOCK_RECEIPT, recipient, supplier=document.issuer.cnpj)
    raise FiscalRejected(
        "unknown_store",
        f"neither the issuer (CNPJ {document.issuer.cnpj or document.issuer.cpf}) nor the "
        f"recipient (CNPJ {recipient_cnpj}) is a store in reference.stores; add the store's "
        "cnpj to reference.stores and replay the document",
    )


def receipts(
    transfer_outs: Iterable[Mapping[str, Any]], received_at: datetime, source: str
) -> tuple[dict[str, Any], ...]:
    """The receiver's ``transfer_in`` for each ``transfer_out`` of a transfer document.

    Same ``source_ref`` (``<key>/<nItem>``), SKU, units and pair of stores as the
    ``transfer_out`` (its ``store_id`` is the sender, ``counterpart_store_id`` the
    receiver), so its id is the one every receipt of that item has
    (``transfer_in|<key>/<nItem>|sku|receiver|sender``): a second confirmation, or the
    batch layer's assumed receipt, is the same event.
    """
    return tuple(
        {
            "event_type": EventType.TRANSFER_IN.value,
            "occurred_at": received_at,
            "source": source,
            "store_id": out["counterpart_store_id"],
            "sku": out["sku"],
            "quantity": int(out["quantity"]),
            "source_ref": out["source_ref"],
            "counterpart_store_id": out["store_id"],
            "channel": Channel.BACKOFFICE.value,
        }
        for out in transfer_outs
    )


def convert_event(event: FiscalEvent, policy: FiscalPolicy = DEFAULT_POLICY) -> Conversion:
    """An event never becomes events by itself: a cancellation is applied by the register
    (:mod:`salesphere.fiscal.register`), and so is a confirmation of receipt (the register
    knows the transfer's items); a correction letter changes nothing countable."""
    marked = gate(event, policy)
    if event.confirms:
        return Conversion(
            kind="receipt_confirmation",
            note=f"the recipient confirmed the operation of {event.key}",
            marked=marked,
        )
    if event.cancels:
        how = "by substitution " if event.event_type == CANCELLATION_BY_SUBSTITUTION else ""
        return Conversion(
            kind="cancellation",
            note=f"cancellation {how}of {event.key}: the document counts nowhere",
            marked=marked,
        )
    if event.event_type == CORRECTION_LETTER:
        return Conversion(
            kind="no_movement",
            note="a correction letter may not change quantities, values or parties: "
            "nothing countable changes",
            marked=marked,
        )
    return Conversion(
        kind="no_movement",
        note=f"event type {event.event_type} changes nothing the platform counts",
        marked=marked,
    )


# -- the pieces ----------------------------------------------------------------------------


def _unknown_issuer(document: FiscalDocument) -> FiscalRejected:
    return FiscalRejected(
        "unknown_store",
        f"issuer CNPJ {document.issuer.cnpj} is not a store in reference.stores; add the "
        "store's cnpj there and replay the document",
        "/NFe/infNFe/emit/CNPJ",
    )


def _unsupported(document: FiscalDocument, what: str) -> FiscalRejected:
    return FiscalRejected(
        "unsupported_operation",
        f"{what} is not read by the platform yet (model {document.model}, tpNF "
        f"{document.direction}, finNFe {document.purpose}); record its effect by hand",
    )


@dataclass
class _Context:
    document: FiscalDocument
    catalog: FiscalCatalog
    source: str
    marked: bool
    policy: FiscalPolicy

    def _base(self, event_type: EventType, store: StoreRef, item: Item) -> dict[str, Any]:
        return {
            "event_type": event_type.value,
            "occurred_at": self.document.issued_at,
            "source": self.source,
            "store_id": store.store_id,
        }

    def money(self, event_type: EventType, store: StoreRef) -> Conversion:
        """Sales or returns: priced lines keyed by access key + item number."""
        drafts = []
        for item in self.document.items:
            sku, per_unit = self._own_sku(item)
            quantity = _units(item, per_unit)
            price, discount = _unit_price(item, per_unit)
            drafts.append(
                {
                    **self._base(event_type, store, item),
                    "sku": sku,
                    "quantity": quantity,
                    "unit_price": price,
                    "discount": discount,
                    "order_id": self.document.key.text,
                    "line_number": item.number,
                    "source_ref": f"{self.document.key.text}/{item.number}",
                    "channel": store.channel
                    if store.channel != Channel.BACKOFFICE.value
                    else Channel.STORE.value,
                }
            )
        return Conversion(kind=event_type.value, drafts=tuple(drafts), marked=self.marked)

    def stock(self, event_type: EventType, store: StoreRef, supplier: str | None) -> Conversion:
        """Receipts (supplier's units converted) and goods returned to a supplier."""
        drafts = []
        for item in self.document.items:
            if event_type is EventType.STOCK_RECEIPT and self._own_note(store):
                sku, per_unit = self._own_or_supplier_sku(supplier, item)
            elif event_type is EventType.STOCK_RECEIPT:
                sku, per_unit = self._supplier_sku(supplier, item)
            else:
                sku, per_unit = self._own_sku(item)
            draft = {
                **self._base(event_type, store, item),
                "sku": sku,
                "quantity": _units(item, per_unit),
                "source_ref": f"{self.document.key.text}/{item.number}",
                "channel": Channel.BACKOFFICE.value,
            }
            if item.order_number:  # the buyer's purchase order: links a receipt to it
                draft["order_id"] = item.order_number[:64]
                if item.order_line and item.order_line.isdigit():
                    draft["line_number"] = int(item.order_line)
            drafts.append(draft)
        return Conversion(kind=event_type.value, drafts=tuple(drafts), marked=self.marked)

    def transfer(self, sender: StoreRef, receiver: StoreRef) -> Conversion:
        """Out at the sender when the document is issued; the receiver's ``transfer_in``
        waits for its receipt (:func:`receipts`), the units are in transit meanwhile."""
        drafts = []
        for item in self.document.items:
            sku, per_unit = self._own_sku(item)
            drafts.append(
                {
                    **self._base(EventType.TRANSFER_OUT, sender, item),
                    "sku": sku,
                    "quantity": _units(item, per_unit),
                    "source_ref": f"{self.document.key.text}/{item.number}",
                    "counterpart_store_id": receiver.store_id,
                    "channel": Channel.BACKOFFICE.value,
                }
            )
        return Conversion(kind="transfer", drafts=tuple(drafts), marked=self.marked)

    def web_invoice(self) -> Conversion:
        """The web shop's invoice: matched to its order, never a second sale."""
        policy = self.policy
        reference = None
        if policy.web_order_from == "xPed":
            reference = next((i.order_number for i in self.document.items if i.order_number), None)
        else:
            found = re.search(policy.web_order_pattern, self.document.additional_info)
            reference = found.group(1) if found else None
        if not reference:
            where = "xPed" if policy.web_order_from == "xPed" else "infCpl"
            raise FiscalRejected(
                "web_invoice_unmatched",
                f"web-shop invoice {self.document.key} names no order in {where}; the order "
                "feed counts the sale, this invoice could not be matched to it",
            )
        return Conversion(
            kind="web_invoice",
            note=f"invoice of web order {reference}; the order feed counts the sale",
            marked=self.marked,
            order_reference=reference,
        )

    # -- products ------------------------------------------------------------------------

    def _own_sku(self, item: Item) -> tuple[str, int]:
        """Our own documents name our products: by SKU (cProd) or by GTIN (cEAN)."""
        if item.code in self.catalog.skus:
            return item.code, 1
        if item.gtin and item.gtin in self.catalog.skus_by_gtin:
            return self.catalog.skus_by_gtin[item.gtin], 1
        raise FiscalRejected(
            "unknown_sku",
            f"item {item.number} (cProd {item.code!r}, cEAN {item.gtin or 'none'}, "
            f"{item.description!r}) is neither a SKU nor a GTIN in reference.products; add "
            "the product (or its gtin) and replay the document",
            item.path,
        )

    def _own_note(self, store: StoreRef) -> bool:
        """Did ``store`` write this document itself (an entry note of its own)?"""
        return self.catalog.store(self.document.issuer.cnpj) == store

    def _own_or_supplier_sku(self, supplier: str | None, item: Item) -> tuple[str, int]:
        """Our own entry note names our products; a supplier's code is tried after."""
        try:
            return self._own_sku(item)
        except FiscalRejected:
            return self._supplier_sku(supplier, item)

    def _supplier_sku(self, supplier: str | None, item: Item) -> tuple[str, int]:
        """A supplier's code through reference.supplier_items, else the unit's own GTIN."""
        key = None
        if supplier:
            try:
                key = (normalise_cnpj(supplier), item.code)
            except TaxIdError:
                key = None
        if key is not None and key in self.catalog.supplier_items:
            entry = self.catalog.supplier_items[key]
            return entry.sku, entry.units_per_supplier_unit
        if item.gtin and item.gtin in self.catalog.skus_by_gtin:
            return self.catalog.skus_by_gtin[item.gtin], 1
        raise FiscalRejected(
            "unknown_supplier_item",
            f"item {item.number}: supplier {supplier} code {item.code!r} "
            f"({item.description!r}, {item.unit}, cEAN {item.gtin or 'none'}) is not in "
            "reference.supplier_items and its GTIN is no product's; add the cross-reference "
            "(supplier_cnpj, supplier_code, sku, units_per_supplier_unit) and replay",
            item.path,
        )


def _units(item: Item, per_unit: int) -> int:
    units = item.quantity * per_unit
    if units != units.to_integral_value() or units <= 0:
        raise FiscalRejected(
            "fractional_quantity",
            f"item {item.number}: {item.quantity} {item.unit} x {per_unit} = {units} units, "
            "not a whole positive number; the platform counts whole units (check the "
            "supplier item's units per unit)",
            item.path,
        )
    return int(units)


def _unit_price(item: Item, per_unit: int) -> tuple[Decimal, Decimal]:
    """Price of one unit and the line's discount, both in cents, from ``vProd``.

    ``vUnCom`` may carry up to 10 decimals (``0.3333``) and a supplier unit may hold 12 of
    ours, so the price per unit is ``vProd / units`` rounded **up** to the cent, and what
    that adds to the line goes into the discount: quantity x price - discount is exactly
    ``vProd - vDesc``, the amount the document charges, and the discount never goes below
    ``vDesc``.
    """
    units = item.quantity * per_unit
    price = (item.gross / units).quantize(CENT, rounding=ROUND_CEILING)
    rounding = price * units - item.gross
    return price, (item.discount + rounding).quantize(CENT)
