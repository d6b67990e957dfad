"""One retry policy for Acumatica calls, applied in one layer (the client's send).

Acumatica has no idempotency key, so what may be retried depends on the request:

* 429 (over the licence's request rate or concurrency) is always retried: the server
  did not process the request. The wait honours ``Retry-After`` (capped), otherwise a
  jittered exponential backoff.
* Connection errors, timeouts and 5xx are retried only for requests that are safe to
  repeat (GET, DELETE, logout, OAuth grants). A create (PUT) or an action (POST) is
  never re-sent blindly: the server may have applied it. The caller decides (the bridge
  looks up the document by its key before creating it again).
* Never retried: what the body says is final even on a 500 — a missing record
  (``NotFoundError``), a save-time refusal (``EntityHasErrorsError``), an optimisation
  failure, a tenant not set up, refused credentials and an exhausted API-seat licence
  (``LoginLimitError``, whatever its status: one request, no loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from ._exceptions import APIConnectionError, InternalServerError, RateLimitError

__all__ = ["RetryPolicy"]

T = TypeVar("T")

logger = logging.getLogger("acumatica_client")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 0, not {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed calls are retried.

    ``attempts`` counts the first try (1 disables retrying). The wait before retry *n*
    (1-based) is ``min(max_wait, initial * 2**(n-1) + jitter * U[0, 1))``; a 429's
    ``Retry-After`` replaces it, capped at ``max_retry_after``.
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    initial: float = attrs.field(default=0.5, validator=_non_negative)
    max_wait: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.5, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)

    def wait_for(self, retry_number: int, exc: BaseException | None, uniform: float) -> float:
        """Seconds to wait before retry ``retry_number`` after ``exc`` (``uniform`` in [0, 1))."""
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return float(min(exc.retry_after, self.max_retry_after))
        return float(
            min(self.max_wait, self.initial * 2 ** (retry_number - 1) + self.jitter * uniform)
        )


#: Attribute set on an error of an OAuth grant that the grant's own retries gave up on.
GRANT_FAILURE = "_acumatica_grant_failure"


def is_retryable(exc: BaseException, *, repeatable: bool) -> bool:
    """Whether ``exc`` may be retried for a request that is (not) safe to repeat.

    Never a rejected write, a missing record or a refused sign-in (not transient), nor
    a token grant that was already retried on its own (no retries of retries).
    """
    if getattr(exc, GRANT_FAILURE, False):
        return False
    if isinstance(exc, RateLimitError):
        return True
    return repeatable and isinstance(exc, APIConnectionError | InternalServerError)


def make_retrying(
    policy: RetryPolicy,
    *,
    repeatable: bool,
    sleep: Callable[[float], None],
    uniform: Callable[[], float],
    describe: str,
) -> tenacity.Retrying:
    """A :class:`tenacity.Retrying` for one request; re-raises the last error."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return policy.wait_for(state.attempt_number, exc, uniform())

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.info(
            "acumatica retry %s: attempt %d failed with %s; next in %.2fs",
            describe,
            state.attempt_number,
            type(exc).__name__,
            state.upcoming_sleep,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(lambda e: is_retryable(e, repeatable=repeatable)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def call_with_retry(
    policy: RetryPolicy,
    call: Callable[[], T],
    *,
    repeatable: bool,
    sleep: Callable[[float], None],
    uniform: Callable[[], float],
    describe: str,
) -> T:
    """Run ``call`` under ``policy``; re-raise the last error. Same schedule as
    :func:`make_retrying` without building a ``tenacity.Retrying`` per request (the
    client's hot path: the first attempt costs one ``try``)."""
    number = 1
    while True:
        try:
            return call()
        except Exception as exc:
            if number >= policy.attempts or not is_retryable(exc, repeatable=repeatable):
                raise
            wait = policy.wait_for(number, exc, uniform())
            logger.info(
                "acumatica retry %s: attempt %d failed with %s; next in %.2fs",
                describe,
                number,
                type(exc).__name__,
                wait,
            )
            sleep(wait)
            number += 1
