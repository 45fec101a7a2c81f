"""Hostile XML is refused fast with a reason; the official schema names the failing element."""

from __future__ import annotations

import pytest
from lxml import etree

from salesphere.fiscal.document import read
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.schema import document_schema, event_schema
from salesphere.fiscal.xmlsafe import NFE_NS, XmlLimits, parse
from tests.salesphere.fiscal.samples import SAMPLES, Line, build

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + f']><NFe xmlns="{NFE_NS}">&lol9;</NFe>'.encode()
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + f'<NFe xmlns="{NFE_NS}">&x;</NFe>'.encode()
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE NFe SYSTEM "http://127.0.0.1:9/nfe.dtd">'
    + f'<NFe xmlns="{NFE_NS}"/>'.encode()
)
PARAMETER_ENTITY = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><r/>'
DEEP = b"<a>" * 100_000 + b"</a>" * 100_000
WIDE = b"<a>" + b"<b/>" * 300_000 + b"</a>"

HOSTILE = [
    ("billion laughs", BILLION_LAUGHS, "dtd_forbidden"),
    ("external entity", EXTERNAL_ENTITY, "dtd_forbidden"),
    ("external DTD", EXTERNAL_DTD, "dtd_forbidden"),
    ("parameter entity", PARAMETER_ENTITY, "dtd_forbidden"),
    ("deep nesting", DEEP, "xml_too_deep"),
    ("too many elements", WIDE, "too_many_elements"),
    ("huge file", b"<a>" + b"x" * (5 * 1024 * 1024) + b"</a>", "too_large"),
    ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not_xml"),
    ("JSON", b'{"records": []}', "not_xml"),
    ("empty", b"", "not_xml"),
    ("blank", b" \r\n\t", "not_xml"),
    ("truncated", b'<NFe xmlns="' + NFE_NS.encode() + b'"><infNFe>', "malformed_xml"),
    ("binary after a tag", b"<a>\x00\x01\x02</a>", "malformed_xml"),
    ("wrong namespace", b'<NFe xmlns="http://example.com/nfe"><infNFe/></NFe>', "wrong_namespace"),
    ("no namespace", b"<nfeProc><NFe/></nfeProc>", "wrong_namespace"),
    ("CT-e", b'<cteProc xmlns="http://www.portalfiscal.inf.br/cte"/>', "wrong_namespace"),
    ("unsupported root", f'<inutNFe xmlns="{NFE_NS}"/>'.encode(), "unsupported_document"),
    ("schema", f'<NFe xmlns="{NFE_NS}"><infNFe/></NFe>'.encode(), "schema"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("name", "data", "rule"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_refused_with_its_reason(name: str, data: bytes, rule: str) -> None:
    with pytest.raises(FiscalRejected) as caught:
        read(data)
    assert caught.value.rule == rule, str(caught.value)
    assert str(caught.value)  # a reason a person can read


def test_entities_are_never_expanded_even_past_the_byte_scan() -> None:
    """The parser's own flags: an entity reference with no declaration stays unresolved."""
    with pytest.raises(FiscalRejected) as caught:
        parse(b"<a>&undeclared;</a>")
    assert caught.value.rule == "malformed_xml"


def test_limits_are_settings() -> None:
    small = XmlLimits(max_bytes=100, max_depth=3, max_elements=5)
    with pytest.raises(FiscalRejected, match="at most 100 bytes"):
        parse(b"<a>" + b" " * 200 + b"</a>", small)
    with pytest.raises(FiscalRejected, match="3 levels"):
        parse(b"<a><b><c><d/></c></b></a>", small)
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


def test_an_unsigned_sample_is_refused_at_the_signature() -> None:
    with pytest.raises(FiscalRejected) as caught:
        read((SAMPLES / "nfce_contingencia.xml").read_bytes())
    assert caught.value.rule == "schema"
    assert caught.value.path == "/NFe/infNFe/dest"


def test_schemas_are_compiled_once_per_process() -> None:
    assert document_schema() is document_schema()
    assert event_schema() is event_schema()
    assert isinstance(document_schema(), etree.XMLSchema)
