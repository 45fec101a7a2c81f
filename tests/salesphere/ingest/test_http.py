"""Request-level answers that never reach Pub/Sub: auth, limits, parsing, signatures."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace

import pytest

from salesphere.ingest import http, signing
from salesphere.ingest.service import IngestService
from salesphere.settings import Settings

SETTINGS = dc_replace(Settings(), max_body_bytes=1000, max_records_per_batch=2)
KEY_ID, SECRET = SETTINGS.hmac_keys[0]


@dataclass
class FakeRequest:
    """A minimal stand-in for flask.Request (pure data; no service is involved)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"
    args: dict[str, str] = field(default_factory=lambda: {"source": "pos"})
    host_url: str = "http://127.0.0.1/"

    @property
    def content_length(self) -> int:
        return len(self.body)

    @property
    def stream(self) -> io.BytesIO:
        return io.BytesIO(self.body)


def answer(body: bytes, signed: bool = True, **headers: str) -> http.Answer:
    sent = signing.sign(KEY_ID, SECRET, body) if signed else {}
    return http.handle(FakeRequest(body, {**sent, **headers}), IngestService(SETTINGS))


def test_signature_round_trip_and_tampering() -> None:
    headers = signing.sign(KEY_ID, SECRET, b"[]", now=1_000_000)
    assert signing.verify(headers, b"[]", {KEY_ID: SECRET}, now=1_000_100) == (KEY_ID, None)
    _, failure = signing.verify(headers, b"[ ]", {KEY_ID: SECRET}, now=1_000_100)
    assert failure is not None and (failure.status, failure.code) == (403, "bad_signature")
    _, stale = signing.verify(headers, b"[]", {KEY_ID: SECRET}, now=1_000_000 + 301)
    assert stale is not None and stale.code == "stale_timestamp"
    _, missing = signing.verify({}, b"[]", {KEY_ID: SECRET})
    assert missing is not None and missing.status == 401


def test_answers_in_order_of_checks() -> None:
    assert answer(b"[]", signed=False).status == 401
    assert answer(b"[]", **{signing.HEADER_SIGNATURE: "00"}).status == 403
    assert answer(b"[" + b" " * 1000 + b"]").status == 413
    cases = {
        b"[{": "malformed_json",
        b"\xff": "invalid_utf8",
        b"{}": "not_a_batch",
        b"[]": "empty_batch",
        b"[1,2,3]": "too_many_records",
    }
    for body, code in cases.items():
        got = answer(body)
        assert (got.status, got.body["error"]) == (400, code), body


def test_unknown_source_and_health() -> None:
    request = FakeRequest(b"[1]", signing.sign(KEY_ID, SECRET, b"[1]"), args={"source": "fax"})
    assert http.handle(request, IngestService(SETTINGS)).body["error"] == "unknown_source"
    health = http.handle(FakeRequest(b"", method="GET", path="/healthz"), IngestService(SETTINGS))
    assert health.status == 200 and "pos" in health.body["sources"]
    assert json.loads(health.flask()[0])["status"] == "ok"


@pytest.mark.parametrize(
    "body",
    [
        b'[{"qty": NaN}]',
        b'[{"qty": 123456789012345678901234567890}]',
        b'[{"sku": "a\\ud800"}]',
        b'[{"qty": 1e400}]',
        b'{"records": [{"a": 1}]}',
        b"null",
        b"[1,]",
        b'\xef\xbb\xbf[{"a": 1}]',
    ],
)
def test_fast_body_parsing_reads_like_the_standard_library(body: bytes) -> None:
    from salesphere.ingest.http import Answer, parse_records

    got = parse_records(body, 10)
    try:
        data = json.loads(body.decode("utf-8"))
    except ValueError:
        assert isinstance(got, Answer) and got.status == 400
        return
    expected = data.get("records") if isinstance(data, dict) else data
    if isinstance(expected, list):
        assert repr(got) == repr(expected)
    else:
        assert isinstance(got, Answer) and got.body["error"] == "not_a_batch"


def test_beyond_the_inflight_limit_a_post_is_shed_before_anything_else() -> None:
    service = IngestService(dc_replace(SETTINGS, max_inflight_requests=2))
    unsigned = FakeRequest(b"[1]")
    assert http.handle(unsigned, service).status == 401  # admitted: the normal checks run
    assert service.admission.acquire(blocking=False) and service.admission.acquire(blocking=False)
    shed = http.handle(unsigned, service)
    assert (shed.status, shed.body["error"]) == (503, "overloaded")
    assert shed.headers["Retry-After"] == http.SHED_RETRY_AFTER_SECONDS
    health = http.handle(FakeRequest(b"", method="GET", path="/healthz"), service)
    assert health.status == 200  # health checks are never shed
    service.admission.release()
    assert http.handle(unsigned, service).status == 401  # a freed slot admits again
    service.admission.release()
    assert service.admission.acquire(blocking=False)  # every slot was given back


def test_max_inflight_requests_travels_through_the_environment() -> None:
    settings = dc_replace(Settings(), max_inflight_requests=7)
    assert Settings.from_env(settings.to_environ()).max_inflight_requests == 7


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # beyond every parser's recursion limit
        b"[" * 200_000,  # unbalanced: a recursive parser goes just as deep before failing
        b'[{"qty": NaN, "x": ' + b"[" * 40 + b"]" * 40 + b"}]",  # the standard-library path
        b'[{"x": ' + b"[" * 40 + b"]" * 40 + b"}]",  # orjson reads it; still too deep
    ],
)
def test_deeply_nested_json_is_a_clear_400_not_a_crash(body: bytes) -> None:
    """Before: RecursionError, a 500, and a sender that retries forever."""
    service = IngestService(dc_replace(SETTINGS, max_body_bytes=5 * 1024 * 1024))
    got = http.handle(FakeRequest(body, signing.sign(KEY_ID, SECRET, body)), service)
    assert (got.status, got.body["error"]) == (400, "json_too_deep")
    assert f"more than {SETTINGS.max_json_depth} levels" in got.body["message"]


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count() -> None:
    from salesphere.ingest.http import parse_records

    limit = SETTINGS.max_json_depth
    inner = b"[" * (limit - 2) + b"]" * (limit - 2)
    assert parse_records(b'[{"x": ' + inner + b"}]", 10) == [{"x": json.loads(inner)}]
    brackets = b'[{"name": "' + b"[{" * 500 + b'", "qty": NaN}]'
    assert isinstance(parse_records(brackets, 10), list)
    (record,) = parse_records(b'[{"a": "\\"[[["}]', 10)
    assert record == {"a": '"[[['}
