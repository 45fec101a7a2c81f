"""HMAC request signing for POS systems that cannot obtain Google OIDC tokens.

A request carries three headers::

    X-Salesphere-Key-Id:    which shared key signed it (keys rotate by adding a new id)
    X-Salesphere-Timestamp: Unix seconds when it was signed
    X-Salesphere-Signature: hex HMAC-SHA256 over ``<timestamp>.<raw body bytes>``

Signing the timestamp with the body stops a captured request from being replayed
later than :data:`MAX_SKEW_SECONDS`; signing the raw bytes (not re-serialised JSON)
means sender and receiver never disagree about whitespace or key order.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

HEADER_KEY_ID = "X-Salesphere-Key-Id"
HEADER_TIMESTAMP = "X-Salesphere-Timestamp"
HEADER_SIGNATURE = "X-Salesphere-Signature"
HEADERS = (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: ``status`` is 401 (no credentials) or 403 (bad ones)."""

    status: int
    code: str
    message: str


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex signature a sender puts in ``X-Salesphere-Signature``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def sign(key_id: str, secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers for a signed request (used by ``salesphere ingest post`` and tests)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: signature(secret, timestamp, body),
    }


def has_signature_headers(headers: Mapping[str, str]) -> bool:
    """True when the sender attempted HMAC (any of the three headers present)."""
    return any(headers.get(name) for name in HEADERS)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
    now: float | None = None,
) -> tuple[str | None, AuthFailure | None]:
    """Check a request's signature; returns ``(key_id, None)`` or ``(None, failure)``."""
    missing = [name for name in HEADERS if not headers.get(name)]
    if missing:
        return None, AuthFailure(
            401,
            "missing_credentials",
            f"missing {', '.join(missing)}; sign the request with an HMAC key "
            "(see docs/ingest.md) or call with an OIDC identity token",
        )
    key_id = headers[HEADER_KEY_ID]
    secret = keys.get(key_id)
    if secret is None:
        return None, AuthFailure(
            403, "unknown_key", f"key id {key_id!r} is not known; ask for a current key"
        )
    stamp = headers[HEADER_TIMESTAMP]
    try:
        signed_at = int(stamp)
    except ValueError:
        return None, AuthFailure(403, "bad_timestamp", f"{HEADER_TIMESTAMP} must be Unix seconds")
    current = time.time() if now is None else now
    if abs(current - signed_at) > MAX_SKEW_SECONDS:
        return None, AuthFailure(
            403,
            "stale_timestamp",
            f"timestamp is {int(current - signed_at)} s away from the server clock "
            f"(limit {MAX_SKEW_SECONDS} s); sync the sender's clock and sign again",
        )
    expected = signature(secret, stamp, body)
    if not hmac.compare_digest(expected, headers[HEADER_SIGNATURE].strip().lower()):
        return None, AuthFailure(
            403, "bad_signature", "signature does not match the body; sign the exact bytes sent"
        )
    return key_id, None
