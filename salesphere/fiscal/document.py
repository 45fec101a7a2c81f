"""Recognise a fiscal XML by its content and read what the platform uses from it.

:func:`read` takes the raw bytes of any file or request body and returns either a
:class:`FiscalDocument` (an NF-e, modelo 55, or NFC-e, modelo 65, bare ``NFe`` or
authorised ``nfeProc``) or a :class:`FiscalEvent` (``procEventoNFe``, a bare ``evento``
or an ``envEvento`` holding one event), or raises
:class:`~salesphere.fiscal.errors.FiscalRejected` with the reason. The file name plays
no part: the root element and its namespace decide.

Order of checks (each a rule code): the hardened parse (:mod:`.xmlsafe`); the namespace
(``wrong_namespace``) and the root (``unsupported_document``); the official schema
(``schema``, first failing element), after the layout version (``unsupported_version``:
``versao`` 4.00 for documents, 1.00 for events); the access key's shape and check digit
(``access_key``) and its agreement with the document's fields (``access_key_mismatch``);
the issuer's CNPJ check digits (``invalid_cnpj``); item totals against ``vProd``
(``totals_mismatch``); for an event, its own fields (``event_mismatch``).

Digital signatures are **not verified** and not required: doing so offline needs the
ICP-Brasil certificate chain and revocation lists, so an unsigned copy (a contingency
NFC-e, an ERP export) is read like a signed one. What is checked instead is that an
authorised document carries its SEFAZ protocol (``protNFe`` with ``cStat`` 100 or 150 for
this very key) and that everything the key embeds agrees with the document.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.key import AccessKey, cross_check, parse_key
from salesphere.fiscal.schema import document_schema, event_schema, validate
from salesphere.fiscal.xmlsafe import DEFAULT_LIMITS, NFE_NS, XmlLimits, local, parse
from salesphere.fiscal.xmlsafe import readable_path as path_of
from salesphere.taxid import TaxIdError, normalise_cnpj

_NS = {"n": NFE_NS}
#: Protocol statuses that mean "authorised": 100 (in time) and 150 (authorised late).
AUTHORISED = frozenset({"100", "150"})
#: Event protocol statuses that mean "registered": 135, 136 and 155 (late cancellation).
EVENT_REGISTERED = frozenset({"135", "136", "155"})
CANCELLATION = "110111"
CANCELLATION_BY_SUBSTITUTION = "110112"
CORRECTION_LETTER = "110110"
#: The recipient's "Confirmação da Operação": it confirms the goods arrived.
CONFIRMATION = "210200"
MODELS = {"55": "nfe", "65": "nfce"}
#: The one layout version read (``versao`` of nfeProc, NFe/infNFe), and the events'.
DOCUMENT_VERSION = "4.00"
EVENT_VERSION = "1.00"


@dataclass(frozen=True)
class Party:
    """Issuer or recipient: a company (CNPJ), a person (CPF) or a foreigner (neither)."""

    cnpj: str | None
    cpf: str | None
    name: str


@dataclass(frozen=True)
class Item:
    """One ``det``: a product line as the issuer wrote it (its units, its code)."""

    number: int
    code: str
    gtin: str | None
    description: str
    cfop: str
    unit: str
    quantity: Decimal
    gross: Decimal
    discount: Decimal
    in_total: bool
    order_number: str | None
    order_line: str | None
    path: str


@dataclass(frozen=True)
class Protocol:
    """SEFAZ's answer kept with the document (``protNFe`` / ``retEvento``)."""

    key: str
    status: str
    number: str | None
    reason: str


@dataclass(frozen=True)
class FiscalDocument:
    """An NF-e or NFC-e as far as the platform uses it."""

    envelope: str  # nfeProc or NFe
    key: AccessKey
    model: str  # "55" NF-e, "65" NFC-e
    series: str
    number: str
    issued_at: datetime
    direction: str  # tpNF: 0 entrada (goods in), 1 saída (goods out)
    purpose: str  # finNFe: 1 normal, 2 complementar, 3 ajuste, 4 devolução
    environment: str  # tpAmb: 1 production, 2 homologation
    issuer: Party
    recipient: Party | None
    items: tuple[Item, ...]
    products_total: Decimal
    referenced_keys: tuple[str, ...]
    additional_info: str
    protocol: Protocol | None
    content_hash: str

    @property
    def kind(self) -> str:
        """``nfe`` or ``nfce``."""
        return MODELS[self.model]

    @property
    def production(self) -> bool:
        return self.environment == "1"

    @property
    def authorised(self) -> bool:
        """Carries SEFAZ's authorisation for this very key."""
        return (
            self.protocol is not None
            and self.protocol.status in AUTHORISED
            and self.protocol.key == self.key.text
        )


@dataclass(frozen=True)
class FiscalEvent:
    """An event about a document (cancellation, correction letter, ...)."""

    envelope: str  # procEventoNFe, evento or envEvento
    key: AccessKey  # the document it is about
    event_type: str  # tpEvento
    sequence: int
    environment: str
    issued_at: datetime
    author: str | None
    replacing_key: str | None  # 110112: the NFC-e that replaces the cancelled one
    protocol: Protocol | None
    content_hash: str

    @property
    def production(self) -> bool:
        return self.environment == "1"

    @property
    def authorised(self) -> bool:
        return (
            self.protocol is not None
            and self.protocol.status in EVENT_REGISTERED
            and self.protocol.key == self.key.text
        )

    @property
    def cancels(self) -> bool:
        return self.event_type in (CANCELLATION, CANCELLATION_BY_SUBSTITUTION)

    @property
    def confirms(self) -> bool:
        """The recipient's confirmation of the operation (210200): the goods arrived."""
        return self.event_type == CONFIRMATION


def read(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> FiscalDocument | FiscalEvent:
    """The document or event in ``data``; :class:`FiscalRejected` says why not."""
    root = parse(data, limits)
    namespace = etree.QName(root).namespace
    name = local(root)
    if namespace != NFE_NS:
        raise FiscalRejected(
            "wrong_namespace",
            f"root element {name!r} is in namespace {namespace!r}, not the NF-e namespace "
            f"{NFE_NS}; only NF-e/NFC-e documents and their events are read here",
        )
    if name in ("nfeProc", "NFe"):
        _check_version(root, DOCUMENT_VERSION, ("n:NFe/n:infNFe", "n:infNFe"))
        validate(root, document_schema())
        return _document(root)
    if name in ("procEventoNFe", "evento", "envEvento"):
        _check_version(root, EVENT_VERSION, ("n:evento", "n:evento/n:infEvento/n:detEvento"))
        validate(root, event_schema())
        return _event(root)
    raise FiscalRejected(
        "unsupported_document",
        f"{name!r} is not a document this platform reads; send nfeProc/NFe (NF-e, NFC-e) "
        "or procEventoNFe/evento (cancellations, corrections)",
    )


# -- helpers -----------------------------------------------------------------------------


def _check_version(root: etree._Element, expected: str, inner: tuple[str, ...]) -> None:
    """Refuse another layout version (``versao``) by name, before the schema does vaguely.

    A 3.10 NF-e or a 4.01 one from a future layout would otherwise fail the 4.00 schema
    at whichever element changed first; the sender needs to hear the version instead.
    """
    for element in (root, *(e for path in inner for e in root.findall(path, _NS))):
        version = element.get("versao")
        if version is not None and version.strip() != expected:
            raise FiscalRejected(
                "unsupported_version",
                f"{local(element)} is layout version {version.strip()!r}; this platform reads "
                f"layout {expected} (NF-e/NFC-e 4.00, events 1.00)",
                path_of(element),
            )


@functools.cache
def _steps(path: str) -> tuple[str, ...]:
    """``n:prod/n:qCom`` as Clark-notation tags, one per step."""
    return tuple("{" + NFE_NS + "}" + step.removeprefix("n:") for step in path.split("/"))


def _text(element: etree._Element, path: str, default: str | None = None) -> str | None:
    """The trimmed text at ``path`` (child steps only), or ``default`` when absent or empty.

    Walks the children in C (``iterchildren`` with a tag) rather than lxml's ElementPath,
    which is interpreted: a document asks for a few dozen fields per item.
    """
    node: etree._Element | None = element
    for tag in _steps(path):
        node = next(node.iterchildren(tag), None)
        if node is None:
            return default
    text = node.text
    return text.strip() if text else default


def _required(element: etree._Element, path: str) -> str:
    value = _text(element, path)
    if value is None:  # the schema makes these mandatory; kept as a guard
        raise FiscalRejected("schema", f"{path} is missing", path_of(element))
    return value


def _required_field(fields: dict[str, str], name: str, where: str) -> str:
    """``_required`` for a field already read into ``fields`` (local name to trimmed text)."""
    value = fields.get(name)
    if not value:  # the schema makes these mandatory; kept as a guard
        raise FiscalRejected("schema", f"{name} is missing", where)
    return value


def _decimal(element: etree._Element, path: str, default: str = "0") -> Decimal:
    return Decimal(_text(element, path, default) or default)


#: C14N writes one space before each namespace declaration: a literal start keeps the
#: substitution linear on long runs of spaces in a text.
_XMLNS = re.compile(rb' xmlns(?::[\w.-]+)?="[^"]*"')
_PREFIX = re.compile(rb"<(/?)[\w.-]+:")
_BETWEEN_TAGS = re.compile(rb">\s+<")
_DEFAULT_DECLARATION = f' xmlns="{NFE_NS}"'.encode()
_GAPS = (b">\n", b">\r", b">\t", b"> ")


def _hash(element: etree._Element) -> str:
    """SHA-256 of what the element says, however it was written.

    The exclusive canonical form (libxml2's C14N: attributes sorted, quotes and empty
    elements normalised) without namespace declarations, prefixes and whitespace between
    tags. The same content gives the same hash whatever the envelope, the signature around
    it, the namespace prefixes (``<nfe:det>`` or ``<det>``), the indentation or the line
    endings, so a document re-serialised by another tool is a duplicate, not a conflict;
    a changed value, attribute or element gives another hash. Dropping the prefixes loses
    nothing: the schema has already required every element of ``infNFe``/``infEvento`` to
    be in the NF-e namespace.
    """
    canonical = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    if b"xmlns:" in canonical:  # prefixes: drop them with every declaration
        canonical = _PREFIX.sub(rb"<\1", _XMLNS.sub(b"", canonical))
    else:  # the usual case, in bytes: only the default declaration to drop
        canonical = canonical.replace(_DEFAULT_DECLARATION, b"")
    if any(gap in canonical for gap in _GAPS):  # indented: whitespace between tags
        canonical = _BETWEEN_TAGS.sub(b"><", canonical)
    return hashlib.sha256(canonical).hexdigest()


def _instant(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:  # the schema's pattern makes this unreachable; a guard
        raise FiscalRejected("timestamp_format", f"{text!r} is not a date-time", where) from exc
    if moment.tzinfo is None:
        raise FiscalRejected("timezone_required", f"{text!r} has no UTC offset", where)
    return moment


def _party(element: etree._Element | None) -> Party | None:
    if element is None:
        return None
    return Party(
        cnpj=_text(element, "n:CNPJ"),
        cpf=_text(element, "n:CPF"),
        name=_text(element, "n:xNome", "") or "",
    )


# -- documents ---------------------------------------------------------------------------


def _document(root: etree._Element) -> FiscalDocument:
    """Read an ``nfeProc`` or bare ``NFe`` the schema accepted, checking what the schema
    cannot: the access key against the fields it embeds, the issuer's CNPJ, the totals."""
    envelope = local(root)
    nfe = root if envelope == "NFe" else root.find("n:NFe", _NS)
    assert nfe is not None  # the schema requires it
    inf = nfe.find("n:infNFe", _NS)
    assert inf is not None
    ide = inf.find("n:ide", _NS)
    assert ide is not None
    key = parse_key((inf.get("Id") or "").removeprefix("NFe"), path_of(inf))
    issuer = _party(inf.find("n:emit", _NS))
    assert issuer is not None
    issued_at = _instant(_required(ide, "n:dhEmi"), path_of(ide))
    fields = _key_fields(ide, issuer, issued_at)
    cross_check(key, fields, path_of(ide))
    _check_issuer(inf, issuer)
    items = _items(inf)
    total = _checked_total(inf, items)
    info = root.find("n:protNFe/n:infProt", _NS) if envelope == "nfeProc" else None
    referenced = tuple(ref.text.strip() for ref in ide.findall("n:NFref/n:refNFe", _NS) if ref.text)
    return FiscalDocument(
        envelope=envelope,
        key=key,
        model=fields["mod"],
        series=fields["serie"],
        number=fields["nNF"],
        issued_at=issued_at,
        direction=_required(ide, "n:tpNF"),
        purpose=_required(ide, "n:finNFe"),
        environment=_required(ide, "n:tpAmb"),
        issuer=issuer,
        recipient=_party(inf.find("n:dest", _NS)),
        items=items,
        products_total=total,
        referenced_keys=referenced,
        additional_info=_text(inf, "n:infAdic/n:infCpl", "") or "",
        protocol=_protocol(info),
        content_hash=_hash(inf),
    )


def _key_fields(ide: etree._Element, issuer: Party, issued_at: datetime) -> dict[str, str]:
    """The document's own values of what its access key embeds, by the key's field names
    (``cross_check`` compares them one by one, so a mismatch names the field)."""
    return {
        "cUF": _required(ide, "n:cUF"),
        "AAMM": issued_at.strftime("%y%m"),
        "emit": issuer.cnpj or (issuer.cpf or "").zfill(14),
        "mod": _required(ide, "n:mod"),
        "serie": _required(ide, "n:serie"),
        "nNF": _required(ide, "n:nNF"),
        "tpEmis": _required(ide, "n:tpEmis"),
        "cNF": _required(ide, "n:cNF"),
        "cDV": _required(ide, "n:cDV"),
    }


def _check_issuer(inf: etree._Element, issuer: Party) -> None:
    """Refuse an issuer CNPJ whose check digits are wrong (the schema checks only its
    shape); a CPF issuer is not checked here."""
    if issuer.cnpj is None:
        return
    try:
        normalise_cnpj(issuer.cnpj)
    except TaxIdError as exc:
        raise FiscalRejected(
            "invalid_cnpj", f"issuer {exc}", path_of(inf.find("n:emit", _NS))
        ) from exc


def _items(inf: etree._Element) -> tuple[Item, ...]:
    """Every ``det``, each with the path a rejection of it names."""
    dets = inf.findall("n:det", _NS)
    # each item's path as path_of(det) would give it, built here from infNFe's: path_of
    # counts a det's siblings, so calling it per item is quadratic in the items (990)
    inf_path = path_of(inf)
    return tuple(
        _item(det, f"{inf_path}/det[{n}]" if len(dets) > 1 else f"{inf_path}/det")
        for n, det in enumerate(dets, start=1)
    )


def _checked_total(inf: etree._Element, items: tuple[Item, ...]) -> Decimal:
    """The document's total ``vProd``, refused unless the items counted in it add up to it:
    an inconsistent document would count different sales depending on what is summed."""
    total = _decimal(inf, "n:total/n:ICMSTot/n:vProd")
    summed = sum((item.gross for item in items if item.in_total), Decimal("0"))
    if summed != total:
        raise FiscalRejected(
            "totals_mismatch",
            f"the items' vProd add up to {summed}, the document's total vProd is {total}; "
            "the document is inconsistent and is not counted",
            path_of(inf) + "/total/ICMSTot/vProd",
        )
    return total


def _protocol(info: etree._Element | None) -> Protocol | None:
    """SEFAZ's answer (``protNFe/infProt`` or ``retEvento/infEvento``), if the envelope
    carries one; both have the same four fields."""
    if info is None:
        return None
    return Protocol(
        key=_text(info, "n:chNFe", "") or "",
        status=_text(info, "n:cStat", "") or "",
        number=_text(info, "n:nProt"),
        reason=_text(info, "n:xMotivo", "") or "",
    )


def _item(det: etree._Element, path: str) -> Item:
    prod = next(det.iterchildren(_steps("n:prod")[0]), None)
    assert prod is not None  # the schema requires it
    # one pass over prod's ~20 children rather than a _text walk per field; the schema has
    # made each field unique and every one a direct child
    fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in prod}
    where = path + "/prod"
    gtin = fields.get("cEAN")
    return Item(
        number=int(det.get("nItem") or 0),
        code=_required_field(fields, "cProd", where),
        gtin=gtin if gtin and gtin.isdigit() else None,
        description=fields.get("xProd", ""),
        cfop=_required_field(fields, "CFOP", where),
        unit=_required_field(fields, "uCom", where),
        quantity=Decimal(fields.get("qCom") or "0"),
        gross=Decimal(fields.get("vProd") or "0"),
        discount=Decimal(fields.get("vDesc") or "0"),
        in_total=(fields.get("indTot") or "1") == "1",
        order_number=fields.get("xPed") or None,
        order_line=fields.get("nItemPed") or None,
        path=path,
    )


# -- events ------------------------------------------------------------------------------


def _event(root: etree._Element) -> FiscalEvent:
    """Read a ``procEventoNFe``, bare ``evento`` or ``envEvento`` the schema accepted,
    checking that its ``Id`` and, for a cancellation, its details agree with it."""
    envelope = local(root)
    inf = _single_event(root, envelope).find("n:infEvento", _NS)
    assert inf is not None
    where = path_of(inf)
    key = parse_key(_required(inf, "n:chNFe"), where)
    event_type = _required(inf, "n:tpEvento")
    sequence = _required(inf, "n:nSeqEvento")
    expected_id = f"ID{event_type}{key.text}{int(sequence):02d}"
    if inf.get("Id") != expected_id:
        raise FiscalRejected(
            "event_mismatch",
            f"event Id {inf.get('Id')!r} does not match its type, key and sequence ({expected_id})",
            where,
        )
    replacing = None
    if event_type in (CANCELLATION, CANCELLATION_BY_SUBSTITUTION):
        replacing = _cancellation(inf.find("n:detEvento", _NS), event_type)
    ret = root.find("n:retEvento/n:infEvento", _NS) if envelope == "procEventoNFe" else None
    return FiscalEvent(
        envelope=envelope,
        key=key,
        event_type=event_type,
        sequence=int(sequence),
        environment=_required(inf, "n:tpAmb"),
        issued_at=_instant(_required(inf, "n:dhEvento"), where),
        author=_text(inf, "n:CNPJ") or _text(inf, "n:CPF"),
        replacing_key=replacing,
        protocol=_protocol(ret),
        content_hash=_hash(inf),
    )


def _single_event(root: etree._Element, envelope: str) -> etree._Element:
    """The one ``evento`` of the envelope; a batch (an ``envEvento`` with several) is
    refused so that one file or request is one event with one outcome."""
    events = [root] if envelope == "evento" else root.findall("n:evento", _NS)
    if len(events) != 1:
        raise FiscalRejected(
            "several_documents",
            f"{envelope} holds {len(events)} events; send one event per file or request",
        )
    return events[0]


def _cancellation(detail: etree._Element | None, event_type: str) -> str | None:
    """Check a cancellation's details (the protocol cancelled and the reason); returns the
    replacing document's key for a cancellation by substitution, else ``None``."""
    assert detail is not None
    for field in ("nProt", "xJust"):
        if _text(detail, f"n:{field}") is None:
            raise FiscalRejected(
                "event_mismatch",
                f"a cancellation must carry {field} (the document's authorisation "
                "protocol and the reason)",
                path_of(detail),
            )
    if event_type != CANCELLATION_BY_SUBSTITUTION:
        return None
    replacing = _text(detail, "n:chNFeRef")
    if replacing is None:
        raise FiscalRejected(
            "event_mismatch",
            "a cancellation by substitution (110112) must name the replacing document in chNFeRef",
            path_of(detail),
        )
    parse_key(replacing, path_of(detail))
    return replacing
