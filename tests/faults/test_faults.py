"""Fault injection: break the platform the way retail weeks do, then check the books.

One complete twin (emulators + ingest + speed + batch) serves the whole module, fed
with generated SalesSphere data. Each scenario injects one fault at a moment drawn from a
seeded random generator, lets the platform recover, and ends with the same verdict:
``reconcile`` passes and every event the senders were told was accepted is served
exactly once. Scenarios run in file order and share the twin, so later ones also prove
that earlier faults left nothing behind.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from salesphere.batch.archive import drain_archive
from salesphere.batch.lock import RunInProgress
from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.model import utcnow
from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.local import processes
from salesphere_tools.local.polling import eventually
from salesphere_tools.local.twin import Twin
from salesphere_tools.speed.replay import replay_dead_letters
from salesphere_tools.warehouse.reference import load_reference_files
from tests.conftest import make_settings
from tests.faults.support import (
    Books,
    archive_ids,
    assert_books_balance,
    kill,
    live_batches,
    send,
    speed_ids,
    split_batch,
)
from tests.faults.support import (
    query as query_rows,
)

pytestmark = [pytest.mark.twin, pytest.mark.slow]
SEED = 20261129
DELIVERY_TIMEOUT = 120


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running twin, generated data, reference loaded, and the senders' books."""
    root = tmp_path_factory.mktemp("faults")
    settings = make_settings(root / "twin")
    twin = Twin(settings)
    twin.up()
    try:
        start = (utcnow() - timedelta(hours=5)).date() - timedelta(days=4)
        data = root / "data"
        generate(GeneratorConfig(out=data, days=4, stores=1, seed=SEED, start=start, xlsx=False))
        load_reference_files(settings, data / "reference")
        yield {"twin": twin, "settings": settings, "data": data, "books": Books()}
    finally:
        twin.down()


def delivered(world: dict) -> None:
    """Wait until the speed layer and the archive hold every accepted event."""
    settings, books = world["settings"], world["books"]
    eventually(
        lambda: books.accepted_ids <= speed_ids(settings) | _batch_ids(settings),
        timeout=DELIVERY_TIMEOUT,
        what="the speed layer to hold every accepted event",
    )

    def archived() -> bool:
        # The archive is written by the batch run draining events-archive; drain it here
        # as the next run would, then look.
        drain_archive(settings)
        return books.accepted_ids <= archive_ids(settings)

    eventually(
        archived,
        timeout=DELIVERY_TIMEOUT,
        what="the archive (master dataset) to hold every accepted event",
    )


def _batch_ids(settings) -> set[str]:
    from tests.faults.support import query

    return {r["event_id"] for r in query(settings, "SELECT event_id FROM master.events")}


def batch(world: dict) -> None:
    run_batch(world["settings"], archive_lag=timedelta(0))


def test_pubsub_emulator_killed_and_restarted_mid_stream(world: dict) -> None:
    """Pub/Sub is killed mid-stream and restarted; pushes and the archive recover; books balance."""
    settings, books, twin = world["settings"], world["books"], world["twin"]
    batches = live_batches(world["data"], 0)
    moment = random.Random(SEED).randrange(1, len(batches))
    for source, body in batches[:moment]:
        send(settings, source, body, books)
    delivered(world)  # the emulator keeps no state across restarts: drain what it holds
    kill(twin, "pubsub")
    # Bring it back before the senders resume: the emulator forgets its topics and
    # subscriptions, and a publish landing between the topic's and the subscriptions'
    # re-creation would reach no subscriber (cloud Pub/Sub keeps subscriptions; see
    # docs/runbook.md).
    twin.up()
    for source, body in batches[moment:]:
        send(settings, source, body, books)
    delivered(world)
    batch(world)
    assert_books_balance(settings, books)


def test_speed_layer_killed_and_restarted(world: dict) -> None:
    """The speed function dies mid-stream; push deliveries fail and are redelivered."""
    settings, books, twin = world["settings"], world["books"], world["twin"]
    batches = live_batches(world["data"], 1)
    moment = random.Random(SEED + 1).randrange(len(batches))
    for i, (source, body) in enumerate(batches):
        if i == moment:
            kill(twin, "speed")
        send(settings, source, body, books)
    twin.up()  # restarts only what is missing
    # Pushes that failed max_delivery_attempts times while it was down are parked on the
    # dead-letter topic; the operator's runbook step replays them (idempotent).
    replay_dead_letters(settings)
    delivered(world)
    assert_books_balance(settings, books)


def test_redelivered_messages_add_nothing(world: dict) -> None:
    """Seek the speed subscription back: Pub/Sub delivers the messages again; counted once."""
    from salesphere.envelope import envelope_id_for
    from tests.support.speed import log_outcomes, seek_before

    settings, books, twin = world["settings"], world["books"], world["twin"]
    seek_before(twin, utcnow())  # turns on retention of acknowledged messages
    before = utcnow() - timedelta(seconds=1)
    source, body = next((s, b) for s, b in live_batches(world["data"], 2) if s == "pos")
    batch_books = Books()
    send(settings, source, body, batch_books)
    books.accepted_ids |= batch_books.accepted_ids
    delivered(world)
    envelope = envelope_id_for(batch_books.accepted_ids)
    log = twin.log_dir / "speed.log"
    first = len(log_outcomes(log, envelope))
    seek_before(twin, before)  # Pub/Sub delivers every message since `before` again
    eventually(
        lambda: len(log_outcomes(log, envelope)) > first,
        timeout=60,
        what="the replayed envelope to reach the speed layer again",
    )
    raw = query_rows(
        settings, "SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM speed.events"
    )
    assert raw[0]["n"] == raw[0]["d"], "speed.events holds a duplicate row"
    assert_books_balance(settings, books)


def test_same_file_twice_and_a_corrupted_file(world: dict) -> None:
    """A spreadsheet uploaded twice ingests once; a corrupted one is quarantined."""
    from salesphere_tools.ingest.send import upload_files, wait_for_marker

    settings, books = world["settings"], world["books"]
    sheets = sorted((world["data"] / "spreadsheets").rglob("vendas_*.csv"))
    first = upload_files(settings, [sheets[0]])[0]
    outcome = wait_for_marker(settings, first["sha256"])
    assert outcome.get("accepted", 0) > 0
    again = upload_files(settings, [sheets[0]])[0]
    assert wait_for_marker(settings, again["sha256"]) == outcome
    corrupt = sheets[0].parent / "vendas_corrupt.csv"
    corrupt.write_bytes(b"\x00\xff\xfe garbage \x00" * 50)
    bad = upload_files(settings, [corrupt], source="spreadsheet")[0]
    assert wait_for_marker(settings, bad["sha256"]).get("accepted", 0) == 0
    # The spreadsheet's rows repeat live sales already sent: same ids, nothing new served.
    delivered(world)
    assert_books_balance(settings, books)


def test_poison_files_are_quarantined_after_bounded_attempts(world: dict, tmp_path: Path) -> None:
    """Poison files (JSON nested 200,000 deep, an XLSX that makes the reader panic) end in
    quarantine with a reason after at most FILE_MAX_ATTEMPTS deliveries; good files
    dropped meanwhile land; the twin stays healthy and the books balance."""
    import re

    from salesphere import limits
    from salesphere.ingest.files import ATTEMPTS_PREFIX
    from salesphere_tools.ingest.send import upload_files, wait_for_marker
    from tests.salesphere.ingest.test_files_attempts import panicking_xlsx

    settings, books, twin = world["settings"], world["books"], world["twin"]
    deep = tmp_path / "estoque_deep.json"
    deep.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    poison = tmp_path / "vendas_poison.xlsx"
    poison.write_bytes(panicking_xlsx(tmp_path))
    sheets = sorted(  # the generator's own sheets (an earlier scenario adds a corrupt one)
        p for p in (world["data"] / "spreadsheets").rglob("vendas_*.csv") if "corrupt" not in p.name
    )
    dropped = upload_files(settings, [deep], source="inventory")
    dropped += upload_files(settings, [poison, sheets[1]], source="spreadsheet")
    deep_up, poison_up, good_up = dropped

    rejected = wait_for_marker(settings, deep_up["sha256"], timeout=DELIVERY_TIMEOUT)
    assert (rejected["status"], rejected["rule"]) == ("rejected", "json_too_deep")
    landed = wait_for_marker(settings, good_up["sha256"], timeout=DELIVERY_TIMEOUT)
    assert landed["status"] == "ingested" and landed["accepted"] > 0
    # Pub/Sub redelivers the failing XLSX with back-off (10 s, 20 s, ...) until the last
    # attempt quarantines it.
    outcome = wait_for_marker(settings, poison_up["sha256"], timeout=4 * DELIVERY_TIMEOUT)
    assert (outcome["status"], outcome["rule"], outcome["attempts"]) == (
        "quarantined",
        "ingest_failed",
        limits.FILE_MAX_ATTEMPTS,
    )
    assert "PanicException" in outcome["reason"]

    # It stops: a good file dropped after the quarantine lands, and by then no delivery
    # of the poison file beyond the limit has happened (its marker names it, its counter
    # is gone; a late redelivery finds nothing to do).
    late = upload_files(settings, [sheets[2]], source="spreadsheet")[0]
    assert wait_for_marker(settings, late["sha256"], timeout=DELIVERY_TIMEOUT)["accepted"] > 0
    log_text = Path(twin.state.load()["ingest-files"].log).read_text(errors="replace")
    failed = re.findall(
        rf"attempt (\d+) of \d+ on {re.escape(poison_up['object'])} failed", log_text
    )
    assert {int(n) for n in failed} == set(range(1, limits.FILE_MAX_ATTEMPTS))
    assert log_text.count(f"quarantined {poison_up['object']} after") == 1
    landing = clients.storage_client(settings).bucket(settings.buckets.landing)
    kept_at = landing.get_blob(poison_up["object"])
    assert kept_at is not None and str(kept_at.generation) == outcome["generation"]
    assert not list(landing.list_blobs(prefix=ATTEMPTS_PREFIX))
    quarantine = clients.storage_client(settings).bucket(settings.buckets.quarantine)
    kept = f"files/{poison_up['sha256'][:12]}/{poison_up['object']}"
    assert quarantine.blob(kept).download_as_bytes() == poison.read_bytes()
    reasons = query_rows(
        settings,
        "SELECT rule, message FROM ops.rejects WHERE location = 'file' AND request_id IN "
        f"('{outcome['request_id']}', '{rejected['request_id']}') ORDER BY rule",
    )
    assert [r["rule"] for r in reasons] == ["ingest_failed", "json_too_deep"]

    status = twin.status()
    assert all(c["running"] and c["healthy"] for c in status.values()), status
    from salesphere_tools.reconcile import reconcile

    files = {(r["source"], r["rule"]): r["files"] for r in reconcile(settings).facts["files"]}
    assert files[("spreadsheet", "ingest_failed")] >= 1
    assert files[("inventory", "json_too_deep")] >= 1
    # The spreadsheets' rows may be new events (not in the senders' books): wait until
    # the speed layer has written them all, then check the books.
    delivered(world)
    eventually(lambda: reconcile(settings).ok, timeout=DELIVERY_TIMEOUT, what="the books")
    assert_books_balance(settings, books)


def test_events_days_late_and_out_of_order(world: dict) -> None:
    """Old events arrive shuffled after a batch run: served at once, counted once."""
    settings, books = world["settings"], world["books"]
    batch(world)
    late = []
    for source, body in live_batches(world["data"], 3):
        late.extend((source, part) for part in split_batch(body, 3))
    random.Random(SEED + 3).shuffle(late)
    for source, body in late:
        send(settings, source, body, books)
    delivered(world)
    assert_books_balance(settings, books)  # late events served from the speed part
    batch(world)
    assert_books_balance(settings, books)  # and from the batch part after the next run


def test_two_batch_runs_at_once(world: dict) -> None:
    """The second concurrent run refuses (lock); the books are unchanged."""
    settings, books = world["settings"], world["books"]
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(run_batch(settings, archive_lag=timedelta(0), full=True).status)
        except RunInProgress as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["RunInProgress", "str"], outcomes
    assert "succeeded" in outcomes
    assert_books_balance(settings, books)


def test_batch_run_killed_midway(world: dict, tmp_path: Path) -> None:
    """A batch process killed mid-run leaves the previous views serving; once its lock's
    lease lapses, the next run takes the lock over by itself and fixes everything."""
    settings, books = world["settings"], world["books"]
    lease = 4.0  # the killed run's lease (the default is two minutes)
    env = {
        **__import__("os").environ,
        **settings.to_environ(),
        "SALESPHERE_BATCH_LOCK_LEASE_SECONDS": str(lease),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "salesphere_tools.cli.main",
            "batch",
            "run",
            "--full",
            "--archive-lag",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # Kill it once it is inside the run (it has taken the lock), at a seeded extra delay.
    lock = (
        clients.storage_client(settings).bucket(settings.buckets.artifacts).blob("batch/lock.json")
    )
    eventually(lambda: lock.exists() or proc.poll() is not None, timeout=60, what="the lock")
    try:
        proc.wait(timeout=random.Random(SEED + 4).uniform(0.2, 3.0))
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.wait()
    assert_books_balance(settings, books)  # previous batch views and cutoff still serve

    def silent_for() -> float:
        info = json.loads(lock.download_as_bytes())
        return (utcnow() - datetime.fromisoformat(info["renewed_at"])).total_seconds()

    if lock.exists() and silent_for() < lease / 2:  # clearly within the dead run's lease
        with pytest.raises(RunInProgress, match="crashed"):
            run_batch(settings, archive_lag=timedelta(0))
    if lock.exists():
        eventually(lambda: silent_for() > lease, timeout=30, what="the dead run's lease to lapse")
    batch(world)  # takes the lapsed lock over: nobody deletes anything by hand
    assert not lock.exists()
    assert_books_balance(settings, books)


def test_unauthenticated_and_badly_signed_requests_are_refused(world: dict) -> None:
    """Security: no signature is 401, a forged one is 403; neither publishes anything."""
    settings = world["settings"]
    source, body = live_batches(world["data"], 0)[0]
    url = f"{settings.ingest_url}/?source={source}"
    assert requests.post(url, data=body, timeout=30).status_code == 401
    forged = {
        "X-Salesphere-Key-Id": settings.hmac_keys[0][0],
        "X-Salesphere-Timestamp": str(int(utcnow().timestamp())),
        "X-Salesphere-Signature": "0" * 64,
    }
    assert requests.post(url, data=body, headers=forged, timeout=30).status_code == 403
    assert_books_balance(settings, world["books"])


def test_no_component_listens_beyond_loopback(world: dict) -> None:
    """Security: every socket the twin's processes listen on is bound to 127.0.0.1."""
    leaders = {r.pid for r in world["twin"].state.load().values()}
    addresses = processes.listening_addresses(leaders)
    assert len(addresses) >= 6, addresses  # three emulators and three functions at least
    for address in addresses:
        assert address.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), address


def test_json_answer_shape_is_stable(world: dict) -> None:
    """Senders rely on per-record answers; a malformed body gets a specific 400."""
    settings = world["settings"]
    from tests.faults.support import Books as _Books

    books = _Books()
    source, body = live_batches(world["data"], 0)[0]
    status = send(settings, source, body, books)
    assert status in (200, 207)
    key_id, secret = settings.hmac_keys[0]
    from salesphere.ingest import signing

    broken = b'[{"oops": '
    answer = requests.post(
        f"{settings.ingest_url}/?source={source}",
        data=broken,
        headers=signing.sign(key_id, secret, broken),
        timeout=30,
    )
    assert answer.status_code == 400
    assert "json" in json.dumps(answer.json()).lower()
