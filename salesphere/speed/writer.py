"""The speed layer's write protocol, one implementation for both runtimes.

The function runtime (:mod:`salesphere.speed.handler`) and the Beam runtime
(:mod:`salesphere.speed.beam_sink`) write the same rows through a :class:`SpeedWriter`,
in an order chosen so every failure is safe to retry:

1. alerts not yet in ``speed.stock_alerts`` are published first (at-least-once: a crash
   before the insert republishes, never loses), then inserted (``insertId = alert_id``);
2. events are inserted once each (existence check or the caller's known ids, and
   ``insertId = event_id``); rows BigQuery refuses come back as data;
3. refused rows and poison become ``speed.dead_letters`` rows
   (:func:`refused_dead_letter`), and a dead-letter insert that fails raises, so the
   message is redelivered rather than lost.

What differs between the runtimes stays with them: how they retry (Pub/Sub redelivery
for the function, backoff inside the pipeline) and where the events' stock effects are
kept (process memory, keyed state).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from salesphere.speed.publish import AlertPublisher
from salesphere.speed.rows import dead_letter
from salesphere.speed.sink import InsertReport, SpeedWarehouse


def refused_dead_letter(
    row: dict[str, Any],
    reason: str,
    *,
    message_id: str | None,
    envelope_id: str | None,
    failed_at: datetime,
) -> dict[str, Any]:
    """The dead-letter row for an event row that could not be written, with the row as payload."""
    payload = json.dumps(row, default=str, sort_keys=True)
    return dead_letter(
        reason, payload, message_id=message_id, envelope_id=envelope_id, failed_at=failed_at
    )


class SpeedWriter:
    """Writes alerts, events and dead letters to ``speed.*`` in the protocol's order."""

    def __init__(self, warehouse: SpeedWarehouse, publish: AlertPublisher | None = None) -> None:
        self.warehouse = warehouse
        self.publish = publish

    def record_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Publish, then insert, the alerts not recorded yet; returns those (raised now)."""
        if not alerts:
            return []
        fresh = self.warehouse.unrecorded_alerts(alerts)
        if fresh:
            if self.publish is None:
                raise RuntimeError("this writer has no alert publisher; pass one to record alerts")
            self.publish(fresh)
            self.warehouse.insert_alerts(fresh)
        return fresh

    def write_events(
        self, rows: Sequence[dict[str, Any]], known_ids: set[str] | None = None
    ) -> InsertReport:
        """Insert the rows not yet written (see :meth:`SpeedWarehouse.insert_events`)."""
        return self.warehouse.insert_events(rows, known_ids=known_ids)

    def record_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store dead-letter rows; raises if even that fails (the message must come back)."""
        if rows:
            self.warehouse.insert_dead_letters(rows)
