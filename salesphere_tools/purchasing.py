"""The purchase suggestion of one store as a CSV a Brazilian spreadsheet opens as it is.

Excel and LibreOffice set to Portuguese (Brazil) split a CSV on ``;`` (the comma is the
decimal separator there), read ``12,5`` as a number and ``05/12/2026`` as 5 December. A
UTF-8 file needs its byte-order mark or Excel shows ``Ã§`` for ``ç``; some purchasing
systems still import Latin-1 only, hence the option. Every cell goes through
:func:`salesphere.exports.neutralise_formula`: product names come from suppliers' and
sources' data, and a name starting with ``=`` must not run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from salesphere.exports import safe_row
from salesphere.settings import Settings

#: ``--encoding`` choices -> Python codec. ``utf-8-sig`` writes the BOM Excel needs.
ENCODINGS = {"utf-8-bom": "utf-8-sig", "latin-1": "latin-1"}
DEFAULT_ENCODING = "utf-8-bom"
DELIMITER = ";"

#: (serving.replenishment column, header in the file, how the cell is written).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("as_of_date", "Data da revisão", "date"),
    ("store_id", "Loja", "text"),
    ("sku", "SKU", "text"),
    ("product_name", "Produto", "text"),
    ("supplier", "Fornecedor", "text"),
    ("on_hand", "Estoque atual (un.)", "int"),
    ("on_order", "Em pedido (un.)", "int"),
    ("in_transit", "Em trânsito de outra loja (un.)", "int"),
    ("transfer_in", "Receber por transferência (un.)", "int"),
    ("transfer_out", "Enviar por transferência (un.)", "int"),
    ("lead_time_days", "Prazo de entrega (dias)", "int"),
    ("review_period_days", "Revisão a cada (dias)", "int"),
    ("daily_demand", "Demanda média diária (un.)", "decimal"),
    ("demand_lead_review", "Demanda prevista prazo + revisão (un.)", "decimal"),
    ("safety_stock", "Estoque de segurança (un.)", "decimal"),
    ("computed_reorder_point", "Ponto de pedido calculado (un.)", "decimal"),
    ("catalogue_reorder_point", "Ponto de pedido do cadastro (un.)", "int"),
    ("stockout_date", "Ruptura prevista em", "date"),
    ("pack_size", "Unidades por caixa", "int"),
    ("min_order_quantity", "Pedido mínimo (un.)", "int"),
    ("suggested_order_quantity", "Sugestão de compra (un.)", "int"),
    ("suggested_cases", "Sugestão de compra (caixas)", "int"),
    ("urgent", "Urgente", "bool"),
    ("demand_source", "Base da demanda", "source"),
)
SOURCES = {"forecast": "previsão", "trailing_average": "média observada (dias com estoque)"}

_ROWS_SQL = (
    "SELECT r.* FROM serving.replenishment AS r WHERE r.store_id = @store "
    "ORDER BY r.urgent DESC, r.stockout_date IS NULL, r.stockout_date, r.sku"
)
_STORES_SQL = "SELECT s.store_id FROM reference.stores AS s ORDER BY s.store_id"


class ExportError(ValueError):
    """The export cannot be written as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int
    to_order: int
    replaced: int  # characters Latin-1 cannot hold, written as "?"
    #: Set when the suggestion rests on a forecast the newest batch run did not refresh.
    stale_forecast: str | None = None


def stale_forecast_warning(freshness: dict[str, Any]) -> str | None:
    """What a buyer must know when the forecast behind a suggestion is out of date.

    ``freshness`` is the row of ``serving.freshness``. Each committed batch run refreshes
    the forecast, so a forecast from any other run than the one that set the cutoff means
    that run's forecast step failed (or the forecast is switched off); a current forecast
    older than the runs' schedule means no run has come since (``forecast_overdue``).
    """
    if freshness.get("cutoff") is None:
        return None
    if freshness.get("forecast_is_current"):
        if not freshness.get("forecast_overdue"):
            return None
        age = (freshness.get("forecast_age_seconds") or 0) / 3600
        every = (freshness.get("batch_every_seconds") or 0) / 3600
        return (
            f"the demand forecast is {age:.0f} h old but batch runs came every {every:.0f} h: "
            "no run has refreshed it since, so these suggestions miss the latest sales; check "
            "the batch schedule (the Cloud Scheduler job) and the last `salesphere batch run`"
        )
    if freshness.get("forecast_run_id") is None:
        return (
            "no demand forecast yet: suggestions use each position's observed average; "
            "check the forecast step of `salesphere batch run`"
        )
    hours = (freshness.get("forecast_age_seconds") or 0) / 3600
    return (
        f"the demand forecast is {hours:.0f} h old (run {freshness['forecast_run_id']}): the "
        f"newest batch run ({freshness.get('batch_run_id')}) did not refresh it, so these "
        "suggestions rest on an older forecast; check that run's forecast step"
    )


def read_freshness(settings: Settings) -> dict[str, Any]:
    """The one row of ``serving.freshness`` (empty before the warehouse has one)."""
    from salesphere.gcp import clients

    rows = clients.query_rows(settings, "SELECT * FROM serving.freshness")
    return rows[0] if rows else {}


def decimal_comma(value: float | None, places: int = 1) -> str:
    """``12.345`` -> ``12,3``: no thousands mark, which spreadsheets would misread."""
    if value is None:
        return ""
    return f"{value:.{places}f}".replace(".", ",")


def cell(value: Any, kind: str) -> str:
    """One value as a pt-BR spreadsheet reads it (before formula neutralising)."""
    if value is None:
        return ""
    if kind == "date":
        return value.strftime("%d/%m/%Y") if isinstance(value, date) else str(value)
    if kind == "decimal":
        return decimal_comma(float(value))
    if kind == "int":
        return str(int(value))
    if kind == "bool":
        return "Sim" if value else "Não"
    if kind == "source":
        return SOURCES.get(str(value), str(value))
    return str(value)


def render(rows: Iterable[dict[str, Any]]) -> str:
    """The CSV text: a header of Portuguese names, then one line per SKU."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(safe_row(header for _, header, _ in COLUMNS))
    for row in rows:
        writer.writerow(safe_row(cell(row.get(name), kind) for name, _, kind in COLUMNS))
    return buffer.getvalue()


def encode(text: str, encoding: str = DEFAULT_ENCODING) -> tuple[bytes, int]:
    """Bytes in the chosen encoding, and how many characters had to become ``?``."""
    if encoding not in ENCODINGS:
        raise ExportError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    codec = ENCODINGS[encoding]
    data = text.encode(codec, errors="replace")
    replaced = 0 if codec != "latin-1" else sum(1 for ch in text if ord(ch) > 0xFF)
    return data, replaced


def known_stores(settings: Settings) -> list[str]:
    from salesphere.gcp import clients

    return [
        row["store_id"] for row in clients.bigquery_client(settings).query_and_wait(_STORES_SQL)
    ]


def fetch_rows(settings: Settings, store: str) -> list[dict[str, Any]]:
    """serving.replenishment for one store: urgent first, then by stock-out date."""
    from google.cloud import bigquery

    from salesphere.gcp import clients

    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("store", "STRING", store)]
    )
    result = clients.bigquery_client(settings).query_and_wait(_ROWS_SQL, job_config=config)
    rows = [dict(row.items()) for row in result]
    for row in rows:  # whole cases: the view rounds the suggestion up to them
        row["suggested_cases"] = row["suggested_order_quantity"] // max(row["pack_size"], 1)
    return rows


def export(
    settings: Settings,
    store: str,
    out: Path,
    encoding: str = DEFAULT_ENCODING,
    everything: bool = False,
) -> Export:
    """Write ``out`` for ``store``; only SKUs with something to order unless ``everything``."""
    if encoding not in ENCODINGS:
        raise ExportError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    rows = fetch_rows(settings, store)
    if not rows:
        stores = known_stores(settings)
        if store not in stores:
            listed = ", ".join(stores) or "none: load them with `salesphere batch load-reference`"
            raise ExportError(f"unknown store {store!r}; known stores: {listed}")
        raise ExportError(
            f"no stock positions for {store} yet: serving.replenishment starts from stock counts "
            "and movements; ingest the inventory feed, then `salesphere batch run`"
        )
    to_order = [r for r in rows if (r.get("suggested_order_quantity") or 0) > 0]
    data, replaced = encode(render(rows if everything else to_order), encoding)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    warning = stale_forecast_warning(read_freshness(settings))
    return Export(out, len(rows if everything else to_order), len(to_order), replaced, warning)


# -- placing an accepted suggestion as purchase orders ---------------------------------------

#: The header `place` writes: the columns of salesphere/mappings/orders/erp_pedidos.yaml.
ORDER_HEADER = (
    "pedido",
    "item",
    "cnpj_fornecedor",
    "loja",
    "sku",
    "quantidade",
    "custo_unitario",
    "data_pedido",
    "previsao_entrega",
    "situacao",
)
_TERMS_SQL = (
    "SELECT p.sku, p.unit_cost, p.supplier_lead_time_days, st.timezone, "
    "ARRAY_AGG(DISTINCT si.supplier_cnpj IGNORE NULLS) AS suppliers "
    "FROM reference.products AS p CROSS JOIN reference.stores AS st "
    "LEFT JOIN reference.supplier_items AS si ON p.sku = si.sku "
    "WHERE st.store_id = @store "
    "GROUP BY p.sku, p.unit_cost, p.supplier_lead_time_days, st.timezone"
)


@dataclass(frozen=True)
class Placed:
    """Purchase order lines written for one store, and where the file went."""

    order_number: str
    lines: int
    units: int
    path: Path
    object_name: str | None


def read_export(path: Path, store: str) -> list[tuple[str, int]]:
    """(SKU, units) of a suggestion export the buyer accepted (and may have edited).

    Reads the file :func:`export` writes (either encoding): the store's rows with a
    positive "Sugestão de compra (un.)".
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.DictReader(io.StringIO(text), delimiter=DELIMITER)
    units_header = dict((c, h) for c, h, _ in COLUMNS)["suggested_order_quantity"]
    missing = {"Loja", "SKU", units_header} - set(reader.fieldnames or ())
    if missing:
        raise ExportError(
            f"{path} lacks the column(s) {', '.join(sorted(missing))}; pass the file "
            "`salesphere replenishment export` wrote"
        )
    out: list[tuple[str, int]] = []
    for number, row in enumerate(reader, start=2):
        if row["Loja"] != store:
            continue
        cell_text = (row[units_header] or "0").strip().replace(".", "")
        try:
            units = int(cell_text)
        except ValueError:
            raise ExportError(
                f"{path}:{number}: {units_header} is {cell_text!r}, not a whole number of "
                "units; fix the cell and place again"
            ) from None
        if units > 0:
            out.append((row["SKU"], units))
    return out


def order_lines_csv(
    store: str,
    order_number: str,
    wanted: list[tuple[str, int]],
    terms: dict[str, dict[str, Any]],
    now: datetime,
    supplier_cnpj: str | None = None,
) -> str:
    """The orders file (erp_pedidos layout) for ``wanted``; raises naming what is missing."""
    unknown = [sku for sku, _ in wanted if sku not in terms]
    if unknown:
        raise ExportError(f"unknown SKU(s) {', '.join(unknown)} in reference.products")
    if supplier_cnpj is None:
        unresolved = [sku for sku, _ in wanted if len(terms[sku]["suppliers"] or []) != 1]
        if unresolved:
            raise ExportError(
                f"no single supplier CNPJ for {', '.join(unresolved)} in "
                "reference.supplier_items; add them to supplier_items.csv or pass "
                "--supplier-cnpj"
            )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(ORDER_HEADER)
    for number, (sku, units) in enumerate(sorted(wanted), start=1):
        term = terms[sku]
        today = now.astimezone(ZoneInfo(term["timezone"])).date()
        due = today + timedelta(days=int(term["supplier_lead_time_days"]))
        cost = Decimal(str(term["unit_cost"])).quantize(Decimal("0.01"))
        writer.writerow(
            safe_row(
                (
                    order_number,
                    str(number),
                    supplier_cnpj or term["suppliers"][0],
                    store,
                    sku,
                    str(units),
                    str(cost).replace(".", ","),
                    now.astimezone(UTC).isoformat(timespec="seconds"),
                    due.strftime("%d/%m/%Y"),
                    "aberto",
                )
            )
        )
    return buffer.getvalue()


def fetch_terms(settings: Settings, store: str) -> dict[str, dict[str, Any]]:
    """Per SKU: unit cost, lead time, the store's timezone and the SKU's supplier CNPJs."""
    from google.cloud import bigquery

    from salesphere.gcp import clients

    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("store", "STRING", store)]
    )
    result = clients.bigquery_client(settings).query_and_wait(_TERMS_SQL, job_config=config)
    return {row["sku"]: dict(row.items()) for row in result}


def place(
    settings: Settings,
    store: str,
    out_dir: Path,
    *,
    from_export: Path | None = None,
    supplier_cnpj: str | None = None,
    now: datetime | None = None,
    upload: bool = True,
) -> Placed:
    """Record the store's accepted suggestion as purchase orders, through ingest.

    The lines are today's suggestion (or those of ``from_export``), costed at the
    catalogue's unit cost, due after the supplier's lead time, under one new order number
    ``SUG-<store>-<UTC time>``. The file goes to ``purchase_orders/`` in the landing
    bucket, where the file-drop function reads it like an ERP's export; once ingested,
    serving.replenishment counts the lines as on order.
    """
    from salesphere.gcp import clients
    from salesphere.ingest.orders import ORDERS_FOLDER

    now = now or datetime.now(UTC)
    if from_export is not None:
        wanted = read_export(from_export, store)
    else:
        rows = fetch_rows(settings, store)
        wanted = [
            (r["sku"], int(r["suggested_order_quantity"]))
            for r in rows
            if (r.get("suggested_order_quantity") or 0) > 0
        ]
    if not wanted:
        raise ExportError(f"nothing to order for {store}: no SKU with a suggestion above 0")
    terms = fetch_terms(settings, store)
    if not terms:
        raise ExportError(f"unknown store {store!r} (reference.stores) or empty catalogue")
    order_number = f"SUG-{store}-{now.astimezone(UTC):%Y%m%d%H%M%S}"
    text = order_lines_csv(store, order_number, wanted, terms, now, supplier_cnpj)
    path = out_dir / f"pedido_{order_number}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    object_name = None
    if upload:
        object_name = f"{ORDERS_FOLDER}/{path.name}"
        bucket = clients.storage_client(settings).bucket(settings.buckets.landing)
        bucket.blob(object_name).upload_from_filename(str(path), content_type="text/csv")
    return Placed(order_number, len(wanted), sum(u for _, u in wanted), path, object_name)
