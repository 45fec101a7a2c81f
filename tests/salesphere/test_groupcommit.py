"""The group committer on its own: shared commits, bounded groups, failures, linger."""

from __future__ import annotations

import threading

import pytest

from salesphere.groupcommit import GroupCommitter, expected_after, linger_left


class Gate:
    """A commit function whose first call blocks until released; records every group."""

    def __init__(self, fail_on: int | None = None, interrupt_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on
        self.interrupt_on = interrupt_on

    def __call__(self, items: list[int]) -> list[int]:
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(30)
        if self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        if self.interrupt_on in items:
            raise KeyboardInterrupt
        return [item * 10 for item in items]


def _submit_all(committer: GroupCommitter, items: list[int], results: dict) -> list:
    def send(item: int) -> None:
        try:
            results[item] = committer.submit(item)
        except BaseException as exc:
            results[item] = exc

    return [threading.Thread(target=send, args=(item,)) for item in items]


def _run_behind_first(gate: Gate, committer: GroupCommitter, later: list[int]) -> dict:
    """Item 1 commits alone and blocks; ``later`` queue behind it; then all finish."""
    results: dict = {}
    (first,) = _submit_all(committer, [1], results)
    first.start()
    assert gate.entered.wait(30)
    others = _submit_all(committer, later, results)
    for thread in others:
        thread.start()
    deadline = threading.Event()
    for _ in range(3000):  # until every later item is queued (no sleep: a bounded poll)
        if committer.waiting == len(later):
            break
        deadline.wait(0.01)
    assert committer.waiting == len(later)
    gate.release.set()
    for thread in [first, *others]:
        thread.join(30)
        assert not thread.is_alive(), "a caller was left waiting"
    return results


def test_callers_arriving_during_a_commit_share_the_next_one() -> None:
    gate = Gate()
    committer = GroupCommitter(gate, max_size=100)
    results = _run_behind_first(gate, committer, [2, 3, 4])
    assert gate.groups[0] == [1]
    assert sorted(gate.groups[1]) == [2, 3, 4] and len(gate.groups) == 2
    assert results == {1: 10, 2: 20, 3: 30, 4: 40}


def test_groups_never_exceed_the_size_limit_but_always_take_one() -> None:
    gate = Gate()
    committer = GroupCommitter(gate, max_size=5, size=lambda item: item)
    _run_behind_first(gate, committer, [2, 3, 9])
    sizes = [sum(group) for group in gate.groups[1:]]
    assert sorted(item for group in gate.groups for item in group) == [1, 2, 3, 9]
    assert all(
        size <= 5 or len(group) == 1 for size, group in zip(sizes, gate.groups[1:], strict=True)
    )


def test_a_failed_commit_fails_every_caller_in_it_and_no_other() -> None:
    gate = Gate(fail_on=3)
    committer = GroupCommitter(gate, max_size=100)
    results = _run_behind_first(gate, committer, [2, 3])
    assert results[1] == 10
    assert isinstance(results[2], ValueError) and isinstance(results[3], ValueError)
    assert committer.submit(5) == 50  # the committer keeps working afterwards


def test_an_interrupted_commit_leaves_nobody_waiting() -> None:
    gate = Gate(interrupt_on=3)
    committer = GroupCommitter(gate, max_size=100)
    results = _run_behind_first(gate, committer, [2, 3])
    kinds = sorted(type(results[n]).__name__ for n in (2, 3))
    assert kinds == ["KeyboardInterrupt", "RuntimeError"]  # the committer's own, its mate's


def test_a_lone_caller_never_waits() -> None:
    assert expected_after(group_size=1, waiting=0) == 0
    left = linger_left(
        linger=0.5, queued=1, queued_size=1, expected=0, max_size=10, last_done=0.0, now=0.0
    )
    assert left == 0


def test_a_second_caller_is_waited_for_briefly() -> None:
    expected = expected_after(group_size=1, waiting=1)  # two callers alternating
    assert expected == 2
    left = linger_left(
        linger=0.5, queued=1, queued_size=1, expected=expected, max_size=10, last_done=0.0, now=0.1
    )
    assert left == pytest.approx(0.4)
    full = linger_left(
        linger=0.5, queued=2, queued_size=2, expected=expected, max_size=10, last_done=0.0, now=0.1
    )
    assert full == 0  # the answered caller's next item arrived


def test_a_full_queue_or_an_old_group_is_not_waited_for() -> None:
    expected = expected_after(group_size=2, waiting=0)
    old = linger_left(
        linger=0.5, queued=1, queued_size=1, expected=expected, max_size=10, last_done=0.0, now=1.0
    )
    assert old <= 0  # the last group ended long ago: an idle stream
    full = linger_left(
        linger=0.5, queued=1, queued_size=1, expected=expected, max_size=1, last_done=0.0, now=0.0
    )
    assert full == 0  # one queued item already fills a group
