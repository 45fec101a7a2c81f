"""The twin runs real emulators on loopback, each reachable with Google's own clients."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from google.cloud import bigquery

from salesphere import names
from salesphere.gcp import clients
from salesphere_tools.local import processes
from salesphere_tools.local.twin import Twin

pytestmark = [__import__("pytest").mark.twin]


def test_pubsub_round_trip_with_google_client(twin: Twin) -> None:
    s = twin.settings
    publisher = clients.publisher(s)
    subscriber = clients.subscriber(s)
    topic = clients.topic_path(s, "twin-check")
    sub = clients.subscription_path(s, "twin-check-sub")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=sub, topic=topic)
    publisher.publish(topic, b"hello", kind="probe").result(timeout=10)
    response = subscriber.pull(subscription=sub, max_messages=1, timeout=10)
    (received,) = response.received_messages
    assert received.message.data == b"hello"
    assert received.message.attributes["kind"] == "probe"


def test_platform_topics_and_subscriptions_exist(twin: Twin) -> None:
    s = twin.settings
    publisher = clients.publisher(s)
    topics = {
        t.name.rsplit("/", 1)[1] for t in publisher.list_topics(project=f"projects/{s.project}")
    }
    assert set(names.TOPICS) <= topics
    subscriber = clients.subscriber(s)
    subs = {
        x.name.rsplit("/", 1)[1]
        for x in subscriber.list_subscriptions(project=f"projects/{s.project}")
    }
    assert set(names.SUBSCRIPTIONS) <= subs


def test_gcs_upload_notifies_file_drops_topic(twin: Twin) -> None:
    s = twin.settings
    probe_sub = clients.subscription_path(s, "file-drops-probe")
    subscriber = clients.subscriber(s)
    subscriber.create_subscription(
        name=probe_sub, topic=clients.topic_path(s, names.TOPIC_FILE_DROPS)
    )
    bucket = clients.storage_client(s).bucket(s.buckets.landing)
    bucket.blob("probe/hello.csv").upload_from_string(b"a;b\n1;2\n")
    assert bucket.blob("probe/hello.csv").download_as_bytes() == b"a;b\n1;2\n"
    attrs: dict[str, str] = {}
    for _ in range(10):  # the notification is asynchronous; pull until it arrives
        got = subscriber.pull(subscription=probe_sub, max_messages=10, timeout=5)
        for msg in got.received_messages:
            if msg.message.attributes.get("objectId") == "probe/hello.csv":
                attrs = dict(msg.message.attributes)
        if attrs:
            break
    assert attrs["eventType"] == "OBJECT_FINALIZE"
    assert attrs["bucketId"] == s.buckets.landing


def test_bigquery_datasets_and_query(twin: Twin) -> None:
    client = clients.bigquery_client(twin.settings)
    datasets = {d.dataset_id for d in client.list_datasets()}
    assert set(names.DATASETS) <= datasets
    table = bigquery.Table(
        f"{twin.settings.project}.ops.twin_probe",
        schema=[bigquery.SchemaField("n", "INT64"), bigquery.SchemaField("amount", "NUMERIC")],
    )
    client.create_table(table, exists_ok=True)
    errors = client.insert_rows_json(
        table, [{"n": 1, "amount": "1.10"}, {"n": 2, "amount": "2.20"}]
    )
    assert errors == []
    (row,) = client.query(
        f"SELECT SUM(amount) AS total FROM `{twin.settings.project}.ops.twin_probe`"
    ).result()
    assert row.total == Decimal("3.30")


def test_everything_listens_on_loopback_only(twin: Twin) -> None:
    addresses = processes.listening_addresses({r.pid for r in twin.state.load().values()})
    assert addresses, "expected the twin's listening sockets to be visible"
    for address in addresses:
        assert address.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), address


def test_up_status_down_via_cli(tmp_path: Path) -> None:
    """The commands a person runs: up, status --json, down; nothing left behind."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "cli-twin")
    env = {**__import__("os").environ, **settings.to_environ()}
    cli = [sys.executable, "-m", "salesphere_tools.cli.main"]
    subprocess.run([*cli, "local", "up", "--emulators-only"], env=env, check=True, timeout=120)
    try:
        status = subprocess.run(
            [*cli, "local", "status", "--json"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        body = json.loads(status.stdout)
        assert status.returncode == 0, status.stdout
        assert set(body["components"]) == {"pubsub", "gcs", "bigquery"}
        for comp in body["components"].values():
            assert comp["healthy"] and "127.0.0.1" in comp["endpoint"]
        records = Twin(settings).state.load()
    finally:
        subprocess.run([*cli, "local", "down"], env=env, check=True, timeout=60)
    assert records and not any(processes.is_running(r) for r in records.values())
    assert not (settings.twin_dir / "state.json").exists()
