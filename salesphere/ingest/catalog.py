"""What ingest checks references against: the SKUs and stores the catalog knows.

Unknown SKUs and stores are **rejected** (rules ``unknown_sku`` / ``unknown_store``),
not accepted with a flag: an event for a product the catalog does not know cannot be
valued, categorised or counted against a reorder point, so every serving view would
either drop it or show it wrong. Quarantined, it keeps its payload and can be replayed
once purchasing adds the product (see docs/ingest.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salesphere.validation import Reject


@dataclass(frozen=True)
class Reference:
    """Known SKUs and stores (empty sets mean "catalog not loaded": checks are skipped)."""

    skus: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()
    timezones: Mapping[str, str] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return bool(self.skus) and bool(self.stores)

    def check(self, row: Mapping[str, Any]) -> list[Reject]:
        if not self.skus or not self.stores:  # not loaded
            return []
        if (
            row["sku"] in self.skus
            and row["store_id"] in self.stores
            and (row.get("counterpart_store_id") is None)
        ):
            return []  # the common case, decided in three lookups
        problems = []
        if row["sku"] not in self.skus:
            problems.append(
                Reject(
                    field="sku",
                    value=row["sku"],
                    rule="unknown_sku",
                    message=f"SKU {row['sku']} is not in the catalog; add it to "
                    "reference.products and replay the quarantined record",
                )
            )
        for name in ("store_id", "counterpart_store_id"):
            store = row.get(name)
            if store is not None and store not in self.stores:
                problems.append(
                    Reject(
                        field=name,
                        value=store,
                        rule="unknown_store",
                        message=f"store {store} is not in reference.stores",
                    )
                )
        return problems

    def timezone_of(self, store_id: str) -> tzinfo | None:
        name = self.timezones.get(store_id)
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
