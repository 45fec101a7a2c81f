"""Rules of the function runtime's handler and memory that need no warehouse."""

from __future__ import annotations

import pytest

from salesphere.model import utcnow
from salesphere.speed.handler import LINGER_SECONDS, MAX_GROUP_EVENTS, EnvelopeHandler
from salesphere.speed.memory import SpeedMemory
from salesphere.speed.reference import ReorderPoints


def test_the_handler_groups_messages_by_their_events() -> None:
    """Groups are bounded by events, not messages, and linger as the module doc says."""
    h = EnvelopeHandler(
        warehouse=None,  # type: ignore[arg-type]  # nothing is committed here
        publish=lambda alerts: None,
        reorder=ReorderPoints(lambda skus: {}),
    )
    assert h.committer.max_size == MAX_GROUP_EVENTS
    assert h.committer.linger == LINGER_SECONDS
    assert h.committer.waiting == 0


def test_sync_interval_must_stay_inside_the_insert_id_window() -> None:
    with pytest.raises(ValueError, match="SALESPHERE_SPEED_SYNC_SECONDS"):
        SpeedMemory(None, lambda sku: None, utcnow, sync_seconds=60)  # type: ignore[arg-type]
