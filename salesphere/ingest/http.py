"""The HTTP API for live events: authentication, limits, parsing and the answer.

``POST /?source=pos`` (or ``/pos``, or header ``X-Salesphere-Source``) with a JSON array
of records or ``{"records": [...]}``. Answers, in the order they are checked:

=====  ==========================================================================
405    a method the path does not take (``Allow`` says which); ``GET /healthz`` and
       ``GET /openapi.json`` (this API's OpenAPI document) need no credentials
503    overloaded: ``Settings.max_inflight_requests`` batches already in progress
       (checked first, before the body is read; ``Retry-After``; nothing published)
401    no credentials (neither HMAC headers nor an OIDC bearer token)
403    bad credentials (unknown key, bad signature, timestamp > 5 min off)
413    body larger than ``Settings.max_body_bytes``
415    the fiscal path (``/fiscal``) without an XML ``Content-Type``
400    invalid UTF-8, malformed JSON, JSON nested deeper than
       ``Settings.max_json_depth``, not a list, empty, too many records, unknown source
200    every record accepted (or a duplicate within the batch)
207    some or all records rejected: per-record results say which and why
503    Pub/Sub or the quarantine did not confirm, or the reference tables could not be
       read: nothing is half-done; retry
=====  ==========================================================================

Nothing is published unless authentication and the request-level checks pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from salesphere import endpoints
from salesphere.ingest import fiscal, jsonparse, openapi, signing
from salesphere.ingest.ledger import LedgerError
from salesphere.ingest.mapping import live_mapping, live_sources
from salesphere.ingest.publish import PublishError
from salesphere.ingest.results import REJECTED
from salesphere.ingest.service import IngestService, ReferenceUnavailable, request_id_for
from salesphere.model import utcnow
from salesphere.settings import Settings

log = logging.getLogger("salesphere.ingest.http")
SOURCE_HEADER = "X-Salesphere-Source"
RETRY_AFTER_SECONDS = "5"
#: A shed request is retried soon: capacity frees up as soon as a batch finishes.
SHED_RETRY_AFTER_SECONDS = "1"


#: Read-only paths (their last segment): no credentials, GET and HEAD only.
HEALTH = openapi.HEALTH_PATH.strip("/")
DOCUMENT = openapi.DOCUMENT_PATH.strip("/")
READ_METHODS = ("GET", "HEAD")


def allowed_methods(last_segment: str) -> tuple[str, ...]:
    """What a path takes (the ``Allow`` of a 405): read-only paths GET, the rest POST."""
    if last_segment in (HEALTH, DOCUMENT):
        return READ_METHODS
    return (*READ_METHODS, "POST") if not last_segment else ("POST",)


class RequestLike(Protocol):
    """The parts of a Flask request the handler uses (keeps this module framework-light)."""

    method: str
    path: str
    args: Mapping[str, str]
    headers: Mapping[str, str]
    content_length: int | None
    stream: Any


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def flask(self) -> tuple[str, int, dict[str, str]]:
        headers = {"Content-Type": "application/json", **self.headers}
        try:  # same text as json.dumps(ensure_ascii=False, separators=(",", ":")), faster
            text = orjson.dumps(self.body).decode()
        except (orjson.JSONEncodeError, TypeError):
            text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))
        return text, self.status, headers


def error(status: int, code: str, message: str, **extra: Any) -> Answer:
    return Answer(status, {"error": code, "message": message, **extra}, {})


def read_body(request: RequestLike, limit: int) -> bytes | None:
    """The body, or ``None`` when it exceeds ``limit`` (checked before and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = request.stream.read(limit + 1)
    return None if len(data) > limit else data


#: Where Google publishes the certificates its ID tokens are signed with.
OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
OIDC_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


def verify_oidc(token: str, audiences: tuple[str, ...]) -> str | None:
    """The verified e-mail of a Google-signed ID token for one of ``audiences``.

    ``audiences`` is the explicit list of this function's URLs (``Settings.oidc_audiences``):
    the request's own host cannot be trusted for it, since behind Cloud Run's TLS
    termination it is ``http://`` while every token names an ``https://`` URL.
    """
    if not audiences:
        log.warning("OIDC token refused: no accepted audiences configured")
        return None
    try:
        from google.auth.transport import requests as google_requests
        from google.oauth2 import id_token

        claims = id_token.verify_token(
            token, google_requests.Request(), audience=None, certs_url=OIDC_CERTS_URL
        )
    except Exception as exc:
        log.info("OIDC token refused: %s", exc)
        return None
    if claims.get("iss") not in OIDC_ISSUERS:
        log.info("OIDC token refused: issuer %r is not Google", claims.get("iss"))
        return None
    if not endpoints.audience_matches(str(claims.get("aud", "")), audiences):
        log.info("OIDC token refused: audience %r is not one of %s", claims.get("aud"), audiences)
        return None
    if not claims.get("email") or claims.get("email_verified") is not True:
        return None
    return str(claims["email"])


def authenticate(request: RequestLike, body: bytes, settings: Settings) -> Answer | str:
    """The caller's identity, or the 401/403 answer.

    Every request is authenticated here, because in cloud the platform lets anyone reach
    ``ingest-http`` (a POS that can only sign HMAC has no Google identity to pass Cloud
    Run's invoker check; docs/infra.md). So an ID token is not enough by itself: Google
    signs tokens for any account, and only ``Settings.oidc_callers`` may send.
    """
    headers = request.headers
    if signing.has_signature_headers(headers):
        key_id, failure = signing.verify(headers, body, dict(settings.hmac_keys))
        if failure is not None:
            return error(failure.status, failure.code, failure.message)
        return f"hmac:{key_id}"
    bearer = headers.get("Authorization", "")
    if bearer.startswith("Bearer ") and not settings.local:
        who = verify_oidc(bearer.removeprefix("Bearer ").strip(), settings.oidc_audiences)
        if who is None:
            return error(
                403, "bad_token", "the bearer token is not a valid ID token for this service"
            )
        if who not in settings.oidc_callers:
            return error(
                403,
                "caller_not_allowed",
                f"{who} may not send events; add it to salesphere:ingest_invokers and redeploy",
            )
        return f"oidc:{who}"
    return error(
        401,
        "missing_credentials",
        "sign the request (X-Salesphere-Key-Id, X-Salesphere-Timestamp, X-Salesphere-Signature;"
        " see docs/ingest.md) or send an OIDC identity token",
    )


def source_of(request: RequestLike) -> str | None:
    name = request.args.get("source") or request.headers.get(SOURCE_HEADER)
    if not name:
        name = request.path.strip("/").split("/")[-1] or None
    return name


def parse_records(
    body: bytes, limit: int, max_depth: int = Settings.max_json_depth
) -> list[Any] | Answer:
    """The batch's records, or the 400 answer that says what is wrong with the body."""
    try:
        data = jsonparse.loads(body, max_depth=max_depth)
    except jsonparse.JsonTooDeep as exc:
        return error(400, "json_too_deep", f"body is {exc}; nothing was published")
    except UnicodeDecodeError as exc:
        return error(400, "invalid_utf8", f"body is not valid UTF-8 at byte {exc.start}")
    except json.JSONDecodeError as exc:
        return error(400, "malformed_json", f"body is not valid JSON: {exc}")
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list):
        return error(400, "not_a_batch", 'send a JSON array of records or {"records": [...]}')
    if not records:
        return error(400, "empty_batch", "the batch has no records")
    if len(records) > limit:
        return error(
            400, "too_many_records", f"{len(records)} records; send at most {limit} per request"
        )
    return records


def handle(request: RequestLike, service: IngestService) -> Answer:
    """One HTTP request, start to finish."""
    settings = service.settings
    last = request.path.strip("/").split("/")[-1]
    reading = request.method in READ_METHODS
    if reading and last == DOCUMENT:  # the contract, unsigned
        return Answer(200, openapi.served(settings), {})
    if reading and last in (HEALTH, ""):
        return Answer(200, {"status": "ok", "sources": live_sources()}, {})
    allow = allowed_methods(last)
    if request.method not in allow:
        answer = error(
            405,
            "method_not_allowed",
            f"{request.path} takes {', '.join(allow)}: POST a batch to a source's path, "
            f"GET /{HEALTH} for health, GET /{DOCUMENT} for the API's description",
        )
        answer.headers["Allow"] = ", ".join(allow)
        return answer
    # Load shedding: refuse at once, before reading or checking anything, when this
    # instance already processes its limit; a shed request has published nothing.
    if not service.admission.acquire(blocking=False):
        answer = error(
            503,
            "overloaded",
            f"{settings.max_inflight_requests} batches are already in progress; nothing "
            "was published, retry the same request after Retry-After seconds",
        )
        answer.headers["Retry-After"] = SHED_RETRY_AFTER_SECONDS
        return answer
    try:
        return _handle_post(request, service)
    finally:
        service.admission.release()


def _handle_post(request: RequestLike, service: IngestService) -> Answer:
    """An admitted POST: size, credentials, source, parsing, then the batch itself."""
    settings = service.settings
    body = read_body(request, settings.max_body_bytes)
    if body is None:
        return error(
            413,
            "body_too_large",
            f"body exceeds {settings.max_body_bytes} bytes; split the batch",
        )
    who = authenticate(request, body, settings)
    if isinstance(who, Answer):
        return who
    if fiscal.is_xml_request(request.headers.get("Content-Type")):
        return _handle_fiscal(body, service, who)
    source = source_of(request)
    if source == fiscal.FISCAL_SOURCE:
        return error(
            415,
            "unsupported_media_type",
            "fiscal documents are XML: send one document per request with Content-Type "
            f"{' or '.join(fiscal.XML_CONTENT_TYPES)}",
        )
    if source is None or live_mapping(source) is None:
        return error(
            400,
            "unknown_source",
            f"source {source!r} is not known; use ?source= one of {', '.join(live_sources())}",
        )
    records = parse_records(body, settings.max_records_per_batch, settings.max_json_depth)
    if isinstance(records, Answer):
        return records
    try:
        report = service.ingest_live(source, records, body)
    except (PublishError, LedgerError, ReferenceUnavailable) as exc:
        log.error("batch not confirmed, asking the sender to retry: %s", exc)
        answer = error(503, "unavailable", f"{exc}; nothing was lost, retry the same request")
        answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return answer
    status = 207 if any(r.status == REJECTED for r in report.results) else 200
    log.info("batch %s from %s by %s: %s", report.request_id, source, who, report.summary.to_json())
    return Answer(status, report.to_json(), {})


def _handle_fiscal(body: bytes, service: IngestService, who: str) -> Answer:
    """One fiscal XML document (NF-e, NFC-e or event): 200 accepted or duplicate, 207
    refused (the reason per record, the document kept in quarantine), 503 retry."""
    request_id = request_id_for(fiscal.FISCAL_SOURCE, body)
    try:
        report = fiscal.for_service(service).ingest(
            body, request_id=request_id, received_at=utcnow(), channel="http"
        )
    except (PublishError, LedgerError, ReferenceUnavailable) as exc:
        log.error("fiscal document not confirmed, asking the sender to retry: %s", exc)
        answer = error(503, "unavailable", f"{exc}; nothing was lost, retry the same request")
        answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return answer
    status = 207 if any(r.status == REJECTED for r in report.results) else 200
    log.info("fiscal %s from %s: %s", report.request_id, who, report.summary.to_json())
    return Answer(status, report.to_json(), {})
