"""RetryPolicy: the wait schedule and its bounds."""

from __future__ import annotations

import pytest

from expensify_client import RateLimitError, RetryPolicy


class TestRetryPolicy:
    def test_exponential_with_jitter_and_cap(self):
        """Waits double from initial, add jitter times the draw, and never exceed max_wait."""
        policy = RetryPolicy(initial=0.5, max_wait=3.0, jitter=1.0)
        assert [policy.wait_for(n, None, 0.5) for n in range(1, 6)] == [1.0, 1.5, 2.5, 3.0, 3.0]

    def test_retry_after_raises_wait_up_to_cap(self):
        """A 429's Retry-After lengthens the wait but is capped by max_retry_after."""
        policy = RetryPolicy(initial=1, jitter=0, max_retry_after=15)
        exc = RateLimitError("slow down", response_code=429, http_status=429, retry_after=40)
        assert policy.wait_for(1, exc, 0.0) == 15.0
        short = RateLimitError("slow down", response_code=429, http_status=429, retry_after=0.2)
        assert policy.wait_for(1, short, 0.0) == 1.0

    @pytest.mark.parametrize("changes", [{"attempts": 0}, {"initial": -1}, {"timeout": -0.1}])
    def test_invalid_values(self, changes):
        """Zero attempts or negative durations are refused."""
        with pytest.raises(ValueError):
            RetryPolicy(**changes)
