"""The real corpus (nfelib's public samples, read from the installed package) lands right.

Each test builds the reference data a company holding these documents would have
(stores by CNPJ, products by GTIN or code, the supplier's codes in supplier_items),
reads the document through the whole intake (hardened parse, schema, key, register,
conversion, ingest's own validation) and checks what lands: which events, at which
store, which SKU, how many units, which BRL amounts, on which local business day. The
expected figures are read from the XML independently (XPath), not from the reader.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from salesphere.fiscal.convert import (
    DEFAULT_POLICY,
    FiscalCatalog,
    FiscalPolicy,
    StoreRef,
    SupplierItem,
)
from salesphere.fiscal.document import FiscalDocument, FiscalEvent, read
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.intake import Intake, take
from salesphere.fiscal.register import FiscalRegister, MemoryStore
from salesphere.ingest.validate import validate
from tests.salesphere.fiscal import corpus
from tests.salesphere.fiscal.corpus import N, child, new, set_text

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CENT = Decimal("0.01")


def rows_of(intake: Intake) -> list[dict]:
    rows = []
    for draft in intake.conversion.drafts:
        row, problems = validate(draft, RECEIVED)
        assert not problems, problems
        rows.append(row)
    return rows


def local_day(row: dict, timezone: str) -> date:
    """The business day the platform files the event under: the store's local date."""
    moment = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(timezone)).date()


def xml_items(data: bytes) -> list[dict]:
    """Each det's code, GTIN, quantity, vProd and vDesc, read with plain XPath."""
    root = etree.fromstring(data)
    out = []
    for det in root.iter(N + "det"):
        prod = det.find(N + "prod")
        out.append(
            {
                "n": int(det.get("nItem")),
                "code": prod.findtext(N + "cProd"),
                "gtin": prod.findtext(N + "cEAN"),
                "q": Decimal(prod.findtext(N + "qCom")),
                "vProd": Decimal(prod.findtext(N + "vProd")),
                "vDesc": Decimal(prod.findtext(N + "vDesc") or "0"),
            }
        )
    return out


def supplier_catalog(
    data: bytes, store: str, timezone: str = "America/Sao_Paulo", per_unit: int = 1
) -> FiscalCatalog:
    """Our store is the recipient; every supplier code is cross-referenced to a SKU."""
    document = read(data)
    assert isinstance(document, FiscalDocument)
    return FiscalCatalog.build(
        stores=[(store, StoreRef("ST01", timezone=timezone))],
        products=[(f"SKU-{i.code}", None) for i in document.items],
        supplier_items=[
            SupplierItem(document.issuer.cnpj, i.code, f"SKU-{i.code}", per_unit)
            for i in document.items
        ],
    )


# -- São Paulo: ten real authorised NF-e, 1 to 41 items, received by "our" store -------------


def seller_catalog(data: bytes) -> FiscalCatalog:
    """Our store is the issuer; its product codes are our SKUs."""
    document = read(data)
    assert isinstance(document, FiscalDocument)
    return FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("SP01"))],
        products=[(i.code, None) for i in document.items],
    )


@pytest.mark.parametrize("path", corpus.SP_SUPPLIER_NOTES, ids=lambda p: p.name[:20])
def test_real_sao_paulo_notes_land_in_units_on_the_local_day(path: Path) -> None:
    """Sold to a company: our store is the recipient (receipts through supplier_items);
    sold to a person (CPF): our store is the issuer (sales)."""
    data = path.read_bytes()
    document = read(data)
    assert isinstance(document, FiscalDocument) and document.authorised
    recipient = document.recipient.cnpj
    if recipient is not None:
        catalog, kind, store, sku = (
            supplier_catalog(data, recipient),
            "stock_receipt",
            "ST01",
            "SKU-",
        )
    else:
        catalog, kind, store, sku = seller_catalog(data), "sale", "SP01", ""
    register = FiscalRegister(MemoryStore())
    intake = take(data, catalog, register)
    rows = rows_of(intake)
    expected = xml_items(data)
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        (kind, store, f"{sku}{i['code']}", int(i["q"])) for i in expected
    ]
    assert [r["source_ref"] for r in rows] == [f"{document.key.text}/{i['n']}" for i in expected]
    assert {r["source"] for r in rows} == {"nfe"}
    issued_local = document.issued_at.date()  # dhEmi carries São Paulo's own offset
    assert {local_day(r, "America/Sao_Paulo") for r in rows} == {issued_local}
    register.record_document(intake.item, [r["event_id"] for r in rows])
    assert take(data, catalog, register).duplicate  # a re-drop


def test_the_sao_paulo_corpus_is_the_ten_documents_and_134_items() -> None:
    items = sum(len(xml_items(p.read_bytes())) for p in corpus.SP_SUPPLIER_NOTES)
    assert (len(corpus.SP_SUPPLIER_NOTES), items) == (10, 134)


def test_a_real_multi_item_note_sold_by_our_store_is_sales_with_exact_brl_amounts() -> None:
    """The issuer plays our store (B2B sale): every line's money, to the cent, from vProd."""
    path = max(corpus.SP_SUPPLIER_NOTES, key=lambda p: p.stat().st_size)  # the 41-item one
    data = path.read_bytes()
    document = read(data)
    catalog = FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("SP01"))],
        products=[(i.code, None) for i in document.items],
    )
    rows = rows_of(take(data, catalog, FiscalRegister(MemoryStore())))
    expected = xml_items(data)
    assert len(rows) == len(expected) == 41
    for row, item in zip(rows, expected, strict=True):
        assert (row["event_type"], row["sku"], row["quantity"]) == (
            "sale",
            item["code"],
            int(item["q"]),
        )
        price, discount = Decimal(row["unit_price"]), Decimal(row["discount"])
        assert price * row["quantity"] - discount == item["vProd"] - item["vDesc"]
        assert price == (item["vProd"] / item["q"]).quantize(CENT, rounding=ROUND_CEILING)
    gross = sum(Decimal(r["unit_price"]) * r["quantity"] - Decimal(r["discount"]) for r in rows)
    assert gross == sum(i["vProd"] - i["vDesc"] for i in expected)


# -- Santa Catarina: unsigned procNFe; an import entry note the buyer issued itself ----------


def test_unsigned_real_documents_are_read_signatures_being_checked_nowhere() -> None:
    for path in (corpus.SC_UNSIGNED_IMPORT, corpus.SC_UNSIGNED_SALE, corpus.SC_UNSIGNED_EXPORT):
        data = path.read_bytes()
        assert b"Signature" not in data
        document = read(data)
        assert isinstance(document, FiscalDocument)
        assert document.key.uf == "42" and document.authorised, path.name


def test_a_real_import_entry_note_issued_by_our_store_is_a_stock_receipt() -> None:
    data = corpus.SC_UNSIGNED_IMPORT.read_bytes()
    document = read(data)
    assert (document.direction, document.purpose) == ("0", "1")
    assert document.recipient is not None and document.recipient.cnpj is None  # abroad
    catalog = FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("SC01"))],
        products=[(i.code, None) for i in document.items],
    )
    rows = rows_of(take(data, catalog, FiscalRegister(MemoryStore())))
    expected = xml_items(data)
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("stock_receipt", "SC01", i["code"], int(i["q"])) for i in expected
    ]


def test_our_entry_note_for_a_purchase_from_a_person_is_a_stock_receipt() -> None:
    """tpNF 0, our CNPJ as issuer, a CPF as the other party, CFOP 1102: goods in."""

    def change(root: etree._Element) -> None:
        corpus.party(root, "dest", cpf="68834846982")
        set_text(child(corpus.inf_of(root), "ide"), "tpNF", "0")
        for prod in root.iter(N + "prod"):
            set_text(prod, "CFOP", "1102")

    data = corpus.variant(corpus.SP_SUPPLIER_NOTES[0], change)
    document = read(data)
    catalog = FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("SP01"))],
        products=[(i.code, None) for i in document.items],
    )
    rows = rows_of(take(data, catalog, FiscalRegister(MemoryStore())))
    assert {r["event_type"] for r in rows} == {"stock_receipt"}
    assert [r["quantity"] for r in rows] == [int(i["q"]) for i in xml_items(data)]


# -- Pará: the tax reform's IBS/CBS groups ------------------------------------------------------


def test_a_reform_era_note_with_ibs_cbs_groups_lands_with_its_amounts() -> None:
    data = corpus.variant(corpus.REFORM, lambda root: None)
    assert b"<IBSCBS>" in data and b"<IBSCBSTot>" in data
    document = read(data)
    assert document.key.uf == "15" and document.recipient.cnpj == "00127912000129"
    catalog = FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("PA01", timezone="America/Belem"))],
        products=[("SKU-POLPA", "7896014400287")],  # by the GTIN the note carries
    )
    (row,) = rows_of(take(data, catalog, FiscalRegister(MemoryStore())))
    # 6 x 2.4800000000 = 14.88, minus a 1.40 discount
    assert (row["event_type"], row["sku"], row["quantity"]) == ("sale", "SKU-POLPA", 6)
    assert (row["unit_price"], row["discount"]) == ("2.48", "1.40")
    # 10:00:01 UTC is 07:00 in Belém: the same day
    assert local_day(row, "America/Belem") == date(2025, 7, 1)


# -- variants: alphanumeric CNPJs, boxes, lots, ten-decimal prices ------------------------------


def alnum_supplier_note(unit: str = "CX", lots: bool = False) -> bytes:
    """A real SP note re-issued by an alphanumeric-CNPJ supplier to our alphanumeric store."""

    def change(root: etree._Element) -> None:
        corpus.party(root, "emit", cnpj=corpus.ALNUM_SUPPLIER)
        corpus.party(root, "dest", cnpj=corpus.ALNUM_STORE)
        for number, prod in enumerate(root.iter(N + "prod"), start=1):
            set_text(prod, "uCom", unit)
            set_text(prod, "qCom", "2.0000")
            set_text(prod, "vUnCom", "59.8800000000")  # a box of 12 at 4.99
            set_text(prod, "vProd", "119.76")
            if lots:
                rastro = new("rastro")
                for name, value in (
                    ("nLote", f"L2026-{number:03d}"),
                    ("qLote", "2.000"),
                    ("dFab", "2026-10-01"),
                    ("dVal", "2027-10-01"),
                ):
                    rastro.append(new(name, value))
                corpus.prod_insert(
                    prod, rastro, ("indTot", "DI", "detExport", "xPed", "nItemPed", "nFCI")
                )

    return corpus.variant(corpus.SP_SUPPLIER_NOTES[4], change)  # 4 items


def box_catalog(data: bytes) -> FiscalCatalog:
    return supplier_catalog(data, corpus.ALNUM_STORE, per_unit=12)


def test_an_alphanumeric_cnpj_supplier_sends_boxes_of_12_to_an_alphanumeric_store() -> None:
    data = alnum_supplier_note()
    document = read(data)
    assert (
        document.issuer.cnpj == corpus.ALNUM_SUPPLIER
        and document.key.issuer == corpus.ALNUM_SUPPLIER
    )
    assert document.recipient.cnpj == corpus.ALNUM_STORE
    rows = rows_of(take(data, box_catalog(data), FiscalRegister(MemoryStore())))
    assert len(rows) == 4
    assert {(r["event_type"], r["store_id"], r["quantity"]) for r in rows} == {
        ("stock_receipt", "ST01", 24)  # 2 boxes of 12
    }


def test_items_with_lots_land_once_per_item_whatever_their_rastro() -> None:
    data = alnum_supplier_note(lots=True)
    assert data.count(b"<rastro>") == 4
    rows = rows_of(take(data, box_catalog(data), FiscalRegister(MemoryStore())))
    assert [r["quantity"] for r in rows] == [24, 24, 24, 24]


def test_a_cancellation_with_an_alphanumeric_key_is_read_and_applied() -> None:
    data = alnum_supplier_note()
    key = corpus.key_of(data)
    register = FiscalRegister(MemoryStore())
    first = take(data, box_catalog(data), register)
    register.record_document(first.item, [r["event_id"] for r in rows_of(first)])
    cancel = corpus.event_from_cce(
        key,
        "110111",
        [
            ("descEvento", "Cancelamento"),
            ("nProt", "135260000000001"),
            ("xJust", "Pedido desfeito pelo cliente"),
        ],
        author=corpus.ALNUM_SUPPLIER,
        when="2026-11-28T15:00:00-03:00",
        organ="35",
    )
    event = read(cancel)
    assert isinstance(event, FiscalEvent) and event.key.text == key and event.authorised
    result = take(cancel, box_catalog(data), register).cancellation
    assert result.document_counted and len(result.voided_event_ids) == 4


def test_a_ten_decimal_unit_price_rounds_to_cents_with_the_difference_in_the_discount() -> None:
    def change(root: etree._Element) -> None:
        prod = next(root.iter(N + "prod"))
        set_text(prod, "qCom", "3.0000")
        set_text(prod, "vUnCom", "0.3333333333")
        set_text(prod, "vProd", "1.00")

    data = corpus.variant(corpus.SP_SUPPLIER_NOTES[5], change)  # 1 item
    document = read(data)
    catalog = FiscalCatalog.build(
        stores=[(document.issuer.cnpj, StoreRef("SP01"))],
        products=[(document.items[0].code, None)],
    )
    (row,) = rows_of(take(data, catalog, FiscalRegister(MemoryStore())))
    assert (row["quantity"], row["unit_price"], row["discount"]) == (3, "0.34", "0.02")


# -- Acre: an NFC-e at 22:40 local (UTC-5), cancelled by substitution ----------------------------

QR = (
    "https://www.sefaznet.ac.gov.br/nfce/qrcode?chNFe={key}&nVersao=100&tpAmb=1"
    "&dhEmi="
    + "a" * 50
    + "&vNF={total}&vICMS=0&digVal="
    + "b" * 56
    + "&cIdToken=000001&cHashQRCode="
    + "c" * 40
)


def acre_nfce(number: int, when: str = "2026-11-28T22:40:00-05:00") -> bytes:
    """The real Paraná contingency NFC-e, re-issued in Rio Branco (Acre) and authorised."""
    root = corpus.tree(corpus.NFCE_CONTINGENCY)
    inf = corpus.inf_of(root)
    ide = child(inf, "ide")
    for name, value in (
        ("cUF", "12"),
        ("cMunFG", "1200401"),
        ("nNF", str(number)),
        ("dhEmi", when),
        ("dhCont", when),
        ("tpAmb", "1"),
    ):
        set_text(ide, name, value)
    corpus.party(root, "emit", cnpj=corpus.ACRE_STORE)
    address = child(child(inf, "emit"), "enderEmit")
    for name, value in (
        ("cMun", "1200401"),
        ("xMun", "Rio Branco"),
        ("UF", "AC"),
        ("CEP", "69900000"),
    ):
        set_text(address, name, value)
    dest = child(inf, "dest")
    set_text(dest, "xNome", "CONSUMIDOR")
    child(dest, "xNome").addnext(new("indIEDest", "9"))
    det = child(inf, "det")
    second = corpus.copy_of(det)
    second.set("nItem", "2")
    prod = second.find(N + "prod")
    for name, value in (
        ("cProd", "2"),
        ("cEAN", "7891000100103"),
        ("cEANTrib", "7891000100103"),
        ("qCom", "3.0000"),
        ("qTrib", "3.0000"),
        ("vUnCom", "4.9900000000"),
        ("vUnTrib", "4.9900000000"),
        ("vProd", "14.97"),
    ):
        set_text(prod, name, value)
    child(prod, "indTot").addprevious(new("vDesc", "0.97"))
    det.addnext(second)
    reform = corpus.tree(corpus.REFORM).find(f".//{N}IBSCBS")
    for imposto in inf.iter(N + "imposto"):
        imposto.append(corpus.copy_of(reform))  # the reform's IBS/CBS group on each item
    corpus.retotal(root)
    key = corpus.rekey(root)
    total = child(child(inf, "total"), "ICMSTot").findtext(N + "vProd")
    set_text(child(root, "infNFeSupl"), "qrCode", QR.format(key=key, total=total))
    proc = etree.Element(N + "nfeProc", versao="4.00", nsmap={None: corpus.NFE_NS})
    proc.append(root)
    prot = corpus.tree(corpus.SP_SUPPLIER_NOTES[0]).find(f"{N}protNFe")
    proc.append(prot)
    corpus.rekey(proc)
    return corpus.serialise(proc)


ACRE_CATALOG = FiscalCatalog.build(
    stores=[(corpus.ACRE_STORE, StoreRef("AC01", timezone="America/Rio_Branco"))],
    products=[("1", None), ("SKU-ARROZ", "7891000100103")],
)


def test_an_acre_nfce_lands_on_the_stores_local_day_with_its_reform_groups() -> None:
    data = acre_nfce(10)
    assert data.count(b"<IBSCBS>") == 2
    document = read(data)
    assert (document.kind, document.key.uf, document.authorised) == ("nfce", "12", True)
    rows = rows_of(take(data, ACRE_CATALOG, FiscalRegister(MemoryStore())))
    assert [(r["event_type"], r["store_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("sale", "AC01", "1", 1),
        ("sale", "AC01", "SKU-ARROZ", 3),
    ]
    assert [(r["unit_price"], r["discount"]) for r in rows] == [("15.00", "0.00"), ("4.99", "0.97")]
    assert rows[0]["occurred_at"] == "2026-11-29T03:40:00.000000Z"
    # 22:40 in Rio Branco is already the 29th in São Paulo and UTC: the store's day counts
    assert {local_day(r, "America/Rio_Branco") for r in rows} == {date(2026, 11, 28)}
    assert local_day(rows[0], "America/Sao_Paulo") == date(2026, 11, 29)


def test_an_acre_nfce_cancelled_by_substitution_is_voided_and_its_replacement_counts() -> None:
    register = FiscalRegister(MemoryStore())
    original, replacement = acre_nfce(10), acre_nfce(11, when="2026-11-28T22:45:00-05:00")
    first = take(original, ACRE_CATALOG, register)
    ids = [r["event_id"] for r in rows_of(first)]
    register.record_document(first.item, ids)
    assert take(original, ACRE_CATALOG, register).duplicate  # dropped again
    cancel = corpus.event_from_cce(
        corpus.key_of(original),
        "110112",
        [
            ("descEvento", "Cancelamento por substituicao"),
            ("cOrgaoAutor", "12"),
            ("tpAutor", "1"),
            ("verAplic", "PDV 1.0"),
            ("nProt", "112260000000999"),
            ("xJust", "Venda registrada com o produto errado"),
            ("chNFeRef", corpus.key_of(replacement)),
        ],
        author=corpus.ACRE_STORE,
        when="2026-11-28T22:46:00-05:00",
        organ="12",
    )
    intake = take(cancel, ACRE_CATALOG, register)
    assert intake.conversion.kind == "cancellation"
    assert intake.item.replacing_key == corpus.key_of(replacement)
    assert (
        intake.cancellation.document_counted and list(intake.cancellation.voided_event_ids) == ids
    )
    assert take(cancel, ACRE_CATALOG, register).cancellation.duplicate
    rows = rows_of(take(replacement, ACRE_CATALOG, register))
    assert [r["quantity"] for r in rows] == [1, 3]
    with pytest.raises(FiscalRejected) as caught:  # the cancelled one never counts again
        take(original, ACRE_CATALOG, FiscalRegister(register.store))
    assert caught.value.rule == "cancelled"


# -- re-serialised documents are duplicates ------------------------------------------------------


def reserialised(data: bytes) -> bytes:
    """The same document as another tool writes it: an ``nfe:`` prefix, indented, CRLF."""
    source = etree.fromstring(data)
    prefixed = etree.Element(
        etree.QName(source).text, nsmap={"nfe": corpus.NFE_NS}, **source.attrib
    )
    for element in source:
        prefixed.append(corpus.copy_of(element))
    text = etree.tostring(prefixed, encoding="UTF-8", xml_declaration=True)
    root = etree.fromstring(text, etree.XMLParser(remove_blank_text=True))
    etree.indent(root, space="    ")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True).replace(b"\n", b"\r\n")


@pytest.mark.parametrize("path", corpus.SP_SUPPLIER_NOTES[:3], ids=lambda p: p.name[:20])
def test_a_re_serialised_real_document_is_a_duplicate_not_a_conflict(path: Path) -> None:
    data = path.read_bytes()
    again = reserialised(data)
    assert again != data
    first, second = read(data), read(again)
    assert first.content_hash == second.content_hash
    register = FiscalRegister(MemoryStore())
    catalog = seller_catalog(data)
    register.record_document(take(data, catalog, register).item, ["x"])
    assert take(again, catalog, register).duplicate


def test_a_changed_value_in_a_real_document_is_still_a_conflict() -> None:
    data = corpus.SP_SUPPLIER_NOTES[5].read_bytes()
    changed = data.replace(b"<qCom>", b"<qCom>1", 1)
    register = FiscalRegister(MemoryStore())
    catalog = seller_catalog(data)
    register.record_document(take(data, catalog, register).item, ["x"])
    with pytest.raises(FiscalRejected) as caught:
        take(changed, catalog, register, FiscalPolicy(accept_unauthorised=True))
    assert caught.value.rule == "key_conflict"


def test_the_default_policy_is_production_only() -> None:
    assert DEFAULT_POLICY.accept_unauthorised is False
