"""The batch run's archive writer on the twin: ack after write, idempotent re-runs, the books.

``events-archive`` is a pull subscription in cloud and in the twin alike; nothing but the
batch run (salesphere.batch.archive) takes messages from it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from salesphere import names
from salesphere.batch.archive import drain_archive
from salesphere.batch.runner import run_batch
from salesphere.envelope import pack, unpack
from salesphere.gcp import clients
from salesphere.model import utcnow
from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.local.polling import eventually
from salesphere_tools.warehouse.reference import load_reference_files
from tests.faults.support import (
    Books,
    archive_ids,
    assert_books_balance,
    live_batches,
    send,
    speed_ids,
)
from tests.support import batch as h

pytestmark = pytest.mark.twin


@pytest.fixture
def settings(quiet_twin):
    h.reset(quiet_twin.settings)
    drain_archive(quiet_twin.settings)  # whatever an earlier test left on the subscription
    h.reset(quiet_twin.settings)
    return quiet_twin.settings


def _publish(settings, count: int) -> list[str]:
    """Publish ``count`` sale events in envelopes of 10, as ingest does; their ids."""
    received = datetime.now(UTC) - timedelta(hours=1)
    events = [h.sale(i, received) for i in range(count)]
    publisher = clients.publisher(settings)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    for envelope in pack(events, "pos", 10):
        publisher.publish(topic, envelope.to_json()).result(timeout=30)
    return [e.event_id for e in events]


def _archived(settings) -> tuple[list[str], Counter]:
    """Archive object names, and how many times each event id appears across them."""
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    objects, ids = [], Counter()
    for blob in bucket.list_blobs(prefix=names.ARCHIVE_PREFIX + "/"):
        objects.append(blob.name)
        for line in blob.download_as_bytes().splitlines():
            ids.update(e["event_id"] for e in unpack(line).events)
    return objects, ids


class _FailingBucket:
    """A bucket whose every write fails, as Cloud Storage does in an outage."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def blob(self, name: str) -> Any:
        blob = self.real.blob(name)

        def fail(*_args: Any, **_kwargs: Any) -> None:
            raise ConnectionError("storage unavailable")

        blob.upload_from_string = fail
        return blob


class _CrashBeforeAck:
    """A subscriber that dies after the objects were written, before acknowledging."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.ack_ids: list[str] = []

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        response = self.real.pull(*args, **kwargs)
        self.ack_ids += [m.ack_id for m in response.received_messages]
        return response

    def acknowledge(self, *_args: Any, **_kwargs: Any) -> None:
        raise SystemError("the run was killed")

    def modify_ack_deadline(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.modify_ack_deadline(*args, **kwargs)


def test_messages_are_acknowledged_only_after_their_object_is_written(settings) -> None:
    ids = _publish(settings, 40)
    bucket = clients.storage_client(settings).bucket(settings.buckets.archive)
    with pytest.raises(ConnectionError):
        drain_archive(settings, bucket=_FailingBucket(bucket))
    assert _archived(settings) == ([], Counter())
    report = drain_archive(settings)  # handed back at once, so the next drain has them all
    objects, archived = _archived(settings)
    assert report.messages == 4 and len(objects) == 1 == len(report.objects)
    assert archived == Counter(ids)
    assert drain_archive(settings).messages == 0  # acknowledged: nothing comes back


def test_a_rerun_after_a_crash_between_write_and_ack_writes_nothing_twice(settings) -> None:
    ids = _publish(settings, 30)
    crashing = _CrashBeforeAck(clients.subscriber(settings))
    with pytest.raises(SystemError):
        drain_archive(settings, subscriber=crashing)
    first, archived = _archived(settings)
    assert len(first) == 1 and archived == Counter(ids)
    # The ack deadline passes (made to pass at once here): Pub/Sub delivers them again.
    path = clients.subscription_path(settings, names.SUB_EVENTS_ARCHIVE)
    clients.subscriber(settings).modify_ack_deadline(
        request={"subscription": path, "ack_ids": crashing.ack_ids, "ack_deadline_seconds": 0}
    )
    again = drain_archive(settings)
    assert again.messages == 3 and again.objects == [] and again.already_written == first
    assert _archived(settings) == (first, Counter(ids))
    assert drain_archive(settings).messages == 0


def test_a_pull_larger_than_grpcs_default_limit_is_drained(settings) -> None:
    """A busy day's envelopes come back in one pull of several MiB; gRPC's default 4 MiB
    receive limit must not stop the drain (Pub/Sub's cloud client lifts it)."""
    received = datetime.now(UTC) - timedelta(hours=1)
    events = [h.sale(i, received) for i in range(16_000)]
    publisher = clients.publisher(settings)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    envelopes = list(pack(events, "pos", 500))
    sent = sum(len(e.to_json()) for e in envelopes)
    assert sent > 5 * 1024 * 1024  # more than one default-sized gRPC message
    for future in [publisher.publish(topic, e.to_json()) for e in envelopes]:
        future.result(timeout=30)
    report = drain_archive(settings)
    assert report.messages == len(envelopes)
    assert sum(_archived(settings)[1].values()) == len(events)


def test_the_batch_run_archives_what_it_absorbs(settings) -> None:
    ids = _publish(settings, 25)
    report = run_batch(settings, archive_lag=timedelta(0))
    assert report.status == "succeeded" and report.events_distinct == 25
    assert "archive" in report.seconds
    master = clients.query_rows(settings, "SELECT event_id FROM master.events")
    assert sorted(r["event_id"] for r in master) == sorted(ids)
    objects = _archived(settings)[0]
    # A second run drains nothing new; it may rebuild the same partition (its object is
    # within the plan's clock margin) and changes nothing.
    run_batch(settings, archive_lag=timedelta(0))
    assert _archived(settings) == (objects, Counter(ids))
    again = clients.query_rows(settings, "SELECT event_id FROM master.events")
    assert sorted(r["event_id"] for r in again) == sorted(ids)


def test_counts_reconcile_through_the_whole_twin(fresh_twin, tmp_path) -> None:
    """Sent through ingest, served by speed, archived and absorbed by two batch runs: the
    books balance and the archive holds every accepted event exactly once."""
    twin = fresh_twin()
    settings = twin.settings
    data = tmp_path / "data"
    start = (utcnow() - timedelta(hours=5)).date() - timedelta(days=1)
    generate(GeneratorConfig(out=data, days=1, stores=1, seed=7, start=start, xlsx=False))
    load_reference_files(settings, data / "reference")
    books = Books()
    batches = live_batches(data, 0)
    half = len(batches) // 2
    for source, body in batches[:half]:
        assert send(settings, source, body, books) in (200, 207)  # 207: some rows rejected
    eventually(
        lambda: books.accepted_ids <= speed_ids(settings),
        timeout=120,
        what="the speed layer to hold every accepted event",
    )
    assert archive_ids(settings) == set()  # nothing writes the archive but a batch run
    run_batch(settings, archive_lag=timedelta(0))
    assert books.accepted_ids <= archive_ids(settings)
    for source, body in batches[half:]:
        assert send(settings, source, body, books) in (200, 207)  # 207: some rows rejected
    eventually(
        lambda: books.accepted_ids <= speed_ids(settings),
        timeout=120,
        what="the speed layer to hold every accepted event",
    )
    run_batch(settings, archive_lag=timedelta(0))
    objects, archived = _archived(settings)
    assert set(archived) == books.accepted_ids
    assert len(objects) <= 4  # one object per receive date per run
    assert_books_balance(settings, books)
