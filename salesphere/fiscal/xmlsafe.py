"""XML from outside, parsed as hostile input: bounded, offline, no DTD, no entities.

A fiscal document comes from a POS, a supplier or a marketplace, so the parser must not
be the way in: :func:`parse` refuses, before or while libxml2 reads, anything a genuine
NF-e never contains, and says why:

* ``too_large``: more than ``limits.max_bytes`` (an NF-e of 990 items is well under it);
* ``not_xml``: the first meaningful byte is not ``<`` (a PDF, a ZIP, JSON, empty);
* ``dtd_forbidden``: a ``<!DOCTYPE`` or ``<!ENTITY`` anywhere; no NF-e declares one, and
  refusing them outright stops "billion laughs" entity bombs and external entities
  (``file://``, ``http://``) before any parsing, instead of trusting the parser's flags;
* ``xml_too_deep`` / ``too_many_elements``: nesting or element count past the limits,
  counted while streaming so a deep or wide document is stopped early;
* ``malformed_xml``: libxml2's own message, with line and column.

The parser itself is also locked down (entities not resolved, no network, no DTD loaded,
no huge-tree mode), so a construct that slipped past the byte scan still expands nothing.
Comments and processing instructions are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from salesphere.fiscal.errors import FiscalRejected

#: The namespace every NF-e/NFC-e 4.00 document and event lives in.
NFE_NS = "http://www.portalfiscal.inf.br/nfe"
_CHUNK = 64 * 1024
_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_LEADING = b"\xef\xbb\xbf \t\r\n"


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on one fiscal XML document."""

    #: NF-e allows 990 items; at ~3 KB each that is about 3 MB.
    max_bytes: int = 4 * 1024 * 1024
    #: A procEventoNFe or nfeProc is ~9 levels deep (nfeProc/NFe/infNFe/det/imposto/ICMS/…).
    max_depth: int = 24
    #: 990 items of ~80 elements each, with room for the signature and totals.
    max_elements: int = 200_000


DEFAULT_LIMITS = XmlLimits()


def _parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """The document's root element, or :class:`FiscalRejected` with the reason."""
    if len(data) > limits.max_bytes:
        raise FiscalRejected(
            "too_large",
            f"document is {len(data)} bytes; a fiscal XML is at most {limits.max_bytes} bytes "
            "(send one document per file or request)",
        )
    head = data.lstrip(_LEADING)
    if not head.startswith(b"<"):
        raise FiscalRejected(
            "not_xml",
            "content is not XML (it must start with '<'); send the document's XML, not a "
            "PDF, ZIP or DANFE image",
        )
    found = _DECLARATIONS.search(data)
    if found is not None:
        raise FiscalRejected(
            "dtd_forbidden",
            f"document declares <!{found.group(1).decode().upper()} ...>: fiscal XML never "
            "carries a DTD or entities, so they are refused unread (no expansion, no fetch)",
        )
    parser = _parser()
    depth = 0
    elements = 0
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
            for event, _element in parser.read_events():
                if event == "start":
                    depth += 1
                    elements += 1
                    if depth > limits.max_depth:
                        raise FiscalRejected(
                            "xml_too_deep",
                            f"elements are nested more than {limits.max_depth} levels; "
                            "no fiscal document is that deep",
                        )
                    if elements > limits.max_elements:
                        raise FiscalRejected(
                            "too_many_elements",
                            f"more than {limits.max_elements} elements; "
                            "no fiscal document is that large",
                        )
                else:
                    depth -= 1
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):  # libxml2's own bound, met inside one chunk
            raise FiscalRejected(
                "xml_too_deep",
                f"elements are nested more than {limits.max_depth} levels; "
                "no fiscal document is that deep",
            ) from exc
        raise FiscalRejected("malformed_xml", f"not well-formed XML: {exc}") from exc
    if root is None:
        raise FiscalRejected("malformed_xml", "no root element")
    return root


def local(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def readable_path(element: etree._Element) -> str:
    """``/nfeProc/NFe/infNFe/det[2]/prod`` for an element: local names, 1-based positions."""
    parts = []
    node: etree._Element | None = element
    while node is not None:
        name = local(node)
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
