"""A reference read that fails is an error, never a silent switch-off of the checks."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest
from google.api_core.exceptions import Forbidden

from salesphere.gcp import clients
from salesphere.ingest import http, signing
from salesphere.ingest.service import IngestService, ReferenceUnavailable, load_catalog
from salesphere.settings import Settings


class _DeniedBigQuery:
    def query(self, sql: str):
        raise Forbidden(
            "Access Denied: Table salesphere:reference.products: Permission "
            "bigquery.tables.getData denied"
        )


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "bigquery_client", lambda settings: _DeniedBigQuery())


def test_a_denied_reference_read_raises_and_says_what_to_grant(denied) -> None:
    with pytest.raises(
        ReferenceUnavailable, match=r"roles/bigquery\.dataViewer on dataset reference"
    ):
        load_catalog(Settings())


@dataclass
class _Request:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"
    args: dict[str, str] = field(default_factory=lambda: {"source": "pos"})
    host_url: str = "http://127.0.0.1/"

    @property
    def content_length(self) -> int:
        return len(self.body)

    @property
    def stream(self) -> io.BytesIO:
        return io.BytesIO(self.body)


def test_a_live_batch_is_refused_with_503_not_accepted_unchecked(denied) -> None:
    settings = Settings()
    key_id, secret = settings.hmac_keys[0]
    body = b'[{"order_id": "o1"}]'
    answer = http.handle(
        _Request(body, signing.sign(key_id, secret, body)), IngestService(settings)
    )
    assert answer.status == 503
    assert "reference" in answer.body["message"] and "Retry-After" in answer.headers
