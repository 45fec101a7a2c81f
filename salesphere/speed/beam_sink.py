"""How the Beam runtime talks to BigQuery: through the speed writer, never unconfigured.

**Decision: write with DoFns around** :class:`salesphere.speed.writer.SpeedWriter` (over
:class:`salesphere.speed.sink.SpeedWarehouse`, google-cloud-bigquery), **not Beam's**
``WriteToBigQuery``.

* Parity: the function runtime writes through the same writer, so both runtimes produce
  the same rows by construction, with the same existence check and ``insertId``.
  ``WriteToBigQuery(method=STREAMING_INSERTS)`` would add ``insertId`` but not the
  check, so a pipeline restart (DirectRunner keeps no state) would duplicate rows.
* ``STORAGE_WRITE_API`` needs a Java expansion service: not available offline.
* ``WriteToBigQuery`` builds an apitools client whose URL is fixed to Google's and
  whose credentials come from ``google.auth.default``; against the emulator it hangs
  in an interactive OAuth flow unless both are patched.

Should any step ever use Beam's BigQuery IO,
:func:`salesphere.gcp.beam.configure_beam_bigquery` (called by
the pipeline before it builds anything) points it at the twin with anonymous
credentials, so it can never run unconfigured. In cloud it changes nothing.

Failure policy inside the pipeline: a write is retried with backoff for about a minute
(DirectRunner fails the whole pipeline on an exception, and a crash loses in-flight
bundles); rows that still cannot be written become dead-letter rows with the error.
Only if the dead-letter table itself is unreachable does the step raise.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import apache_beam as beam

from salesphere.gcp.beam import configure_beam_bigquery
from salesphere.model import utcnow
from salesphere.settings import Settings
from salesphere.speed.publish import AlertPublisher, pubsub_alert_publisher
from salesphere.speed.sink import SpeedWarehouse
from salesphere.speed.writer import SpeedWriter, refused_dead_letter

log = logging.getLogger("salesphere.speed")
T = TypeVar("T")

RETRY_DELAYS_SECONDS = (0.5, 1, 2, 4, 8, 15, 30)
MAX_BUFFER = 500


def with_retries(action: Callable[[], T], what: str) -> T:
    """Run ``action``; on an exception retry with backoff, re-raising the last one."""
    for delay in RETRY_DELAYS_SECONDS:
        try:
            return action()
        except Exception as exc:  # transport, 5xx, quota: all worth another try
            log.warning(json.dumps({"msg": f"{what} failed, retrying", "error": str(exc)}))
            time.sleep(delay)
    return action()


class _BufferedSinkFn(beam.DoFn):
    """Collect a bundle's elements and write them through the speed writer in one call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.writer: SpeedWriter | None = None
        self.buffer: list[dict[str, Any]] = []

    def setup(self) -> None:
        configure_beam_bigquery(self.settings)
        self.writer = SpeedWriter(SpeedWarehouse(self.settings), self.publisher())

    def publisher(self) -> AlertPublisher | None:
        """The alert publisher this step needs (only the alerts step has one)."""
        return None

    def start_bundle(self) -> None:
        self.buffer = []

    def process(self, element: dict[str, Any]) -> Iterator[Any]:
        self.buffer.append(element)
        if len(self.buffer) >= MAX_BUFFER:
            self.flush()
        return iter(())

    def finish_bundle(self) -> None:
        if self.buffer:
            self.flush()

    def flush(self) -> None:
        batch, self.buffer = self.buffer, []
        assert self.writer is not None
        self.write(self.writer, batch)

    def write(self, writer: SpeedWriter, batch: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def dead_letter(self, batch: list[dict[str, Any]], error: str) -> None:
        assert self.writer is not None
        failed_at = utcnow()
        rows = [
            refused_dead_letter(r, error, message_id=None, envelope_id=None, failed_at=failed_at)
            for r in batch
        ]
        writer = self.writer
        with_retries(lambda: writer.record_dead_letters(rows), "dead-letter insert")


class WriteEventRows(_BufferedSinkFn):
    """``speed.events``: idempotent insert; refused rows go to ``speed.dead_letters``."""

    def write(self, writer: SpeedWriter, batch: list[dict[str, Any]]) -> None:
        try:
            report = with_retries(lambda: writer.write_events(batch), "speed.events insert")
        except Exception as exc:
            self.dead_letter(batch, f"speed.events unreachable after retries: {exc}")
            return
        for row, reason in report.refused:
            self.dead_letter([row], reason)
        log.info(
            json.dumps(
                {
                    "msg": "write",
                    "written": report.inserted,
                    "skipped": report.skipped,
                    "refused": len(report.refused),
                }
            )
        )


class RecordAlerts(_BufferedSinkFn):
    """Publish new alerts to ``alerts`` (at-least-once), then record them."""

    def publisher(self) -> AlertPublisher | None:
        return pubsub_alert_publisher(self.settings)

    def write(self, writer: SpeedWriter, batch: list[dict[str, Any]]) -> None:
        try:
            raised = with_retries(lambda: len(writer.record_alerts(batch)), "alert recording")
        except Exception as exc:
            self.dead_letter(batch, f"stock alerts could not be recorded: {exc}")
            return
        log.info(json.dumps({"msg": "alerts", "raised": raised}))


class WriteDeadLetters(_BufferedSinkFn):
    """``speed.dead_letters``: raise only if even this table is unreachable."""

    def write(self, writer: SpeedWriter, batch: list[dict[str, Any]]) -> None:
        with_retries(lambda: writer.record_dead_letters(batch), "dead-letter insert")
