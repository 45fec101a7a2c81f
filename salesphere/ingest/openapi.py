"""The ingest HTTP API as an OpenAPI 3.1 document, generated from what the code checks.

Nothing here is written by hand twice: each live source's record schema is a pydantic
model built from that source's mapping (``salesphere/mappings/*.yaml``: the JSON keys,
their types, which are required, the event-type vocabulary and per-type overrides) with
the limits :class:`~salesphere.model.CanonicalEvent` declares for the field each key
becomes; the answers are pydantic models of the bodies :mod:`salesphere.ingest.http`
returns, with every error code it can give per status; the batch and body limits come
from :class:`~salesphere.settings.Settings`. The function serves the document at
``GET /openapi.json``; ``docs/openapi.json`` is the committed copy (default settings),
kept current by a test and ``salesphere docs --openapi``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from salesphere.ingest import signing
from salesphere.ingest.fiscal import XML_CONTENT_TYPES
from salesphere.ingest.mapping import FieldSpec, SourceMapping, builtin_mappings
from salesphere.model import FIELD_LIMITS, CanonicalEvent, finalize
from salesphere.settings import Settings
from salesphere.validation import Reject

OPENAPI_VERSION = "3.1.0"
#: The contract's own version: raise it when a change could break a generated client.
API_VERSION = "1.0.0"
#: Where the function serves the document (no credentials needed).
DOCUMENT_PATH = "/openapi.json"
HEALTH_PATH = "/healthz"
#: The path fiscal XML is documented under (any path takes XML: the content type decides).
FISCAL_PATH = "/fiscal"
REF = "#/components/schemas/{model}"

#: Every error code the HTTP function answers, per status, with when it is given. The
#: contract test sends requests that produce them; a code missing here fails it.
ERROR_CODES: dict[int, dict[str, str]] = {
    400: {
        "invalid_utf8": "the body is not valid UTF-8",
        "malformed_json": "the body is not valid JSON",
        "json_too_deep": "JSON nested deeper than the limit",
        "not_a_batch": 'the body is neither a JSON array nor {"records": [...]}',
        "empty_batch": "the batch has no records",
        "too_many_records": "more records than the per-request limit",
        "unknown_source": "the source (path, ?source= or X-Salesphere-Source) is not a live source",
    },
    401: {"missing_credentials": "neither the HMAC headers nor a bearer token were sent"},
    403: {
        "unknown_key": "X-Salesphere-Key-Id names no current key",
        "bad_timestamp": "X-Salesphere-Timestamp is not Unix seconds",
        "stale_timestamp": "the timestamp is more than 5 minutes from the server clock",
        "bad_signature": "the signature does not match the body",
        "bad_token": "the bearer token is not a valid ID token for this service",
        "caller_not_allowed": "the token's account may not send events",
    },
    405: {"method_not_allowed": "a method the path does not take"},
    413: {"body_too_large": "the body is larger than the limit"},
    415: {"unsupported_media_type": "a body for /fiscal without an XML Content-Type"},
    503: {
        "overloaded": "this instance already processes its limit of batches; nothing was read",
        "unavailable": "Pub/Sub, the quarantine or the reference tables did not answer",
    },
}


# -- answers -------------------------------------------------------------------------------


class Summary(BaseModel):
    """Counts of one request (also written to ``ops.ingest_log``)."""

    model_config = ConfigDict(extra="forbid")

    received: int = Field(ge=0, description="Records in the request.")
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicate: int = Field(ge=0, description="Records repeating an earlier one in the batch.")
    events: int = Field(ge=0, description="Canonical events published.")


class RecordResult(BaseModel):
    """The answer for one input record, in the order they were sent."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="0-based position of the record in the batch.")
    status: Literal["accepted", "rejected", "duplicate"]
    event_ids: list[str] | None = Field(
        default=None,
        min_length=1,
        description="accepted only: the ids of the events the record became (one per item).",
    )
    errors: list[Reject] | None = Field(
        default=None,
        min_length=1,
        description="rejected only: every broken rule; the record is kept in quarantine.",
    )


class BatchAnswer(BaseModel):
    """What happened to each record of a request (200: none rejected; 207: some were)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(description="Stable for the same body: a retry answers alike.")
    source: str = Field(description="The source the records were read as.")
    received_at: str = Field(description="When ingest took the request (RFC 3339, UTC).")
    summary: Summary
    results: list[RecordResult]


class Health(BaseModel):
    """``GET /healthz``: the function is up; the live sources it takes."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
    sources: list[str]


def _error_model(status: int) -> type[BaseModel]:
    codes = ERROR_CODES[status]
    return create_model(
        f"Error{status}",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Why the request was refused; nothing was published. "
        + "; ".join(f"`{code}`: {when}" for code, when in codes.items()),
        error=(Literal[tuple(codes)], Field(description="Stable code to act on.")),  # type: ignore[valid-type]
        message=(str, Field(description="What is wrong and what to do, for a person.")),
    )


# -- records, from the mappings ------------------------------------------------------------


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def _limits(targets: list[str]) -> dict[str, Any]:
    """The canonical limits a value must meet to become every one of ``targets``."""
    out: dict[str, Any] = {}
    for target in targets:
        limit = FIELD_LIMITS.get(target)
        if limit is None:
            continue
        if limit.min_length:
            out["min_length"] = max(out.get("min_length", 0), limit.min_length)
        if limit.max_length is not None:
            out["max_length"] = min(out.get("max_length", limit.max_length), limit.max_length)
        if limit.pattern is not None:
            out["pattern"] = f"^{limit.pattern.pattern}$"
        if limit.ge is not None:
            out["ge"] = max(out.get("ge", limit.ge), limit.ge)
        if limit.le is not None:
            out["le"] = min(out.get("le", limit.le), limit.le)
    return out


_PYTHON_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "money": Decimal,
    "timestamp": AwareDatetime,
}


#: Money as the live sources write it (``numbers: intl``): digits, a point, two places.
MONEY_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"


def _money_schema(limits: dict[str, Any]) -> dict[str, Any]:
    """A JSON number or a decimal string (exact: preferred), within the canonical limits."""
    number: dict[str, Any] = {"type": "number"}
    if "ge" in limits:
        number["minimum"] = float(limits["ge"])
    if "le" in limits:
        number["maximum"] = float(limits["le"])
    return {"anyOf": [{"type": "string", "pattern": MONEY_PATTERN}, number]}


def _describe(specs: list[FieldSpec]) -> str:
    parts = []
    for spec in specs:
        text = f"`{spec.target}`"
        canonical = CanonicalEvent.model_fields.get(spec.target)
        if canonical is not None and canonical.description:
            text += f": {canonical.description.rstrip('.')}"
        parts.append(text)
    extra = ""
    kind = specs[0].type
    if kind == "money":
        extra = ' Money in the currency\'s units, at most two decimal places (e.g. "19.90").'
    elif kind == "timestamp":
        extra = " ISO 8601 with its UTC offset, e.g. 2026-11-28T14:03:00-03:00."
    aliases = specs[0].sources[1:]
    if aliases:
        extra += " Also read from: " + ", ".join(aliases) + "."
    if specs[0].default is not None:
        extra += f" Default {specs[0].default!r}."
    return "Becomes " + "; and ".join(parts) + "." + extra


#: A value each canonical field may take, to ask the model which fields a type needs.
_PROBE: dict[str, Any] = {
    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
    "source": "probe",
    "source_ref": "probe",
    "store_id": "S1",
    "sku": "X1",
    "quantity": 1,
    "unit_price": Decimal("1.00"),
    "discount": Decimal("0.00"),
    "currency": "BRL",
    "order_id": "O1",
    "line_number": 1,
    "counted_quantity": 1,
    "counterpart_store_id": "S2",
}


def _valid(draft: dict[str, Any]) -> bool:
    try:
        finalize(draft, received_at=_PROBE["occurred_at"])
    except ValidationError:
        return False
    return True


@cache
def required_targets(event_type: str) -> frozenset[str]:
    """The canonical fields an event of ``event_type`` cannot do without, asked of the model.

    From a draft with every field, drop those the type forbids (``counted_quantity`` off a
    count); then a field is required when the draft without it no longer validates.
    """
    draft = {"event_type": event_type, **_PROBE}
    while not _valid(draft):
        removable = [k for k in draft if k != "event_type" and _valid(_without(draft, k))]
        if not removable:
            raise ValueError(f"no probe draft of {event_type!r} validates; update _PROBE")
        draft = _without(draft, removable[0])
    return frozenset(k for k in draft if k != "event_type" and not _valid(_without(draft, k)))


def _without(draft: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in draft.items() if k != key}


def _field(specs: list[FieldSpec], required: bool) -> tuple[Any, Any]:
    """The pydantic field for one record key read by ``specs`` (same key, one or more targets)."""
    spec = specs[0]
    kind = _PYTHON_TYPES.get(spec.type)
    if kind is None:  # local_datetime: spreadsheets only, never a live JSON source
        raise ValueError(f"field type {spec.type!r} has no JSON form for the HTTP API")
    limits = _limits([s.target for s in specs])
    annotated = Annotated[kind, Field(**limits)]
    if spec.type == "money":
        annotated = Annotated[annotated, WithJsonSchema(_money_schema(limits))]
    description = _describe(specs)
    if spec.default is not None or not required:
        # a missing key, or null, takes the mapping's default (or leaves the field unset)
        return (annotated | None, Field(default=None, description=description))
    return (annotated, Field(description=description))


def _grouped(specs: list[FieldSpec], prefix: str = "") -> dict[str, list[FieldSpec]]:
    """Specs by the record key they read (their first alias), keeping only keys under ``prefix``."""
    keys: dict[str, list[FieldSpec]] = {}
    for spec in specs:
        if not spec.sources:
            continue
        key = spec.sources[0]
        if prefix:
            if not key.startswith(prefix):
                continue
            key = key.removeprefix(prefix)
        elif "." in key:
            continue
        keys.setdefault(key, []).append(spec)
    return keys


def _plan(mapping: SourceMapping, event_type: str) -> list[FieldSpec]:
    """The field specs a record of ``event_type`` is mapped with (shared ones, then overrides)."""
    overrides = mapping.per_type.get(event_type, ())
    replaced = {spec.target for spec in overrides}
    return [s for s in mapping.fields if s.target not in replaced] + list(overrides)


def record_models(mapping: SourceMapping) -> tuple[type[BaseModel], ...]:
    """One pydantic model per event type a live source's records can carry."""
    type_field = mapping.type_field
    if type_field is None or not type_field.sources:
        raise ValueError(f"mapping {mapping.name!r}: a live source needs an event_type key")
    type_key = type_field.sources[0]
    by_type: dict[str, list[str]] = {}
    for spelling, event_type in mapping.type_values.items():
        # compared in normal form (lower case, no accents): both cases are the same value
        by_type.setdefault(event_type, []).extend(dict.fromkeys((spelling, spelling.upper())))
    models = []
    for event_type, spellings in by_type.items():
        plan = _plan(mapping, event_type)
        name = f"{_camel(mapping.name)}{_camel(event_type)}"
        needed = required_targets(event_type)

        def field(specs: list[FieldSpec], needed: frozenset[str] = needed) -> tuple[Any, Any]:
            return _field(specs, any(s.target in needed for s in specs))

        fields: dict[str, Any] = {
            key: field(specs) for key, specs in _grouped(plan).items() if key != type_key
        }
        fields[type_key] = (
            Literal[tuple(spellings)],  # type: ignore[valid-type]
            Field(
                description=f"`{event_type}` (compared without case or accents)."
                + (
                    f" Also read from: {', '.join(type_field.sources[1:])}."
                    if len(type_field.sources) > 1
                    else ""
                )
            ),
        )
        if mapping.explode:
            item = create_model(
                f"{name}Item",
                __doc__=f"One line of a `{mapping.name}` record: one `{event_type}` event each.",
                **{
                    key: field(specs)
                    for key, specs in _grouped(plan, mapping.explode + ".").items()
                },
            )
            fields[mapping.explode] = (
                list[item],  # type: ignore[valid-type]
                Field(min_length=1, description="The lines; each becomes one event."),
            )
        models.append(
            create_model(
                f"{name}Record",
                __doc__=f"A `{mapping.name}` record whose `{type_key}` makes it `{event_type}`. "
                "Keys not listed are ignored.",
                **fields,
            )
        )
    return tuple(models)


def _record_type(mapping: SourceMapping) -> Any:
    """Any of the source's per-type records (each type key value fits exactly one).

    No OpenAPI ``discriminator``: a type is written in either case ("RECEIPT" and
    "receipt"), and tools read a discriminator's mapping as one value per schema.
    """
    models = record_models(mapping)
    if len(models) == 1:
        return models[0]
    return Union[models]  # noqa: UP007


# -- the document ---------------------------------------------------------------------------


def _schemas(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each named top-level schema (inline) and the shared definitions they refer to."""
    limit = settings.max_records_per_batch
    request_fields: dict[str, Any] = {}
    for mapping in builtin_mappings():
        if not mapping.live:
            continue
        record = _record_type(mapping)
        batch = Annotated[list[record], Field(min_length=1, max_length=limit)]  # type: ignore[valid-type]
        wrapped = create_model(
            f"{_camel(mapping.name)}Records",
            __doc__="The same batch as an object (other keys are ignored).",
            records=(batch, ...),
        )
        request_fields[mapping.name] = (Union[batch, wrapped], ...)  # noqa: UP007
    requests = create_model("Requests", **request_fields)
    answers = create_model(
        "Answers",
        batch=(BatchAnswer, ...),
        health=(Health, ...),
        **{f"error{status}": (_error_model(status), ...) for status in ERROR_CODES},
    )
    defs: dict[str, Any] = {}
    tops: dict[str, Any] = {}
    for model, mode in ((requests, "validation"), (answers, "serialization")):
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[attr-defined]
        defs.update(schema.get("$defs", {}))
        tops.update(schema["properties"])
    return tops, defs


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _responses(settings: Settings) -> dict[str, Any]:
    retry = {
        "Retry-After": {
            "description": "Seconds to wait before sending the same request again.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    }
    return {
        "Accepted": {
            "description": "Every record accepted (or a duplicate of an earlier one in the batch).",
            "content": _json(_ref("BatchAnswer")),
        },
        "SomeRejected": {
            "description": "Some or all records rejected: `results` says which and why. The "
            "accepted ones are published; the rejected ones are kept in quarantine. Fix and "
            "resend only the rejected records.",
            "content": _json(_ref("BatchAnswer")),
        },
        "BadRequest": {
            "description": "The body is not a batch of this source; nothing was published.",
            "content": _json(_ref("Error400")),
        },
        "Unauthenticated": {
            "description": "No credentials: sign the request or send an ID token.",
            "content": _json(_ref("Error401")),
        },
        "Forbidden": {
            "description": "Credentials present but not accepted.",
            "content": _json(_ref("Error403")),
        },
        "MethodNotAllowed": {
            "description": "The path does not take this method; `Allow` lists those it takes.",
            "headers": {
                "Allow": {
                    "description": "The methods the path takes.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "content": _json(_ref("Error405")),
        },
        "TooLarge": {
            "description": f"The body is larger than {settings.max_body_bytes} bytes; split it.",
            "content": _json(_ref("Error413")),
        },
        "UnsupportedMediaType": {
            "description": "Fiscal documents are XML: send the document with an XML "
            "`Content-Type`.",
            "content": _json(_ref("Error415")),
        },
        "Unavailable": {
            "description": "Not processed now (`overloaded`: checked before reading the body; "
            "`unavailable`: a backend did not confirm). Nothing was half-done: send the same "
            "request again after `Retry-After` seconds.",
            "headers": retry,
            "content": _json(_ref("Error503")),
        },
    }


def _batch_content(schema: dict[str, Any], mapping: SourceMapping) -> dict[str, Any]:
    content = _json(schema)
    if mapping.example is not None:
        content["application/json"]["examples"] = {
            "batch": {"summary": "A batch of one record", "value": [dict(mapping.example)]},
            "records": {
                "summary": "The same batch as an object",
                "value": {"records": [dict(mapping.example)]},
            },
        }
    return content


def _post(summary: str, description: str, content: dict[str, Any], statuses: list[str]) -> Any:
    names = {
        "200": "Accepted",
        "207": "SomeRejected",
        "400": "BadRequest",
        "401": "Unauthenticated",
        "403": "Forbidden",
        "413": "TooLarge",
        "415": "UnsupportedMediaType",
        "503": "Unavailable",
    }
    return {
        "summary": summary,
        "description": description,
        "requestBody": {"required": True, "content": content},
        "responses": {
            status: {"$ref": f"#/components/responses/{names[status]}"} for status in statuses
        },
    }


def _get(summary: str, schema: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": [],
        "responses": {
            "200": {"description": summary, "content": _json(schema)},
            "405": {"$ref": "#/components/responses/MethodNotAllowed"},
        },
    }


def _security_schemes() -> dict[str, Any]:
    return {
        "hmacKeyId": {
            "type": "apiKey",
            "in": "header",
            "name": signing.HEADER_KEY_ID,
            "description": "Which shared key signed the request (keys rotate by adding an id).",
        },
        "hmacTimestamp": {
            "type": "apiKey",
            "in": "header",
            "name": signing.HEADER_TIMESTAMP,
            "description": "Unix seconds when the request was signed; at most "
            f"{signing.MAX_SKEW_SECONDS} s from the server clock.",
        },
        "hmacSignature": {
            "type": "apiKey",
            "in": "header",
            "name": signing.HEADER_SIGNATURE,
            "description": "Lower-case hex HMAC-SHA256, keyed with the key's secret, over "
            "`<timestamp>.<the raw body bytes>` (exactly the bytes sent).",
        },
        "oidc": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Cloud only (the local twin takes HMAC alone): a Google-signed ID "
            "token for this service, of an account listed in `salesphere:ingest_invokers`.",
        },
    }


def build_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the ingest HTTP function for ``settings``' limits."""
    settings = settings or Settings()
    tops, defs = _schemas(settings)
    paths: dict[str, Any] = {
        HEALTH_PATH: {"get": _get("The function is up", tops["health"], "health")},
        DOCUMENT_PATH: {
            "get": _get(
                "This document",
                {"type": "object", "description": "An OpenAPI 3.1 document."},
                "openapi",
            )
        },
        **_batch_paths(settings, tops),
        FISCAL_PATH: _fiscal_path(),
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SalesSphere ingest",
            "version": API_VERSION,
            "description": (
                "The single door for live sales and stock records: POS ticket lines, web-shop "
                "orders, inventory movements (JSON batches, per source) and fiscal documents "
                "(NF-e / NFC-e XML). Every POST is authenticated: HMAC-signed headers, or in "
                "cloud a Google ID token. Answers are checked in this order: 503 `overloaded`, "
                "413, 401/403, 415/400, then 200/207 per record, or 503 `unavailable`. Methods a "
                "path does not take answer 405 with `Allow`. Generated from the code "
                "(salesphere/ingest/openapi.py); served by the function at /openapi.json."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "responses": _responses(settings),
            "securitySchemes": _security_schemes(),
        },
        "security": [
            {"hmacKeyId": [], "hmacTimestamp": [], "hmacSignature": []},
            {"oidc": []},
        ],
    }


def _batch_paths(settings: Settings, tops: dict[str, Any]) -> dict[str, Any]:
    """One POST path per live source: a JSON batch of that source's records."""
    json_statuses = ["200", "207", "400", "401", "403", "413", "503"]
    paths: dict[str, Any] = {}
    for mapping in (m for m in builtin_mappings() if m.live):
        paths[f"/{mapping.name}"] = {
            "post": {
                "operationId": f"post_{mapping.name}",
                **_post(
                    f"Send a batch of {mapping.name} records",
                    f"{mapping.description} One to {settings.max_records_per_batch} records "
                    f"per request, at most {settings.max_body_bytes} bytes, JSON nested at most "
                    f"{settings.max_json_depth} levels. The same batch may also be posted to "
                    f"`/?source={mapping.name}` or with header `X-Salesphere-Source: "
                    f"{mapping.name}`. Each record is answered on its own (accepted, "
                    "duplicate or rejected with its reasons); resending a batch is safe "
                    "(event ids are derived from the records, so repeats are dropped "
                    "downstream).",
                    _batch_content(tops[mapping.name], mapping),
                    json_statuses,
                ),
            }
        }
    return paths


def _fiscal_path() -> dict[str, Any]:
    """The fiscal XML path: one NF-e, NFC-e or event per request."""
    xml_statuses = ["200", "207", "401", "403", "413", "415", "503"]
    xml_schema = {
        "type": "string",
        "description": "One authorised NF-e or NFC-e (`nfeProc`; where the stack allows, a "
        "bare `NFe`) or one event (`procEventoNFe`), layout 4.00, as the POS or ERP emitted it.",
    }
    return {
        "post": {
            "operationId": "post_fiscal",
            **_post(
                "Send one fiscal XML document",
                "Any path takes XML: the `Content-Type` (`application/xml` or `text/xml`) "
                "decides. One document per request, read as one record: accepted whole, a "
                "duplicate (same access key, same content) or rejected whole with the reason "
                "(not well-formed, not schema-valid, unknown store/product, key conflict, "
                "...; the document is kept in quarantine). See docs/fiscal.md.",
                {media: {"schema": xml_schema} for media in XML_CONTENT_TYPES},
                xml_statuses,
            ),
        }
    }


def render(settings: Settings | None = None) -> str:
    """The document as committed in ``docs/openapi.json`` (sorted keys, 2-space indent)."""
    return json.dumps(build_document(settings), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def _served(key: tuple[int, int, int]) -> dict[str, Any]:
    body, records, depth = key
    return build_document(
        Settings(max_body_bytes=body, max_records_per_batch=records, max_json_depth=depth)
    )


def served(settings: Settings) -> dict[str, Any]:
    """The document for an instance's limits, built once per process."""
    return _served(
        (settings.max_body_bytes, settings.max_records_per_batch, settings.max_json_depth)
    )
