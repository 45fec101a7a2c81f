"""The generator's files against its manifest: counts, overlap, defects, expected totals.

One data set is generated per module (a few seconds) with a high defect rate so every
defect kind appears; the files are then read back with the independent readers in
``test_generate_helpers`` and compared with what the manifest promises.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.generate.defects import BAD_NUMBER, UNKNOWN_SKU
from tests.salesphere_tools.generate.test_helpers import (
    load_manifest,
    money_cents,
    parse_br_money,
    read_records,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("generated")
    generate(
        GeneratorConfig(
            out=out,
            days=6,
            stores=4,
            skus=60,
            seed=17,
            tickets_per_store_day=150,
            web_orders_per_day=120,
            defect_rate=0.03,
        )
    )
    return out, load_manifest(out)


def _defects_by_location(manifest: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(d["file"], d["row"]): d for d in manifest["defects"]}


def test_manifest_lists_exactly_the_files_written_with_their_counts(
    dataset: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = dataset
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in manifest["files"]} | {"manifest.json"}
    for entry in manifest["files"]:
        records = read_records(out, entry)
        if entry["source"] == "spreadsheet":
            records = [r for r in records if r]
        assert len(records) == entry["records"], entry["path"]
        if entry["source"] == "ecommerce":
            assert sum(len(r["items"]) for r in records) == entry["events"]
    totals = Counter()
    for entry in manifest["files"]:
        totals[entry["source"]] += entry["events"]
    assert {k: v["events"] for k, v in manifest["sources"].items()} == dict(totals)


def test_accounting_identity_holds(dataset: tuple[Path, dict[str, Any]]) -> None:
    _out, manifest = dataset
    expected = manifest["expected"]
    written = sum(f["events"] for f in manifest["files"])
    assert written == (
        expected["accepted_events"] + expected["duplicate_events"] + expected["rejected_events"]
    )
    assert sum(expected["events_by_type"].values()) == expected["accepted_events"]


def test_every_defect_kind_is_injected_and_located(dataset: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = dataset
    kinds = Counter(d["kind"] for d in manifest["defects"])
    assert set(kinds) >= {"duplicate", "late", "malformed", "blank_row"}
    rules = {d["rule"] for d in manifest["defects"] if d["kind"] == "malformed"}
    assert rules >= {"unknown_sku", "min_value", "future_timestamp", "required"}
    files = {f["path"]: f for f in manifest["files"]}
    cache: dict[str, list[Any]] = {}
    for defect in manifest["defects"]:
        entry = files[defect["file"]]
        records = cache.setdefault(defect["file"], read_records(out, entry))
        header_rows = 2 if entry["source"] == "spreadsheet" else 1
        record = records[defect["row"] - header_rows]
        if defect["kind"] == "blank_row":
            assert record == []
        elif defect["kind"] == "malformed":
            assert _looks_broken(defect["rule"], record), defect
        elif defect["kind"] == "duplicate" and entry["source"] == "pos":
            twins = [r for recs in cache.values() for r in recs if r == record]
            assert len(twins) >= 2


def _looks_broken(rule: str, record: Any) -> bool:
    """Does the record at a malformed defect's location really break ``rule``?"""
    if isinstance(record, list):  # a spreadsheet row
        qty, sku, day = record[6], record[5], record[0]
        return {
            "integer": qty == BAD_NUMBER,
            "unknown_sku": sku == UNKNOWN_SKU,
            "min_value": qty.startswith("-"),
            "future_timestamp": day.endswith("/2027"),
            "required": sku == "",
        }[rule]
    flat = dict(record)
    if "items" in flat:
        flat.update(flat.pop("items")[0])
    quantity = flat.get("qty", flat.get("quantity", flat.get("units")))
    when = str(flat.get("ts", flat.get("created_at", flat.get("recorded_at"))))
    return {
        "integer": quantity == BAD_NUMBER,
        "decimal": flat.get("unit_price") == BAD_NUMBER,
        "unknown_sku": UNKNOWN_SKU in (flat.get("sku"), flat.get("item")),
        "min_value": isinstance(quantity, int) and quantity < 0,
        "future_timestamp": when.startswith("2027-"),
        "required": "sku" not in flat and "item" not in flat,
    }[rule]


def _live_sales(out: Path, manifest: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Accepted live money lines keyed like the canonical natural key (type, order, line)."""
    bad = {(d["file"], d["row"]) for d in manifest["defects"] if d["kind"] == "malformed"}
    lines: dict[tuple[str, str, int], dict[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["source"] == "pos":
            for row, rec in enumerate(read_records(out, entry), start=1):
                if (entry["path"], row) in bad:
                    continue
                lines[(rec["type"], rec["ticket"], rec["line"])] = {
                    "store": rec["store"],
                    "sku": rec["sku"],
                    "qty": rec["qty"],
                    "price": money_cents(rec["unit_price"]),
                    "discount": money_cents(rec["discount"]),
                    "ts": rec["ts"],
                }
        elif entry["source"] == "ecommerce":
            for row, rec in enumerate(read_records(out, entry), start=1):
                if (entry["path"], row) in bad:
                    continue
                kind = "sale" if rec["status"] == "paid" else "return"
                # a sale happens when the order is placed, a refund when it is updated
                when = rec["created_at"] if kind == "sale" else rec["updated_at"]
                for item in rec["items"]:
                    lines[(kind, rec["order_id"], item["line"])] = {
                        "store": "WEB",
                        "sku": item["sku"],
                        "qty": item["quantity"],
                        "price": money_cents(item["price"]),
                        "discount": money_cents(item["discount"]),
                        "ts": when,
                    }
    return lines


def test_every_spreadsheet_row_repeats_a_live_sale(dataset: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = dataset
    live = _live_sales(out, manifest)
    bad = {(d["file"], d["row"]) for d in manifest["defects"] if d["kind"] == "malformed"}
    tipo = {"Venda": "sale", "Devolução": "return"}
    checked = Counter()
    for entry in manifest["files"]:
        if entry["source"] != "spreadsheet":
            continue
        for row_number, row in enumerate(read_records(out, entry), start=2):
            if not row or (entry["path"], row_number) in bad:
                continue
            data, hora, _loja, pedido, linha, sku, qty, price, discount, total, kind = row
            match = live[(tipo[kind], pedido, int(linha))]
            assert match["sku"] == sku and match["qty"] == int(qty)
            assert match["price"] == parse_br_money(price)
            assert match["discount"] == parse_br_money(discount)
            assert parse_br_money(total) == match["price"] * match["qty"] - match["discount"]
            day, month, year = data.split("/")
            assert match["ts"].startswith(f"{year}-{month}-{day}T{hora}")
            checked[entry["format"]] += 1
    assert checked["csv"] > 1000 and checked["xlsx"] > 100


def test_live_records_reproduce_the_expected_daily_totals(
    dataset: tuple[Path, dict[str, Any]],
) -> None:
    """Deduplicated, reject-free live lines must sum to the simulation's own totals."""
    out, manifest = dataset
    live = _live_sales(out, manifest)
    by_day: dict[str, Counter[str]] = {}
    for (kind, _order, _line), rec in live.items():
        day = datetime.fromisoformat(rec["ts"]).date().isoformat()
        acc = by_day.setdefault(day, Counter())
        amount = rec["price"] * rec["qty"] - rec["discount"]
        if kind == "sale":
            acc["units_sold"] += rec["qty"]
            acc["net"] += amount
        else:
            acc["units_returned"] += rec["qty"]
            acc["net"] -= amount
    expected = manifest["expected"]["daily_local"]
    assert len(expected) == 6
    for row in expected:
        got = by_day[row["date"]]
        assert got["units_sold"] == row["units_sold"], row["date"]
        assert got["units_returned"] == row["units_returned"], row["date"]
        assert got["net"] == money_cents(row["net_revenue"]), row["date"]
    money_events = sum(
        v for k, v in manifest["expected"]["events_by_type"].items() if k in ("sale", "return")
    )
    assert len(live) == money_events


def test_books_per_store_are_kept_per_local_business_day(
    dataset: tuple[Path, dict[str, Any]],
) -> None:
    """The raw records' local timestamps (ts carries the store's own offset) give each
    line's business day; the books' daily_by_store must agree. The Manaus store (UTC-4)
    and the late Friday/Saturday hours put sales on the next UTC date, so a UTC grouping
    could not pass this."""
    import csv

    out, manifest = dataset
    with (out / "reference" / "stores.csv").open(encoding="utf-8") as handle:
        zones = {row["store_id"]: row["timezone"] for row in csv.DictReader(handle)}
    assert zones["AM01"] == "America/Manaus"
    by_store_day: dict[tuple[str, str], Counter[str]] = {}
    crossing: Counter[str] = Counter()
    for (kind, _order, _line), rec in _live_sales(out, manifest).items():
        at = datetime.fromisoformat(rec["ts"])
        day = at.date().isoformat()
        crossing[rec["store"]] += at.astimezone(UTC).date() != at.date()
        acc = by_store_day.setdefault((day, rec["store"]), Counter())
        amount = rec["price"] * rec["qty"] - rec["discount"]
        acc["net"] += amount if kind == "sale" else -amount
    assert crossing["AM01"] > 0 and crossing["SP01"] > 0, crossing
    books = manifest["expected"]["daily_by_store"]
    assert {(r["date"], r["store_id"]) for r in books} == set(by_store_day)
    for row in books:
        assert by_store_day[(row["date"], row["store_id"])]["net"] == money_cents(
            row["net_revenue"]
        ), row
    local = {r["date"]: r["net_revenue"] for r in manifest["expected"]["daily_local"]}
    utc = {r["date"]: r["net_revenue"] for r in manifest["expected"]["daily_utc"]}
    assert set(utc) - set(local), "late sales should spill into a UTC day after the last"
    assert local != utc


def test_paid_web_orders_are_placed_before_their_payment_is_confirmed(
    dataset: tuple[Path, dict[str, Any]],
) -> None:
    """``created_at`` (the sale) and ``updated_at`` (payment confirmed) differ in most paid
    orders, so a mapping booking the sale at the wrong one shows in the totals above."""
    out, manifest = dataset
    gaps = Counter()
    for entry in manifest["files"]:
        if entry["source"] == "ecommerce":
            for rec in read_records(out, entry):
                if rec.get("status") == "paid" and "items" in rec:
                    created = datetime.fromisoformat(rec["created_at"])
                    gap = datetime.fromisoformat(rec["updated_at"]) - created
                    assert gap.total_seconds() >= 0, rec["order_id"]
                    gaps["later" if gap.total_seconds() else "same"] += 1
    assert gaps["later"] > gaps["same"] > 0, gaps


def test_inventory_export_carries_every_stock_event(dataset: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = dataset
    bad = {(d["file"], d["row"]) for d in manifest["defects"] if d["kind"] == "malformed"}
    seen: set[tuple[Any, ...]] = set()
    kinds = Counter()
    for entry in manifest["files"]:
        if entry["source"] != "inventory":
            continue
        for row, rec in enumerate(read_records(out, entry), start=1):
            if (entry["path"], row) in bad:
                continue
            key = (
                rec["type"],
                rec["location"],
                rec["item"],
                rec["document"],
                rec["recorded_at"],
                rec.get("counterpart_location"),
            )
            if key not in seen:
                seen.add(key)
                kinds[rec["type"]] += 1
    expected = manifest["expected"]["events_by_type"]
    assert kinds["COUNT"] == expected["stock_count"]
    assert kinds["RECEIPT"] == expected["stock_receipt"]
    assert kinds["ADJUSTMENT"] == expected.get("stock_adjustment", 0)
    assert kinds["TRANSFER_OUT"] == kinds["TRANSFER_IN"] == expected.get("transfer_out", 0)


def test_reference_files_load_into_the_reference_models(
    dataset: tuple[Path, dict[str, Any]],
) -> None:
    import csv

    from salesphere.reference import Product, Store

    out, _manifest = dataset
    with (out / "reference" / "products.csv").open(encoding="utf-8") as handle:
        products = [Product.model_validate(row) for row in csv.DictReader(handle)]
    with (out / "reference" / "stores.csv").open(encoding="utf-8") as handle:
        stores = [Store.model_validate(row) for row in csv.DictReader(handle)]
    assert len(products) == 60 and len({p.sku for p in products}) == 60
    assert [s.store_id for s in stores] == ["SP01", "RJ01", "MG01", "AM01", "WEB"]
    assert stores[-1].channel.value == "online"
    assert all(p.list_price > p.unit_cost > 0 for p in products)
    # Replenishment terms: cases and minimums vary, a minimum is whole cases.
    assert {p.review_period_days for p in products} <= {3, 7, 14}
    assert len({p.pack_size for p in products}) > 2
    assert any(p.min_order_quantity > 0 for p in products)
    assert all(p.min_order_quantity % p.pack_size == 0 for p in products)


def test_no_defects_means_a_clean_manifest(tmp_path: Path) -> None:
    manifest = generate(
        GeneratorConfig(
            out=tmp_path,
            days=2,
            stores=2,
            skus=20,
            seed=2,
            tickets_per_store_day=60,
            web_orders_per_day=40,
            defects=False,
        )
    )
    assert manifest.defects == []
    assert manifest.expected["rejected_events"] == 0
