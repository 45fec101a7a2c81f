"""Speed layer, free-tier runtime: a Pub/Sub-triggered Cloud Function (2nd gen).

Subscription ``events-speed`` pushes each envelope here (Eventarc in cloud; the twin's
Pub/Sub emulator pushes to functions-framework, which wraps the push in the same
CloudEvent). Returning normally acknowledges the message; raising makes the response
non-2xx and Pub/Sub redelivers it, up to 5 attempts before ``events-dead-letter``. So
this function raises only for failures a retry can fix; poison becomes a row in
``speed.dead_letters`` and is acknowledged.

All logic lives in ``salesphere.speed``; this file only adapts the trigger.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from salesphere.model import utcnow
from salesphere.settings import Settings
from salesphere.speed.handler import EnvelopeHandler
from salesphere.speed.publish import pubsub_alert_publisher
from salesphere.speed.rows import dead_letter
from salesphere.speed.sink import SpeedWarehouse

log = logging.getLogger("salesphere.speed")
logging.basicConfig(level=logging.INFO, format="%(message)s")

_handler: EnvelopeHandler | None = None
_init = threading.Lock()


def handler() -> EnvelopeHandler:
    """Built on first use, not at import: cold starts stay cheap and tests can import."""
    global _handler  # noqa: PLW0603 - one handler per process, like one client per process
    with _init:
        if _handler is None:
            settings = Settings.from_env()
            _handler = EnvelopeHandler(
                SpeedWarehouse(settings),
                pubsub_alert_publisher(settings),
                sync_seconds=settings.speed_sync_seconds,
                sync_window=settings.speed_sync_window_seconds,
            )
        return _handler


def decode(data: Any) -> tuple[bytes, str | None]:
    """The Pub/Sub message body and id from a push CloudEvent's ``data``."""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise ValueError("CloudEvent data has no Pub/Sub 'message' object")
    try:
        body = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"message data is not base64: {exc}") from exc
    return body, message.get("messageId") or message.get("message_id")


def _delivery_seconds(data: Any) -> float | None:
    """Seconds from Pub/Sub accepting the message to this request starting (a log figure)."""
    try:
        published = datetime.fromisoformat(data["message"]["publishTime"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return round((datetime.now(UTC) - published).total_seconds(), 3)


@functions_framework.cloud_event
def speed_push(cloud_event: CloudEvent) -> None:
    """Land one envelope in ``speed.events`` exactly once and raise its stock alerts."""
    work = handler()
    try:
        body, message_id = decode(cloud_event.data)
    except ValueError as exc:
        row = dead_letter(
            str(exc),
            json.dumps(cloud_event.data, default=str),
            message_id=None,
            envelope_id=None,
            failed_at=utcnow(),
        )
        work.warehouse.insert_dead_letters([row])
        log.warning(json.dumps({"msg": "dead-lettered push", "error": str(exc)}))
        return
    started = time.monotonic()
    delivered = _delivery_seconds(cloud_event.data)
    outcome = work.handle(body, message_id)
    log.info(
        json.dumps(
            {
                "msg": "envelope",
                "message_id": message_id,
                **outcome.__dict__,
                "delivery_seconds": delivered,
                "request_seconds": round(time.monotonic() - started, 3),
            }
        )
    )
