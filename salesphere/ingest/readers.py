"""Streaming readers for dropped files: CSV, XLSX, JSON and NDJSON, with hostile-input guards.

Every reader yields ``(row_number, record)`` one record at a time, so a 100k-row file
never sits in memory as Python objects. ``row_number`` is what the sender sees: for
CSV/XLSX the spreadsheet row (the header is row 1), for NDJSON the line, for a JSON
array the 1-based position. Blank spreadsheet rows are skipped: they are not records.

A file that cannot be read at all (not a ZIP, a zip bomb, undecodable text, no
recognisable header) raises :class:`FileRejected` with a stable ``rule``; the caller
quarantines the whole file and keeps serving. A single bad line of NDJSON is a
record-level problem instead (:data:`BAD_RECORD`), so the rest of the file still lands.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesphere.ingest import jsonparse
from salesphere.ingest.formats import normalise_header
from salesphere.settings import Settings

#: Guards against decompression bombs disguised as XLSX (declared sizes, checked first).
MAX_XLSX_UNCOMPRESSED = 512 * 1024 * 1024
MAX_XLSX_RATIO = 200
MAX_XLSX_ENTRIES = 10_000
#: JSON limits (depth, file and line size) come from here unless a caller passes its own.
_DEFAULT_LIMITS = Settings()
_CHUNK = 1024 * 1024
_DELIMITERS = (";", ",", "\t", "|")
#: Key under which a record-level read problem is reported (the record is not a dict).
BAD_RECORD = "__bad_record__"


class FileRejected(Exception):
    """The whole file is unusable; ``rule`` is the stable reason code."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass
class Table:
    """A readable file: its header (as found) and a row iterator."""

    header: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    encoding: str = "binary"


def file_format(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


# -- text ----------------------------------------------------------------------------


def detect_encoding(path: Path, allowed: tuple[str, ...]) -> str:
    """``utf-8-sig`` with a BOM; else UTF-8 if every byte decodes; else the first 8-bit codec.

    The whole file is scanned (incrementally, 1 MiB at a time) before any row is
    ingested, so a bad byte on the last line cannot leave a file half-ingested.
    """
    with path.open("rb") as handle:
        head = handle.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError as exc:
            fallback = [e for e in allowed if e.replace("_", "-").lower() not in ("utf-8", "utf8")]
            if not fallback:
                raise FileRejected(
                    "encoding",
                    f"file is not valid UTF-8 (byte {exc.start} of a chunk); save it as "
                    "UTF-8 or declare another encoding in the source's mapping",
                ) from exc
            return fallback[0]


def _delimiter(header_line: str, preferred: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return preferred if counts.get(preferred, 0) >= counts[best] or counts[best] == 0 else best


def read_csv(path: Path, delimiter: str, encodings: tuple[str, ...]) -> Table:
    """A delimited text file with a header row; the delimiter is confirmed on the header."""
    encoding = detect_encoding(path, encodings)
    handle = path.open("r", encoding=encoding, newline="")
    first = handle.readline()
    if not first.strip():
        handle.close()
        raise FileRejected("empty_file", "the file has no header row")
    sep = _delimiter(first, delimiter)
    header = next(csv.reader([first], delimiter=sep))
    keys = [normalise_header(h) for h in header]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        with handle:
            reader = csv.reader(handle, delimiter=sep)
            for number, cells in enumerate(reader, start=2):
                # blank row (all cells whitespace), at C speed; a first cell with text
                # (almost every row) already says it is not blank
                first = cells[0] if cells else ""
                if (not first or first.isspace()) and not "".join(cells).strip():
                    continue
                yield number, dict(zip(keys, cells, strict=False))

    return Table(header=header, rows=rows(), encoding=encoding)


# -- xlsx ----------------------------------------------------------------------------


def check_xlsx(path: Path) -> None:
    """Refuse archives that are not workbooks or that would inflate beyond the limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRejected(
            "xlsx_malformed", f"not a valid XLSX (ZIP) file: {exc}; re-export it from Excel"
        ) from exc
    if len(infos) > MAX_XLSX_ENTRIES:
        raise FileRejected("xlsx_malformed", f"workbook has {len(infos)} parts; refusing")
    if "xl/workbook.xml" not in names:
        raise FileRejected("xlsx_malformed", "ZIP has no xl/workbook.xml: not an Excel workbook")
    total = sum(info.file_size for info in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise FileRejected(
            "zip_bomb",
            f"workbook would inflate to {total // 2**20} MiB "
            f"(limit {MAX_XLSX_UNCOMPRESSED // 2**20} MiB); split it or export CSV",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _CHUNK and ratio > MAX_XLSX_RATIO:
            raise FileRejected(
                "zip_bomb",
                f"part {info.filename} compresses {ratio:.0f}:1 (limit {MAX_XLSX_RATIO}:1); "
                "refusing a likely decompression bomb",
            )


#: The sheet last opened by ``sniff_header``, handed to the next ``read_xlsx`` of the same
#: file: calamine parses the whole sheet on open, so choosing the layout and reading the
#: rows would otherwise parse it twice. One entry, taken by the reader.
_sniffed: dict[str, tuple[tuple[int, int, int], Table]] = {}
_sniffed_lock = threading.Lock()


def _file_key(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def read_xlsx(path: Path) -> Table:
    """The first worksheet of a workbook, via calamine (Rust; fast and memory-lean)."""
    with _sniffed_lock:
        kept = _sniffed.pop(str(path), None)
    if kept is not None and kept[0] == _file_key(path):
        return kept[1]
    return _open_xlsx(path)


def _open_xlsx(path: Path) -> Table:
    from python_calamine import CalamineWorkbook

    check_xlsx(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        iterator = iter(sheet.iter_rows())
        header_cells = next(iterator, None)
    except Exception as exc:  # calamine raises several error types for broken parts
        raise FileRejected("xlsx_malformed", f"workbook cannot be read: {exc}") from exc
    if header_cells is None:
        raise FileRejected("empty_file", "the first worksheet is empty")
    header = ["" if c is None else str(c) for c in header_cells]
    keys = [normalise_header(h) for h in header]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, cells in enumerate(iterator, start=2):
            if cells.count(None) + cells.count("") == len(cells):  # blank row
                continue
            yield number, dict(zip(keys, cells, strict=False))

    return Table(header=header, rows=rows())


# -- json ----------------------------------------------------------------------------


def read_ndjson(path: Path, limits: Settings = _DEFAULT_LIMITS) -> Table:
    """One JSON object per line; a bad line is a record-level reject, not a file failure.

    A line longer than ``limits.max_ndjson_line_bytes`` is never held in memory: it is
    skipped to its end and rejected (``too_large``), and the next line is read as usual.
    """
    cap = limits.max_ndjson_line_bytes

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open("rb") as handle:
            number = 0
            while raw := handle.readline(cap + 1):
                number += 1
                if len(raw) > cap and not raw.endswith(b"\n"):
                    head = raw[:200]
                    while raw and not raw.endswith(b"\n"):  # the rest of this line
                        raw = handle.readline(_CHUNK)
                    yield number, {BAD_RECORD: ("too_large", _line_too_long(cap), head)}
                    continue
                line = raw.strip()
                if line:
                    yield number, _parse_line(line, limits.max_json_depth)

    return Table(header=[], rows=rows(), encoding="utf-8")


def _line_too_long(cap: int) -> str:
    return f"line is longer than {cap} bytes (the limit for one record); split the record"


def _parse_line(line: bytes, max_depth: int = _DEFAULT_LIMITS.max_json_depth) -> dict[str, Any]:
    try:
        value = jsonparse.loads(line, max_depth=max_depth, encoding="utf-8-sig")
    except jsonparse.JsonTooDeep as exc:
        return {BAD_RECORD: ("json_too_deep", f"line is {exc}", line[:200])}
    except UnicodeDecodeError as exc:
        return {BAD_RECORD: ("invalid_utf8", f"line is not valid UTF-8: {exc}", line[:200])}
    except json.JSONDecodeError as exc:
        text = line[:200].decode("utf-8", "replace")
        return {BAD_RECORD: ("malformed_json", f"line is not valid JSON: {exc}", text)}
    if not isinstance(value, dict):
        text = line[:200].decode("utf-8", "replace")
        return {BAD_RECORD: ("type", "each line must be a JSON object", text)}
    return value


def read_json(path: Path, limits: Settings = _DEFAULT_LIMITS) -> Table:
    """A JSON array of records (or ``{"records": [...]}``); bounded in size and depth."""
    size = path.stat().st_size
    cap = limits.max_json_file_bytes
    if size > cap:
        raise FileRejected(
            "too_large",
            f"JSON array files are limited to {cap // 2**20} MiB; "
            "send NDJSON (one object per line) for bigger exports",
        )
    data = path.read_bytes()
    try:
        body = jsonparse.loads(data, max_depth=limits.max_json_depth, encoding="utf-8-sig")
    except jsonparse.JsonTooDeep as exc:
        raise FileRejected("json_too_deep", f"file is {exc}") from exc
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"file is not valid UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise FileRejected("malformed_json", f"file is not valid JSON: {exc}") from exc
    records = body.get("records") if isinstance(body, dict) else body
    if not isinstance(records, list):
        raise FileRejected("malformed_json", 'expected a JSON array or {"records": [...]}')

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, record in enumerate(records, start=1):
            if isinstance(record, dict):
                yield number, record
            else:
                text = json.dumps(record)[:200]
                yield number, {BAD_RECORD: ("type", "each record must be a JSON object", text)}

    return Table(header=[], rows=rows(), encoding="utf-8")


def open_table(
    path: Path,
    name: str,
    delimiter: str,
    encodings: tuple[str, ...],
    limits: Settings = _DEFAULT_LIMITS,
) -> Table:
    """Pick the reader by the object's extension; JSON limits from ``limits``."""
    kind = file_format(name)
    if kind == "csv":
        return read_csv(path, delimiter, encodings)
    if kind == "xlsx":
        return read_xlsx(path)
    if kind == "ndjson":
        return read_ndjson(path, limits)
    if kind == "json":
        return read_json(path, limits)
    raise FileRejected("unsupported_format", f"files ending in .{kind} are not supported")


def sniff_header(path: Path, name: str, encodings: tuple[str, ...]) -> list[str]:
    """The header of a tabular file without reading its rows (to choose a layout)."""
    kind = file_format(name)
    if kind == "xlsx":
        table = _open_xlsx(path)
        with _sniffed_lock:
            _sniffed.clear()
            _sniffed[str(path)] = (_file_key(path), table)
        return table.header
    if kind == "csv":
        encoding = detect_encoding(path, encodings)
        with path.open("r", encoding=encoding, newline="") as handle:
            first = handle.readline()
        return next(csv.reader(io.StringIO(first), delimiter=_delimiter(first, ";")), [])
    return []
