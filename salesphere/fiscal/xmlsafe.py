"""XML from outside, parsed as hostile input: bounded, offline, no DTD, no entities.

A fiscal document comes from a POS, a supplier or a marketplace, so the parser must not
be the way in: :func:`parse` refuses, before or while libxml2 reads, anything a genuine
NF-e never contains, and says why with a rule code of its own (so a person, or a sender's
integration, can tell a mistake from an attack):

* before parsing, on the bytes: ``too_large`` (more than ``limits.max_bytes``; an NF-e of
  990 items is well under it), ``compressed_content`` (a ZIP, gzip, bzip2, xz or zstd
  body: never unpacked here, so no archive bomb), ``wrong_encoding`` (a UTF-16/UTF-32 byte
  order mark, or a declaration naming another encoding: the layout is UTF-8 only),
  ``not_xml`` (the first meaningful byte is not ``<``: a PDF, JSON, empty), ``not_utf8``
  (bytes that are not UTF-8, with their offset), ``unsupported_xml_version`` (XML 1.1),
  ``entity_forbidden`` (an ``<!ENTITY``: billion laughs, quadratic blow-up),
  ``external_reference`` (a ``SYSTEM``/``PUBLIC`` identifier or XInclude: a file or URL
  the parser would be asked to fetch), ``dtd_forbidden`` (any other ``<!DOCTYPE``),
  ``processing_instruction`` (``<?...?>`` other than the XML declaration) and
  ``too_many_comments``. No NF-e carries any of these, so they are refused unread,
  instead of trusting the parser's flags;
* ``too_many_elements`` from an upper bound counted on the bytes (every start tag opens
  with ``<``), so libxml2 never builds an oversized tree;
* on the parsed tree, by XPath queries libxml2 runs in C: ``xml_too_deep``,
  ``name_too_long``, ``too_many_attributes``, ``too_many_namespaces``,
  ``attribute_too_long`` and ``text_too_long``;
* libxml2's own refusals, sorted: ``truncated_xml`` (the document ends inside an
  element), ``several_roots`` (content after the root), ``duplicate_attribute``, and
  ``malformed_xml`` for the rest, with line and column.

The parser itself is also locked down (entities not resolved, no network, no DTD loaded,
no huge-tree mode), so a construct that slipped past the byte scan still expands nothing.
Comments are dropped; CDATA sections are ordinary text (an NFC-e's ``qrCode`` often is one).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lxml import etree

from salesphere.fiscal.errors import FiscalRejected

#: The namespace every NF-e/NFC-e 4.00 document and event lives in.
NFE_NS = "http://www.portalfiscal.inf.br/nfe"
#: What may precede the first ``<`` of a UTF-8 document: a byte order mark, blank lines.
_LEADING = b"\xef\xbb\xbf \t\r\n"
#: UTF-16/UTF-32 byte order marks (UTF-32 first: its little-endian mark starts like
#: UTF-16's), each with its encoding's name and how ``<`` is written in it.
_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)", b"\x00\x00\x00<"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)", b"<\x00\x00\x00"),
    (b"\xfe\xff", "UTF-16 (big-endian)", b"\x00<"),
    (b"\xff\xfe", "UTF-16 (little-endian)", b"<\x00"),
)
_WRONG_ENCODING = "; fiscal XML is UTF-8 (layout 4.00): re-save it as UTF-8"
_ARCHIVE = ", not XML; archives are never unpacked here: send each document's XML itself"
#: Refused on their first bytes: archives (never unpacked, so no archive bomb) and the
#: byte order marks of the wide encodings. Each with its rule and message.
_MAGIC = (
    (b"PK\x03\x04", "compressed_content", "content is a ZIP archive" + _ARCHIVE),
    (b"PK\x05\x06", "compressed_content", "content is an empty ZIP archive" + _ARCHIVE),
    (b"\x1f\x8b", "compressed_content", "content is gzip-compressed data" + _ARCHIVE),
    (b"BZh", "compressed_content", "content is bzip2-compressed data" + _ARCHIVE),
    (b"\xfd7zXZ\x00", "compressed_content", "content is xz-compressed data" + _ARCHIVE),
    (b"\x28\xb5\x2f\xfd", "compressed_content", "content is zstd-compressed data" + _ARCHIVE),
    (b"7z\xbc\xaf\x27\x1c", "compressed_content", "content is a 7-Zip archive" + _ARCHIVE),
    *(
        (bom, "wrong_encoding", f"document is encoded as {what}" + _WRONG_ENCODING)
        for bom, what, _ in _WIDE_BOMS
    ),
)
#: The first four bytes of XML in UTF-16/UTF-32 without a byte order mark: ``<?`` in
#: UTF-16 (little-, big-endian), then ``<`` in UTF-32 (little-, big-endian).
_WIDE_WITHOUT_BOM = frozenset({b"<\x00?\x00", b"\x00<\x00?", b"<\x00\x00\x00", b"\x00\x00\x00<"})
_DECLARATION = re.compile(rb"<\?xml\s([^>]{0,200}?)\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_DECLARED_VERSION = re.compile(rb"""version\s*=\s*["']([^"']{0,10})["']""")
_ENTITY = re.compile(rb"<!\s{0,64}ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!\s{0,64}DOCTYPE", re.IGNORECASE)
#: The keywords of an external identifier (XML is case-sensitive: always upper case). Only
#: looked for once a declaration is found; anywhere in the body, so the scan is linear.
_EXTERNAL_ID = re.compile(rb"\b(SYSTEM|PUBLIC)\b")
_XINCLUDE = re.compile(rb"http://www\.w3\.org/200[13]/XInclude")
_PROCESSING = re.compile(rb"<\?(?!xml\s)", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on one fiscal XML document, each far above what a genuine one needs."""

    #: NF-e allows 990 items; at ~3 KB each that is about 3 MB.
    max_bytes: int = 4 * 1024 * 1024
    #: A procEventoNFe or nfeProc is ~9 levels deep (nfeProc/NFe/infNFe/det/imposto/ICMS/…).
    max_depth: int = 24
    #: 990 items of ~80 elements each, with room for the signature and totals.
    max_elements: int = 200_000
    #: The longest name in the layouts is ~20 characters (``pAliqEfetRegIBSMun``).
    max_name_length: int = 64
    #: An element carries at most a handful (``Id``, ``versao``, ``xmlns``...).
    max_attributes: int = 16
    #: Namespace declarations in scope on one element (the NF-e, xmldsig, xsi, ...).
    max_namespaces: int = 8
    #: The longest attribute is an ``Id`` (47) or an algorithm URI (~60).
    max_attribute_length: int = 1024
    #: The longest text is the free ``infCpl`` (5,000) or a certificate (~3,000 base64).
    max_text_length: int = 20_000
    #: A generator may leave a comment or two; thousands only pad or hide something.
    max_comments: int = 100


DEFAULT_LIMITS = XmlLimits()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        strip_cdata=True,
    )


def looks_like_xml(head: bytes) -> bool:
    """Do a document's first bytes say it is XML, in UTF-8 or in a wide encoding?

    Decided on the same byte patterns :func:`parse` refuses by name, so XML in UTF-16 or
    UTF-32 (with or without a byte order mark) is recognised as XML and then refused as
    ``wrong_encoding``, rather than taken for some other format.
    """
    for bom, _, less_than in _WIDE_BOMS:
        if head.startswith(bom):
            return head.startswith(less_than, len(bom))
    text = head.lstrip(_LEADING)
    return text.startswith(b"<") or text[:4] in _WIDE_WITHOUT_BOM


def _check_bytes(data: bytes, limits: XmlLimits) -> None:
    """Everything decided on the raw bytes, cheapest first (see the module docstring)."""
    _check_size(data, limits)
    head = data.lstrip(_LEADING)
    declaration = _check_encoding(data, head)
    _check_references(data)
    _check_instructions(head, declaration)
    _check_counts(data, limits)


def _check_size(data: bytes, limits: XmlLimits) -> None:
    """Too large to be one document, or an archive or a wide encoding by its first bytes."""
    if len(data) > limits.max_bytes:
        raise FiscalRejected(
            "too_large",
            f"document is {len(data)} bytes; a fiscal XML is at most {limits.max_bytes} bytes "
            "(send one document per file or request)",
        )
    for magic, rule, message in _MAGIC:
        if data.startswith(magic):
            raise FiscalRejected(rule, message)


def _check_encoding(data: bytes, head: bytes) -> re.Match[bytes] | None:
    """XML, in UTF-8, version 1.0: wide encodings and other declared ones are refused by
    name before the decode would fail vaguely. Returns the XML declaration, if any."""
    if head[:4] in _WIDE_WITHOUT_BOM:
        raise FiscalRejected(
            "wrong_encoding",
            "document is encoded as UTF-16/UTF-32 without a byte order mark; fiscal XML is "
            "UTF-8 (layout 4.00): re-save it as UTF-8",
        )
    if not head.startswith(b"<"):
        raise FiscalRejected(
            "not_xml",
            "content is not XML (it must start with '<'); send the document's XML, not a "
            "PDF, JSON or DANFE image",
        )
    declaration = _DECLARATION.match(head)
    if declaration is not None:
        encoding = _DECLARED_ENCODING.search(declaration.group(1))
        if encoding is not None and encoding.group(1).decode().lower() not in _UTF8_NAMES:
            raise FiscalRejected(
                "wrong_encoding",
                f"document declares encoding {encoding.group(1).decode()!r}; fiscal XML is "
                "UTF-8 (layout 4.00): re-save it as UTF-8",
            )
        version = _DECLARED_VERSION.search(declaration.group(1))
        if version is not None and version.group(1) != b"1.0":
            raise FiscalRejected(
                "unsupported_xml_version",
                f"document declares XML version {version.group(1).decode('ascii', 'replace')!r};"
                " fiscal XML is XML 1.0",
            )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FiscalRejected(
            "not_utf8",
            f"byte {exc.start} (0x{data[exc.start]:02x}) is not UTF-8; the document was saved "
            "in another encoding (often ISO-8859-1/Windows-1252): re-save it as UTF-8",
        ) from exc
    return declaration


def _check_references(data: bytes) -> None:
    """No DTD, entity or XInclude: a fiscal XML refers to nothing, so none is ever read."""
    entity = _ENTITY.search(data)
    doctype = entity or _DOCTYPE.search(data)
    if doctype is not None:
        # Every pattern here is a literal or bounded, so the scan stays linear however
        # many declarations a document repeats (no backtracking over the whole body).
        external = _EXTERNAL_ID.search(data)
        if external is not None:
            raise FiscalRejected(
                "external_reference",
                f"document declares an external {external.group(1).decode()} reference (an "
                "entity or DTD to fetch from a file or URL); fiscal XML refers to nothing "
                "outside itself, so it is refused unread",
            )
        if entity is not None:
            raise FiscalRejected(
                "entity_forbidden",
                "document declares <!ENTITY ...>: fiscal XML never declares entities, so "
                "they are refused unread (no expansion: no billion laughs, no quadratic "
                "blow-up)",
            )
        raise FiscalRejected(
            "dtd_forbidden",
            "document declares <!DOCTYPE ...>: fiscal XML never carries a DTD, so it is "
            "refused unread",
        )
    if _XINCLUDE.search(data):
        raise FiscalRejected(
            "external_reference",
            "document uses XInclude (the XML Inclusions namespace); fiscal XML refers to "
            "nothing outside itself, so it is refused unread",
        )


def _check_instructions(head: bytes, declaration: re.Match[bytes] | None) -> None:
    """No processing instruction besides the XML declaration."""
    start = declaration.end() if declaration is not None else 0
    instruction = _PROCESSING.search(head, start)
    if instruction is not None:
        raise FiscalRejected(
            "processing_instruction",
            f"document carries a processing instruction ({head[instruction.start() :][:40]!r}"
            "); fiscal XML has none besides the XML declaration",
        )


def _check_counts(data: bytes, limits: XmlLimits) -> None:
    """Element and comment counts within the limits, counted in C before any is built."""
    # Every start tag opens with "<" not followed by "/", "!" or "?": an upper bound on the
    # elements, counted in C before libxml2 builds any of them.
    starts = data.count(b"<") - data.count(b"</") - data.count(b"<!") - data.count(b"<?")
    if starts > limits.max_elements:
        raise FiscalRejected(
            "too_many_elements",
            f"about {starts} elements (at most {limits.max_elements}); no fiscal document "
            "is that large",
        )
    comments = data.count(b"<!--")
    if comments > limits.max_comments:
        raise FiscalRejected(
            "too_many_comments",
            f"document holds {comments} comments (at most {limits.max_comments}); a fiscal "
            "XML needs none",
        )


_ATTRIBUTES = etree.XPath("//@*")


def _check_texts(root: etree._Element, limits: XmlLimits) -> None:
    for element in root.iter():
        for text in (element.text, element.tail):
            if text is not None and len(text) > limits.max_text_length:
                raise FiscalRejected(
                    "text_too_long",
                    f"element {etree.QName(element).localname[:64]!r} holds {len(text)} "
                    f"characters of text, longer than {limits.max_text_length} characters; "
                    "no fiscal field is that long",
                )


def _check_names(root: etree._Element, limits: XmlLimits) -> None:
    for element in root.iter():
        name = etree.QName(element).localname
        if len(name) > limits.max_name_length:
            raise FiscalRejected(
                "name_too_long",
                f"an element name is {len(name)} characters, longer than "
                f"{limits.max_name_length} characters; no fiscal layout has such a name",
            )


def _check_attributes(root: etree._Element, limits: XmlLimits) -> None:
    per_element: dict[etree._Element, int] = {}
    for value in _ATTRIBUTES(root):
        element = value.getparent()
        name = etree.QName(value.attrname).localname
        where = etree.QName(element).localname[:64]
        per_element[element] = per_element.get(element, 0) + 1
        if per_element[element] > limits.max_attributes:
            raise FiscalRejected(
                "too_many_attributes",
                f"element {where!r} has {len(element.attrib)} attributes (at most "
                f"{limits.max_attributes})",
            )
        if len(name) > limits.max_name_length:
            raise FiscalRejected(
                "name_too_long",
                f"an attribute name of element {where!r} is longer than "
                f"{limits.max_name_length} characters; no fiscal layout has such a name",
            )
        if len(value) > limits.max_attribute_length:
            raise FiscalRejected(
                "attribute_too_long",
                f"attribute {name!r} of element {where!r} holds {len(value)} characters, "
                f"longer than {limits.max_attribute_length} characters",
            )


@functools.cache
def _long_run(limit: int) -> re.Pattern[bytes]:
    """A ``<`` and then more than ``limit`` bytes without another ``<``.

    Anchored on the ``<`` so the search is linear: an unanchored ``[^<]{n}`` is retried
    from every byte of a shorter run, quadratic in its length (seconds on a few hundred
    KB of near-limit texts). What precedes the first ``<`` is only a byte order mark and
    blank lines, never a text of the tree.
    """
    return re.compile(rb"<[^<]{%d}" % (limit + 1))


@functools.cache
def _depth_query(limit: int) -> etree.XPath:
    """The first element nested deeper than ``limit`` levels, compiled once per limit."""
    return etree.XPath("(/" + "/".join(["*"] * (limit + 1)) + ")[1]")


def _check_tree(data: bytes, root: etree._Element, limits: XmlLimits) -> None:
    """The shape limits on the parsed tree, cheapest first; see the module docstring.

    Most of the work is done in C: a text (or tag) longer than the limit needs a ``<``
    followed by that many bytes without ``<`` (CDATA aside, which may hide one, so it is
    measured on the tree's texts), found by a bounded regex search without a bytes object
    per tag; a long element name needs ``<`` and that many name characters
    (a bounded regex search); the attributes are few (``Id``, ``versao``, ``nItem``...),
    so they are fetched with one XPath and checked one by one; the depth is one XPath.
    """
    if _long_run(limits.max_text_length).search(data) or b"<![CDATA[" in data:
        _check_texts(root, limits)
    if re.search(rb"<[^\s/>!?<]{%d}" % (limits.max_name_length + 1), data):
        _check_names(root, limits)
    _check_attributes(root, limits)
    if _depth_query(limits.max_depth)(root):
        raise FiscalRejected(
            "xml_too_deep",
            f"elements are nested more than {limits.max_depth} levels; no fiscal document "
            "is that deep",
        )
    if data.count(b"xmlns") > limits.max_namespaces:
        crowded = root.xpath(f"(//*[count(namespace::*) > {limits.max_namespaces + 1}])[1]")
        if crowded:  # the count includes the implicit xml namespace
            raise FiscalRejected(
                "too_many_namespaces",
                f"element {etree.QName(crowded[0]).localname!r} has more than "
                f"{limits.max_namespaces} namespaces in scope",
            )


_SYNTAX_RULES = (
    ("Premature end of data", "truncated_xml", "the document ends inside an element"),
    ("EndTag: '</' not found", "truncated_xml", "the document ends inside an element"),
    ("Extra content at the end", "several_roots", "content after the root element"),
    ("redefined", "duplicate_attribute", "an attribute is repeated on one element"),
    ("Name too long", "name_too_long", "a name is longer than the parser allows"),
    ("Excessive depth", "xml_too_deep", "elements are nested too deep"),
)


def _syntax(exc: etree.XMLSyntaxError) -> FiscalRejected:
    text = str(exc)
    for marker, rule, what in _SYNTAX_RULES:
        if marker in text:
            return FiscalRejected(rule, f"{what}: {text}")
    return FiscalRejected("malformed_xml", f"not well-formed XML: {text}")


def parse(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """The document's root element, or :class:`FiscalRejected` with the reason.

    The bytes are checked first (size, encoding, declarations, an upper bound on the
    element count), so libxml2 only ever reads at most ``max_bytes`` of plain XML with at
    most ``max_elements`` elements, nested at most 256 deep (its own bound without
    huge-tree mode); the shape limits are then XPath queries run in C.
    """
    _check_bytes(data, limits)
    try:
        # what precedes the root may be a UTF-8 BOM and blank lines (an ERP's export): the
        # bytes are known to be UTF-8, so libxml2 reads from the first '<'
        root = etree.fromstring(data.lstrip(_LEADING), _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax(exc) from exc
    if root is None:
        raise FiscalRejected("malformed_xml", "no root element")
    _check_tree(data, root, limits)
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
