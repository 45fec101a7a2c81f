"""ops.ingest_log group commit: concurrent requests share inserts, each row exactly once.

The BigQuery call itself is covered against the emulator by the integration tests; here
``_insert`` is replaced by a recorder so the grouping and error paths are deterministic.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from salesphere.ingest.ledger import IngestLedger, LedgerError
from salesphere.ingest.results import RequestCounts
from salesphere.settings import Settings


class RecordingLedger(IngestLedger):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(Settings())
        self.calls: list[list[str]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def _insert(self, table: str, rows: list[dict[str, Any]], ids: list[str]) -> None:
        with self.lock:
            self.calls.append(ids)
        time.sleep(0.2)  # an insert's round trip, so that other requests queue meanwhile
        if self.fail:
            raise LedgerError("refused")


def _log(ledger: IngestLedger, n: int) -> None:
    ledger.log(
        request_id=f"r{n}",
        source="pos",
        channel="http",
        received_at="2026-11-28T00:00:00.000000Z",
        summary=RequestCounts(1, 1, 0, 0, 1),
    )


def test_concurrent_log_rows_share_inserts_and_each_is_written_once() -> None:
    ledger = RecordingLedger()
    together = threading.Barrier(16)

    def log(n: int) -> None:
        together.wait(timeout=10)  # all 16 requests log at the same moment
        _log(ledger, n)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(log, range(16)))
    written = [i for call in ledger.calls for i in call]
    assert sorted(written) == sorted(f"r{n}" for n in range(16))
    assert len(ledger.calls) < 16  # grouped: fewer round trips than requests


def test_a_refused_insert_fails_every_request_in_it() -> None:
    ledger = RecordingLedger(fail=True)
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(_log, ledger, n) for n in range(6)]
    for future in futures:
        with pytest.raises(LedgerError):
            future.result()
    assert sorted(i for call in ledger.calls for i in call) == sorted(f"r{n}" for n in range(6))
