"""Reading real NF-e samples and built NF-e/NFC-e: recognised by content, keys checked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from salesphere.fiscal.document import FiscalDocument, FiscalEvent, read
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.xmlsafe import NFE_NS, readable_path
from tests.salesphere.fiscal.samples import (
    CCE_SAMPLE,
    SAMPLES,
    STORE_SP,
    SUPPLIER_ALNUM,
    VALID_SAMPLES,
    Line,
    build,
    cancellation,
    key_of,
)


def test_there_are_real_samples_to_read() -> None:
    assert len(VALID_SAMPLES) == 10


@pytest.mark.parametrize("path", VALID_SAMPLES, ids=[p.name[:20] for p in VALID_SAMPLES])
def test_every_real_authorised_sample_is_read(path: Path) -> None:
    document = read(path.read_bytes())
    assert isinstance(document, FiscalDocument)
    assert document.envelope == "nfeProc"
    assert document.kind == "nfe"
    assert document.authorised and document.production
    assert document.key.text == path.name[:44]
    assert document.issuer.cnpj == "34128745000152"
    assert document.items
    assert sum(i.gross for i in document.items if i.in_total) == document.products_total
    assert document.issued_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        (
            "leiauteInutNFe/41080676472349000430550010000001041671821888-ped-inu.xml",
            "unsupported_document",
        ),
        ("leiauteNFe/26180875335849000115550010000016871192213331-nfe.xml", "access_key_mismatch"),
        ("procNFe.xml", "access_key_mismatch"),  # the key says tpEmis 2, the document 1
        ("leiauteNFe/nfe_reforma_tributaria.xml", "access_key_mismatch"),  # month differs
        ("leiauteNFe/NFe35200159594315000157550010000000012062777161.xml", "schema"),
    ],
)
def test_inconsistent_samples_are_refused_with_their_reason(name: str, rule: str) -> None:
    with pytest.raises(FiscalRejected) as caught:
        read((SAMPLES / name).read_bytes())
    assert caught.value.rule == rule, str(caught.value)


def test_a_correction_letter_sample_without_signature_is_read() -> None:
    """Signatures are not verified offline, so an unsigned event is read like a signed one."""
    event = read(CCE_SAMPLE.read_bytes())
    assert isinstance(event, FiscalEvent)
    assert (event.event_type, event.cancels, event.authorised) == ("110110", False, False)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            b'<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00">',
            b'<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="3.10">',
            "/nfeProc",
        ),
        (b'<infNFe versao="4.00"', b'<infNFe versao="4.01"', "/nfeProc/NFe/infNFe"),
    ],
)
def test_another_layout_version_is_refused_by_name(old: bytes, new: bytes, where: str) -> None:
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    assert old in data
    with pytest.raises(FiscalRejected) as caught:
        read(data.replace(old, new))
    assert caught.value.rule == "unsupported_version"
    assert caught.value.path == where


def test_an_event_of_another_layout_version_is_refused_by_name() -> None:
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    root = etree.fromstring(cancellation(key))
    root.find(f"{{{NFE_NS}}}evento").set("versao", "2.00")
    with pytest.raises(FiscalRejected) as caught:
        read(etree.tostring(root))
    assert caught.value.rule == "unsupported_version"
    assert caught.value.path == "/procEventoNFe/evento"


def test_an_unsigned_document_is_read() -> None:
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    root = etree.fromstring(data)
    for signature in root.iter("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        signature.getparent().remove(signature)
    document = read(etree.tostring(root))
    assert isinstance(document, FiscalDocument) and document.authorised
    assert document.content_hash == read(data).content_hash


def test_content_hash_ignores_prefixes_and_indentation_but_not_content() -> None:
    data = build(lines=[Line("SKU-1", "2", "4.99")])
    root = etree.fromstring(data)
    prefixed = etree.Element(root.tag, nsmap={"nfe": NFE_NS}, **root.attrib)
    prefixed.extend(root)
    text = etree.tostring(prefixed)
    assert b"<nfe:infNFe" in text
    indented = etree.fromstring(text)
    etree.indent(indented, space="\t")
    assert read(etree.tostring(indented)).content_hash == read(data).content_hash


def test_nfce_is_recognised_with_items_money_and_offset() -> None:
    data = build(lines=[Line("SKU-1", "2.0000", "4.99", discount="1.00"), Line("SKU-2", "1", "10")])
    document = read(data)
    assert isinstance(document, FiscalDocument)
    assert (document.kind, document.envelope, document.authorised) == ("nfce", "nfeProc", True)
    assert [i.number for i in document.items] == [1, 2]
    assert document.items[0].discount == Decimal("1.00")
    assert document.products_total == Decimal("19.98")
    assert document.issued_at.isoformat() == "2026-11-28T14:03:00-03:00"


def test_a_bare_nfe_has_no_protocol_and_is_not_authorised() -> None:
    document = read(build(lines=[Line("SKU-1", "1", "4.99")], status=None))
    assert isinstance(document, FiscalDocument)
    assert document.envelope == "NFe" and document.protocol is None
    assert not document.authorised


@pytest.mark.parametrize("status", ["110", "302", "204"])
def test_a_protocol_that_is_not_an_authorisation_is_not_authorised(status: str) -> None:
    assert not read(build(lines=[Line("SKU-1", "1", "4.99")], status=status)).authorised


def test_an_alphanumeric_cnpj_issuer_is_read_and_its_key_checks() -> None:
    data = build(
        lines=[Line("A-1", "3", "12.00")], model="55", issuer=SUPPLIER_ALNUM, recipient=STORE_SP
    )
    document = read(data)
    assert document.issuer.cnpj == SUPPLIER_ALNUM == "12ABC34501DE35"
    assert document.key.issuer == SUPPLIER_ALNUM


def test_a_key_that_does_not_match_the_document_is_refused() -> None:
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    tampered = data.replace(b"<nNF>1234</nNF>", b"<nNF>1235</nNF>")
    with pytest.raises(FiscalRejected) as caught:
        read(tampered)
    assert caught.value.rule == "access_key_mismatch"
    assert "nNF" in str(caught.value)


def test_a_key_with_a_wrong_check_digit_is_refused() -> None:
    data = build(lines=[Line("SKU-1", "1", "4.99")])
    key = key_of(data)
    wrong = key[:43] + str((int(key[43]) + 1) % 10)
    with pytest.raises(FiscalRejected) as caught:
        read(data.replace(key.encode(), wrong.encode()))
    assert caught.value.rule == "access_key"


def test_an_issuer_cnpj_with_wrong_digits_is_refused() -> None:
    bad = STORE_SP[:12] + ("00" if STORE_SP[12:] != "00" else "11")
    with pytest.raises(FiscalRejected) as caught:
        read(build(lines=[Line("SKU-1", "1", "4.99")], issuer=bad))
    assert caught.value.rule == "invalid_cnpj"


def test_items_that_do_not_add_up_to_vprod_are_refused() -> None:
    with pytest.raises(FiscalRejected) as caught:
        read(build(lines=[Line("SKU-1", "2", "4.99")], total="9.99"))
    assert caught.value.rule == "totals_mismatch"
    assert "9.98" in str(caught.value) and "9.99" in str(caught.value)


def test_content_hash_ignores_the_envelope_but_not_the_content() -> None:
    lines = [Line("SKU-1", "2", "4.99")]
    authorised = read(build(lines=lines))
    bare = read(build(lines=lines, status=None))
    other = read(build(lines=[Line("SKU-1", "3", "4.99")]))
    assert authorised.content_hash == bare.content_hash
    assert other.key == authorised.key and other.content_hash != authorised.content_hash


@pytest.mark.parametrize("envelope", ["procEventoNFe", "evento", "envEvento"])
def test_cancellation_envelopes_are_recognised(envelope: str) -> None:
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    event = read(cancellation(key, envelope=envelope))
    assert isinstance(event, FiscalEvent)
    assert (event.key.text, event.event_type, event.cancels) == (key, "110111", True)
    assert event.authorised is (envelope == "procEventoNFe")


def test_a_cancellation_by_substitution_names_the_replacement() -> None:
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    replacement = key_of(build(lines=[Line("SKU-1", "1", "4.99")], number=1235))
    event = read(cancellation(key, event_type="110112", replacing=replacement))
    assert event.replacing_key == replacement and event.cancels


def test_an_event_whose_id_disagrees_with_its_key_is_refused() -> None:
    key = key_of(build(lines=[Line("SKU-1", "1", "4.99")]))
    data = cancellation(key).replace(
        f'Id="ID110111{key}01"'.encode(), f'Id="ID110110{key}01"'.encode()
    )
    with pytest.raises(FiscalRejected) as caught:
        read(data)
    assert caught.value.rule == "event_mismatch"


def test_each_item_carries_the_path_a_refusal_would_name() -> None:
    """Built from infNFe's path, so it must agree with readable_path on each det."""
    for lines in ([Line("SKU-1", "1", "1.00")], [Line(f"SKU-{n}", "1", "1.00") for n in range(3)]):
        data = build(lines=lines)
        dets = etree.fromstring(data).iter(f"{{{NFE_NS}}}det")
        document = read(data)
        assert isinstance(document, FiscalDocument)
        assert [item.path for item in document.items] == [readable_path(det) for det in dets]
        assert document.items[-1].path.endswith("/infNFe/det" if len(lines) == 1 else "det[3]")
