"""End-of-day sales spreadsheets: what store managers export from the POS back office.

One file per physical store per day, with Portuguese headers and Brazilian formats.
Each store always uses the same tool, hence the same format: a semicolon CSV in
Latin-1, a semicolon CSV in UTF-8 with a BOM, or an XLSX workbook with typed cells.

The rows repeat the day's live POS sales and returns (same ticket and line, hence the
same event id downstream): the overlap is real-world normal and must deduplicate.
Lines a terminal sent late are missing, because the back office had not seen them at
closing time. A few rows are garbled by hand edits (rejected; their live copy still
counts) and the odd stray blank row appears.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.writer.excel import ExcelWriter

from salesphere_tools.generate.catalog import ProductSpec, StoreSpec
from salesphere_tools.generate.defects import (
    BAD_NUMBER,
    FUTURE_DAYS,
    UNKNOWN_SKU,
    Defect,
    DefectPlanner,
)
from salesphere_tools.generate.events import SOURCE_SPREADSHEET, SimEvent
from salesphere_tools.generate.formats import (
    FIXED_TIMESTAMP,
    FixedTimeZipFile,
    br_date,
    br_money,
    hms,
    utc_text,
)
from salesphere_tools.generate.manifest import FileEntry

HEADERS = (
    "Data",
    "Hora",
    "Loja",
    "Pedido",
    "Linha",
    "Código SKU",
    "Quantidade",
    "Preço Unitário",
    "Desconto",
    "Valor Total",
    "Tipo",
)
TIPO = {"sale": "Venda", "return": "Devolução"}
ENCODINGS = {"csv-latin1": "latin-1", "csv-utf8-bom": "utf-8-sig"}
CLOSING_EXPORT_SOD = 23 * 3600 + 1800


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One line of a store's export before formatting (money in centavos).

    A hand-garbled line keeps the same shape: ``sku`` may be missing and ``qty`` text.
    """

    day: date
    sod: int  # second of the store's local day
    store: str
    order: str
    line: int
    sku: str | None
    qty: int | str
    price: int
    discount: int
    tipo: str

    def total(self) -> int | None:
        """The line's value, or None when a garbled quantity leaves none to compute."""
        return self.price * self.qty - self.discount if isinstance(self.qty, int) else None


def store_rows(
    events: list[SimEvent],
    store: StoreSpec,
    products: list[ProductSpec],
    day_date: date,
    held_back: set[str],
) -> list[SheetRow]:
    """The day's money lines for one store, minus those the POS sent late."""
    rows: list[SheetRow] = []
    for event in events:
        key = f"{event.kind}|{event.order_id}|{event.line}"
        if key in held_back:
            continue
        rows.append(
            SheetRow(
                day=day_date,
                sod=event.sod,
                store=store.store_id,
                order=event.order_id,
                line=event.line,
                sku=products[event.sku].sku,
                qty=event.qty,
                price=event.price,
                discount=event.discount,
                tipo=TIPO[event.kind],
            )
        )
    return rows


def _corrupt(row: SheetRow, kind: str) -> tuple[SheetRow, str, str]:
    """``row`` garbled the way ``kind`` says, with the rule it breaks and why."""
    if kind == "bad_number":
        return replace(row, qty=BAD_NUMBER), "integer", "Quantidade is not a number"
    if kind == "unknown_sku":
        return replace(row, sku=UNKNOWN_SKU), "unknown_sku", "Código SKU is not in the catalog"
    if kind == "negative_quantity":
        return replace(row, qty=-int(row.qty)), "min_value", "Quantidade is negative"
    if kind == "future_timestamp":
        later = row.day + timedelta(days=FUTURE_DAYS)
        return replace(row, day=later), "future_timestamp", "Data is a year in the future"
    return replace(row, sku=None), "required", "Código SKU is empty"


class SpreadsheetWriter:
    """Writes each store's daily export in that store's format."""

    def __init__(self, out: Path, planner: DefectPlanner, start: date, xlsx: bool) -> None:
        self.out = out
        self.planner = planner
        self.start = start
        self.xlsx = xlsx

    def write(self, day: int, store: StoreSpec, rows: list[SheetRow]) -> FileEntry | None:
        """Write ``store``'s export of ``day`` with its planned defects; ``None`` when the
        store sold nothing (an empty day sends no file)."""
        if not rows:
            return None
        day_text = (self.start + timedelta(days=day)).isoformat()
        fmt = store.spreadsheet_format
        if fmt == "xlsx" and not self.xlsx:
            fmt = "csv-utf8-bom"
        ext = "xlsx" if fmt == "xlsx" else "csv"
        rel = f"spreadsheets/{day_text}/vendas_{store.store_id}_{day_text}.{ext}"
        planned, defects = self._corrupted(rows)
        defects = self._blank_row(planned, defects)
        for index, defect in defects:
            defect.file = rel
            defect.row = index + 2  # row 1 is the header, as a spreadsheet user counts
        encoding = _write_rows(self.out / rel, planned, fmt)
        sent = day * 86_400 + CLOSING_EXPORT_SOD - store.utc_offset_hours * 3600
        return FileEntry(
            path=rel,
            source=SOURCE_SPREADSHEET,
            format=ext,
            encoding=encoding.replace("utf-8-sig", "utf-8-bom"),
            date=day_text,
            sent_at=utc_text(self.start, sent),
            records=len(rows),
            events=len(rows),
        )

    def _corrupted(
        self, rows: list[SheetRow]
    ) -> tuple[list[SheetRow | None], list[tuple[int, Defect]]]:
        """The rows as sent, some malformed as the planner decides, and each malformed row's
        index with its recorded defect (the file and row number are set by the caller)."""
        planned: list[SheetRow | None] = []
        defects: list[tuple[int, Defect]] = []
        planner = self.planner
        for row in rows:
            malformed = planner.malformed()
            if malformed:
                row, rule, detail = _corrupt(row, malformed[0])  # noqa: PLW2901
                defect = Defect("malformed", SOURCE_SPREADSHEET, "reject", rule=rule, detail=detail)
                defects.append((len(planned), planner.record(defect)))
            planned.append(row)
        return planned, defects

    def _blank_row(
        self, planned: list[SheetRow | None], defects: list[tuple[int, Defect]]
    ) -> list[tuple[int, Defect]]:
        """Maybe insert an empty row into ``planned`` (in place), as people leave in exports
        they edit by hand; returns the defects with their indexes moved past it."""
        planner = self.planner
        if not planner.blank_row():
            return defects
        at = planner.rng.randrange(1, len(planned) + 1)
        planned.insert(at, None)
        shifted = [(index + 1 if index >= at else index, defect) for index, defect in defects]
        blank = Defect("blank_row", SOURCE_SPREADSHEET, "ignore", detail="empty row between sales")
        shifted.append((at, planner.record(blank)))
        return shifted


def _write_rows(path: Path, rows: list[SheetRow | None], fmt: str) -> str:
    """Write ``rows`` as XLSX or as CSV in ``fmt``'s encoding; returns the encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(path, rows)
        return "binary"
    encoding = ENCODINGS[fmt]
    _write_csv(path, rows, encoding)
    return encoding


def _text(row: SheetRow) -> list[str]:
    """The row as the CSV export writes it (Brazilian dates and money)."""
    total = row.total()
    return [
        br_date(row.day),
        hms(row.sod),
        row.store,
        row.order,
        str(row.line),
        "" if row.sku is None else row.sku,
        str(row.qty),
        br_money(row.price),
        br_money(row.discount),
        "" if total is None else br_money(total),
        row.tipo,
    ]


def _write_csv(path: Path, rows: list[SheetRow | None], encoding: str) -> None:
    blank = [""] * len(HEADERS)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADERS)
        writer.writerows(blank if row is None else _text(row) for row in rows)


def _write_xlsx(path: Path, rows: list[SheetRow | None]) -> None:
    """Typed cells, as Excel users leave them: real dates, numbers, Brazilian display formats."""
    workbook = Workbook(write_only=True)
    workbook.properties.created = FIXED_TIMESTAMP
    workbook.properties.modified = FIXED_TIMESTAMP
    workbook.properties.creator = "Retaguarda PDV"
    sheet = workbook.create_sheet("Vendas")
    sheet.append(list(HEADERS))
    blank = [None] * len(HEADERS)
    for row in rows:
        if row is None:
            sheet.append(blank)
            continue
        day_cell = WriteOnlyCell(sheet, value=row.day)
        day_cell.number_format = "DD/MM/YYYY"
        total = row.total()
        sheet.append(
            [
                day_cell,
                hms(row.sod),
                row.store,
                row.order,
                row.line,
                row.sku,
                row.qty,
                row.price / 100,
                row.discount / 100,
                None if total is None else total / 100,
                row.tipo,
            ]
        )
    archive = FixedTimeZipFile(path, "w")
    writer = ExcelWriter(workbook, archive)
    writer.save()
