"""Test-side readers for the generator's files: just enough parsing to check them.

(Named ``test_generate_helpers`` so it sits with the generator's tests; it holds no tests.)

These are deliberately independent of the generator's writers (and simpler than the
real ingest mappings): if the writers and this reader disagree, a test fails.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook


def load_manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def read_records(out: Path, entry: dict[str, Any]) -> list[Any]:
    """Records of one file; spreadsheets give one list of cell texts per row (blank = [])."""
    path = out / entry["path"]
    if entry["format"] == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if entry["format"] == "ndjson":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if entry["format"] == "xlsx":
        workbook = load_workbook(path, read_only=True)
        rows = [list(row) for row in workbook.active.iter_rows(values_only=True)]
        workbook.close()
        return [
            []
            if all(v is None for v in row)
            else [_cell(v, i in MONEY_COLUMNS) for i, v in enumerate(row)]
            for row in rows[1:]
        ]
    encoding = {"latin-1": "latin-1", "utf-8-bom": "utf-8-sig", "utf-8": "utf-8"}[entry["encoding"]]
    text = path.read_bytes().decode(encoding)
    delimiter = ";" if entry["source"] == "spreadsheet" else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return [[] if not any(cell for cell in row) else row for row in rows[1:]]


#: Preço Unitário, Desconto, Valor Total: numbers in XLSX (0.0 reads back as int 0).
MONEY_COLUMNS = (7, 8, 9)


def _cell(value: object, money: bool) -> str:
    """XLSX cells back to the CSV's Brazilian text, so both formats compare the same way."""
    if money and isinstance(value, int | float):
        return br_cents(round(value * 100))
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def br_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    reais = f"{cents // 100:,}".replace(",", ".")
    return f"{sign}{reais},{cents % 100:02d}"


def parse_br_money(text: str) -> int:
    """``1.234,56`` -> 123456 cents; raises ValueError on garbage like ``12,3,4``."""
    whole, _, frac = text.replace(".", "").partition(",")
    if "," in frac or len(frac) != 2 or not whole.lstrip("-").isdigit() or not frac.isdigit():
        raise ValueError(text)
    return int(whole) * 100 + (int(frac) if not whole.startswith("-") else -int(frac))


def money_cents(text: str) -> int:
    """``19.90`` -> 1990."""
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac)


def test_end_of_day_stock_applies_the_platform_rule_to_the_events_sent() -> None:
    from salesphere_tools.generate.events import SimEvent
    from salesphere_tools.generate.manifest import end_of_day_stock

    events = [
        SimEvent("stock_receipt", 0, 0, 3600, 0, 10),  # day 0: +10 (never counted yet)
        SimEvent("sale", 0, 0, 7200, 0, 3),  # day 0: -3 -> closes at 7
        SimEvent("sale", 0, 1, 3600, 0, 2),  # day 1: before the count, overruled by it
        SimEvent("stock_count", 0, 1, 7200, 0, 0, counted=4),  # day 1: 4 on the shelf
        SimEvent("sale", 0, 1, 9000, 0, 5),  # day 1: -5 after the count -> closes at -1
        SimEvent("transfer_in", 0, 2, 100, 0, 6),  # day 2: +6
        # 23:30 on the store's clock (the next UTC day anywhere in Brazil): still day 2
        SimEvent("sale", 0, 2, 84600, 0, 1),  # day 2: -1 -> closes at 4
    ]
    rows = end_of_day_stock(events, date(2026, 11, 1), ["S1"], ["K1"])
    assert [(r["date"], r["on_hand"]) for r in rows] == [
        ("2026-11-01", 7),
        ("2026-11-02", -1),
        ("2026-11-03", 4),
    ]
