"""The real fiscal corpus nfelib ships, read from the installed package, and variants of it.

Every document here is one of the public samples inside the pinned ``nfelib`` distribution
(``nfe/samples/v4_0``, ``nfe_evento_cce/samples/v1_0``), read from where pip installed it:
nothing is copied into this repository. A *variant* parses a real sample and changes only
what a test is about (a party, a unit, a lot, the state and clock, the layout's reform
tax group), then recomputes what the change invalidates: the access key and its ``cDV``,
the protocol's ``chNFe`` and the total ``vProd``. tests/salesphere/fiscal/corpus/README.md
lists the corpus and what each test asserts of it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import nfelib
from lxml import etree

from salesphere.fiscal.xmlsafe import NFE_NS
from salesphere.taxid import key_digit, with_cnpj_digits

PACKAGE = Path(nfelib.__file__).resolve().parent
SAMPLES = PACKAGE / "nfe" / "samples" / "v4_0"
LEIAUTE = SAMPLES / "leiauteNFe"
N = f"{{{NFE_NS}}}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"

#: São Paulo, a distributor's NF-e to its customers: signed, authorised, 1 to 41 items.
SP_SUPPLIER_NOTES = sorted(LEIAUTE.glob("35180834128745000152*-nfe.xml"))
#: Santa Catarina: procNFe without a Signature (an ERP's archive copy), one an import
#: entry note the buyer issued itself (tpNF 0, CFOP 3101), one a sale (6107/6108/6910).
SC_UNSIGNED_IMPORT = LEIAUTE / "42210775277525000178550030000266631762885493-procNFe.xml"
SC_UNSIGNED_SALE = LEIAUTE / "42211275277525000178550030000276771368212013-procNFe.xml"
SC_UNSIGNED_EXPORT = LEIAUTE / "42220575277525000178550030000292481295366801-procNFe.xml"
#: Pará, with the tax reform's groups (IS, IBSCBS, IBSCBSTot); its key was never re-made
#: after the date was edited, so the variant re-keys it.
REFORM = LEIAUTE / "nfe_reforma_tributaria.xml"
#: Paraná, an NFC-e issued in contingency (tpEmis 9), unsigned, homologation.
NFCE_CONTINGENCY = SAMPLES / "nfce_contingencia.xml"
#: A correction letter (110110) as the issuer sends it (evento, unsigned).
CCE = (
    PACKAGE / "nfe_evento_cce/samples/v1_0/35180803102452000172550010000476051695511860-01-cce.xml"
)

#: An alphanumeric CNPJ (Receita Federal's format from July 2026), valid check digits.
ALNUM_STORE = with_cnpj_digits("AB1CD2EF0001")
ALNUM_SUPPLIER = with_cnpj_digits("Z9Y8X7W60001")
ACRE_STORE = with_cnpj_digits("334445550012")


def tree(path: Path) -> etree._Element:
    """A sample's root, parsed as any XML (the reader under test reads the bytes)."""
    return etree.fromstring(path.read_bytes())


def inf_of(root: etree._Element) -> etree._Element:
    found = root.find(f".//{N}infNFe")
    assert found is not None
    return found


def child(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(N + name)
    assert found is not None, name
    return found


def set_text(parent: etree._Element, name: str, value: str) -> None:
    child(parent, name).text = value


def new(name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.Element(N + name, **attributes)
    element.text = text
    return element


def rekey(root: etree._Element) -> str:
    """Re-make the access key from the document's own fields, as the issuer's software does.

    Sets ``infNFe/@Id``, ``cDV`` and any protocol's ``chNFe``; returns the key.
    """
    inf = inf_of(root)
    ide = child(inf, "ide")
    emit = child(inf, "emit")
    issued = ide.findtext(N + "dhEmi")
    issuer = emit.findtext(N + "CNPJ") or (emit.findtext(N + "CPF") or "").zfill(14)
    body = (
        f"{ide.findtext(N + 'cUF')}{issued[2:4]}{issued[5:7]}{issuer}"
        f"{ide.findtext(N + 'mod')}{int(ide.findtext(N + 'serie')):03d}"
        f"{int(ide.findtext(N + 'nNF')):09d}{ide.findtext(N + 'tpEmis')}"
        f"{int(ide.findtext(N + 'cNF')):08d}"
    )
    key = body + key_digit(body)
    set_text(ide, "cDV", key[-1])
    inf.set("Id", "NFe" + key)
    for prot in root.iter(N + "infProt"):
        set_text(prot, "chNFe", key)
    return key


def retotal(root: etree._Element) -> None:
    """The total ``vProd`` as the items' sum (``indTot`` 1), as the layout requires."""
    inf = inf_of(root)
    summed = sum(
        (
            Decimal(det.findtext(f"{N}prod/{N}vProd"))
            for det in inf.findall(N + "det")
            if det.findtext(f"{N}prod/{N}indTot") == "1"
        ),
        Decimal("0"),
    )
    set_text(child(child(inf, "total"), "ICMSTot"), "vProd", f"{summed:.2f}")


def party(root: etree._Element, role: str, cnpj: str | None = None, cpf: str | None = None) -> None:
    """Set ``emit`` or ``dest``'s tax id (CNPJ or CPF)."""
    element = child(inf_of(root), role)
    current = element.find(N + "CNPJ")
    if current is None:
        current = element.find(N + "CPF")
    assert current is not None
    current.tag = N + ("CNPJ" if cnpj else "CPF")
    current.text = cnpj or cpf


def prod_insert(prod: etree._Element, element: etree._Element, after: tuple[str, ...]) -> None:
    """Put ``element`` after the last of ``after`` present in ``prod`` (the layout's order)."""
    anchor = None
    for candidate in prod:
        if etree.QName(candidate).localname in after:
            anchor = candidate
    assert anchor is not None
    anchor.addnext(element)


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def variant(
    path: Path, change: Callable[[etree._Element], None], *, keep_key: bool = False
) -> bytes:
    """``path``'s document after ``change``, re-totalled and re-keyed."""
    root = tree(path)
    change(root)
    retotal(root)
    if not keep_key:
        rekey(root)
    return serialise(root)


def key_of(data: bytes) -> str:
    return inf_of(etree.fromstring(data)).get("Id").removeprefix("NFe")


def unsigned(root: etree._Element) -> None:
    for signature in root.iter(DS + "Signature"):
        signature.getparent().remove(signature)


def event_from_cce(
    key: str,
    event_type: str,
    detail: list[tuple[str, str]],
    *,
    author: str,
    when: str,
    organ: str,
    environment: str = "1",
    registered: bool = True,
) -> bytes:
    """An event about ``key`` built on the real correction-letter sample's ``evento``.

    ``registered`` wraps it as SEFAZ returns it (``procEventoNFe`` with ``retEvento``
    ``cStat`` 135); else the bare ``evento`` the issuer sends.
    """
    evento = tree(CCE)
    inf = child(evento, "infEvento")
    set_text(inf, "cOrgao", organ)
    set_text(inf, "tpAmb", environment)
    set_text(inf, "CNPJ", author)
    set_text(inf, "chNFe", key)
    set_text(inf, "dhEvento", when)
    set_text(inf, "tpEvento", event_type)
    set_text(inf, "nSeqEvento", "1")
    inf.set("Id", f"ID{event_type}{key}01")
    old = child(inf, "detEvento")
    det = new("detEvento", versao="1.00")
    for name, value in detail:
        det.append(new(name, value))
    old.getparent().replace(old, det)
    if not registered:
        return serialise(evento)
    proc = etree.Element(N + "procEventoNFe", versao="1.00", nsmap={None: NFE_NS})
    proc.append(evento)
    ret = etree.SubElement(proc, N + "retEvento", versao="1.00")
    ret_inf = etree.SubElement(ret, N + "infEvento")
    for name, value in (
        ("tpAmb", environment),
        ("verAplic", "AC_EVENTOS_1.0"),
        ("cOrgao", organ),
        ("cStat", "135"),
        ("xMotivo", "Evento registrado e vinculado a NF-e"),
        ("chNFe", key),
        ("tpEvento", event_type),
        ("nSeqEvento", "1"),
        ("dhRegEvento", when),
        ("nProt", "112260000001234"),
    ):
        ret_inf.append(new(name, value))
    return serialise(proc)


def copy_of(element: etree._Element) -> etree._Element:
    return copy.deepcopy(element)
