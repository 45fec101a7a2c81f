"""Small, fast formatters for the ways sources write numbers, dates and files.

Kept apart from the writers so the Brazilian conventions (``1.234,56``, ``31/12/2026``)
live in one place and tests can check them directly.
"""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Fixed instant stamped into XLSX metadata and ZIP entries: output must not depend
#: on when it was generated.
FIXED_TIMESTAMP = datetime(2026, 1, 1, 0, 0, 0)
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def br_money(cents: int) -> str:
    """Integer cents in Brazilian format: ``123456`` -> ``"1.234,56"``."""
    if 0 <= cents < 100_000:  # fast path: no thousands separator needed
        return f"{cents // 100},{cents % 100:02d}"
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    reais = f"{cents // 100:,}".replace(",", ".")
    return f"{sign}{reais},{cents % 100:02d}"


@lru_cache(maxsize=4096)
def br_date(day: date) -> str:
    """``31/12/2026``."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def hms(sod: int) -> str:
    """Seconds of day as ``HH:MM:SS``."""
    return f"{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"


def utc_text(start: date, utc_seconds: int) -> str:
    """RFC 3339 UTC for seconds since ``start``'s UTC midnight."""
    moment = datetime(start.year, start.month, start.day) + timedelta(seconds=utc_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


POS_KEYS = (
    "terminal",
    "store",
    "ticket",
    "line",
    "type",
    "sku",
    "qty",
    "unit_price",
    "discount",
    "ts",
)


def _json_line(record: dict[str, Any]) -> str:
    """``json.dumps`` output, with a fast path for well-formed POS lines.

    POS lines are most of the bytes written; their values are ASCII ids, ints and
    pre-formatted money, so an f-string produces exactly what ``json.dumps`` would.
    Anything else (including malformed defects) goes through ``json.dumps``.
    """
    if (
        len(record) == 10
        and tuple(record) == POS_KEYS
        and type(record["terminal"]) is str
        and type(record["line"]) is int
        and type(record["qty"]) is int
        and type(record["unit_price"]) is str
        and '"' not in record["unit_price"]
    ):
        r = record
        return (
            f'{{"terminal": "{r["terminal"]}", "store": "{r["store"]}", '
            f'"ticket": "{r["ticket"]}", "line": {r["line"]}, "type": "{r["type"]}", '
            f'"sku": "{r["sku"]}", "qty": {r["qty"]}, "unit_price": "{r["unit_price"]}", '
            f'"discount": "{r["discount"]}", "ts": "{r["ts"]}"}}'
        )
    return json.dumps(record, ensure_ascii=False)


def write_json_array(path: Path, records: list[dict[str, Any]]) -> None:
    """A JSON array with one record per line: valid JSON that still diffs and greps well."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(_json_line(record) for record in records)
    path.write_text(f"[\n{body}\n]\n", encoding="utf-8")


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


class FixedTimeZipFile(zipfile.ZipFile):
    """A ZipFile that stamps every entry with the same date, so XLSX bytes are stable.

    openpyxl adds entries by name (which zipfile dates with the wall clock) and
    copies the write-only sheet from a temp file (dated with its mtime); both paths
    are funnelled through ``writestr`` with a fixed :class:`zipfile.ZipInfo`.
    """

    def writestr(  # type: ignore[override]
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: str | bytes,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = (
            zinfo_or_arcname.filename
            if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
            else zinfo_or_arcname
        )
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        super().writestr(info, data, compress_type, compresslevel)

    def write(  # type: ignore[override]
        self,
        filename: str | Path,
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        self.writestr(
            arcname or Path(filename).name,
            Path(filename).read_bytes(),
            compress_type,
            compresslevel,
        )
