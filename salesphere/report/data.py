"""What the dashboard shows, fetched from the serving views (and only from them).

The dashboard reads the same views analysts query, so a number on the page is always a
number an analyst can reproduce with ``salesphere query``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass
class ReportData:
    subtitle: str = ""
    today: date | None = None
    daily: list[dict[str, Any]] = field(default_factory=list)  # day, net, units, orders
    intraday: list[dict[str, Any]] = field(default_factory=list)  # hour, net
    stores: list[dict[str, Any]] = field(default_factory=list)  # store_id, revenue, margin
    top_products: list[dict[str, Any]] = field(
        default_factory=list
    )  # sku, name, units, revenue, margin
    bottom_products: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    freshness: dict[str, Any] = field(
        default_factory=dict
    )  # cutoff, newest_speed_event, lag_seconds
    quality: list[dict[str, Any]] = field(default_factory=list)  # source, rule, rejects

    @property
    def total_net(self) -> Decimal:
        return sum((Decimal(str(r["net"])) for r in self.daily), Decimal("0"))

    @property
    def total_units(self) -> int:
        return sum(int(r["units"]) for r in self.daily)

    @property
    def total_orders(self) -> int:
        return sum(int(r.get("orders") or 0) for r in self.daily)
