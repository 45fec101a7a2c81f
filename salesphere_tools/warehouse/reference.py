"""Load the reference files (products.csv, stores.csv) into ``reference.products/stores``.

``supplier_items.csv`` (suppliers' codes and units for fiscal receipts) is optional: when
the folder has none, ``reference.supplier_items`` is emptied, so a company without
supplier NF-e keeps loading what it always did. ``transfer_lead_times.csv`` (days per store
pair) is optional the same way: without it every pair takes the default of
:mod:`salesphere.reference` (2 days within a state, 4 across).

The data generator and purchasing export these CSVs with headers equal to the fields of
:class:`salesphere.reference.Product` and :class:`~salesphere.reference.Store`; each row is
validated with those models first, so a bad catalog fails here with the row number
instead of producing silently wrong margins. The load is a WRITE_TRUNCATE load job: free
in BigQuery and idempotent (loading the same files twice leaves one copy).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from salesphere.gcp import clients
from salesphere.reference import Product, Store, SupplierItem, TransferLeadTime
from salesphere.settings import Settings
from salesphere.warehouse.schemas import (
    PRODUCTS,
    STORES,
    SUPPLIER_ITEMS,
    TRANSFER_LEAD_TIMES,
    TableDef,
    bq_schema,
)

FILES: tuple[tuple[str, type[BaseModel], TableDef], ...] = (
    ("products.csv", Product, PRODUCTS),
    ("stores.csv", Store, STORES),
    ("supplier_items.csv", SupplierItem, SUPPLIER_ITEMS),
    ("transfer_lead_times.csv", TransferLeadTime, TRANSFER_LEAD_TIMES),
)
#: Files a folder may leave out (their table is then loaded empty).
OPTIONAL_FILES = frozenset({"supplier_items.csv", "transfer_lead_times.csv"})


def _present(record: dict[str, str], model: type[BaseModel]) -> dict[str, str]:
    """The row without blank cells of optional columns, so a blank takes the default.

    Purchasing leaves the replenishment terms (review period, pack size, minimum order)
    empty for SKUs nobody negotiated them for; a blank required cell still fails.
    """
    fields = model.model_fields
    return {
        key: value
        for key, value in record.items()
        if not (value == "" and key in fields and not fields[key].is_required())
    }


def read_rows(path: Path, model: type[BaseModel]) -> list[dict]:
    """Validated JSON-ready rows of one CSV; raises ValueError naming the bad row."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, record in enumerate(csv.DictReader(handle), start=2):
            try:
                rows.append(model.model_validate(_present(record, model)).model_dump(mode="json"))
            except ValidationError as exc:
                raise ValueError(
                    f"{path}:{number}: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}; "
                    "fix the row and load again"
                ) from exc
    return rows


def load_reference_files(settings: Settings, directory: Path) -> dict[str, int]:
    """Replace every reference table from ``directory``; returns rows loaded per table."""
    from google.cloud import bigquery

    client = clients.bigquery_client(settings)
    loaded = {}
    for filename, model, table in FILES:
        path = directory / filename
        if not path.is_file() and filename in OPTIONAL_FILES:
            rows: list[dict] = []
        elif not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; pass the folder holding products.csv and stores.csv "
                "(`salesphere generate` writes them under <out>/reference)"
            )
        else:
            rows = read_rows(path, model)
        body = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            schema=bq_schema(table),
        )
        client.load_table_from_file(
            io.BytesIO(body), f"{settings.project}.{table.ref}", job_config=config
        ).result()
        loaded[table.ref] = len(rows)
    return loaded
