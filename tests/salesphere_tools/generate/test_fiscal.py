"""The generator's fiscal documents read back through salesphere.fiscal agree with its books."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from salesphere.fiscal.convert import FiscalCatalog, FiscalPolicy, StoreRef, SupplierItem
from salesphere.fiscal.errors import FiscalRejected
from salesphere.fiscal.intake import take
from salesphere.fiscal.register import FiscalRegister, MemoryStore
from salesphere.ingest.orders import builtin_layout, read_order_lines
from salesphere.ingest.validate import validate
from salesphere_tools.generate import GeneratorConfig, generate

RECEIVED = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # after the newest day of both runs


def _catalog(root: Path) -> FiscalCatalog:
    ref = root / "reference"
    with (ref / "stores.csv").open(encoding="utf-8") as handle:
        stores = [
            (r["cnpj"], StoreRef(r["store_id"], r["channel"], r["timezone"]))
            for r in csv.DictReader(handle)
        ]
    with (ref / "products.csv").open(encoding="utf-8") as handle:
        products = [(r["sku"], None) for r in csv.DictReader(handle)]
    with (ref / "supplier_items.csv").open(encoding="utf-8") as handle:
        items = [
            SupplierItem(
                r["supplier_cnpj"], r["supplier_code"], r["sku"], int(r["units_per_supplier_unit"])
            )
            for r in csv.DictReader(handle)
        ]
    return FiscalCatalog.build(stores, products, items)


# Transfers touching the fiscal store are rare: 7 days plan none, 30 days one.
@pytest.mark.parametrize("days, transfers", [(7, 0), (30, 1)])
def test_fiscal_output_converts_to_the_books(tmp_path: Path, days: int, transfers: int) -> None:
    config = GeneratorConfig(
        out=tmp_path, days=days, stores=4, skus=200, seed=42, start=date(2026, 10, 5), fiscal=True
    )
    manifest = generate(config)
    books = json.loads((tmp_path / "manifest.json").read_text())
    fiscal = books["simulation"]["fiscal"]
    catalog, register = _catalog(tmp_path), FiscalRegister(MemoryStore())
    files = sorted(
        (f for f in manifest.files if f.source in ("nfce", "nfe", "nfe-event")),
        key=lambda f: (f.sent_at, f.path),
    )
    units: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for entry in files:
        try:
            intake = take((tmp_path / entry.path).read_bytes(), catalog, register, FiscalPolicy())
        except FiscalRejected as exc:
            refused[exc.rule] += 1
            continue
        rows = [validate(d, RECEIVED)[0] for d in intake.conversion.drafts]
        for row in rows:
            units[row["event_type"]] += row["quantity"]
        if intake.cancellation is None and intake.confirmation is None:
            register.record_document(intake.item, [r["event_id"] for r in rows], rows)
    # The cancellation sent first keeps its ticket out; the other arrives after counting.
    assert refused == {"cancelled": 1}
    assert [c["cancelled_first"] for c in fiscal["cancelled_tickets"]] == [True, False]
    store, last = fiscal["store_id"], (config.start.toordinal() + config.days - 1)
    day = next(
        r
        for r in books["expected"]["daily_by_store"]
        if r["store_id"] == store and r["date"] == date.fromordinal(last).isoformat()
    )
    late = sum(c["units"] for c in fiscal["cancelled_tickets"] if not c["cancelled_first"])
    # Every ticket of the day went out as NFC-e; the books leave both cancelled tickets
    # out, and the one counted before its cancellation is among the documents read here
    # (its voids come downstream).
    assert units["sale"] == day["units_sold"] + late
    # The transfer: out at the sender when issued, in at the receiver when it confirms.
    assert units["stock_receipt"] > 0 and units["transfer_out"] == units["transfer_in"]
    assert (units["transfer_in"] > 0) == (transfers > 0)
    assert len([f for f in files if "confirmacao-" in f.path]) == transfers
    lines, rejects = read_order_lines(
        tmp_path / "purchase_orders" / "pedidos.csv", "pedidos.csv", builtin_layout("erp_pedidos")
    )
    assert rejects == [] and len(lines) == fiscal["purchase_order_lines"]
    assert {line.store_id for line in lines} == {store}
