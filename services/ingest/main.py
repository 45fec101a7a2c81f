"""SalesSphere ingest: two Cloud Functions (functions-framework entry points).

* ``ingest_http`` (HTTP): live POS / e-commerce / inventory batches, per-record answers.
* ``ingest_file`` (CloudEvent): a finalized object in the landing bucket, delivered by
  Eventarc in cloud or by a Pub/Sub push (fake-gcs-server notifications) in the twin.

This file only wires requests to ``salesphere.ingest``; the logic lives in the shared
library so it is tested once and bundled with every deployable. Settings are read once
per instance, and clients are created on first use and reused across requests.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import functions_framework

from salesphere.ingest import http
from salesphere.ingest.files import FileIngestor, object_from_event
from salesphere.ingest.service import IngestService
from salesphere.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("salesphere.ingest.main")
# Fail closed: outside the twin, no HMAC keys (Secret Manager not mounted) means no start,
# rather than an ingest that authenticates nobody or, worse, a default key.
Settings.from_env().require_hmac_keys()


@cache
def _service() -> IngestService:
    return IngestService(Settings.from_env())


@cache
def _files() -> FileIngestor:
    return FileIngestor(_service())


@functions_framework.http
def ingest_http(request: Any) -> tuple[str, int, dict[str, str]]:
    """POST a batch of live records; GET /healthz answers 200."""
    return http.handle(request, _service()).flask()


@functions_framework.cloud_event
def ingest_file(event: Any) -> None:
    """Ingest one dropped file. Raising makes Pub/Sub/Eventarc redeliver (transient errors
    only: unreadable files are quarantined and acknowledged)."""
    ref = object_from_event(event["type"], event.data)
    if ref is None:
        log.info("ignoring event %s (%s): not an object finalization", event["id"], event["type"])
        return
    outcome = _files().handle(ref)
    log.info("file event %s: %s", event["id"], outcome)
