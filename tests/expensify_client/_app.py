"""A small scripted Integration Server for client tests (a MockTransport callable)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx

from expensify_client import ClientOptions, Credentials, ExpensifyClient, RateLimiter, RetryPolicy

SECRET = "s3cr3t-Pa55+word/xyz"
CREDS = Credentials(partner_user_id="aa_ex_example_com", partner_user_secret=SECRET)

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


def envelope(
    code: int, message: str | None = None, *, http: int = 200, **extra: Any
) -> httpx.Response:
    """A JSON envelope labelled text/plain, as the live server often does."""
    body: dict[str, Any] = {"responseCode": code, **extra}
    if message is not None:
        body["responseMessage"] = message
    return httpx.Response(
        http,
        content=json.dumps(body).encode(),
        headers={"content-type": "text/plain;charset=utf-8"},
    )


def text(body: str | bytes, *, http: int = 200) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(
        http, content=content, headers={"content-type": "text/plain;charset=utf-8"}
    )


class App:
    """Answers scripted replies in order (the last one repeats) and records every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    def form(self, index: int = -1) -> dict[str, list[str]]:
        """The decoded urlencoded form of a recorded request."""
        return parse_qs(
            self.requests[index].content.decode(), keep_blank_values=True, strict_parsing=True
        )

    def job(self, index: int = -1) -> dict[str, Any]:
        """The decoded ``requestJobDescription`` of a recorded request."""
        (raw,) = self.form(index)["requestJobDescription"]
        return json.loads(raw)  # type: ignore[no-any-return]


class Clock:
    """A fake monotonic clock whose sleep advances it (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    app: App,
    *,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    jitter: float = 0.0,
) -> tuple[ExpensifyClient, Clock]:
    clock = clock or Clock()
    options = ClientOptions(
        timeout=5.0,
        retry=retry or RetryPolicy(attempts=3, initial=1.0, max_wait=10.0, jitter=1.0),
        limits=RateLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        jitter=lambda: jitter,
    )
    client = ExpensifyClient(credentials=CREDS, transport=httpx.MockTransport(app), options=options)
    return client, clock
