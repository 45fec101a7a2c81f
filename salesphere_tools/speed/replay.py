"""Replay envelopes parked on the dead-letter topic back into the platform.

Pub/Sub parks a message on ``events-dead-letter`` after the speed layer failed it
``max_delivery_attempts`` times — typically because the speed function was down or
failing, not because the message is bad (bad messages are acknowledged and written to
``speed.dead_letters`` with a reason instead). Once the speed layer is healthy again,
replaying republishes each parked envelope on ``events`` unchanged. That is safe to repeat:
every layer deduplicates by ``event_id``; the archive may get a second copy of an envelope,
which the batch layer absorbs like any redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from salesphere import names
from salesphere.io import clients
from salesphere.settings import Settings

PULL_BATCH = 100


@dataclass
class ReplayReport:
    replayed: int = 0
    events: int = 0


def replay_dead_letters(settings: Settings, *, limit: int | None = None) -> ReplayReport:
    """Move parked envelopes from the dead-letter audit subscription back to ``events``."""
    subscriber = clients.subscriber(settings)
    publisher = clients.publisher(settings)
    sub = clients.subscription_path(settings, names.SUB_DEAD_LETTER_AUDIT)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    report = ReplayReport()
    while limit is None or report.replayed < limit:
        want = PULL_BATCH if limit is None else min(PULL_BATCH, limit - report.replayed)
        response = subscriber.pull(request={"subscription": sub, "max_messages": want}, timeout=10)
        if not response.received_messages:
            break
        futures = []
        for received in response.received_messages:
            attrs = dict(received.message.attributes)
            attrs["replayed_from"] = names.TOPIC_EVENTS_DEAD_LETTER
            futures.append(publisher.publish(topic, received.message.data, **attrs))
            report.events += int(attrs.get("event_count", 0) or 0)
        for future in futures:
            future.result(timeout=30)  # confirmed before the parked copy is acknowledged
        subscriber.acknowledge(
            request={"subscription": sub, "ack_ids": [m.ack_id for m in response.received_messages]}
        )
        report.replayed += len(response.received_messages)
    return report
