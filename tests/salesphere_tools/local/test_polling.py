"""The one polling helper: returns the first truthy answer, fails saying what it awaited."""

from __future__ import annotations

import itertools

import pytest

from salesphere_tools.local.polling import TimedOut, eventually


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([0, [], {"rows": 3}, {"rows": 4}])
    assert eventually(lambda: next(answers), timeout=5, what="rows") == {"rows": 3}


def test_a_time_out_names_what_was_awaited_the_last_answer_and_the_next_step() -> None:
    with pytest.raises(TimedOut) as caught:
        eventually(lambda: 0, timeout=0.05, what="the marker", hint="; is the twin up?")
    message = str(caught.value)
    assert "waiting for the marker (last: 0); is the twin up?" in message
    assert isinstance(caught.value, TimeoutError)  # callers may catch either
    assert isinstance(caught.value, AssertionError)  # a test that waits fails, not errors


def test_errors_are_raised_unless_they_mean_not_yet() -> None:
    calls = itertools.count()

    def starting() -> bool:
        if next(calls) < 2:
            raise ConnectionRefusedError("still starting")
        return True

    with pytest.raises(ConnectionRefusedError):
        eventually(starting, timeout=5, what="a port")
    calls = itertools.count()
    assert eventually(starting, timeout=5, what="a port", errors_mean_not_yet=True) is True


def test_give_up_stops_at_once_with_its_reason() -> None:
    with pytest.raises(RuntimeError, match="the emulator: exited with code 1"):
        eventually(
            lambda: False, timeout=60, what="the emulator", give_up=lambda: "exited with code 1"
        )
