"""Google Cloud clients, built from :class:`~salesphere.settings.Settings`.

The only place that knows whether we talk to emulators or to Google. Locally it points
each client at the twin with anonymous credentials; in cloud it uses the ambient
service-account credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salesphere.settings import Settings

if TYPE_CHECKING:
    from google.cloud import bigquery, pubsub_v1, storage


def _anonymous():
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


def publisher(settings: Settings, *, batch_max_messages: int = 100) -> pubsub_v1.PublisherClient:
    from google.api_core.client_options import ClientOptions
    from google.cloud import pubsub_v1

    batch = pubsub_v1.types.BatchSettings(max_messages=batch_max_messages, max_latency=0.01)
    if settings.local:
        # The client reads PUBSUB_EMULATOR_HOST; make sure it is this twin's.
        settings.export_emulator_environ("PUBSUB_EMULATOR_HOST")
        return pubsub_v1.PublisherClient(
            batch_settings=batch,
            credentials=_anonymous(),
            client_options=ClientOptions(api_endpoint=settings.pubsub_endpoint),
        )
    return pubsub_v1.PublisherClient(batch_settings=batch)


def subscriber(settings: Settings) -> pubsub_v1.SubscriberClient:
    from google.api_core.client_options import ClientOptions
    from google.cloud import pubsub_v1

    if settings.local:
        import grpc
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        settings.export_emulator_environ("PUBSUB_EMULATOR_HOST")
        # The library's own emulator channel keeps gRPC's 4 MiB receive limit, while its
        # cloud channel lifts it: a pull of many envelopes (the batch run's archive drain)
        # would fail on the twin and not in cloud. Same limits as the cloud channel.
        channel = grpc.insecure_channel(
            settings.pubsub_endpoint,
            options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
        )
        return pubsub_v1.SubscriberClient(
            transport=SubscriberGrpcTransport(channel=channel),
            client_options=ClientOptions(api_endpoint=settings.pubsub_endpoint),
        )
    return pubsub_v1.SubscriberClient()


def storage_client(settings: Settings) -> storage.Client:
    from google.cloud import storage

    if settings.local:
        return storage.Client(
            project=settings.project,
            credentials=_anonymous(),
            client_options={"api_endpoint": settings.gcs_endpoint},
        )
    return storage.Client(project=settings.project)


def bigquery_client(settings: Settings) -> bigquery.Client:
    from google.cloud import bigquery

    if settings.local:
        return bigquery.Client(
            project=settings.project,
            credentials=_anonymous(),
            client_options={"api_endpoint": settings.bigquery_endpoint},
        )
    return bigquery.Client(project=settings.project)


def query_rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """Run ``sql`` in the warehouse and return its rows as dicts (one round trip)."""
    return [dict(row.items()) for row in bigquery_client(settings).query_and_wait(sql)]


def topic_path(settings: Settings, topic: str) -> str:
    return f"projects/{settings.project}/topics/{topic}"


def subscription_path(settings: Settings, subscription: str) -> str:
    return f"projects/{settings.project}/subscriptions/{subscription}"
