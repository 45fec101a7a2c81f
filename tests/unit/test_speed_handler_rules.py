"""Rules of the function runtime's handler and memory that need no warehouse."""

from __future__ import annotations

import pytest

from salesphere.model import utcnow
from salesphere.speed.handler import EnvelopeHandler, _Pending
from salesphere.speed.memory import SpeedMemory
from salesphere.speed.reference import ReorderPoints
from salesphere.speed.rows import Unpacked


def handler() -> EnvelopeHandler:
    # No query runs in these tests: memory loads lazily and nothing is committed.
    return EnvelopeHandler(
        warehouse=None,  # type: ignore[arg-type]
        publish=lambda alerts: None,
        reorder=ReorderPoints(lambda skus: {}),
        linger=0.5,
    )


def queued(h: EnvelopeHandler, n: int) -> None:
    for _ in range(n):
        h._queue.append(_Pending(Unpacked(None, [{"event_id": "x"}]), None))


def finished(h: EnvelopeHandler, group_size: int, waiting: int) -> None:
    """A group of ``group_size`` ends while ``waiting`` messages are queued."""
    queued(h, waiting)
    h._finished(group_size)


def test_a_lone_sender_never_waits() -> None:
    h = handler()
    finished(h, group_size=1, waiting=0)  # one request at a time (Cloud Run concurrency 1)
    queued(h, 1)
    assert h._linger_left() == 0


def test_a_second_sender_is_waited_for_briefly() -> None:
    h = handler()
    finished(h, group_size=1, waiting=1)  # the emulator's two push loops
    assert 0.4 < h._linger_left() <= 0.5
    queued(h, 1)  # the answered sender's next message arrived
    assert h._linger_left() == 0


def test_a_full_queue_or_an_old_group_is_not_waited_for() -> None:
    h = handler()
    finished(h, group_size=2, waiting=0)
    h._last_done -= 1.0  # the last group ended long ago: an idle stream
    queued(h, 1)
    assert h._linger_left() <= 0
    h = handler()
    h.max_group_events = 1
    finished(h, group_size=2, waiting=0)
    queued(h, 1)  # one queued message already fills a group
    assert h._linger_left() == 0


def test_sync_interval_must_stay_inside_the_insert_id_window() -> None:
    with pytest.raises(ValueError, match="SALESPHERE_SPEED_SYNC_SECONDS"):
        SpeedMemory(None, lambda sku: None, utcnow, sync_seconds=60)  # type: ignore[arg-type]
