"""The ingest function keeps its published contract: schemathesis against a private twin.

Requests are generated from the OpenAPI document (``salesphere.ingest.openapi``): valid and
broken batches for every live source, XML bodies, missing and wrong credentials, methods
the paths do not take. Each request is signed over the exact bytes sent (HMAC, like a POS)
unless the check removes the credentials on purpose. Every answer must be in the document:
its status, its content type, its body's schema and its declared headers; and no 5xx other
than the documented 503s. Examples are capped and derandomised, so a run is repeatable and
takes well under two minutes.

Checks left out, and why: ``negative_data_rejection`` (a batch whose records break the
schema is answered 207 with a reason per record, by design, not 4xx);
``positive_data_acceptance`` (a record of the right shape can still be refused: unknown
SKU, future timestamp, 207 too); the stateful checks (the API creates no resources).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from salesphere.ingest import openapi, signing
from salesphere.ingest.mapping import live_sources
from salesphere.settings import Settings
from salesphere_tools.cli.docs import OPENAPI
from salesphere_tools.local.twin import Twin
from tests.conftest import make_settings
from tests.support.ingest import load_test_catalog

pytestmark = [pytest.mark.twin]

KEY_ID, SECRET = Settings().hmac_keys[0]
#: Generated requests per operation and phase: enough to reach every answer, bounded in time.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
    missing_required_header,
    unsupported_method,
]

DOCUMENT = openapi.build_document()
#: Statuses answered per operation during the run (read by the last test).
ANSWERED: defaultdict[str, set[int]] = defaultdict(set)
JSON_PATHS = "^/(" + "|".join(live_sources()) + ")$"
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "seed": 20261205,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
            # The coverage phase walks every boundary of every record field: ~1,600
            # requests for the three JSON sources, each writing its rejects to the twin's
            # warehouse (~0.4 s). They get the capped fuzzing phase; the read-only paths
            # and the XML path keep the coverage phase (methods, headers, credentials).
            "operations": [
                {
                    "include-path-regex": JSON_PATHS,
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
        }
    ),
)


class SignedBody(requests.auth.AuthBase):
    """HMAC over the bytes actually sent, as a POS signs (see salesphere.ingest.signing)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers.update(signing.sign(KEY_ID, SECRET, body))
        return request


schema.auth.set_from_requests(SignedBody())


@pytest.fixture(scope="module")
def contract_twin(
    tmp_path_factory: pytest.TempPathFactory, function_bundles: None
) -> Iterator[str]:
    """A private twin running ingest-http alone (own ports and data); yields its URL."""
    twin = Twin(make_settings(tmp_path_factory.mktemp("contract-twin")))
    try:
        twin.up(only={"ingest-http"})
        load_test_catalog(twin.settings)
        yield twin.settings.ingest_url
    finally:
        twin.down()


def test_the_function_serves_the_committed_document(contract_twin: str) -> None:
    got = requests.get(f"{contract_twin}{openapi.DOCUMENT_PATH}", timeout=10)
    assert got.status_code == 200
    assert got.json() == DOCUMENT
    assert got.json() == json.loads(OPENAPI.read_text(encoding="utf-8"))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_in_the_document(case, contract_twin: str) -> None:
    response = case.call_and_validate(base_url=contract_twin, checks=CHECKS, timeout=30)
    ANSWERED[case.operation.label].add(response.status_code)


def test_the_run_reached_the_answers_that_matter() -> None:
    """Not vacuous: the generated requests got past auth into the batch and XML readers."""
    print(dict(ANSWERED))
    for source in live_sources():  # the document's example accepted, generated ones refused
        assert {200, 207} <= ANSWERED[f"POST /{source}"], ANSWERED
    assert {207, 401, 405, 415} <= ANSWERED["POST /fiscal"], ANSWERED
