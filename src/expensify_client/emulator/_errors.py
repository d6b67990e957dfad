"""Expensify's error envelopes, as the emulator renders them.

The Integration Server answers most failures with HTTP 200 and a JSON object carrying an
integer ``responseCode`` and a ``responseMessage`` (labelled ``text/plain``). The messages
below are the documented ones where the reference quotes one; the others are marked
"emulator text" in ``COVERAGE.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import httpx

__all__ = [
    "AUTH_MESSAGE",
    "FILE_NOT_FOUND",
    "RATE_LIMIT_MESSAGE",
    "EmulatorStateError",
    "JobError",
    "bad_argument",
    "envelope",
    "json_response",
    "missing",
    "text_response",
]

#: Undocumented live answer; the emulator's choice (code 407 in the body, HTTP 200).
AUTH_MESSAGE: Final = "Authentication error: incorrect partnerUserID or partnerUserSecret"
#: The 2019-2024 documented rate-limit text.
RATE_LIMIT_MESSAGE: Final = (
    "You have been rate-limited. Please try again later or contact help@expensify.com "
    "for assistance."
)
#: Download of an unknown file (observed: an object without responseCode).
FILE_NOT_FOUND: Final = "File not found"

_TEXT_PLAIN: Final = "text/plain;charset=utf-8"


class JobError(Exception):
    """A job failed: rendered as ``{"responseCode": code, "responseMessage": message}``.

    ``http_status`` is the HTTP status line (200 unless the failure is a transport-level
    one, such as a rate limit, that the emulator also signals in the status line).
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        http_status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.headers = dict(headers or {})

    def to_response(self) -> httpx.Response:
        """The error as the Integration Server would send it."""
        return envelope(self.code, self.message, http_status=self.http_status, headers=self.headers)


class EmulatorStateError(ValueError):
    """A control-plane call that the emulated account could not perform (bad transition)."""


def missing(name: str, code: int = 410) -> JobError:
    """``Required parameter 'name' is missing`` (documented wording)."""
    return JobError(code, f"Required parameter '{name}' is missing")


def bad_argument(name: str) -> JobError:
    """``Argument 'name' is missing or malformed`` (documented wording)."""
    return JobError(410, f"Argument '{name}' is missing or malformed")


def _json_default(value: object) -> str:
    """Decimals (conversion and tax rates in inspected reports) as exact strings."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(
    body: Any, *, http_status: int = 200, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON body labelled ``text/plain`` (as the live server often labels it)."""
    content = json.dumps(
        body, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode()
    all_headers = {"content-type": _TEXT_PLAIN, **(headers or {})}
    return httpx.Response(http_status, content=content, headers=all_headers)


def envelope(
    code: int,
    message: str | None = None,
    *,
    http_status: int = 200,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    """``{"responseCode": code, "responseMessage": message, ...extra}``."""
    body: dict[str, Any] = {"responseCode": code}
    if message is not None:
        body["responseMessage"] = message
    body.update(extra)
    return json_response(body, http_status=http_status, headers=headers)


def text_response(
    text: str | bytes, *, http_status: int = 200, content_type: str = _TEXT_PLAIN
) -> httpx.Response:
    """A plain body (an export's file name, a downloaded file, a servlet error page)."""
    content = text.encode() if isinstance(text, str) else text
    return httpx.Response(http_status, content=content, headers={"content-type": content_type})
