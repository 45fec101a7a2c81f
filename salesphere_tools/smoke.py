"""Smoke test of a deployed ingest-http: a valid signed request is accepted, an unsigned one is 401.

    python -m salesphere_tools.smoke --url URL --bearer "$TOKEN"          # OIDC (PR stacks)
    python -m salesphere_tools.smoke --url URL --hmac-key-id K            # HMAC, secret in
                                                                          # SALESPHERE_SMOKE_HMAC_SECRET

"Answers at all" is not enough: a stack whose ingest refuses every caller, or lets
anyone in, answers too. So both halves are checked exactly: the signed POST of one valid
POS line must answer 200 with that line accepted, and the same bytes without credentials
must answer 401 (not 403, not 2xx). Exit 0 only when both hold; otherwise the message
names what came back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from salesphere.ingest import signing


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    lines: tuple[str, ...]


def smoke_record(sku: str = "ELE-10001", store: str = "SP01") -> dict[str, object]:
    """One POS sale line, unique per run (a fresh ticket), valid for the canonical model."""
    return {
        "terminal": f"{store}-SMOKE",
        "store": store,
        "ticket": f"smoke-{uuid.uuid4().hex[:12]}",
        "line": 1,
        "type": "sale",
        "sku": sku,
        "qty": 1,
        "unit_price": "1.00",
        "discount": "0.00",
        "ts": datetime.now(UTC).isoformat(),
    }


def check_ingest(
    url: str,
    *,
    bearer: str | None = None,
    hmac_key: tuple[str, str] | None = None,
    record: dict[str, object] | None = None,
    timeout: float = 60.0,
) -> SmokeResult:
    """POST one valid line signed, then unsigned; both answers must be exactly right."""
    if not (bearer or hmac_key):
        raise ValueError("give --bearer (an OIDC identity token) or --hmac-key-id to sign with")
    body = json.dumps([record or smoke_record()]).encode()
    target = f"{url.rstrip('/')}/?source=pos"
    headers = {"Content-Type": "application/json"}
    signed = dict(headers)
    if bearer:
        signed["Authorization"] = f"Bearer {bearer}"
    if hmac_key:
        signed |= signing.sign(hmac_key[0], hmac_key[1], body)
    lines = []
    ok = True
    first = requests.post(target, data=body, headers=signed, timeout=timeout)
    accepted = _accepted(first)
    if first.status_code == 200 and accepted == 1:
        lines.append("signed valid request: 200, 1 record accepted")
    else:
        ok = False
        lines.append(
            f"signed valid request: expected 200 with 1 record accepted, got HTTP "
            f"{first.status_code} ({accepted} accepted): {first.text[:500]}"
        )
    second = requests.post(target, data=body, headers=headers, timeout=timeout)
    if second.status_code == 401:
        lines.append("unsigned request: 401")
    else:
        ok = False
        lines.append(
            f"unsigned request: expected 401, got HTTP {second.status_code}: {second.text[:300]}"
        )
    return SmokeResult(ok, tuple(lines))


def _accepted(response: requests.Response) -> int | None:
    try:
        return int(response.json().get("accepted"))
    except (ValueError, AttributeError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--url", required=True, help="ingest-http URL")
    parser.add_argument("--bearer", help="OIDC identity token for the Authorization header")
    parser.add_argument(
        "--hmac-key-id", help="HMAC key id; the secret is read from SALESPHERE_SMOKE_HMAC_SECRET"
    )
    args = parser.parse_args(argv)
    hmac_key = None
    if args.hmac_key_id:
        secret = os.environ.get("SALESPHERE_SMOKE_HMAC_SECRET", "")
        if not secret:
            parser.error("--hmac-key-id needs SALESPHERE_SMOKE_HMAC_SECRET set to its secret")
        hmac_key = (args.hmac_key_id, secret)
    result = check_ingest(args.url, bearer=args.bearer, hmac_key=hmac_key)
    for line in result.lines:
        print(line)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
