"""Beam's own Google clients, pointed at the twin: the one place that patches them.

Beam's BigQuery IO builds an apitools client whose URL is fixed to Google's and whose
credentials come from ``google.auth.default``; against the emulator it would hang in an
interactive OAuth flow. The speed pipeline writes through its own sink
(:mod:`salesphere.speed.beam_sink`), but should any step ever use Beam's BigQuery IO,
:func:`configure_beam_bigquery` (called before the pipeline is built) points it at the
twin with anonymous credentials, so it can never run unconfigured. In cloud it changes
nothing. Kept apart from :mod:`salesphere.gcp.clients` so a deployable without Beam
(ingest) never imports it.
"""

from __future__ import annotations

from typing import Any

from salesphere.settings import Settings


def configure_beam_bigquery(settings: Settings) -> None:
    """Point Beam's own BigQuery clients at the twin (local only); idempotent."""
    if not settings.local:
        return
    import google.auth
    from apache_beam.io.gcp.internal.clients.bigquery import bigquery_v2_client
    from google.auth.credentials import AnonymousCredentials

    settings.export_emulator_environ()
    bigquery_v2_client.BigqueryV2.BASE_URL = f"{settings.bigquery_endpoint}/bigquery/v2/"

    def anonymous_default(*_args: Any, **_kwargs: Any) -> tuple[Any, str]:
        return AnonymousCredentials(), settings.project

    google.auth.default = anonymous_default  # type: ignore[assignment]
