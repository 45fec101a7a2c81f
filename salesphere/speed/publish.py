"""Alerts to Pub/Sub topic ``alerts``: the push channel store managers' tools subscribe to.

Publishing is at-least-once: an alert is published before it is recorded, so a crash in
between republishes it rather than losing it. Subscribers deduplicate by the
``alert_id`` attribute, which is deterministic (see ``salesphere.speed.alerts``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings

PUBLISH_TIMEOUT_SECONDS = 20.0

AlertPublisher = Callable[[Sequence[dict[str, Any]]], None]


def alert_message(alert: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Body (the alert row as JSON) and attributes (for filtering without parsing)."""
    attributes = {k: str(alert[k]) for k in ("alert_id", "kind", "store_id", "sku")}
    return json.dumps(alert, separators=(",", ":"), sort_keys=True).encode(), attributes


def pubsub_alert_publisher(settings: Settings) -> AlertPublisher:
    """A callable that publishes alerts and waits until Pub/Sub has accepted each one."""
    publisher = clients.publisher(settings)
    topic = clients.topic_path(settings, names.TOPIC_ALERTS)

    def publish(alerts: Sequence[dict[str, Any]]) -> None:
        futures = []
        for alert in alerts:
            data, attributes = alert_message(alert)
            futures.append(publisher.publish(topic, data, **attributes))
        for future in futures:
            future.result(timeout=PUBLISH_TIMEOUT_SECONDS)

    return publish
