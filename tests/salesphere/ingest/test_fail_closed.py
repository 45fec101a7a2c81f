"""Ingest fails closed outside the twin: no default key, no unauthenticated request.

In cloud ``ingest-http`` is reachable by anyone at the platform level (an HMAC-only POS
has no Google identity; docs/infra.md), so these answers are the only gate.
"""

from __future__ import annotations

import functions_framework
import pytest

from salesphere.ingest import http, signing
from salesphere.settings import (
    LOCAL_HMAC_KEYS,
    MissingHmacKeys,
    Settings,
    SettingsError,
    parse_hmac_keys,
)
from tests import REPO_ROOT

MAIN = REPO_ROOT / "services" / "ingest" / "main.py"
CLOUD_KEY = ("pos-store-1", "a" * 64)
CLOUD_ENV = {
    "SALESPHERE_ENV": "dev",
    "SALESPHERE_PROJECT": "salesphere-dev",
    "SALESPHERE_HMAC_KEYS": f"{CLOUD_KEY[0]}={CLOUD_KEY[1]}",
    "SALESPHERE_INGEST_OIDC_CALLERS": "pos-gateway@salesphere-dev.iam.gserviceaccount.com",
}


@pytest.fixture
def cloud_app(monkeypatch: pytest.MonkeyPatch):
    """The real ingest_http entry point in cloud mode, through functions-framework."""
    for key, value in CLOUD_ENV.items():
        monkeypatch.setenv(key, value)
    app = functions_framework.create_app(target="ingest_http", source=str(MAIN))
    return app.test_client()


def test_an_unsigned_request_to_cloud_ingest_gets_401(cloud_app) -> None:
    response = cloud_app.post("/?source=pos", data=b'[{"order_id": "1"}]')
    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_credentials"


def test_the_repositorys_local_key_does_not_authenticate_in_cloud(cloud_app) -> None:
    body = b'[{"order_id": "1"}]'
    key_id, secret = LOCAL_HMAC_KEYS[0]
    response = cloud_app.post("/?source=pos", data=body, headers=signing.sign(key_id, secret, body))
    assert response.status_code == 403
    assert response.get_json()["error"] == "unknown_key"


def test_cloud_settings_have_no_default_key_and_refuse_to_start() -> None:
    settings = Settings.from_env({"SALESPHERE_ENV": "dev"})
    assert settings.hmac_keys == ()
    with pytest.raises(MissingHmacKeys, match="Secret Manager"):
        settings.require_hmac_keys()
    # Even handed the local key explicitly, a cloud env drops it.
    assert Settings(env="prod", hmac_keys=LOCAL_HMAC_KEYS).hmac_keys == ()
    Settings.from_env({}).require_hmac_keys()  # the twin keeps its key


def test_the_ingest_functions_do_not_start_in_cloud_without_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALESPHERE_ENV", "dev")
    monkeypatch.delenv("SALESPHERE_HMAC_KEYS", raising=False)
    with pytest.raises(MissingHmacKeys):
        functions_framework.create_app(target="ingest_http", source=str(MAIN))


def test_short_and_malformed_keys_are_refused() -> None:
    with pytest.raises(MissingHmacKeys, match="shorter"):
        Settings(env="dev", hmac_keys=(("pos-1", "short"),)).require_hmac_keys()
    with pytest.raises(SettingsError, match="entry 2"):
        parse_hmac_keys("pos-1=abc,pos-2")
    assert parse_hmac_keys(" pos-1=abc ,pos-2=def\n") == (("pos-1", "abc"), ("pos-2", "def"))


class _Request:
    method = "POST"
    path = "/"
    host_url = "https://ingest-http-abc-uc.a.run.app/"

    def __init__(self) -> None:
        self.args = {"source": "pos"}
        self.headers = {"Authorization": "Bearer token"}


def test_an_id_token_is_accepted_only_from_a_listed_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Google signs ID tokens for any account: being verified is not being allowed."""
    settings = Settings.from_env(CLOUD_ENV)
    monkeypatch.setattr(http, "verify_oidc", lambda token, url: "someone@gmail.com")
    refused = http.authenticate(_Request(), b"[]", settings)
    assert isinstance(refused, http.Answer) and refused.status == 403
    assert refused.body["error"] == "caller_not_allowed"
    allowed = "pos-gateway@salesphere-dev.iam.gserviceaccount.com"
    monkeypatch.setattr(http, "verify_oidc", lambda token, url: allowed)
    assert http.authenticate(_Request(), b"[]", settings) == f"oidc:{allowed}"
