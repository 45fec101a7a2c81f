"""Import a previous system's daily sales summaries into ``master.daily_history``.

A company adopting the platform brings years of daily sales from the system it replaces:
one row per store, SKU and day with the units and the net sales, as CSV (``;`` separator,
decimal comma, dd/mm/aaaa, UTF-8 or Latin-1) or XLSX. The forecast reads these days
together with the platform's own (``batch.sales_daily``), so it has a history from day one.

Rules (docs/forecast.md, "Imported history"):

* every row is validated (:class:`HistoryRow`); a bad row is quarantined in ``ops.rejects``
  with its row number and reason, the good rows still land;
* the file's SHA-256 is the import id: importing the same bytes again changes nothing;
* the table is append-only: a corrected file for the same days adds rows, and readers take,
  per store, SKU and day, the row of the newest import (see
  ``salesphere.batch.forecast_tables.SALES_SQL``);
* ``ops.ingest_log`` gets one row (source ``history``) whose received = accepted + rejected,
  the count reconciliation starts from.

Rows land with one BigQuery load job (free, atomic: all of a file's good rows or none).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from salesphere.gcp import clients
from salesphere.ingest.catalog import Reference
from salesphere.ingest.formats import (
    FormatError,
    normalise_header,
    parse_date,
    parse_int,
    parse_money,
)
from salesphere.ingest.readers import FileRejected, open_table
from salesphere.ingest.service import load_catalog
from salesphere.settings import Settings
from salesphere.warehouse.schemas import DAILY_HISTORY, INGEST_LOG, REJECTS, bq_schema

SOURCE = "history"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENCODINGS = ("utf-8", "latin-1")
#: Header names accepted for each field (after the readers' header normalisation:
#: lower case, no accents, spaces as underscores).
ALIASES: dict[str, tuple[str, ...]] = {
    "store_id": ("store_id", "loja", "cod_loja", "codigo_loja", "filial", "cod_filial"),
    "sku": ("sku", "produto", "cod_produto", "codigo_produto", "cod_item", "codigo"),
    "day": ("day", "data", "dia", "data_venda", "data_da_venda", "dt_venda", "data_movimento"),
    "units": ("units", "quantidade", "qtd", "qtde", "qtd_vendida", "quantidade_vendida"),
    "net_sales": (
        "net_sales",
        "valor_liquido",
        "venda_liquida",
        "vl_liquido",
        "total_liquido",
        "valor",
    ),
}
#: A currency marker at the end of a header (``Valor Líquido (R$)`` -> ``valor_liquido_r``).
CURRENCY_SUFFIXES = ("_r", "_rs", "_brl")
#: Hours the furthest time zone east runs ahead of UTC: no store's today is later than
#: UTC's now plus these, so a day after that is in the future wherever the store is.
AHEAD_OF_UTC_HOURS = 14

#: Has this file (by content) been imported already? Its ingest_log row says so.
ALREADY_IMPORTED_SQL = f"""
SELECT COUNT(*) AS n FROM {INGEST_LOG.ref} WHERE request_id = @id AND source = @source
"""


class HistoryRow(BaseModel):
    """One store x SKU x day of the old system's daily summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    sku: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    day: date
    units: int = Field(ge=0, le=1_000_000)
    net_sales: Decimal = Field(decimal_places=2)

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, value: object) -> object:
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and _ISO_DAY.match(text):
            return parse_date(text, "%Y-%m-%d")  # what a database export writes
        return parse_date(text)

    @field_validator("day")
    @classmethod
    def _not_future(cls, value: date) -> date:
        latest = (datetime.now(UTC) + timedelta(hours=AHEAD_OF_UTC_HOURS)).date()
        if value > latest:
            raise FormatError(
                "future_day",
                f"{value:%d/%m/%Y} has not happened yet; a sales history holds past days only "
                "(check the year and the day/month order)",
            )
        return value

    @field_validator("units", mode="before")
    @classmethod
    def _units(cls, value: object) -> object:
        return parse_int(value)

    @field_validator("net_sales", mode="before")
    @classmethod
    def _net(cls, value: object) -> object:
        return parse_money(value)

    @field_validator("store_id", "sku", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        # A spreadsheet stores a code typed as digits (loja 1, SKU 789123) as a number.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool):
            return value
        return str(value).strip() if isinstance(value, str | int) else value


@dataclass
class Reject:
    row: int
    field: str
    rule: str
    message: str
    value: str


@dataclass
class ImportReport:
    import_id: str
    file_name: str
    received: int = 0
    accepted: int = 0
    rejects: list[Reject] = field(default_factory=list)
    already_imported: bool = False
    first_day: date | None = None
    last_day: date | None = None

    @property
    def rejected(self) -> int:
        return len(self.rejects)


def _columns(header: list[str]) -> dict[str, str]:
    """Field -> the file's (normalised) header for it; a missing field refuses the file."""
    found: dict[str, str] = {}
    for h in header:
        name = normalise_header(h)
        found.setdefault(name, name)
        for suffix in CURRENCY_SUFFIXES:
            if name.endswith(suffix):
                found.setdefault(name[: -len(suffix)], name)
    out: dict[str, str] = {}
    for target, names_ in ALIASES.items():
        hit = next((found[n] for n in names_ if n in found), None)
        if hit is None:
            raise FileRejected(
                "missing_column",
                f"no column for {target} (accepted headers: {', '.join(names_)}); "
                "rename the column in the file and import it again",
            )
        out[target] = hit
    return out


def _rule(error: dict[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, FormatError):
        return inner.rule
    return str(error.get("type", "invalid"))


def parse_file(path: Path, name: str | None = None) -> tuple[ImportReport, list[dict[str, Any]]]:
    """Validate every row; returns the report (with rejects) and the good rows."""
    name = name or path.name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ImportReport(import_id=digest, file_name=name)
    table = open_table(path, name, ";", ENCODINGS)
    columns = _columns(table.header)
    good: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, date], int] = {}
    for number, record in table.rows:
        report.received += 1
        raw = {target: record.get(column) for target, column in columns.items()}
        try:
            row = HistoryRow.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = str(err["loc"][0]) if err["loc"] else ""
            report.rejects.append(
                Reject(number, where, _rule(err), f"{where}: {err['msg']}", str(raw.get(where)))
            )
            continue
        key = (row.store_id, row.sku, row.day)
        if key in seen:
            report.rejects.append(
                Reject(
                    number,
                    "day",
                    "duplicate_day",
                    f"{row.store_id} {row.sku} {row.day:%d/%m/%Y} already on row {seen[key]}; "
                    "keep one row per store, SKU and day",
                    str(raw.get("day")),
                )
            )
            continue
        seen[key] = number
        good.append({**row.model_dump(mode="json"), "file_row": number})
        report.first_day = min(report.first_day or row.day, row.day)
        report.last_day = max(report.last_day or row.day, row.day)
    report.accepted = len(good)
    return report, good


def _load(settings: Settings, table, rows: list[dict[str, Any]]) -> None:
    from google.cloud import bigquery

    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=bq_schema(table),
    )
    client = clients.bigquery_client(settings)
    client.load_table_from_file(
        io.BytesIO(body), f"{settings.project}.{table.ref}", job_config=config
    ).result()


def already_imported(settings: Settings, import_id: str) -> bool:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("id", "STRING", import_id),
            bigquery.ScalarQueryParameter("source", "STRING", SOURCE),
        ]
    )
    rows = clients.bigquery_client(settings).query_and_wait(ALREADY_IMPORTED_SQL, job_config=config)
    return next(iter(rows))["n"] > 0


def check_reference(
    report: ImportReport, good: list[dict[str, Any]], reference: Reference
) -> list[dict[str, Any]]:
    """The rows whose store and SKU the catalogue knows; the others become rejects.

    A typo in a code would otherwise land as a store or product nobody sells, and the
    forecast would make a series of it. An empty catalogue (not loaded yet) checks nothing,
    as for every other source.
    """
    kept = []
    for row in good:
        problems = reference.check(row)
        if not problems:
            kept.append(row)
            continue
        first = problems[0]
        report.rejects.append(
            Reject(
                row["file_row"],
                first.field,
                first.rule,
                f"{first.field} {first.value} is not in the catalogue (reference."
                f"{'stores' if first.field == 'store_id' else 'products'}): add it, then import "
                "this row again in a new file (the same bytes count as imported)",
                str(first.value),
            )
        )
    report.rejects.sort(key=lambda r: r.row)
    report.accepted = len(kept)
    days = [date.fromisoformat(r["day"]) for r in kept]
    report.first_day, report.last_day = (min(days), max(days)) if days else (None, None)
    return kept


def import_file(settings: Settings, path: Path, name: str | None = None) -> ImportReport:
    """Validate, quarantine the bad rows, land the good ones, log the counts (once per file)."""
    report, good = parse_file(path, name)
    if already_imported(settings, report.import_id):
        report.already_imported = True
        return report
    good = check_reference(report, good, load_catalog(settings))
    now = datetime.now(UTC).isoformat()
    if good:
        _load(
            settings,
            DAILY_HISTORY,
            [
                {
                    **r,
                    "import_id": report.import_id,
                    "file_name": report.file_name,
                    "imported_at": now,
                }
                for r in good
            ],
        )
    if report.rejects:
        _load(
            settings,
            REJECTS,
            [
                {
                    "reject_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{report.import_id}:{r.row}").hex,
                    "request_id": report.import_id,
                    "source": SOURCE,
                    "location": f"row {r.row}",
                    "field": r.field,
                    "rule": r.rule,
                    "message": r.message,
                    "value": r.value,
                    "payload": None,
                    "received_at": now,
                }
                for r in report.rejects
            ],
        )
    _load(
        settings,
        INGEST_LOG,
        [
            {
                "request_id": report.import_id,
                "source": SOURCE,
                "channel": "file",
                "object_name": report.file_name,
                "received_at": now,
                "records_received": report.received,
                "records_accepted": report.accepted,
                "records_rejected": report.rejected,
                "events_accepted": None,
            }
        ],
    )
    return report
