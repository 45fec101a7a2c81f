"""Rows grouped by store/SKU pair: how both speed runtimes hand events to the stock state.

The function runtime applies each pair's rows of a group to that pair's state; the Beam
runtime emits each pair's rows of a message as one keyed batch. Both group here, so the
state machine sees the same batches in the same arrival order either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from salesphere.speed import alerts as stock


def by_pair(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``store_id|sku`` -> that pair's rows, pairs and rows in the order they came."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(stock.stock_key(row), []).append(row)
    return grouped
