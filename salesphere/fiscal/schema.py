"""Validation against the official XSDs (layout 4.00 and the event layout 1.00).

The schemas are the ones the SEFAZ publishes, as the ``nfelib`` distribution ships them
(``nfelib/nfe/schemas/v4_0`` and ``nfelib/nfe_evento_generico/schemas/v1_0``); nothing is
copied into this repository. Each set is compiled once per process, on first use, from a
small in-memory schema that includes the published roots, so one compiled schema knows
both ``NFe`` and ``nfeProc`` (the event one: ``evento``, ``envEvento``,
``procEventoNFe``). Compiling reads only those local files: the parser that reads them
has the network switched off.

A document that does not validate is refused with rule ``schema`` and the first failing
element as the reason (``/nfeProc/NFe/infNFe/det[2]/prod/qCom: ... not a valid value``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import nfelib
from lxml import etree

from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.xmlsafe import NFE_NS, readable_path

_PACKAGE = Path(nfelib.__file__).resolve().parent
DOCUMENT_SCHEMAS = _PACKAGE / "nfe" / "schemas" / "v4_0"
EVENT_SCHEMAS = _PACKAGE / "nfe_evento_generico" / "schemas" / "v1_0"

_XS = "http://www.w3.org/2001/XMLSchema"


def _wrapper(includes: list[Path], extra: str = "") -> bytes:
    lines = "".join(f'<xs:include schemaLocation="{p.as_uri()}"/>' for p in includes)
    return (
        f'<xs:schema xmlns:xs="{_XS}" xmlns="{NFE_NS}" targetNamespace="{NFE_NS}" '
        f'elementFormDefault="qualified">{lines}{extra}</xs:schema>'
    ).encode()


def _compile(text: bytes, base: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(text, parser, base_url=base.as_uri() + "/")
    return etree.XMLSchema(root)


@functools.cache
def document_schema() -> etree.XMLSchema:
    """``NFe`` and ``nfeProc`` (NF-e and NFC-e, layout 4.00), compiled once."""
    return _compile(
        _wrapper([DOCUMENT_SCHEMAS / "nfe_v4.00.xsd", DOCUMENT_SCHEMAS / "procNFe_v4.00.xsd"]),
        DOCUMENT_SCHEMAS,
    )


@functools.cache
def event_schema() -> etree.XMLSchema:
    """``evento``, ``envEvento`` and ``procEventoNFe`` (event layout 1.00), compiled once.

    The published set declares ``evento`` only as a child, so the wrapper declares it as
    a root too (same type, ``TEvento``). The event's ``detEvento`` is open in this layout;
    :mod:`salesphere.fiscal.document` checks the fields it uses.
    """
    return _compile(
        _wrapper(
            [EVENT_SCHEMAS / "procEventoNFe_v1.00.xsd", EVENT_SCHEMAS / "envEvento_v1.00.xsd"],
            '<xs:element name="evento" type="TEvento"/>',
        ),
        EVENT_SCHEMAS,
    )


def validate(root: etree._Element, schema: etree.XMLSchema) -> None:
    """Raise :class:`FiscalRejected` (rule ``schema``) at the first element that fails."""
    if schema.validate(root):
        return
    error = schema.error_log[0]
    path = None
    if error.path:
        try:
            found = root.getroottree().xpath(error.path)
        except etree.XPathError:
            found = []
        if found and isinstance(found[0], etree._Element):
            path = readable_path(found[0])
    message = error.message.replace("{" + NFE_NS + "}", "")
    raise FiscalRejected(
        "schema",
        f"does not follow the official schema: {message} (line {error.line})",
        path,
    )
