"""Helpers for tests that post with several worker threads (``rules.posting_concurrency``).

:class:`Parking` lets a test run another sync *while one run is paused*, as the
single-threaded race tests do at a step boundary, when that run posts with several
threads: the other run starts only once every worker of the paused run stands at a step
boundary (or between reports), and they stay there until it has finished. Without it, a
worker could be anywhere between two boundaries -- for instance between its lease check
and its create -- while the test moves the clock past the lease, which models a thread
stalled for ten minutes inside one step rather than a paused run.

:class:`RunStack` names the run a thread works for: a context variable, which the posting
workers inherit from the thread that started them.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Posting concurrencies the race and fault tests run with (1: no worker threads).
CONCURRENCIES = (1, 3)

#: Longest a test waits for workers to park (a hang fails the test instead).
PARK_TIMEOUT = 60.0


class Parking:
    """Step hooks that can hold a run's posting workers at their step boundaries.

    A worker thread is *moving* from the moment it leaves a step hook until it enters the
    next one, or its report is finished (the ``progress`` callback, called once per
    report). The main thread (claims and look-ups) is never counted: it is paused while
    it waits for its workers. :meth:`stopped` waits until no other thread is moving and
    holds every thread at its next hook exit until the block ends.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._moving: set[int] = set()
        self._stopped = False

    def hook(self, then: Callable[[str, str], None]) -> Callable[[str, str], None]:
        """``then`` as an ``on_step`` hook of the run that may be paused."""

        def on_step(step: str, rid: str) -> None:
            me = threading.get_ident()
            with self._cond:
                self._moving.discard(me)
                self._cond.notify_all()
            then(step, rid)
            with self._cond:
                released = self._cond.wait_for(lambda: not self._stopped, PARK_TIMEOUT)
                assert released, "a worker was held at a step boundary for too long"
                if step != "posted" and threading.current_thread() is not threading.main_thread():
                    self._moving.add(me)

        return on_step

    def progress(self, step: str, done: int, total: int) -> None:
        """The ``progress`` callback of the run that may be paused (a report is done)."""
        with self._cond:
            self._moving.discard(threading.get_ident())
            self._cond.notify_all()

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """Every other worker of the run parked at a step boundary for the block."""
        me = threading.get_ident()
        with self._cond:
            self._stopped = True
            parked = self._cond.wait_for(lambda: not (self._moving - {me}), PARK_TIMEOUT)
            assert parked, f"workers still moving: {self._moving - {me}}"
        try:
            yield
        finally:
            with self._cond:
                self._stopped = False
                self._cond.notify_all()


class RunStack:
    """A per-context stack of run names (``append``/``pop``/``[-1]``, like a list)."""

    def __init__(self) -> None:
        self._var: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
            "runs", default=()
        )

    def append(self, name: str) -> None:
        self._var.set((*self._var.get(), name))

    def pop(self) -> str:
        names = self._var.get()
        self._var.set(names[:-1])
        return names[-1]

    def __getitem__(self, index: int) -> str:
        return self._var.get()[index]
