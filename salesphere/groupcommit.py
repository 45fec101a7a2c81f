"""Group commit: callers that arrive while a commit is in flight share the next one.

A caller hands :meth:`GroupCommitter.submit` one item and blocks until the commit that
holds it has finished. While one thread commits, items from other threads queue; when
it is done, one of the waiting threads takes everything queued (up to ``max_size``) and
commits it in one call. So concurrent callers share a round trip, groups are committed
one at a time (two items can never be committed concurrently), and each caller returns
only once its own item is stored, or raises the error its group failed with.

**Linger.** Right after a group that had several callers in play, the next committer may
wait up to ``linger`` seconds for as many items as were in play: the callers it just
answered usually send again within milliseconds, and one full group then costs one
commit instead of several small ones. A lone caller (one at a time) and an idle stream
never wait (:func:`linger_left`).

Knows nothing of what it commits: the speed function's handler groups Pub/Sub messages
with it, ingest's ledger groups ``ops.ingest_log`` rows.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def linger_left(
    *,
    linger: float,
    queued: int,
    queued_size: int,
    expected: int,
    max_size: int,
    last_done: float,
    now: float,
) -> float:
    """Seconds still worth waiting for more items before committing what is queued.

    ``expected`` is how many items were in play when the last group finished
    (:func:`expected_after`). Nothing is worth waiting for once that many are queued,
    once the queue already fills a group, or when lingering is off.
    """
    if linger <= 0 or queued >= expected or queued_size >= max_size:
        return 0.0
    return last_done + linger - now


def expected_after(group_size: int, waiting: int) -> int:
    """Items the next committer may wait for once a group of ``group_size`` finished.

    Several callers were in play when the group held more than one item or others were
    already waiting; a lone caller leaves nothing to wait for.
    """
    return waiting + group_size if waiting or group_size > 1 else 0


@dataclass
class _Entry(Generic[T, R]):
    item: T
    size: int
    result: Any = None
    error: BaseException | None = None
    claimed: bool = False  # taken into a group by some thread
    done: threading.Event = field(default_factory=threading.Event)


class GroupCommitter(Generic[T, R]):
    """Commits items in groups; ``commit(items)`` returns one result per item, in order.

    ``size(item)`` is an item's weight against ``max_size`` (a group always takes at least
    one item, however large). ``interrupted()`` is the error the other callers of a group
    get when its commit was cut short by an interrupt (the committing caller gets the
    interrupt itself). ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        commit: Callable[[list[T]], Sequence[R]],
        *,
        max_size: int,
        size: Callable[[T], int] = lambda _item: 1,
        linger: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        interrupted: Callable[[], BaseException] = lambda: RuntimeError(
            "the commit of this item's group was interrupted"
        ),
    ) -> None:
        self._commit = commit
        self._interrupted = interrupted
        self.max_size = max_size
        self._size = size
        self.linger = linger
        self._clock = clock
        self._queue: deque[_Entry[T, R]] = deque()
        # Guards the queue and ``_committing``. Waiters are woken whenever an item is
        # queued or a group is finished, so a caller whose item was in that group returns
        # at once and the next committer starts without delay.
        self._cond = threading.Condition()
        self._committing = False
        self._last_done = -1e18
        self._expected = 0

    @property
    def waiting(self) -> int:
        """Items queued and not yet taken into a group."""
        with self._cond:
            return len(self._queue)

    def submit(self, item: T) -> R:
        """Commit ``item`` (possibly with concurrent ones); its result, or the group's error."""
        entry: _Entry[T, R] = _Entry(item, max(1, self._size(item)))
        with self._cond:
            self._queue.append(entry)
            self._cond.notify_all()  # a lingering committer may be waiting for it
        while not entry.done.is_set():
            group = self._claim(entry)
            if group:
                self._run(group)
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _claim(self, entry: _Entry[T, R]) -> list[_Entry[T, R]]:
        """Wait until ``entry`` is done (-> ``[]``) or this thread may commit the next group."""
        with self._cond:
            while not entry.done.is_set():
                if entry.claimed or self._committing:
                    self._cond.wait()
                    continue
                wait = linger_left(
                    linger=self.linger,
                    queued=len(self._queue),
                    queued_size=sum(e.size for e in self._queue),
                    expected=self._expected,
                    max_size=self.max_size,
                    last_done=self._last_done,
                    now=self._clock(),
                )
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._committing = True
                return self._take()
            return []

    def _take(self) -> list[_Entry[T, R]]:
        """The oldest queued items, up to ``max_size`` (at least one). Called with the lock."""
        group: list[_Entry[T, R]] = []
        total = 0
        while self._queue and (not group or total + self._queue[0].size <= self.max_size):
            entry = self._queue.popleft()
            entry.claimed = True
            group.append(entry)
            total += entry.size
        return group

    def _run(self, group: list[_Entry[T, R]]) -> None:
        """Commit ``group``; every caller in it gets its result or the error."""
        try:
            results = self._commit([entry.item for entry in group])
        except Exception as exc:  # each caller of the group raises it
            self._fail(group, exc)
        else:
            for entry, result in zip(group, results, strict=True):
                entry.result = result
                entry.done.set()
        finally:
            # Even an interrupt must not leave a caller waiting forever.
            self._fail(group, self._interrupted())
            with self._cond:
                self._committing = False
                self._last_done = self._clock()
                self._expected = expected_after(len(group), len(self._queue))
                self._cond.notify_all()

    @staticmethod
    def _fail(group: list[_Entry[T, R]], exc: BaseException) -> None:
        for entry in group:
            if not entry.done.is_set():
                entry.error = exc
                entry.done.set()
