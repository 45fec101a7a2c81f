"""Validation against the official XSDs (layout 4.00 and the event layout 1.00).

The schemas are the ones the SEFAZ publishes, as the ``nfelib`` distribution ships them
(``nfelib/nfe/schemas/v4_0`` and ``nfelib/nfe_evento_generico/schemas/v1_0``); nothing is
copied into this repository. Each set is compiled once per process, on first use, from a
small in-memory schema that includes the published roots, so one compiled schema knows
both ``NFe`` and ``nfeProc`` (the event one: ``evento``, ``envEvento``,
``procEventoNFe``). Compiling reads only those local files: the parser that reads them
has the network switched off.

Two amendments are made in memory while compiling (the files on disk are untouched):

* the ``Signature`` of ``NFe`` and ``evento`` becomes optional: signatures are not
  verified offline (that needs the ICP-Brasil chain and revocation lists), so requiring
  the element would only refuse unsigned copies (a contingency NFC-e, an ERP's export)
  without making a signed one any more trustworthy;
* the event layout's CNPJ and access-key patterns (``tiposBasico_v1.03``: ``[0-9]{14}``,
  ``[0-9]{44}``, the event ``Id``) accept the alphanumeric CNPJ the Receita Federal
  issues from July 2026, as the 4.00 document layout already does. Without it no
  cancellation of a document from an alphanumeric-CNPJ issuer could be read.

A document that does not validate is refused with rule ``schema`` and the first failing
element as the reason (``/nfeProc/NFe/infNFe/det[2]/prod/qCom: ... not a valid value``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


_OPTIONAL_SIGNATURE = (
    '<xs:element ref="ds:Signature"/>',
    '<xs:element ref="ds:Signature" minOccurs="0"/>',
)
_ALNUM_CNPJ = "[0-9A-Z]{12}[0-9]{2}"
#: File name -> (published text, amended text) pairs applied when the schema is compiled.
AMENDMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "leiauteNFe_v4.00.xsd": (_OPTIONAL_SIGNATURE,),
    "leiauteEvento_v1.00.xsd": (
        _OPTIONAL_SIGNATURE,
        (
            '<xs:pattern value="ID[0-9]{52}"/>',
            '<xs:pattern value="ID[0-9]{12}[0-9A-Z]{12}[0-9]{28}"/>',
        ),
    ),
    "tiposBasico_v1.03.xsd": (
        ('<xs:pattern value="[0-9]{14}"/>', f'<xs:pattern value="{_ALNUM_CNPJ}"/>'),
        (
            '<xs:pattern value="[0-9]{0}|[0-9]{14}"/>',
            f'<xs:pattern value="[0-9]{{0}}|{_ALNUM_CNPJ}"/>',
        ),
        ('<xs:pattern value="[0-9]{44}"/>', '<xs:pattern value="[0-9]{6}[0-9A-Z]{12}[0-9]{26}"/>'),
    ),
}


class _Amending(etree.Resolver):
    """Serves the schema files named in :data:`AMENDMENTS` with their amendments applied."""

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        name = system_url.rsplit("/", 1)[-1]
        changes = AMENDMENTS.get(name)
        if changes is None or not system_url.startswith("file:"):
            return None
        path = Path(unquote(urlsplit(system_url).path))
        text = path.read_text(encoding="utf-8")
        for published, amended in changes:
            if published not in text:  # a new nfelib changed the file: fail loudly
                raise RuntimeError(f"{name} no longer contains {published!r}; review AMENDMENTS")
            text = text.replace(published, amended)
        return self.resolve_string(text, context, base_url=system_url)


def _compile(text: bytes, base: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_Amending())
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
