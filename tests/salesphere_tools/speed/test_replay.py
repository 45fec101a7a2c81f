"""Each dead-letter topic replays to where its messages came from, on the real emulator.

A parked file notification must go back to ``file-drops`` (so ingest reads the file
again), never to ``events``, whose consumers expect envelopes.
"""

from __future__ import annotations

import json
import uuid

import pytest

from salesphere import names
from salesphere.gcp import clients
from salesphere_tools.speed.replay import replay_dead_letters

pytestmark = pytest.mark.twin


def _probe(settings, topic: str) -> str:  # type: ignore[no-untyped-def]
    """A pull subscription of our own on ``topic``: what a replay publishes there."""
    path = clients.subscription_path(settings, f"probe-{topic}-{uuid.uuid4().hex[:8]}")
    clients.subscriber(settings).create_subscription(
        request={"name": path, "topic": clients.topic_path(settings, topic)}
    )
    return path


def _pull(settings, path: str) -> list:  # type: ignore[no-untyped-def]
    response = clients.subscriber(settings).pull(
        request={"subscription": path, "max_messages": 50}, timeout=10
    )
    return list(response.received_messages)


def test_a_parked_file_notification_replays_to_file_drops_only(quiet_twin) -> None:  # type: ignore[no-untyped-def]
    settings = quiet_twin.settings
    drops, events = _probe(settings, names.TOPIC_FILE_DROPS), _probe(settings, names.TOPIC_EVENTS)
    notification = json.dumps(
        {"bucket": settings.buckets.landing, "name": f"inventory/{uuid.uuid4().hex}.ndjson"}
    ).encode()
    clients.publisher(settings).publish(
        clients.topic_path(settings, names.TOPIC_FILE_DROPS_DEAD_LETTER),
        notification,
        eventType="OBJECT_FINALIZE",
    ).result(timeout=30)

    report = replay_dead_letters(settings, parked_on=names.TOPIC_FILE_DROPS_DEAD_LETTER)

    assert report.replayed == 1
    (replayed,) = _pull(settings, drops)
    assert replayed.message.data == notification
    assert replayed.message.attributes["eventType"] == "OBJECT_FINALIZE"
    assert replayed.message.attributes["replayed_from"] == names.TOPIC_FILE_DROPS_DEAD_LETTER
    assert not [m for m in _pull(settings, events) if m.message.data == notification]
    # acknowledged on the audit subscription: a second replay finds nothing to move
    assert replay_dead_letters(settings, parked_on=names.TOPIC_FILE_DROPS_DEAD_LETTER).replayed == 0


def test_an_unknown_topic_is_refused_with_the_choices(quiet_twin) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="file-drops-dead-letter"):
        replay_dead_letters(quiet_twin.settings, parked_on=names.TOPIC_EVENTS)
