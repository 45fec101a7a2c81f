"""NF-e, NFC-e and their events built from one real document nfelib ships.

Built documents start from a real authorised NF-e in the installed ``nfelib`` package
(read from it, never copied here) and change only what the caller asks: the model, the
parties, the items, the environment, the protocol. The access key, ``cDV`` and the total
``vProd`` are recomputed, so a built document passes every check of
``salesphere.fiscal`` unless a caller breaks one on purpose. Signatures are the sample's
own (not verified, by design). The data generator writes its fiscal XML with these, and
the tests build theirs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import nfelib
from lxml import etree

from salesphere.fiscal.xmlsafe import NFE_NS
from salesphere.taxid import key_digit, with_cnpj_digits

SAMPLES = Path(nfelib.__file__).resolve().parent / "nfe" / "samples" / "v4_0"
TEMPLATE = SAMPLES / "leiauteNFe" / "35180834128745000152550010000476121675985748-nfe.xml"
N = f"{{{NFE_NS}}}"
#: The template's issuer, the default author of an event.
STORE_SP = with_cnpj_digits("112223330001")


@dataclass(frozen=True)
class Line:
    """One item to build: what the issuer writes."""

    code: str
    quantity: str
    price: str
    gtin: str | None = None
    cfop: str = "5102"
    unit: str = "UN"
    discount: str | None = None
    order: str | None = None
    order_line: str | None = None


def _set(parent: etree._Element, name: str, value: str) -> None:
    found = parent.find(N + name)
    assert found is not None, name
    found.text = value


@dataclass(frozen=True)
class _Header:
    """The ``ide`` fields a caller sets; the access key is made from the same values."""

    model: str
    series: int
    number: int
    issued: str
    direction: str
    environment: str
    purpose: str


def build(
    *,
    lines: list[Line],
    model: str = "65",
    issuer: str = STORE_SP,
    recipient: str | None = None,
    recipient_cpf: str | None = None,
    purpose: str = "1",
    direction: str = "1",
    environment: str = "1",
    status: str | None = "100",
    issued: str = "2026-11-28T14:03:00-03:00",
    number: int = 1234,
    series: int = 1,
    info: str | None = None,
    total: str | None = None,
) -> bytes:
    """An ``nfeProc`` (``status`` set) or a bare ``NFe`` (``status=None``)."""
    header = _Header(model, series, number, issued, direction, environment, purpose)
    proc = etree.parse(str(TEMPLATE)).getroot()
    nfe = proc.find(N + "NFe")
    inf = nfe.find(N + "infNFe")
    ide = inf.find(N + "ide")
    _set_header(ide, header)
    _set(inf.find(N + "emit"), "CNPJ", issuer)
    _set_recipient(inf, recipient, recipient_cpf)
    summed = _set_items(inf, lines)
    _set(inf.find(N + "total").find(N + "ICMSTot"), "vProd", total or str(summed))
    if info is not None:
        _set(inf.find(N + "infAdic"), "infCpl", info)
    key = _set_key(inf, ide, header, issuer)
    if status is None:
        return etree.tostring(nfe, xml_declaration=True, encoding="utf-8")
    prot = proc.find(N + "protNFe").find(N + "infProt")
    _set(prot, "chNFe", key)
    _set(prot, "cStat", status)
    _set(prot, "tpAmb", environment)
    return etree.tostring(proc, xml_declaration=True, encoding="utf-8")


def _set_header(ide: etree._Element, header: _Header) -> None:
    """The identification block; the template's exit time goes (an NFC-e has none)."""
    _set(ide, "mod", header.model)
    _set(ide, "serie", str(header.series))
    _set(ide, "nNF", str(header.number))
    _set(ide, "dhEmi", header.issued)
    ide.remove(ide.find(N + "dhSaiEnt"))
    _set(ide, "tpNF", header.direction)
    _set(ide, "tpAmb", header.environment)
    _set(ide, "finNFe", header.purpose)
    _set(ide, "cNF", "12345678")


def _set_recipient(inf: etree._Element, cnpj: str | None, cpf: str | None) -> None:
    """A company (CNPJ), a person (CPF) or, with neither, no ``dest`` at all (an NFC-e
    sold to an unnamed consumer)."""
    dest = inf.find(N + "dest")
    if cnpj is None and cpf is None:
        inf.remove(dest)
        return
    document = dest.find(N + "CPF")
    document.tag = N + ("CNPJ" if cnpj else "CPF")
    document.text = cnpj or cpf


def _set_items(inf: etree._Element, lines: list[Line]) -> Decimal:
    """Replace the template's item with ``lines``, in place; returns their summed ``vProd``."""
    template = inf.find(N + "det")
    position = list(inf).index(template)
    inf.remove(template)
    summed = Decimal("0.00")
    for number, line in enumerate(lines, start=1):
        det, gross = _item(template, number, line)
        summed += gross
        inf.insert(position + number - 1, det)
    return summed


def _item(template: etree._Element, number: int, line: Line) -> tuple[etree._Element, Decimal]:
    """One ``det`` from a copy of the template's, and its gross value (quantity x price)."""
    det = copy.deepcopy(template)
    det.set("nItem", str(number))
    prod = det.find(N + "prod")
    gross = (Decimal(line.quantity) * Decimal(line.price)).quantize(Decimal("0.01"))
    for name, value in (
        ("cProd", line.code),
        ("cEAN", line.gtin or "SEM GTIN"),
        ("cEANTrib", line.gtin or "SEM GTIN"),
        ("CFOP", line.cfop),
        ("uCom", line.unit),
        ("uTrib", line.unit),
        ("qCom", line.quantity),
        ("qTrib", line.quantity),
        ("vUnCom", line.price),
        ("vUnTrib", line.price),
        ("vProd", str(gross)),
    ):
        _set(prod, name, value)
    # Optional fields go where the schema's order puts them: vDesc before indTot, the
    # purchase order (xPed, nItemPed) after it.
    tail = prod.find(N + "indTot")
    if line.discount is not None:
        element = etree.Element(N + "vDesc")
        element.text = line.discount
        tail.addprevious(element)
    for name, value in (("xPed", line.order), ("nItemPed", line.order_line)):
        if value is not None:
            element = etree.Element(N + name)
            element.text = value
            tail.addnext(element)
            tail = element
    return det, gross


def _set_key(inf: etree._Element, ide: etree._Element, header: _Header, issuer: str) -> str:
    """The 44-digit access key from the header, its check digit in ``cDV`` and the ``Id``."""
    issued = header.issued
    body = (
        f"{ide.findtext(N + 'cUF')}{issued[2:4]}{issued[5:7]}{issuer}{header.model}"
        f"{header.series:03d}{header.number:09d}{ide.findtext(N + 'tpEmis')}12345678"
    )
    key = body + key_digit(body)
    _set(ide, "cDV", key[-1])
    inf.set("Id", "NFe" + key)
    return key


def key_of(document: bytes) -> str:
    root = etree.fromstring(document)
    inf = root.find(f".//{N}infNFe")
    return inf.get("Id").removeprefix("NFe")


def _signature() -> etree._Element:
    sample = etree.parse(str(TEMPLATE)).getroot()
    return copy.deepcopy(sample.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature"))


def cancellation(
    key: str,
    *,
    event_type: str = "110111",
    replacing: str | None = None,
    status: str | None = "135",
    environment: str = "1",
    author: str = STORE_SP,
    when: str = "2026-11-28T15:00:00-03:00",
    envelope: str = "procEventoNFe",
) -> bytes:
    """A cancellation (110111, or 110112 with ``replacing``) of ``key``."""
    detail = (
        '<detEvento versao="1.00"><descEvento>Cancelamento</descEvento>'
        "<nProt>135260000000001</nProt><xJust>Venda cancelada a pedido do cliente</xJust>"
    )
    if event_type == "110112":
        detail += (
            "<cOrgaoAutor>35</cOrgaoAutor><tpAutor>1</tpAutor><verAplic>1</verAplic>"
            f"<chNFeRef>{replacing}</chNFeRef>"
        )
    detail += "</detEvento>"
    return event(key, event_type, detail, status, environment, author, when, envelope)


def confirmation(
    key: str,
    *,
    author: str,
    when: str = "2026-11-29T10:00:00-03:00",
    status: str | None = "135",
    envelope: str = "procEventoNFe",
) -> bytes:
    """The recipient's confirmation of the operation (210200) of ``key``: goods received."""
    detail = '<detEvento versao="1.00"><descEvento>Confirmacao da Operacao</descEvento></detEvento>'
    return event(key, "210200", detail, status, "1", author, when, envelope)


def event(
    key: str,
    event_type: str,
    detail: str,
    status: str | None = "135",
    environment: str = "1",
    author: str = STORE_SP,
    when: str = "2026-11-28T15:00:00-03:00",
    envelope: str = "procEventoNFe",
) -> bytes:
    """An event of any type about ``key``, with a structurally valid signature."""
    evento = etree.fromstring(
        f'<evento xmlns="{NFE_NS}" versao="1.00"><infEvento Id="ID{event_type}{key}01">'
        f"<cOrgao>35</cOrgao><tpAmb>{environment}</tpAmb><CNPJ>{author}</CNPJ>"
        f"<chNFe>{key}</chNFe><dhEvento>{when}</dhEvento><tpEvento>{event_type}</tpEvento>"
        f"<nSeqEvento>1</nSeqEvento><verEvento>1.00</verEvento>{detail}</infEvento></evento>"
    )
    evento.append(_signature())
    if envelope == "evento":
        return etree.tostring(evento, xml_declaration=True, encoding="utf-8")
    if envelope == "envEvento":
        wrapper = etree.fromstring(
            f'<envEvento xmlns="{NFE_NS}" versao="1.00"><idLote>1</idLote></envEvento>'
        )
        wrapper.append(evento)
        return etree.tostring(wrapper, xml_declaration=True, encoding="utf-8")
    proc = etree.fromstring(f'<procEventoNFe xmlns="{NFE_NS}" versao="1.00"/>')
    proc.append(evento)
    proc.append(
        etree.fromstring(
            f'<retEvento xmlns="{NFE_NS}" versao="1.00"><infEvento>'
            f"<tpAmb>{environment}</tpAmb><verAplic>SP_EVENTOS_PL_100</verAplic>"
            f"<cOrgao>35</cOrgao><cStat>{status or '999'}</cStat><xMotivo>Evento registrado"
            f"</xMotivo><chNFe>{key}</chNFe><tpEvento>{event_type}</tpEvento>"
            f"<nSeqEvento>1</nSeqEvento><dhRegEvento>2026-11-28T15:00:05-03:00</dhRegEvento>"
            f"<nProt>135260000000002</nProt></infEvento></retEvento>"
        )
    )
    return etree.tostring(proc, xml_declaration=True, encoding="utf-8")
