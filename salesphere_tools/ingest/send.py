"""Send data to ingest the way sources do: files into the landing bucket, batches by HTTP.

Used by ``salesphere ingest``, the demo and the tests, so all three deliver exactly as a
store's export or a POS does: a file dropped under ``<source>/`` in the landing bucket
(its finalize notification triggers the file-drop function), or an HMAC-signed POST.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import requests

from salesphere.gcp import clients
from salesphere.ingest import signing
from salesphere.ingest.files import MARKER_PREFIX
from salesphere.ingest.mapping import builtin_mappings
from salesphere.settings import Settings
from salesphere_tools.local.polling import eventually

WAIT_SECONDS = 120.0
# Shed answers (ingest's load shedding, or a proxy's rate limit) are retried this often,
# waiting what ``Retry-After`` says but never longer than RETRY_MAX_SECONDS per attempt.
RETRY_STATUSES = frozenset({429, 503})
RETRY_ATTEMPTS = 10
RETRY_DEFAULT_SECONDS = 1.0
RETRY_MAX_SECONDS = 10.0


class UnknownSource(ValueError):
    """No mapping's file-name pattern fits a file; the caller must name its source."""


def guess_source(path: Path) -> str:
    """The landing folder for a file, from the first mapping whose pattern fits its name."""
    for mapping in builtin_mappings():
        if (
            mapping.filenames
            and mapping.folders
            and mapping.matches_object(mapping.folders[0], path.name)
        ):
            return mapping.folders[0]
    raise UnknownSource(
        f"cannot tell which source {path.name} belongs to; pass --source "
        "(e.g. spreadsheet, inventory, pos, ecommerce)"
    )


def upload_files(
    settings: Settings, paths: list[Path], source: str | None = None
) -> list[dict[str, str]]:
    """Upload each file to ``<source>/<name>`` in the landing bucket; returns what went where."""
    bucket = clients.storage_client(settings).bucket(settings.buckets.landing)
    out = []
    for path in paths:
        folder = source or guess_source(path)
        name = f"{folder}/{path.name}"
        bucket.blob(name).upload_from_filename(str(path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append({"file": str(path), "object": name, "sha256": digest})
    return out


def wait_for_marker(
    settings: Settings, digest: str, timeout: float = WAIT_SECONDS
) -> dict[str, Any]:
    """The file-drop function's outcome for content ``digest`` once it has been processed."""
    blob = (
        clients.storage_client(settings)
        .bucket(settings.buckets.landing)
        .blob(MARKER_PREFIX + digest)
    )
    eventually(
        blob.exists,
        timeout=timeout,
        what=f"the outcome of {digest[:12]}",
        hint="; is the twin up with ingest-files (`salesphere local status`)? "
        "See its log in .twin/logs/",
    )
    return json.loads(blob.download_as_bytes())


def _retry_after(response: requests.Response) -> float:
    """Seconds to wait before sending again: the answer's ``Retry-After``, capped.

    Ingest sheds load with 503 (and a proxy in front of it may answer 429) and says in
    ``Retry-After`` when to come back; a missing or HTTP-date value falls back to a short
    pause, and the cap keeps one slow answer from stalling a demo for minutes.
    """
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return RETRY_DEFAULT_SECONDS
    return min(RETRY_MAX_SECONDS, max(0.0, seconds))


def _post(
    settings: Settings, url: str, body: bytes, content_type: str
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` HMAC-signed with the first key, retrying while ingest sheds load.

    Each attempt is signed afresh (the signature covers a timestamp). After
    :data:`RETRY_ATTEMPTS` shed answers the last one is returned for the caller to judge.
    """
    key_id, secret = settings.hmac_keys[0]
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        headers = {"Content-Type": content_type, **signing.sign(key_id, secret, body)}
        response = requests.post(url, data=body, headers=headers, timeout=120)
        if response.status_code not in RETRY_STATUSES or attempt == RETRY_ATTEMPTS:
            break
        time.sleep(_retry_after(response))
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"error": response.text[:500]}


def post_xml(settings: Settings, path: Path, url: str | None = None) -> tuple[int, dict[str, Any]]:
    """POST one fiscal XML document (NFC-e, NF-e or event) as a POS system pushes it."""
    return _post(settings, url or settings.ingest_url, path.read_bytes(), "application/xml")


def post_batch(
    settings: Settings, path: Path, source: str, url: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST a live batch file, HMAC-signed with the first configured key."""
    target = f"{(url or settings.ingest_url).rstrip('/')}/?source={source}"
    return _post(settings, target, path.read_bytes(), "application/json")
