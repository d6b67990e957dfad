"""One retry policy, turned into tenacity arguments in one place (the stamina way)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import attrs
import tenacity

from ._exceptions import RateLimitError

__all__ = ["RetryPolicy", "make_retrying"]

logger = logging.getLogger("expensify_client")


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 0, not {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed calls are retried.

    ``attempts`` counts the first try (1 disables retrying); retrying also stops once
    ``timeout`` seconds have elapsed since the first try. The wait before retry *n* (1-based)
    is ``min(max_wait, initial * 2**(n-1) + jitter * U[0, 1))``; a ``Retry-After`` announced
    with a 429 raises it up to ``max_retry_after``. Which errors are retried is decided by
    the client per job (a write is never re-sent after a transport error).
    """

    # Defaults outlast the 10-second rate window (waits of about 2, 4, 8 and 16 s), so a
    # 429 caused by another process sharing the credentials is ridden out, not fatal.
    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    timeout: float = attrs.field(default=120.0, validator=_positive)
    initial: float = attrs.field(default=2.0, validator=_positive)
    max_wait: float = attrs.field(default=30.0, validator=_positive)
    jitter: float = attrs.field(default=1.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)

    def wait_for(self, retry_number: int, exc: BaseException | None, uniform: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) after ``exc``.

        ``uniform`` is a draw from ``[0, 1)`` (injected, so schedules are testable).
        """
        wait = min(self.max_wait, self.initial * 2 ** (retry_number - 1) + self.jitter * uniform)
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, self.max_retry_after))
        return float(wait)


def make_retrying(
    policy: RetryPolicy,
    *,
    should_retry: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = time.sleep,
    uniform: Callable[[], float] = random.random,
    describe: str = "",
) -> tenacity.Retrying:
    """A :class:`tenacity.Retrying` for ``policy`` that re-raises the last error."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return policy.wait_for(state.attempt_number, exc, uniform())

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.debug(
            "expensify retry %s: attempt %d failed with %s; next in %.2fs",
            describe,
            state.attempt_number,
            type(exc).__name__,
            state.upcoming_sleep,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts)
        | tenacity.stop_after_delay(policy.timeout),
        wait=wait,
        retry=tenacity.retry_if_exception(should_retry),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
