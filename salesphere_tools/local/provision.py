"""Create the platform's topics, subscriptions, buckets and datasets in the twin.

Names come from :mod:`salesphere.names` and delivery policies (ack deadlines, dead letters)
from :mod:`salesphere.limits`, the same modules the Pulumi program reads, so the twin and
cloud never disagree. One part is left out on purpose: the emulator's handling of a retry
policy's backoff stalls push delivery after failures (measured: a restarted speed function
got no pushes for minutes), so twin subscriptions redeliver at once; cloud's backoff is
checked on the Pulumi program instead (tests/infra/test_limits.py). Every step is idempotent: running it twice is harmless.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from google.api_core import exceptions as gexc

from salesphere import limits, names
from salesphere.gcp import clients
from salesphere.settings import Settings


@dataclass
class Provisioned:
    topics: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


def push_endpoints(settings: Settings, running: set[str]) -> dict[str, str]:
    """Subscriptions that push to a locally served function, as Eventarc does in cloud."""
    host, ports = settings.host, settings.ports
    pushes: dict[str, str] = {}
    if "speed" in running:
        pushes[names.SUB_EVENTS_SPEED] = f"http://{host}:{ports.speed}/"
    if "ingest-files" in running:
        pushes[names.SUB_FILE_DROPS_INGEST] = f"http://{host}:{ports.ingest_files}/"
    return pushes


def provision_pubsub(settings: Settings, pushes: dict[str, str] | None = None) -> Provisioned:
    from google.cloud import pubsub_v1

    out = Provisioned()
    publisher = clients.publisher(settings)
    subscriber = clients.subscriber(settings)
    for topic in names.TOPICS:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=clients.topic_path(settings, topic))
        out.topics.append(topic)
    for sub, topic in names.SUBSCRIPTIONS.items():
        policy = limits.SUBSCRIPTIONS[sub]
        request: dict[str, object] = {
            "name": clients.subscription_path(settings, sub),
            "topic": clients.topic_path(settings, topic),
            "ack_deadline_seconds": policy.ack_deadline_s,
        }
        if policy.dead_letter_topic is not None:
            request["dead_letter_policy"] = pubsub_v1.types.DeadLetterPolicy(
                dead_letter_topic=clients.topic_path(settings, policy.dead_letter_topic),
                max_delivery_attempts=policy.max_delivery_attempts,
            )
        push = (pushes or {}).get(sub)
        if push:
            request["push_config"] = pubsub_v1.types.PushConfig(push_endpoint=push)
        try:
            subscriber.create_subscription(request=request)
        except gexc.AlreadyExists:
            if push is not None:
                subscriber.modify_push_config(
                    request={
                        "subscription": request["name"],
                        "push_config": pubsub_v1.types.PushConfig(push_endpoint=push),
                    }
                )
        out.subscriptions.append(sub)
    return out


def provision_storage(settings: Settings) -> list[str]:
    client = clients.storage_client(settings)
    made = []
    for bucket in settings.buckets.all:
        with contextlib.suppress(gexc.Conflict):
            client.create_bucket(bucket)
        made.append(bucket)
    return made


def provision_bigquery(settings: Settings) -> list[str]:
    client = clients.bigquery_client(settings)
    for dataset in names.DATASETS:
        client.create_dataset(f"{settings.project}.{dataset}", exists_ok=True)
    return list(names.DATASETS)


def provision_all(settings: Settings, running: set[str] | None = None) -> Provisioned:
    """Everything the platform needs before any service starts."""
    out = provision_pubsub(settings, push_endpoints(settings, running or set()))
    out.buckets = provision_storage(settings)
    out.datasets = provision_bigquery(settings)
    return out
