"""The Celery app the worker tests start (a user's app: ours only adds the tasks).

Broker and result backend come from the environment the test sets for the workers.

``EB_TEST_EXPENSIFY_SPEEDUP`` (set by the worker tests): the Expensify emulator's clock
runs that many times faster than real time, so the workers' shared Expensify windows are
shortened in the same proportion (5 per 10 s becomes 5 per 10/speedup s of real time).
The limiter itself is the real one -- :class:`~expense_bridge._limits.DatabaseRateLimiter`
booking every send in the PostgreSQL state database, with its real-time safety margins
unchanged -- only the lengths of the vendor's windows are scaled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from celery import Celery

app = Celery("expense-bridge-tests")
app.conf.update(
    broker_url=os.environ.get("EB_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//"),
    result_backend=os.environ.get("EB_TEST_BACKEND", "redis://127.0.0.1:6379/0"),
    imports=["expense_bridge.celery"],
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


def _scale_expensify_windows(speedup: float) -> None:
    """Make the factory build shared Expensify limiters with windows ``speedup`` times
    shorter (this worker process only)."""
    from expense_bridge import _factory
    from expense_bridge._limits import DatabaseRateLimiter
    from expensify_client._limiter import DEFAULT_WINDOWS

    class ScaledWindows(DatabaseRateLimiter):
        def __init__(
            self, store: Any, windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS, **kw: Any
        ) -> None:
            super().__init__(store, tuple((n, p / speedup) for n, p in windows), **kw)

    _factory.DatabaseRateLimiter = ScaledWindows  # type: ignore[misc]


_SPEEDUP = float(os.environ.get("EB_TEST_EXPENSIFY_SPEEDUP", "1"))
if _SPEEDUP != 1:
    _scale_expensify_windows(_SPEEDUP)
