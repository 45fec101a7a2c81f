"""File drops through the twin: generator files in every format, idempotency, hostile files."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import requests

from salesphere.gcp import clients
from salesphere.ingest.files import FileIngestor, ObjectRef
from salesphere.ingest.service import IngestService
from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.generator import generate
from salesphere_tools.ingest.send import upload_files, wait_for_marker
from salesphere_tools.local.twin import Twin
from tests.support.ingest import load_test_catalog

pytestmark = [pytest.mark.twin]


@pytest.fixture(scope="module")
def generated(twin: Twin, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "data"
    generate(GeneratorConfig(out=out, days=2, stores=3, defect_rate=0.05))
    ref = out / "reference"
    skus = tuple(r["sku"] for r in csv.DictReader((ref / "products.csv").open()))
    stores = tuple(
        (r["store_id"], r["timezone"]) for r in csv.DictReader((ref / "stores.csv").open())
    )
    load_test_catalog(twin.settings, skus, stores)
    return out


def _report(twin: Twin, outcome: dict, name: str) -> list[dict[str, str]]:
    landing = clients.storage_client(twin.settings).bucket(twin.settings.buckets.landing)
    blob = landing.blob(f"_ingested/{outcome['sha256'][:12]}/{name}.rejects.csv")
    if not blob.exists():
        return []
    return list(csv.DictReader(io.StringIO(blob.download_as_bytes().decode("utf-8-sig"))))


def test_generator_files_ingest_with_only_the_expected_rejects(twin: Twin, generated: Path) -> None:
    manifest = json.loads((generated / "manifest.json").read_text())
    files = sorted(generated.glob("spreadsheets/*/*")) + sorted(generated.glob("inventory/*/*"))
    assert {p.suffix for p in files} == {".csv", ".xlsx", ".ndjson"}
    uploaded = upload_files(twin.settings, files)
    for item, path in zip(uploaded, files, strict=True):
        outcome = wait_for_marker(twin.settings, item["sha256"], timeout=60)
        rel = str(path.relative_to(generated))
        expected = Counter(
            (d["row"], d["rule"])
            for d in manifest["defects"]
            if d["file"] == rel and d["expected"] == "reject"
        )
        got = Counter((int(r["row"]), r["rule"]) for r in _report(twin, outcome, item["object"]))
        assert got == expected, rel
        entry = next(f for f in manifest["files"] if f["path"] == rel)
        assert outcome["status"] == "ingested"
        assert outcome["received"] == entry["records"], rel
        assert outcome["rejected"] == sum(expected.values())


def test_redelivery_and_reupload_do_not_ingest_twice(
    twin: Twin, generated: Path, tmp_path: Path
) -> None:
    s = twin.settings
    source = sorted(generated.glob("inventory/*/*.ndjson"))[-1]
    path = tmp_path / "estoque_redelivery.ndjson"  # own bytes: independent of other tests
    path.write_bytes(source.read_bytes() + b"\n")
    (first,) = upload_files(s, [path], source="inventory")
    outcome = wait_for_marker(s, first["sha256"], timeout=60)
    assert outcome["status"] == "ingested"
    landing = clients.storage_client(s).bucket(s.buckets.landing)
    ingestor = FileIngestor(IngestService(s))
    # The same notification delivered again: the marker names this object and generation.
    redelivered = ingestor.handle(
        ObjectRef(s.buckets.landing, first["object"], outcome["generation"])
    )
    assert redelivered == {
        "status": "ignored",
        "reason": "already handled",
        "object": first["object"],
    }
    assert landing.blob(first["object"]).exists()  # kept where it landed
    # The same bytes uploaded again under another name: recognised by content, left there.
    landing.blob("inventory/estoque_again.ndjson").upload_from_filename(str(path))
    again = ingestor.handle(ObjectRef(s.buckets.landing, "inventory/estoque_again.ndjson"))
    assert again["status"] == "duplicate"
    assert landing.blob("inventory/estoque_again.ndjson").exists()
    report = f"_ingested/{first['sha256'][:12]}/inventory/estoque_again.ndjson.rejects.csv"
    assert not landing.blob(report).exists()
    marker = json.loads(landing.blob(f"_processed/{first['sha256']}").download_as_bytes())
    assert marker["request_id"] == outcome["request_id"]
    assert marker["object"] == first["object"]


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    return buffer.getvalue()


def test_hostile_files_are_quarantined_and_the_service_keeps_answering(
    twin: Twin, generated: Path, tmp_path: Path
) -> None:
    s = twin.settings
    bomb = tmp_path / "vendas_bomb.xlsx"
    bomb.write_bytes(_zip_bomb())
    broken = tmp_path / "vendas_broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook")
    formula = tmp_path / "vendas_formula.csv"
    formula.write_bytes(
        "Data;Hora;Loja;Pedido;Linha;Código SKU;Quantidade;Preço Unitário;Desconto;Tipo\r\n"
        "01/11/2026;10:00:00;SP01;SP01-20261101-990001;1;=cmd|' /C calc'!A0;1;10,00;0,00;Venda\r\n".encode(
            "latin-1"
        )
    )
    uploaded = upload_files(s, [bomb, broken, formula], source="spreadsheet")
    outcomes = [wait_for_marker(s, item["sha256"], timeout=60) for item in uploaded]
    assert [o["status"] for o in outcomes] == ["rejected", "rejected", "ingested"]
    assert [o.get("rule") for o in outcomes[:2]] == ["zip_bomb", "xlsx_malformed"]
    quarantine = clients.storage_client(s).bucket(s.buckets.quarantine)
    assert quarantine.blob(
        f"files/{outcomes[0]['sha256'][:12]}/spreadsheet/vendas_bomb.xlsx"
    ).exists()
    (row,) = _report(twin, outcomes[2], "spreadsheet/vendas_formula.csv")
    assert row["rule"] == "pattern" and row["column"] == "Código SKU"
    assert row["value"].startswith("'=")  # neutralised: a spreadsheet shows it as text
    assert requests.get(f"{s.ingest_url}/healthz", timeout=10).status_code == 200
    assert requests.get(
        f"http://{s.host}:{s.ports.ingest_files}/healthz", timeout=10
    ).status_code in (200, 400, 404, 405)
