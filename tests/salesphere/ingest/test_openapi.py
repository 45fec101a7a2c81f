"""The ingest API's OpenAPI document: generated from the code, current, served unsigned."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from jsonschema.validators import Draft202012Validator

from salesphere.ingest import http, openapi, signing
from salesphere.ingest.mapping import live_mapping, live_sources
from salesphere.ingest.service import IngestService
from salesphere.settings import Settings
from salesphere_tools.cli.docs import OPENAPI, render_openapi
from tests.salesphere.ingest.test_http import KEY_ID, SECRET, FakeRequest, answer
from tests.salesphere.ingest.test_http import SETTINGS as GUARDED
from tests.salesphere.ingest.test_mapper import run

DOCUMENT = openapi.build_document()

#: An inventory count as the inventory system writes it (type in upper case).
COUNT = {
    "location": "SP01",
    "item": "ELE-10001",
    "units": 40,
    "document": "CNT-1",
    "type": "COUNT",
    "recorded_at": "2026-11-28T06:00:00-03:00",
}
TIME_KEYS = {"ts", "created_at", "updated_at", "recorded_at"}
TYPE_KEYS = {"pos": "type", "ecommerce": "status", "inventory": "type"}


def example(source: str) -> dict:
    mapping = live_mapping(source)
    assert mapping is not None and mapping.example is not None, source
    return dict(mapping.example)


def body_schema(document: dict, path: str) -> Draft202012Validator:
    """A validator for the JSON request body of ``POST path`` (its refs resolved in place)."""
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


def test_the_committed_document_is_current() -> None:
    assert OPENAPI.read_text(encoding="utf-8") == render_openapi(), (
        "docs/openapi.json is stale: run `salesphere docs --openapi` and commit it"
    )


def test_every_live_source_has_its_batch_path_and_the_xml_path_takes_fiscal_documents() -> None:
    assert {p.strip("/") for p in DOCUMENT["paths"]} >= {*live_sources(), "fiscal"}
    xml = DOCUMENT["paths"]["/fiscal"]["post"]["requestBody"]["content"]
    assert set(xml) == {"application/xml", "text/xml"}
    statuses = set(DOCUMENT["paths"]["/pos"]["post"]["responses"])
    assert statuses == {"200", "207", "400", "401", "403", "413", "503"}


@pytest.mark.parametrize("source", live_sources())
def test_each_source_publishes_an_example_that_maps_cleanly_and_fits_its_schema(source) -> None:
    record = example(source)
    result, rows = run(source, record)
    assert (result.status, result.rejects) == ("accepted", []), result.rejects
    assert rows
    media = DOCUMENT["paths"][f"/{source}"]["post"]["requestBody"]["content"]["application/json"]
    assert media["examples"]["batch"]["value"] == [record]
    validator = body_schema(DOCUMENT, f"/{source}")
    for shown in media["examples"].values():
        validator.validate(shown["value"])
    assert not validator.is_valid([])
    assert not validator.is_valid([{k: v for k, v in record.items() if k not in TIME_KEYS}])
    assert not validator.is_valid([{**record, TYPE_KEYS[source]: "teleport"}])


def test_the_schema_takes_the_type_in_either_case() -> None:
    validator = body_schema(DOCUMENT, "/inventory")
    validator.validate([COUNT, {**COUNT, "type": "count"}])
    assert not validator.is_valid([{**COUNT, "type": "Count-ish"}])


def test_limits_come_from_the_model_and_the_settings() -> None:
    small = openapi.build_document(replace(Settings(), max_records_per_batch=7))
    batch = small["paths"]["/pos"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["anyOf"][0]["maxItems"] == 7
    sale = DOCUMENT["components"]["schemas"]["PosSaleRecord"]["properties"]
    assert sale["sku"]["pattern"] == "^[A-Za-z0-9_.-]+$"
    assert (sale["qty"]["minimum"], sale["qty"]["maximum"]) == (0, 100_000)
    validator = body_schema(DOCUMENT, "/pos")
    pos = example("pos")
    validator.validate([{**pos, "unit_price": 19.9}])
    assert not validator.is_valid([{**pos, "unit_price": "19.999"}])
    assert not validator.is_valid([{**pos, "store": "SP 01"}])


def documented_codes(status: int) -> set[str]:
    error = DOCUMENT["components"]["schemas"][f"Error{status}"]["properties"]["error"]
    return set(error["enum"]) if "enum" in error else {error["const"]}


def test_every_error_code_the_handler_gives_is_documented() -> None:
    """Requests that reach each refusal the handler can give without a backend."""
    sent = [
        answer(b"[]", signed=False),
        answer(b"[]", **{signing.HEADER_SIGNATURE: "00"}),
        answer(b"[]", **{signing.HEADER_KEY_ID: "nobody"}),
        answer(b"[]", **{signing.HEADER_TIMESTAMP: "soon"}),
        answer(b"[" + b" " * 1000 + b"]"),
        *(answer(body) for body in (b"[{", b"\xff", b"{}", b"[]", b"[1,2,3]", b"[" * 40)),
        http.handle(FakeRequest(b"", method="DELETE"), IngestService(GUARDED)),
        http.handle(
            FakeRequest(b"[1]", signing.sign(KEY_ID, SECRET, b"[1]"), args={"source": "x"}),
            IngestService(GUARDED),
        ),
    ]
    sent.append(
        http.handle(
            FakeRequest(
                b"<NFe/>", signing.sign(KEY_ID, SECRET, b"<NFe/>"), path="/fiscal", args={}
            ),
            IngestService(GUARDED),
        )
    )
    seen = {(got.status, got.body["error"]) for got in sent}
    assert (415, "unsupported_media_type") in seen
    assert len(seen) == 14
    for status, code in seen:
        assert code in documented_codes(status), (status, code)
    assert {code for s in openapi.ERROR_CODES for code in documented_codes(s)} >= {
        code for _, code in seen
    }


def test_the_function_serves_the_document_without_credentials() -> None:
    request = FakeRequest(b"", method="GET", path="/openapi.json", headers={})
    got = http.handle(request, IngestService(Settings()))
    assert got.status == 200
    assert json.loads(got.flask()[0]) == DOCUMENT
