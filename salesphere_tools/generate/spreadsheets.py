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

#: Neutral row: date, second of day, store, order, line, sku, qty, price, discount, type.
Row = list[object]


def store_rows(
    events: list[SimEvent],
    store: StoreSpec,
    products: list[ProductSpec],
    day_date: date,
    held_back: set[str],
) -> list[Row]:
    """The day's money lines for one store, minus those the POS sent late."""
    rows: list[Row] = []
    for event in events:
        key = f"{event.kind}|{event.order_id}|{event.line}"
        if key in held_back:
            continue
        rows.append(
            [
                day_date,
                event.sod,
                store.store_id,
                event.order_id,
                event.line,
                products[event.sku].sku,
                event.qty,
                event.price,
                event.discount,
                TIPO[event.kind],
            ]
        )
    return rows


def _corrupt(row: Row, kind: str) -> tuple[Row, str, str]:
    bad = list(row)
    if kind == "bad_number":
        bad[6] = BAD_NUMBER
        return bad, "integer", "Quantidade is not a number"
    if kind == "unknown_sku":
        bad[5] = UNKNOWN_SKU
        return bad, "unknown_sku", "Código SKU is not in the catalog"
    if kind == "negative_quantity":
        bad[6] = -int(bad[6])  # type: ignore[call-overload]
        return bad, "min_value", "Quantidade is negative"
    if kind == "future_timestamp":
        bad[0] = bad[0] + timedelta(days=FUTURE_DAYS)  # type: ignore[operator]
        return bad, "future_timestamp", "Data is a year in the future"
    bad[5] = None
    return bad, "required", "Código SKU is empty"


class SpreadsheetWriter:
    """Writes each store's daily export in that store's format."""

    def __init__(self, out: Path, planner: DefectPlanner, start: date, xlsx: bool) -> None:
        self.out = out
        self.planner = planner
        self.start = start
        self.xlsx = xlsx

    def write(self, day: int, store: StoreSpec, rows: list[Row]) -> FileEntry | None:
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

    def _corrupted(self, rows: list[Row]) -> tuple[list[Row | None], list[tuple[int, Defect]]]:
        """The rows as sent, some malformed as the planner decides, and each malformed row's
        index with its recorded defect (the file and row number are set by the caller)."""
        planned: list[Row | None] = []
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
        self, planned: list[Row | None], defects: list[tuple[int, Defect]]
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


def _write_rows(path: Path, rows: list[Row | None], fmt: str) -> str:
    """Write ``rows`` as XLSX or as CSV in ``fmt``'s encoding; returns the encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(path, rows)
        return "binary"
    encoding = ENCODINGS[fmt]
    _write_csv(path, rows, encoding)
    return encoding


def _text(row: Row) -> list[str]:
    qty = row[6]
    price = row[7]
    discount = row[8]
    if type(qty) is int and type(row[5]) is str:  # clean row: the fast path
        return [
            br_date(row[0]),
            hms(row[1]),
            row[2],
            row[3],
            str(row[4]),  # type: ignore[list-item,arg-type]
            row[5],
            str(qty),
            br_money(price),
            br_money(discount),  # type: ignore[arg-type]
            br_money(price * qty - discount),
            row[9],
        ]  # type: ignore[operator,list-item]
    return _text_any(row)


def _text_any(row: Row) -> list[str]:
    qty = row[6]
    price = row[7]
    discount = row[8]
    total = ""
    if isinstance(qty, int) and isinstance(price, int) and isinstance(discount, int):
        total = br_money(price * qty - discount)
    return [
        br_date(row[0]),  # type: ignore[arg-type]
        hms(row[1]),  # type: ignore[arg-type]
        str(row[2]),
        str(row[3]),
        str(row[4]),
        "" if row[5] is None else str(row[5]),
        str(qty),
        br_money(price) if isinstance(price, int) else str(price),
        br_money(discount) if isinstance(discount, int) else str(discount),
        total,
        str(row[9]),
    ]


def _write_csv(path: Path, rows: list[Row | None], encoding: str) -> None:
    blank = [""] * len(HEADERS)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADERS)
        writer.writerows(blank if row is None else _text(row) for row in rows)


def _write_xlsx(path: Path, rows: list[Row | None]) -> None:
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
        day_cell = WriteOnlyCell(sheet, value=row[0])
        day_cell.number_format = "DD/MM/YYYY"
        qty, price, discount = row[6], row[7], row[8]
        total = None
        if isinstance(qty, int) and isinstance(price, int) and isinstance(discount, int):
            total = (price * qty - discount) / 100
        sheet.append(
            [
                day_cell,
                hms(row[1]),
                row[2],
                row[3],
                row[4],
                row[5],
                qty,  # type: ignore[arg-type]
                price / 100 if isinstance(price, int) else price,
                discount / 100 if isinstance(discount, int) else discount,
                total,
                row[9],
            ]
        )
    archive = FixedTimeZipFile(path, "w")
    writer = ExcelWriter(workbook, archive)
    writer.save()
