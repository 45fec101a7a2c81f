"""Waiting for something asynchronous to become true: the one polling helper.

The twin's start-up and shutdown, the demo, the CLI, the benchmarks and the tests all wait
for things that happen elsewhere (a port opening, a process exiting, a push delivery, a
file's outcome, an archive object). Each waits by asking the real thing
again and again, with a short back-off and a deadline, never by sleeping a guessed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError, TimeoutError):
    """The condition never held in time; the message names what was awaited.

    An ``AssertionError`` too, so a test that waits reads as a failed expectation.
    """


def eventually(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    errors_mean_not_yet: bool = False,
    give_up: Callable[[], str | None] | None = None,
    hint: str = "",
) -> T:
    """Call ``probe`` until it returns something truthy and return that value.

    ``errors_mean_not_yet`` treats an exception from ``probe`` as "not ready" (a server
    still starting refuses connections). ``give_up`` may return a reason to stop waiting
    at once (the process being waited for has died). ``hint`` ends the time-out's message
    with what to check next.
    """
    start = time.monotonic()
    delay = 0.02
    last: object = None
    while True:
        try:
            value = last = probe()
        except Exception:
            if not errors_mean_not_yet:
                raise
        else:
            if value:
                return value
        if give_up is not None and (reason := give_up()):
            raise RuntimeError(f"{what}: {reason}")
        if time.monotonic() - start > timeout:
            seen = "" if last is None or last is False else f" (last: {last!r})"
            raise TimedOut(f"timed out after {timeout:.0f} s waiting for {what}{seen}{hint}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
