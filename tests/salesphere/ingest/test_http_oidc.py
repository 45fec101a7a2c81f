"""ingest-http behind a TLS-terminating front end, called with ID tokens shaped as Google's.

In cloud, Cloud Run terminates TLS and hands the function plain HTTP, so the function's
own ``request.host_url`` says ``http://`` while every token names an ``https://`` URL.
Here a local HTTPS proxy (self-signed certificate, 127.0.0.1) forwards to the real entry
point served by functions-framework over HTTP; tokens are RS256 JWTs with Google's
claims (iss, aud, azp, email, email_verified, iat, exp), signed by a locally generated
key whose certificate the verifier fetches the way it fetches Google's.

A token is accepted exactly when its audience is one of the function's URLs
(``Settings.oidc_audiences``); an accepted token gets past authentication to the next
check (an unknown source: 400), a refused one gets 403.
"""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import ipaddress
import json
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.serving import make_server

from salesphere import endpoints
from salesphere.ingest import http as ingest_http
from tests import REPO_ROOT

ROOT = REPO_ROOT
PROJECT, NUMBER, REGION = "salesphere-dev", "123456789012", "us-central1"
RUN_APP, FUNCTIONS_NET = endpoints.audiences("ingest-http", PROJECT, NUMBER, REGION)
CALLER = "pos-gateway@salesphere-dev.iam.gserviceaccount.com"
KID = "test-key-1"


def _key_and_cert(common_name: str, ip: str | None = None) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    cert = builder.sign(key, hashes.SHA256())
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM)


def _serve(server: http.server.HTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


class _Certs(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _proxy_handler(backend_port: int) -> type[http.server.BaseHTTPRequestHandler]:
    class Proxy(http.server.BaseHTTPRequestHandler):
        """Terminates TLS and forwards over plain HTTP, as Cloud Run's front end does."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["X-Forwarded-Proto"] = "https"
            conn = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=30)
            conn.request("POST", self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Proxy


class Front:
    """The HTTPS address of ingest-http and a way to call it."""

    def __init__(self, port: int, cafile: Path, backend_url: str, signing_key: bytes) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.backend_url = backend_url
        self.signer = crypt.RSASigner.from_string(signing_key, key_id=KID)

    def token(self, audience: str, **overrides: object) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": "104857600000000000000",
            "sub": "104857600000000000000",
            "email": CALLER,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            **overrides,
        }
        return jwt.encode(self.signer, claims).decode()

    def post(self, token: str) -> tuple[int, dict]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context)
        conn.request(
            "POST",
            "/?source=no-such-source",
            body=b"[]",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    import functions_framework

    tmp = tmp_path_factory.mktemp("oidc")
    signing_key, signing_cert = _key_and_cert("google-test-signer")
    tls_key, tls_cert = _key_and_cert("127.0.0.1", ip="127.0.0.1")
    (tmp / "tls.key").write_bytes(tls_key)
    (tmp / "tls.pem").write_bytes(tls_cert)

    _Certs.body = json.dumps({KID: signing_cert.decode()}).encode()
    certs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Certs)
    _serve(certs)

    patch = pytest.MonkeyPatch()
    patch.setattr(ingest_http, "OIDC_CERTS_URL", f"http://127.0.0.1:{certs.server_port}/certs")
    for key, value in {
        "SALESPHERE_ENV": "dev",
        "SALESPHERE_PROJECT": PROJECT,
        "SALESPHERE_REGION": REGION,
        "SALESPHERE_HMAC_KEYS": "pos-1=" + "s" * 40,
        "SALESPHERE_INGEST_OIDC_CALLERS": CALLER,
        "SALESPHERE_INGEST_OIDC_AUDIENCES": ",".join((RUN_APP, FUNCTIONS_NET)),
    }.items():
        patch.setenv(key, value)
    modules = set(sys.modules)
    app = functions_framework.create_app("ingest_http", str(ROOT / "services/ingest/main.py"))
    backend = make_server("127.0.0.1", 0, app, threaded=True)
    _serve(backend)  # type: ignore[arg-type]

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(backend.port))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "tls.pem", tmp / "tls.key")
    proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
    _serve(proxy)
    try:
        yield Front(
            proxy.server_port, tmp / "tls.pem", f"http://127.0.0.1:{backend.port}/", signing_key
        )
    finally:
        for server in (proxy, backend, certs):
            server.shutdown()
            server.server_close()
        patch.undo()
        for name in set(sys.modules) - modules:  # the entry point's module, loaded by path
            if name == "main":
                del sys.modules[name]


@pytest.mark.parametrize("audience", [RUN_APP, FUNCTIONS_NET, RUN_APP + "/"])
def test_a_token_for_one_of_the_functions_urls_is_accepted_over_https(
    front: Front, audience: str
) -> None:
    status, body = front.post(front.token(audience))
    # past authentication: the next check (the source) answers
    assert (status, body["error"]) == (400, "unknown_source"), body


def test_the_request_host_is_not_an_accepted_audience(front: Front) -> None:
    """What the function sees as its own URL behind the proxy: http, another port."""
    status, body = front.post(front.token(front.backend_url))
    assert (status, body["error"]) == (403, "bad_token")


@pytest.mark.parametrize(
    "audience",
    [
        RUN_APP.replace("https://", "http://"),
        endpoints.run_app_url("speed", NUMBER, REGION),
        RUN_APP + "/other/path",
        "",
    ],
)
def test_any_other_audience_is_refused(front: Front, audience: str) -> None:
    status, body = front.post(front.token(audience))
    assert (status, body["error"]) == (403, "bad_token")


def test_expired_foreign_or_unverified_tokens_are_refused(front: Front) -> None:
    now = int(time.time())
    other_key, _ = _key_and_cert("not-google")
    forged = jwt.encode(
        crypt.RSASigner.from_string(other_key, key_id=KID),
        {
            "iss": "https://accounts.google.com",
            "aud": RUN_APP,
            "email": CALLER,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
        },
    ).decode()
    for token in (
        front.token(RUN_APP, iat=now - 7200, exp=now - 3600),
        front.token(RUN_APP, iss="https://evil.example.com"),
        front.token(RUN_APP, email_verified=False),
        forged,
    ):
        status, body = front.post(token)
        assert (status, body["error"]) == (403, "bad_token")


def test_a_valid_token_of_an_unlisted_caller_is_refused(front: Front) -> None:
    status, body = front.post(front.token(RUN_APP, email="someone@gmail.com"))
    assert (status, body["error"]) == (403, "caller_not_allowed")


def test_no_audiences_configured_refuses_every_token() -> None:
    assert ingest_http.verify_oidc("not-even-a-jwt", ()) is None
