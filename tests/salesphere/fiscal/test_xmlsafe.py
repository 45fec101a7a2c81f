"""Hostile XML is refused fast with a reason of its own; genuine XML variations are read.

Every case of the hostile corpus goes through :func:`salesphere.fiscal.document.read` (the
whole reader: byte scan, streaming parse, namespace, root, version, schema, key) and must
be refused with its specific rule, a message a person can act on, and in bounded time
(nothing hangs, loops or expands): at most ``SLOWER_AT_MOST`` times as long as reading a
valid document of its size, timed in the same test so a loaded machine slows both, and
never less than ``FLOOR_SECONDS``; a per-case timeout still fails a hang outright. Where it matters the hostile part is
planted in a real, otherwise valid document, so the refusal is for that part alone.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import time
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from salesphere.fiscal.document import FiscalDocument, read
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.schema import document_schema, event_schema
from salesphere.fiscal.xmlsafe import DEFAULT_LIMITS, NFE_NS, XmlLimits, parse
from salesphere.ingest.fiscal import is_fiscal_file, is_xml_content
from tests.salesphere.fiscal.samples import SAMPLES, Line, build, cancellation, key_of

SLOWER_AT_MOST = 20
FLOOR_SECONDS = 1.0
NS = NFE_NS.encode()
VALID = build(lines=[Line("SKU-1", "2", "4.99"), Line("SKU-2", "1", "10.00")])
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
BODY = VALID.split(b"?>", 1)[1]  # the document without its declaration


@functools.cache
def valid_with_items(count: int) -> bytes:
    return build(lines=[Line(f"SKU-{n}", "1", "1.00") for n in range(count)])


def bound_seconds(data: bytes) -> float:
    """How long reading ``data`` may take: relative to a valid document of about its size
    (1 to 990 items, ~1.8 KB each) read just now, scaled up for larger input."""
    reference = valid_with_items(min(990, max(1, (len(data) - 9_000) // 1_800)))
    started = time.perf_counter()
    read(reference)
    took = time.perf_counter() - started
    return max(FLOOR_SECONDS, SLOWER_AT_MOST * took * max(1.0, len(data) / len(reference)))


def planted(where: bytes, what: bytes) -> bytes:
    """The valid document with ``what`` inserted right after the first ``where``."""
    assert where in VALID
    return VALID.replace(where, where + what, 1)


def laughs() -> bytes:
    entities = b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    return (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + entities
        + b']><NFe xmlns="'
        + NS
        + b'">&lol9;</NFe>'
    )


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("nfe.xml", b"<a>" + b" " * 50_000_000 + b"</a>")
    return buffer.getvalue()


def two_events() -> bytes:
    key = key_of(VALID)
    root = etree.fromstring(cancellation(key, envelope="envEvento"))
    second = etree.fromstring(etree.tostring(root.find(f"{{{NFE_NS}}}evento")))
    inf = second.find(f"{{{NFE_NS}}}infEvento")
    inf.set("Id", inf.get("Id")[:-2] + "02")
    inf.find(f"{{{NFE_NS}}}nSeqEvento").text = "2"
    root.append(second)
    return etree.tostring(root)


#: Also what the ingest tests drop and post as the archetypal hostile document.
BILLION_LAUGHS = laughs()

HOSTILE: list[tuple[str, bytes, str]] = [
    # entities, DTDs and references outside the document
    ("billion laughs", BILLION_LAUGHS, "entity_forbidden"),
    (
        "quadratic blow-up",
        b'<!DOCTYPE r [<!ENTITY a "'
        + b"x" * 100_000
        + b'">]><NFe xmlns="'
        + NS
        + b'">'
        + b"&a;" * 10_000
        + b"</NFe>",
        "entity_forbidden",
    ),
    (
        "external entity (file)",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<NFe xmlns="' + NS + b'">&x;</NFe>',
        "external_reference",
    ),
    (
        "external entity (http)",
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>',
        "external_reference",
    ),
    (
        "external parameter entity",
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><r/>',
        "external_reference",
    ),
    (
        "external DTD",
        b'<?xml version="1.0"?><!DOCTYPE NFe SYSTEM "http://127.0.0.1:9/nfe.dtd">'
        b'<NFe xmlns="' + NS + b'"/>',
        "external_reference",
    ),
    (
        "public DTD",
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html/>',
        "external_reference",
    ),
    ("internal DTD", b"<!DOCTYPE NFe [<!ELEMENT NFe ANY>]>" + BODY, "dtd_forbidden"),
    # repeated declarations: a scan that backtracks over the body would take hours here
    ("400,000 DOCTYPEs", b"<!DOCTYPE " * 400_000, "dtd_forbidden"),
    ("400,000 ENTITYs", b"<!DOCTYPE r [" + b"<!ENTITY " * 400_000, "entity_forbidden"),
    (
        "SYSTEM after 4 MB of DOCTYPE",
        b"<!DOCTYPE r " + b"x" * 4_000_000 + b' SYSTEM "http://127.0.0.1:9/">',
        "external_reference",
    ),
    (
        "XInclude",
        planted(
            b"<infAdic>",
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
            b' parse="text"/>',
        ),
        "external_reference",
    ),
    # size and shape
    ("too large", b"<a>" + b"x" * (5 * 1024 * 1024) + b"</a>", "too_large"),
    ("deep nesting", b"<a>" * 100_000 + b"</a>" * 100_000, "xml_too_deep"),
    ("just too deep", b"<a>" * 25 + b"</a>" * 25, "xml_too_deep"),
    ("too many elements", b"<a>" + b"<b/>" * 300_000 + b"</a>", "too_many_elements"),
    ("huge attribute", b'<a b="' + b"x" * 1_000_000 + b'"/>', "attribute_too_long"),
    ("huge text", planted(b"<infCpl>", b"x" * 1_000_000), "text_too_long"),
    ("huge CDATA", planted(b"<infCpl>", b"<![CDATA[" + b"x" * 1_000_000 + b"]]>"), "text_too_long"),
    (
        "many attributes",
        b"<a " + b" ".join(b'a%d="1"' % i for i in range(1_000)) + b"/>",
        "too_many_attributes",
    ),
    (
        "namespace declarations",
        b"<a " + b" ".join(b'xmlns:p%d="urn:%d"' % (i, i) for i in range(1_000)) + b"/>",
        "too_many_namespaces",
    ),
    ("long tag name", b"<" + b"a" * 10_000 + b"/>", "name_too_long"),
    ("huge tag name", b"<" + b"a" * 3_000_000 + b"/>", "name_too_long"),
    ("long attribute name", b"<a " + b"b" * 10_000 + b'="1"/>', "name_too_long"),
    # encodings and byte order marks
    (
        "ISO-8859-1 declared",
        b'<?xml version="1.0" encoding="ISO-8859-1"?>' + BODY,
        "wrong_encoding",
    ),
    (
        "Windows-1252 declared",
        b"<?xml version='1.0' encoding='windows-1252'?>" + BODY,
        "wrong_encoding",
    ),
    ("UTF-16 with BOM", VALID.decode().encode("utf-16"), "wrong_encoding"),
    ("UTF-16 without BOM", VALID.decode().encode("utf-16-le"), "wrong_encoding"),
    ("UTF-32 with BOM", VALID.decode().encode("utf-32"), "wrong_encoding"),
    ("Latin-1 bytes, no declaration", "<a>Açaí</a>".encode("latin-1"), "not_utf8"),
    (
        "Latin-1 bytes in a valid document",
        planted(b"<infCpl>", "Observação".encode("latin-1")),
        "not_utf8",
    ),
    ("XML 1.1", b'<?xml version="1.1" encoding="UTF-8"?>' + BODY, "unsupported_xml_version"),
    # not XML at all, or not one whole document
    ("truncated", VALID[: len(VALID) // 2], "truncated_xml"),
    ("truncated in a tag", b'<NFe xmlns="' + NS + b'"><infNFe>', "truncated_xml"),
    ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not_xml"),
    ("JSON", b'{"records": []}', "not_xml"),
    ("empty", b"", "not_xml"),
    ("blank", b" \r\n\t", "not_xml"),
    ("zip bomb", zip_bomb(), "compressed_content"),
    ("gzip", gzip.compress(VALID), "compressed_content"),
    ("bzip2", bz2.compress(VALID), "compressed_content"),
    ("two roots", VALID + BODY, "several_roots"),
    ("NUL byte", b"<a>\x00\x01\x02</a>", "malformed_xml"),
    ("invalid character reference", b"<a>&#xFFFFFFFF;</a>", "malformed_xml"),
    ("undeclared entity", b"<a>&undeclared;</a>", "malformed_xml"),
    ("duplicate attribute", b'<NFe xmlns="' + NS + b'" a="1" a="2"/>', "duplicate_attribute"),
    # processing instructions and comments
    (
        "stylesheet instruction",
        DECLARATION + b'<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:9/x.xsl"?>' + BODY,
        "processing_instruction",
    ),
    (
        "instruction inside",
        planted(b"<infAdic>", b"<?php system('id'); ?>"),
        "processing_instruction",
    ),
    ("comments", planted(b"<infAdic>", b"<!-- padding -->" * 5_000), "too_many_comments"),
    # namespaces, roots, duplicated and misplaced elements
    ("wrong namespace", b'<NFe xmlns="http://example.com/nfe"><infNFe/></NFe>', "wrong_namespace"),
    ("no namespace", b"<nfeProc><NFe/></nfeProc>", "wrong_namespace"),
    ("CT-e", b'<cteProc xmlns="http://www.portalfiscal.inf.br/cte"/>', "wrong_namespace"),
    ("HTML", b"<html><body>NF-e</body></html>", "wrong_namespace"),
    (
        "items in another namespace",
        VALID.replace(b"<det ", b'<det xmlns="urn:evil" ', 1),
        "schema",
    ),
    ("unsupported root", b'<inutNFe xmlns="' + NS + b'" versao="4.00"/>', "unsupported_document"),
    ("duplicate element", VALID.replace(b"<cUF>", b"<cUF>35</cUF><cUF>", 1), "schema"),
    ("empty document element", b'<NFe xmlns="' + NS + b'"><infNFe/></NFe>', "schema"),
    ("several events", two_events(), "several_documents"),
    (
        "older layout",
        VALID.replace(b'<infNFe versao="4.00"', b'<infNFe versao="3.10"'),
        "unsupported_version",
    ),
]


def test_the_hostile_corpus_is_large_and_its_rules_are_specific() -> None:
    assert len(HOSTILE) >= 30
    assert len({rule for _, _, rule in HOSTILE}) >= 20
    assert len({name for name, _, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("name", "data", "rule"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_refused_with_its_reason_in_bounded_time(
    name: str, data: bytes, rule: str
) -> None:
    bound = bound_seconds(data)
    started = time.perf_counter()
    with pytest.raises(FiscalRejected) as caught:
        read(data)
    elapsed = time.perf_counter() - started
    assert caught.value.rule == rule, str(caught.value)
    assert len(str(caught.value)) > 20  # a reason a person can read
    assert elapsed < bound, f"{name} took {elapsed:.2f} s (bound {bound:.2f} s)"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("UTF-8 byte order mark", b"\xef\xbb\xbf" + VALID),
        ("no declaration", BODY),
        ("declaration in lower case", b"<?xml version='1.0' encoding='utf-8'?>" + BODY),
        ("a comment or two", planted(b"<infAdic>", b"<!-- ERP 7.2 -->")),
        (
            "CDATA in a field",
            VALID.replace(b"<xProd>", b"<xProd><![CDATA[", 1).replace(
                b"</xProd>", b"]]></xProd>", 1
            ),
        ),
        ("CRLF line endings", VALID.replace(b"\n", b"\r\n")),
        ("blank lines before the declaration", b"\xef\xbb\xbf\r\n\n  " + VALID),
        (
            "xsi:schemaLocation",
            VALID.replace(
                b"<nfeProc ",
                b'<nfeProc xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                b'xsi:schemaLocation="http://www.portalfiscal.inf.br/nfe procNFe_v4.00.xsd" ',
                1,
            ),
        ),
    ],
)
def test_genuine_variations_of_a_valid_document_are_read(name: str, data: bytes) -> None:
    document = read(data)
    assert isinstance(document, FiscalDocument)
    assert document.content_hash == read(VALID).content_hash


def test_an_nfce_qr_code_in_cdata_is_read() -> None:
    """NFC-e emitters commonly wrap infNFeSupl/qrCode in CDATA."""
    data = (SAMPLES / "nfce_contingencia.xml").read_bytes()
    assert b"<![CDATA[" in data
    root = parse(data)
    assert root.find(f".//{{{NFE_NS}}}qrCode").text == "QRCODE_PLACEHOLDER"


def test_entities_are_never_expanded_even_past_the_byte_scan() -> None:
    """The parser's own flags: an entity reference with no declaration stays unresolved."""
    with pytest.raises(FiscalRejected) as caught:
        parse(b"<a>&undeclared;</a>")
    assert caught.value.rule == "malformed_xml"


@pytest.mark.timeout(10)
def test_many_texts_just_under_the_limit_are_read_without_rescanning_them() -> None:
    """The long-text pre-check is linear: each near-limit run is scanned once, not per byte."""
    near = DEFAULT_LIMITS.max_text_length - 10
    root = parse(b"<a>" + (b"<b>" + b"x" * near + b"</b>") * 20 + b"</a>")
    assert [len(b.text) for b in root] == [near] * 20


def test_limits_are_settings() -> None:
    small = XmlLimits(max_bytes=100, max_depth=3, max_elements=5, max_text_length=4)
    with pytest.raises(FiscalRejected, match="at most 100 bytes"):
        parse(b"<a>" + b" " * 200 + b"</a>", small)
    with pytest.raises(FiscalRejected, match="3 levels"):
        parse(b"<a><b><c><d/></c></b></a>", small)
    with pytest.raises(FiscalRejected, match="longer than 4 characters"):
        parse(b"<a>12345</a>", small)
    assert parse(b"<a><b><c/></b></a>", small).tag == "a"


def test_a_schema_failure_names_the_first_failing_element() -> None:
    document = build(lines=[Line("SKU-1", "2.0000", "4.99")]).replace(
        b"<qCom>2.0000</qCom>", b"<qCom>two</qCom>"
    )
    with pytest.raises(FiscalRejected) as caught:
        read(document)
    assert caught.value.rule == "schema"
    assert caught.value.path == "/nfeProc/NFe/infNFe/det/prod/qCom"
    assert "The value 'two' is not accepted by the pattern" in str(caught.value)


def test_the_unsigned_contingency_nfce_sample_fails_only_where_it_is_incomplete() -> None:
    """Unsigned is fine; the sample's recipient lacks indIEDest, which the layout requires."""
    with pytest.raises(FiscalRejected) as caught:
        read((SAMPLES / "nfce_contingencia.xml").read_bytes())
    assert caught.value.rule == "schema"
    assert caught.value.path == "/NFe/infNFe/dest"


def test_schemas_are_compiled_once_per_process() -> None:
    assert document_schema() is document_schema()
    assert event_schema() is event_schema()
    assert isinstance(document_schema(), etree.XMLSchema)


@pytest.mark.parametrize(
    "encoding",
    ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-8-sig"],
)
def test_xml_in_any_encoding_goes_to_the_fiscal_reader_whatever_its_name(encoding: str) -> None:
    """A UTF-16 file dropped as vendas.csv is refused as wrong_encoding, not misread."""
    data = VALID.decode().encode(encoding)
    assert is_xml_content(data[:512], "vendas.csv")
    if encoding != "utf-8-sig":
        with pytest.raises(FiscalRejected) as caught:
            read(data)
        assert caught.value.rule == "wrong_encoding"
    assert not is_xml_content(b"sku;quantity\r\n", "vendas.csv")


def test_a_utf32_big_endian_file_without_a_bom_is_routed_to_the_fiscal_reader(
    tmp_path: Path,
) -> None:
    """Its first bytes are NULs, not '<': recognised by the reader's own wide patterns."""
    dropped = tmp_path / "vendas.csv"
    dropped.write_bytes(VALID.decode().encode("utf-32-be"))
    assert dropped.read_bytes().startswith(b"\x00\x00\x00<")
    assert is_fiscal_file(dropped, dropped.name)
    with pytest.raises(FiscalRejected) as caught:
        read(dropped.read_bytes())
    assert caught.value.rule == "wrong_encoding"


@pytest.mark.timeout(20)
def test_a_prefixed_document_with_a_long_run_of_spaces_is_hashed_in_linear_time() -> None:
    """The hash's normalisation must not backtrack over a text's spaces."""
    root = etree.fromstring(planted(b"<infCpl>", b"a" + b" " * 4_800 + b"b"))
    prefixed = etree.Element(root.tag, nsmap={"nfe": NFE_NS}, **root.attrib)
    prefixed.extend(root)
    data = etree.tostring(prefixed)
    bound = bound_seconds(data)
    started = time.perf_counter()
    document = read(data)
    assert time.perf_counter() - started < bound
    assert document.content_hash != read(VALID).content_hash  # the text differs
