"""Replay messages parked on a dead-letter topic back into the platform.

Pub/Sub parks a message after its consumer failed it ``max_delivery_attempts`` times —
typically because the consumer was down or failing, not because the message is bad (bad
input is acknowledged and quarantined with a reason instead). Each dead-letter topic has
its own audit subscription and its own way back (``names.DEAD_LETTERS``):

* ``events-dead-letter``: envelopes the speed layer (or the archive) could not take;
  replaying republishes each on ``events`` unchanged. Safe to repeat: every layer
  deduplicates by ``event_id``; the archive may get a second copy, which the batch layer
  absorbs like any redelivery.
* ``file-drops-dead-letter``: landing-bucket notifications the file ingest could not
  take; replaying republishes each on ``file-drops``, so the file is read again. Safe to
  repeat: the file ledger and the event ids make a second read add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from salesphere import names
from salesphere.gcp import clients
from salesphere.settings import Settings

PULL_BATCH = 100


@dataclass
class ReplayReport:
    replayed: int = 0
    events: int = 0


def replay_dead_letters(
    settings: Settings,
    *,
    parked_on: str = names.TOPIC_EVENTS_DEAD_LETTER,
    limit: int | None = None,
) -> ReplayReport:
    """Move messages parked on ``parked_on`` (through its audit subscription) back to the
    topic they came from."""
    if parked_on not in names.DEAD_LETTERS:
        raise ValueError(
            f"{parked_on!r} is not a dead-letter topic; choose from {sorted(names.DEAD_LETTERS)}"
        )
    audit, back_to = names.DEAD_LETTERS[parked_on]
    subscriber = clients.subscriber(settings)
    publisher = clients.publisher(settings)
    sub = clients.subscription_path(settings, audit)
    topic = clients.topic_path(settings, back_to)
    report = ReplayReport()
    while limit is None or report.replayed < limit:
        want = PULL_BATCH if limit is None else min(PULL_BATCH, limit - report.replayed)
        response = subscriber.pull(request={"subscription": sub, "max_messages": want}, timeout=10)
        if not response.received_messages:
            break
        futures = []
        for received in response.received_messages:
            attrs = dict(received.message.attributes)
            attrs["replayed_from"] = parked_on
            futures.append(publisher.publish(topic, received.message.data, **attrs))
            report.events += int(attrs.get("event_count", 0) or 0)
        for future in futures:
            future.result(timeout=30)  # confirmed before the parked copy is acknowledged
        subscriber.acknowledge(
            request={"subscription": sub, "ack_ids": [m.ack_id for m in response.received_messages]}
        )
        report.replayed += len(response.received_messages)
    return report
