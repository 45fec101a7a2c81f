"""Reorder points from ``reference.products``, cached because they change rarely.

Both runtimes need a reorder point per SKU for every stock event. Querying per event
would cost a BigQuery job each time (free tier: 1 TiB scanned per month, each query
billed at least 10 MB), so the whole table is read once and refreshed every
:data:`REFRESH_SECONDS`. A SKU missing from the cache (added to the catalog since the
last refresh) is looked up on its own, and a miss is remembered for
:data:`MISS_SECONDS`, so unknown SKUs cannot turn every message into a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

REFRESH_SECONDS = 300.0
MISS_SECONDS = 60.0

#: ``loader(None)`` returns the whole catalog; ``loader([skus])`` only those SKUs.
Loader = Callable[[list[str] | None], dict[str, int]]


class ReorderPoints:
    """SKU → reorder point (``None``: not in the catalog, so no alerts for it)."""

    def __init__(
        self,
        loader: Loader,
        ttl: float = REFRESH_SECONDS,
        miss_ttl: float = MISS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl, self._miss_ttl = ttl, miss_ttl
        self._clock = clock
        self._points: dict[str, int] = {}
        self._misses: dict[str, float] = {}
        self._loaded_at: float | None = None
        self._lock = threading.RLock()  # Beam workers run DoFns on several threads

    def prefetch(self, skus: Iterable[str]) -> None:
        """Make sure every SKU is cached or known missing: at most two queries."""
        with self._lock:
            self._prefetch(skus)

    def _prefetch(self, skus: Iterable[str]) -> None:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl:
            self._points, self._misses = self._loader(None), {}
            self._loaded_at = now
        unknown = sorted(
            sku
            for sku in set(skus)
            if sku not in self._points and now - self._misses.get(sku, -1e18) >= self._miss_ttl
        )
        if unknown:
            found = self._loader(unknown)
            self._points.update(found)
            self._misses.update({sku: now for sku in unknown if sku not in found})

    def get(self, sku: str) -> int | None:
        with self._lock:
            self._prefetch([sku])
            return self._points.get(sku)


_SHARED: dict[str, ReorderPoints] = {}
_SHARED_LOCK = threading.Lock()


def shared(name: str, loader: Loader) -> ReorderPoints:
    """One cache per ``name`` per process, whatever the number of DoFn copies using it.

    Beam may rebuild a DoFn per bundle; a per-instance cache then re-queried the catalog
    (and every unknown SKU) over and over, one BigQuery job each (~0.4 s on the twin).
    """
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = ReorderPoints(loader)
        return _SHARED[name]
