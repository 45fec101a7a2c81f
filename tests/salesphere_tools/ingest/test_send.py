"""Posting to ingest retries shed answers (503, 429) as ``Retry-After`` says, a bounded number of times."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from salesphere_tools.ingest import send


class _Answer(requests.Response):
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        super().__init__()
        self.status_code = status
        self._content = b'{"summary": {"accepted": 1}}' if status == 200 else b"shed"
        if retry_after is not None:
            self.headers["Retry-After"] = retry_after


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Answers to hand out in order; records the signed requests and the waits."""
    state = SimpleNamespace(answers=[], requests=[], waits=[])

    def post(url, data, headers, timeout):  # type: ignore[no-untyped-def]
        state.requests.append((url, headers["Content-Type"]))
        return state.answers.pop(0)

    monkeypatch.setattr(send.requests, "post", post)
    monkeypatch.setattr(send.time, "sleep", state.waits.append)
    return state


def _settings() -> SimpleNamespace:
    return SimpleNamespace(hmac_keys=[("k1", "secret")], ingest_url="http://ingest")


def test_shed_answers_are_retried_waiting_what_retry_after_says(
    tmp_path: Path, wire: SimpleNamespace
) -> None:
    batch = tmp_path / "b.json"
    batch.write_text("[]")
    wire.answers = [_Answer(503, "2"), _Answer(429, "0.5"), _Answer(503), _Answer(200)]
    status, body = send.post_batch(_settings(), batch, "pos")  # type: ignore[arg-type]
    assert (status, body) == (200, {"summary": {"accepted": 1}})
    assert wire.waits == [2.0, 0.5, send.RETRY_DEFAULT_SECONDS]
    assert wire.requests == [("http://ingest/?source=pos", "application/json")] * 4


def test_retries_are_bounded_and_a_long_retry_after_is_capped(
    tmp_path: Path, wire: SimpleNamespace
) -> None:
    ticket = tmp_path / "t.xml"
    ticket.write_text("<nfeProc/>")
    wire.answers = [_Answer(503, "3600") for _ in range(send.RETRY_ATTEMPTS)]
    status, body = send.post_xml(_settings(), ticket)  # type: ignore[arg-type]
    assert (status, body) == (503, {"error": "shed"})
    assert wire.waits == [send.RETRY_MAX_SECONDS] * (send.RETRY_ATTEMPTS - 1)
    assert len(wire.requests) == send.RETRY_ATTEMPTS


def test_other_errors_are_not_retried(tmp_path: Path, wire: SimpleNamespace) -> None:
    ticket = tmp_path / "t.xml"
    ticket.write_text("<nfeProc/>")
    wire.answers = [_Answer(500)]
    assert send.post_xml(_settings(), ticket)[0] == 500  # type: ignore[arg-type]
    assert wire.waits == []
