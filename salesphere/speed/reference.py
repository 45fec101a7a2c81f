"""Reorder points from ``reference.products``, cached because they change rarely.

Both runtimes need a reorder point per SKU for every stock event. Querying per event
would cost a BigQuery job each time (free tier: 1 TiB scanned per month, each query
billed at least 10 MB), so the table is read once and refreshed every
:data:`REFRESH_SECONDS`; a catalog edit reaches the alerts within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REFRESH_SECONDS = 300.0

Loader = Callable[[], dict[str, int]]


class ReorderPoints:
    """SKU → reorder point, reloaded through ``loader`` when older than ``ttl`` seconds."""

    def __init__(
        self,
        loader: Loader,
        ttl: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._clock = clock
        self._points: dict[str, int] = {}
        self._loaded_at: float | None = None

    def get(self, sku: str) -> int | None:
        """The SKU's reorder point, or ``None`` for an SKU not in the catalog (no alerts)."""
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl:
            self._points = self._loader()
            self._loaded_at = now
        return self._points.get(sku)
