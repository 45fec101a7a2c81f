"""Reference files: the catalog and the store list, as purchasing and IT export them.

Headers are exactly the field names of :class:`salesphere.reference.Product` and
:class:`salesphere.reference.Store`, so a loader can pass each row straight to the model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from salesphere_tools.generate.catalog import ProductSpec, StoreSpec
from salesphere_tools.generate.events import cents
from salesphere_tools.generate.manifest import FileEntry

PRODUCT_FIELDS = (
    "sku",
    "name",
    "category",
    "unit_cost",
    "list_price",
    "reorder_point",
    "supplier_lead_time_days",
    "supplier",
    "review_period_days",
    "pack_size",
    "min_order_quantity",
)
STORE_FIELDS = ("store_id", "name", "city", "state", "channel", "timezone")


def product_rows(products: list[ProductSpec]) -> list[dict[str, str | int]]:
    return [
        {
            "sku": p.sku,
            "name": p.name,
            "category": p.category,
            "unit_cost": cents(p.unit_cost_cents),
            "list_price": cents(p.list_price_cents),
            "reorder_point": p.reorder_point,
            "supplier_lead_time_days": p.lead_time_days,
            "supplier": p.supplier,
            "review_period_days": p.review_period_days,
            "pack_size": p.pack_size,
            "min_order_quantity": p.min_order_quantity,
        }
        for p in products
    ]


def store_rows(stores: list[StoreSpec]) -> list[dict[str, str]]:
    return [
        {
            "store_id": s.store_id,
            "name": s.name,
            "city": s.city,
            "state": s.state,
            "channel": "online" if s.online else "store",
            "timezone": s.timezone,
        }
        for s in stores
    ]


def write_reference(
    out: Path, products: list[ProductSpec], stores: list[StoreSpec], sent_at: str, day: str
) -> list[FileEntry]:
    folder = out / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    prows = product_rows(products)
    srows = store_rows(stores)
    for name, fields, rows in (
        ("products.csv", PRODUCT_FIELDS, prows),
        ("stores.csv", STORE_FIELDS, srows),
    ):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    (folder / "products.json").write_text(
        json.dumps(prows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )

    def entry(name: str, fmt: str, count: int) -> FileEntry:
        return FileEntry(
            path=f"reference/{name}",
            source="reference",
            format=fmt,
            encoding="utf-8",
            date=day,
            sent_at=sent_at,
            records=count,
            events=0,
        )

    return [
        entry("products.csv", "csv", len(prows)),
        entry("stores.csv", "csv", len(srows)),
        entry("products.json", "json", len(prows)),
    ]
