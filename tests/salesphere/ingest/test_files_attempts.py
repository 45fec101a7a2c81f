"""A file that keeps failing is quarantined after a bounded number of attempts, never looped.

The file function runs here against an in-memory bucket (the same calls it makes on GCS)
and a service whose publisher and ledger only record, so each attempt is one call.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from google.api_core.exceptions import NotFound, PreconditionFailed

from salesphere.ingest import files as files_mod
from salesphere.ingest.catalog import Reference
from salesphere.ingest.files import AttemptFailed, FileIngestor, ObjectRef
from salesphere.ingest.service import IngestService
from salesphere.settings import Settings

SETTINGS = Settings()
LANDING = SETTINGS.buckets.landing


class Blob:
    def __init__(self, store: Bucket, name: str) -> None:
        self.store, self.name = store, name

    @property
    def generation(self) -> int | None:
        kept = self.store.objects.get(self.name)
        return kept[1] if kept else None

    def exists(self) -> bool:
        return self.name in self.store.objects

    def download_as_bytes(self) -> bytes:
        if self.name not in self.store.objects:
            raise NotFound(self.name)
        return self.store.objects[self.name][0]

    def download_to_filename(self, path: str) -> None:
        Path(path).write_bytes(self.download_as_bytes())

    def upload_from_string(self, data: Any, content_type: str = "", **pre: Any) -> None:
        match = pre.get("if_generation_match")
        if match is not None and (self.generation or 0) != match:
            raise PreconditionFailed(self.name)
        self.store.put(self.name, data if isinstance(data, bytes) else data.encode())

    def upload_from_filename(self, path: str) -> None:
        self.store.put(self.name, Path(path).read_bytes())

    def delete(self) -> None:
        if self.store.objects.pop(self.name, None) is None:
            raise NotFound(self.name)


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, int]] = {}
        self.generations = 0

    def put(self, name: str, data: bytes) -> None:
        self.generations += 1
        self.objects[name] = (data, self.generations)

    def blob(self, name: str) -> Blob:
        return Blob(self, name)

    def get_blob(self, name: str) -> Blob | None:
        return Blob(self, name) if name in self.objects else None

    def copy_blob(self, blob: Blob, bucket: Bucket, target: str) -> None:
        bucket.put(target, blob.download_as_bytes())

    def delete_blob(self, name: str, generation: int | None = None) -> None:
        self.objects.pop(name, None)


class Storage:
    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}

    def bucket(self, name: str) -> Bucket:
        return self.buckets.setdefault(name, Bucket())


class Ledger:
    def __init__(self) -> None:
        self.rejects: list[Any] = []
        self.logs: list[dict[str, Any]] = []

    def quarantine(self, records: list[Any], *, source: str, request_id: str) -> None:
        self.rejects.extend(records)

    def log(self, **row: Any) -> None:
        self.logs.append(row)


class Publisher:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    def start(self, envelopes: Any) -> list[Any]:
        self.envelopes.extend(envelopes)
        return []

    def wait(self, futures: Any) -> list[str]:
        return []


@pytest.fixture
def ingestor() -> FileIngestor:
    service = IngestService(SETTINGS, publisher=Publisher(), ledger=Ledger(), reference=Reference())  # type: ignore[arg-type]
    files = FileIngestor(service)
    files._gcs = Storage()
    return files


def drop(files: FileIngestor, name: str, data: bytes) -> ObjectRef:
    landing = files.gcs.bucket(LANDING)
    landing.put(name, data)
    return ObjectRef(LANDING, name, str(landing.objects[name][1]))


def panicking_xlsx(tmp_path: Path) -> bytes:
    """A workbook whose cell reference is absurd: calamine panics (a BaseException)."""
    book = openpyxl.Workbook()
    book.active.append(["Data", "Hora", "Loja"])
    book.active.append(["28/11/2026", "10:00:00", "SP01"])
    good = tmp_path / "good.xlsx"
    book.save(good)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b'r="A2"', b'r="ZZZZZZZ99999999999"')
            out.writestr(name, data)
    return bad.read_bytes()


def test_an_unforeseen_failure_is_retried_then_quarantined(
    ingestor: FileIngestor, tmp_path: Path
) -> None:
    ref = drop(ingestor, "spreadsheet/vendas_SP01.xlsx", panicking_xlsx(tmp_path))
    for attempt in range(1, ingestor.max_attempts):
        with pytest.raises(AttemptFailed, match=f"attempt {attempt} of"):
            ingestor.handle(ref)  # 500: Pub/Sub redelivers, in case it was transient
    outcome = ingestor.handle(ref)
    assert (outcome["status"], outcome["rule"], outcome["attempts"]) == (
        "quarantined",
        "ingest_failed",
        ingestor.max_attempts,
    )
    assert "PanicException" in outcome["reason"] and "upload it again" in outcome["reason"]
    ledger = ingestor.service.ledger
    assert [(r.rule, r.location) for r in ledger.rejects] == [("ingest_failed", "file")]
    assert [row["request_id"] for row in ledger.logs] == [outcome["request_id"]]
    landing = ingestor.gcs.bucket(LANDING).objects
    assert ref.name in landing  # kept where it landed: the marker stops a late redelivery
    assert not [n for n in landing if n.startswith(files_mod.ATTEMPTS_PREFIX)]
    report = landing[f"_ingested/{outcome['sha256'][:12]}/{ref.name}.rejects.csv"][0]
    assert b"ingest_failed" in report
    quarantine = ingestor.gcs.bucket(SETTINGS.buckets.quarantine).objects
    assert f"files/{outcome['sha256'][:12]}/{ref.name}" in quarantine
    assert ingestor.handle(ref)["status"] == "ignored"


def test_attempts_that_died_silently_still_end_in_quarantine(
    ingestor: FileIngestor, tmp_path: Path
) -> None:
    """Out of memory or a timeout never reaches ``except``; the counter still counts."""
    ref = drop(ingestor, "spreadsheet/vendas_SP01.xlsx", panicking_xlsx(tmp_path))
    landing = ingestor.gcs.bucket(LANDING)
    blob = landing.get_blob(ref.name)
    counter = FileIngestor._attempts_blob(landing, blob)
    counter.upload_from_string(json.dumps({"attempts": ingestor.max_attempts}))
    outcome = ingestor.handle(ref)
    assert outcome["status"] == "quarantined" and "stopped before" in outcome["reason"]


def test_a_quarantined_file_uploaded_again_is_ingested_again(
    ingestor: FileIngestor, tmp_path: Path
) -> None:
    ingestor.max_attempts = 1
    data = panicking_xlsx(tmp_path)
    assert ingestor.handle(drop(ingestor, "spreadsheet/vendas_SP01.xlsx", data))["status"] == (
        "quarantined"
    )
    again = ingestor.handle(drop(ingestor, "spreadsheet/vendas_SP01.xlsx", data))
    assert again["status"] == "quarantined"  # not "duplicate": it is tried again


def test_deep_json_files_are_rejected_at_once(ingestor: FileIngestor) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    outcome = ingestor.handle(drop(ingestor, "inventory/estoque_1.json", deep))
    assert (outcome["status"], outcome["rule"]) == ("rejected", "json_too_deep")
    line = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    outcome = ingestor.handle(drop(ingestor, "inventory/estoque_2.ndjson", line * 2))
    assert (outcome["status"], outcome["rejected"]) == ("ingested", 2)
    rules = {r.rule for r in ingestor.service.ledger.rejects}
    assert rules == {"json_too_deep"}


def test_a_reader_failing_mid_file_on_the_last_attempt_keeps_the_rows_before_it(
    ingestor: FileIngestor, tmp_path: Path
) -> None:
    """Earlier attempts published the first rows; the last one counts them and stops."""
    from tests.salesphere.ingest.test_mapper import SHEET

    header, first, _blank, second = SHEET.split("\r\n")[:4]
    huge = second.replace("SP01-1", "X" * 200_000)  # beyond the csv module's field limit
    data = "\r\n".join([header, first, second, huge, second]) + "\r\n"
    ingestor.max_attempts = 1
    outcome = ingestor.handle(drop(ingestor, "spreadsheet/vendas_SP01.csv", data.encode()))
    assert outcome["status"] == "quarantined"
    assert "reading stopped after row 3" in outcome["reason"]
    assert outcome["accepted"] == 2  # the rows before the failure, counted in the log
    (log,) = ingestor.service.ledger.logs
    assert log["summary"].accepted == 2 and log["request_id"] == outcome["request_id"]
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_an_object_deleted_before_its_download_is_ignored(
    ingestor: FileIngestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found, then gone before the download: nothing to do, and no attempt is counted
    against a file this delivery never read."""
    ref = drop(ingestor, "inventory/estoque_1.ndjson", b'{"a": 1}\n')

    def gone(self: Blob, path: str) -> None:
        raise NotFound(self.name)

    monkeypatch.setattr(Blob, "download_to_filename", gone)
    assert ingestor.handle(ref)["status"] == "ignored"
    landing = ingestor.gcs.bucket(LANDING).objects
    assert not [n for n in landing if n.startswith(files_mod.ATTEMPTS_PREFIX)]


def test_an_ingested_file_stays_where_it_landed_and_is_ingested_once(
    ingestor: FileIngestor, tmp_path: Path
) -> None:
    """No copy to a second home (a class A operation a file): the marker alone makes a
    redelivery, and the same bytes under another name, do nothing."""
    ingestor.max_attempts = 1
    data = panicking_xlsx(tmp_path)
    ref = drop(ingestor, "spreadsheet/vendas_SP01.xlsx", data)
    first = ingestor.handle(ref)
    landing = ingestor.gcs.bucket(LANDING)
    writes = landing.generations
    assert ref.name in landing.objects
    # the same notification again (at-least-once): ignored, nothing written, not retried
    assert ingestor.handle(ref) == {
        "status": "ignored",
        "reason": "already handled",
        "object": ref.name,
    }
    assert landing.generations == writes
    marker = json.loads(landing.objects[f"{files_mod.MARKER_PREFIX}{first['sha256']}"][0])
    assert (marker["object"], marker["generation"]) == (ref.name, ref.generation)
    # quarantined bytes dropped again are a new object: tried again, as before
    again = drop(ingestor, "spreadsheet/vendas_SP01_fixed.xlsx", data)
    assert ingestor.handle(again)["status"] == "quarantined"


def test_the_same_bytes_under_another_name_are_a_duplicate_left_in_place(
    ingestor: FileIngestor,
) -> None:
    data = b'{"a": 1}\n'
    first = ingestor.handle(drop(ingestor, "inventory/estoque_1.ndjson", data))
    landing = ingestor.gcs.bucket(LANDING)
    writes = landing.generations
    again = ingestor.handle(drop(ingestor, "inventory/estoque_copy.ndjson", data))
    assert again == {
        "status": "duplicate",
        "object": "inventory/estoque_copy.ndjson",
        "sha256": first["sha256"],
    }
    assert landing.generations == writes + 1  # only the upload itself: no counter, no copy
    assert not [n for n in landing.objects if n.startswith(files_mod.ATTEMPTS_PREFIX)]
