"""Suggested transfers between stores as a CSV a Brazilian spreadsheet opens as it is.

The same conventions as the purchase suggestion (:mod:`salesphere_tools.purchasing`): ``;``
separated, decimal comma, dd/mm/aaaa dates, Portuguese headers, every cell through
:func:`salesphere.exports.neutralise_formula`. One line per SKU and store pair of
``serving.transfer_suggestions``: for one store, the lines it sends and the lines it
receives; with ``--all``, every pair.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesphere.exports import safe_row
from salesphere.settings import Settings
from salesphere_tools.purchasing import (
    DEFAULT_ENCODING,
    DELIMITER,
    ENCODINGS,
    ExportError,
    cell,
    encode,
    known_stores,
    read_freshness,
    stale_forecast_warning,
)

#: (serving.transfer_suggestions column, header in the file, how the cell is written).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("as_of_date", "Data da revisão", "date"),
    ("sku", "SKU", "text"),
    ("product_name", "Produto", "text"),
    ("from_store", "Loja de origem", "text"),
    ("to_store", "Loja de destino", "text"),
    ("units", "Transferir (un.)", "int"),
    ("lead_time_days", "Prazo da transferência (dias)", "int"),
    ("same_state", "Mesmo estado", "bool"),
    ("from_on_hand", "Estoque na origem (un.)", "int"),
    ("from_order_up_to", "Nível máximo na origem (un.)", "decimal"),
    ("to_on_hand", "Estoque no destino (un.)", "int"),
    ("to_on_order", "Em pedido ou em trânsito no destino (un.)", "int"),
    ("to_reorder_point", "Ponto de pedido no destino (un.)", "decimal"),
    ("to_stockout_date", "Ruptura prevista no destino em", "date"),
    ("to_suggested_order_quantity", "Compra restante no destino (un.)", "int"),
)

_ORDER = " ORDER BY t.to_stockout_date IS NULL, t.to_stockout_date, t.sku, t.from_store, t.to_store"
_STORE_SQL = (
    "SELECT t.* FROM serving.transfer_suggestions AS t "
    "WHERE @store IN (t.from_store, t.to_store)" + _ORDER
)
_ALL_SQL = "SELECT t.* FROM serving.transfer_suggestions AS t" + _ORDER


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int
    units: int
    replaced: int  # characters Latin-1 cannot hold, written as "?"
    #: Set when the levels behind the transfers rest on an out-of-date forecast.
    stale_forecast: str | None = None


def render(rows: Iterable[dict[str, Any]]) -> str:
    """The CSV text: a header of Portuguese names, then one line per transfer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(safe_row(header for _, header, _ in COLUMNS))
    for row in rows:
        writer.writerow(safe_row(cell(row.get(name), kind) for name, _, kind in COLUMNS))
    return buffer.getvalue()


def fetch_rows(settings: Settings, store: str | None) -> list[dict[str, Any]]:
    """The suggested transfers from or to ``store`` (every one when None), soonest need first."""
    from google.cloud import bigquery

    from salesphere.gcp import clients

    if store is None:
        config = bigquery.QueryJobConfig()
        sql = _ALL_SQL
    else:
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("store", "STRING", store)]
        )
        sql = _STORE_SQL
    result = clients.bigquery_client(settings).query_and_wait(sql, job_config=config)
    return [dict(row.items()) for row in result]


def export(
    settings: Settings, store: str | None, out: Path, encoding: str = DEFAULT_ENCODING
) -> Export:
    """Write ``out`` with the transfers of ``store`` (every store when None)."""
    if encoding not in ENCODINGS:
        raise ExportError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    if store is not None:
        stores = known_stores(settings)
        if store not in stores:
            listed = ", ".join(stores) or "none: load them with `salesphere batch load-reference`"
            raise ExportError(f"unknown store {store!r}; known stores: {listed}")
    rows = fetch_rows(settings, store)
    data, replaced = encode(render(rows), encoding)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    warning = stale_forecast_warning(read_freshness(settings))
    return Export(out, len(rows), sum(int(r["units"]) for r in rows), replaced, warning)
