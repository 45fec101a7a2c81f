"""The PR stack's ingest smoke test passes only on exactly the right answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from salesphere.ingest import signing
from salesphere_tools import smoke

Rule = Callable[[dict[str, str]], tuple[int, dict]]


@pytest.fixture
def ingest() -> Iterator[Callable[[Rule], str]]:
    servers = []

    def serve(rule: Rule) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                status, body = rule(dict(self.headers))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _signed(headers: dict[str, str]) -> bool:
    return "Authorization" in headers or signing.HEADER_SIGNATURE in headers


def correct(headers: dict[str, str]) -> tuple[int, dict]:
    return (200, {"accepted": 1}) if _signed(headers) else (401, {"error": "no credentials"})


def test_a_correct_ingest_passes_with_a_token_or_an_hmac_key(ingest) -> None:
    url = ingest(correct)
    assert smoke.check_ingest(url, bearer="tok").ok
    assert smoke.check_ingest(url, hmac_key=("k", "s")).ok


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        (lambda h: (403, {"error": "forbidden"}), "signed valid request: expected 200"),  # any 4xx
        (lambda h: (400, {"error": "bad"}), "signed valid request: expected 200"),
        (lambda h: (207, {"accepted": 0}), "signed valid request: expected 200"),
        (lambda h: (200, {"accepted": 1}), "unsigned request: expected 401, got HTTP 200"),
        (
            lambda h: (200, {"accepted": 1}) if _signed(h) else (403, {}),
            "expected 401, got HTTP 403",
        ),
    ],
)
def test_anything_else_fails_and_says_what_came_back(ingest, rule: Rule, complaint: str) -> None:
    result = smoke.check_ingest(ingest(rule), bearer="tok")
    assert not result.ok
    assert any(complaint in line for line in result.lines), result.lines


def test_the_command_exits_non_zero_on_failure(ingest, capsys) -> None:
    assert smoke.main(["--url", ingest(correct), "--bearer", "t"]) == 0
    assert smoke.main(["--url", ingest(lambda h: (404, {})), "--bearer", "t"]) == 1
    assert "expected 200" in capsys.readouterr().out
