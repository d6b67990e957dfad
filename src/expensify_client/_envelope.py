"""Decide a call's outcome from the response BODY (``responseCode``), not the HTTP status.

The Integration Server answers most errors with HTTP 200 and a JSON object carrying an
integer ``responseCode`` and a ``responseMessage``, sometimes labelled ``text/plain``; so
this module never looks at the content type. :func:`check_envelope` is the one place that
maps a response to success or to an :class:`APIStatusError` subclass. The job-specific
readers (:func:`export_file_names`, :func:`download_body`) build on it.

Secrets are scrubbed from everything an exception keeps: a server that echoes the job (or
an error page quoting the form) must not leak ``partnerUserSecret`` into logs or tracebacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Final

import httpx

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    FileNotFoundOnServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)

__all__ = [
    "REDACTED",
    "check_envelope",
    "download_body",
    "error_for",
    "export_file_names",
    "redact",
]

REDACTED: Final = "***"

#: Messages that mean "the partner credentials were rejected" whatever the code.
_AUTH_TEXT: Final = re.compile(
    r"\b(incorrect|invalid|wrong|unknown|bad)\b[^.{}\"]{0,20}(partnerUser(ID|Secret)|credentials)"
    r"|authentication failed",
    re.IGNORECASE,
)
#: 500 "Not authorized to authenticate as user x": a feature/permission, not bad credentials.
_PERMISSION_TEXT: Final = re.compile(r"not authori[sz]ed to|invalid permissions?", re.IGNORECASE)
_RATE_TEXT: Final = re.compile(r"rate[- ]limit", re.IGNORECASE)
_FILE_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
_NOT_READY_TEXT: Final = re.compile(r"not (ready|yet)", re.IGNORECASE)
#: The largest download body still checked for an envelope (Expensify's status envelopes
#: are a code and a one-line message).
_ENVELOPE_MAX: Final = 64 * 1024
_NOT_FOUND_TEXT: Final = re.compile(r"not found|does not exist|no such file|expired", re.IGNORECASE)

_CLASS_BY_CODE: Final[Mapping[int, type[APIStatusError]]] = {
    401: AuthenticationError,
    407: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: ValidationError,
    429: RateLimitError,
}


def redact(value: Any, secrets: Collection[str]) -> Any:
    """A copy of ``value`` with every ``credentials`` key dropped and each secret masked."""
    live = [s for s in secrets if s]
    if not live:
        return value
    if isinstance(value, str):
        for secret in live:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {
            redact(k, live): (REDACTED if k == "credentials" else redact(v, live))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, live) for item in value]
    return value


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # HTTP-date form: ignore rather than read a clock here
    return max(seconds, 0.0)


def error_for(
    code: int,
    message: str,
    *,
    body: Any,
    http_status: int,
    job: str,
    retry_after: float | None = None,
) -> APIStatusError:
    """The :class:`APIStatusError` subclass for a response code and message."""
    cls: type[APIStatusError]
    if code == 429 or _RATE_TEXT.search(message):
        return RateLimitError(
            message or "rate limited",
            response_code=code,
            body=body,
            http_status=http_status,
            job=job,
            retry_after=retry_after,
        )
    if _AUTH_TEXT.search(message):
        cls = AuthenticationError
    elif code in _CLASS_BY_CODE:
        cls = _CLASS_BY_CODE[code]
    elif _PERMISSION_TEXT.search(message):
        cls = PermissionDeniedError
    elif code >= 500:
        cls = ServerError
    else:
        cls = APIStatusError
    return cls(
        message or "(no message)", response_code=code, body=body, http_status=http_status, job=job
    )


def _json_object(content: bytes) -> dict[str, Any] | None:
    """The body as a JSON object when it is one (whatever the content type), else None."""
    stripped = content.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        parsed = json.loads(stripped)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _response_code(value: Any, job: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise ResponseValidationError(
            f"responseCode must be an integer, got {type(value).__name__}",
            job=job,
            field="responseCode",
        )
    return value


def check_envelope(
    response: httpx.Response, *, job: str, secrets: Collection[str] = ()
) -> dict[str, Any] | None:
    """Return the body's JSON object on success, ``None`` for a non-JSON success body.

    Raises the mapped :class:`APIStatusError` when the body's ``responseCode`` is neither
    200 nor 207, when the HTTP status is 429 (whatever the body), or when an HTTP error
    status comes with a body that is not an envelope (a servlet error page). A JSON object
    without ``responseCode`` is returned as is: its meaning is job-specific.
    """
    status = response.status_code
    body = _json_object(response.content)
    retry_after = _retry_after(response)
    if body is not None and "responseCode" in body:
        code = _response_code(body["responseCode"], job)
        message = body.get("responseMessage")
        message = redact(message, secrets) if isinstance(message, str) else ""
        if status == 429 and code in (200, 207):
            code = 429
        if code in (200, 207):
            return body
        raise error_for(
            code,
            message,
            body=redact(body, secrets),
            http_status=status,
            job=job,
            retry_after=retry_after,
        )
    if status == 429 or status >= 400:
        text = redact(response.content[:500].decode("utf-8", "replace"), secrets)
        message = body.get("responseMessage") if body is not None else None
        message = redact(message, secrets) if isinstance(message, str) else text.strip()
        raise error_for(
            status,
            message,
            body=redact(body, secrets) if body is not None else text,
            http_status=status,
            job=job,
            retry_after=retry_after,
        )
    return body


def export_file_names(
    response: httpx.Response, *, secrets: Collection[str] = ()
) -> tuple[str, ...]:
    """The file name(s) an export answered (plain text; several comma-separated for pdf)."""
    job = "file/combinedReportData"
    body = check_envelope(response, job=job, secrets=secrets)
    if body is not None:
        raise ResponseValidationError(
            "export answered a JSON object instead of a file name", job=job, field="<body>"
        )
    text = response.content.decode("utf-8", "replace").strip()
    names = tuple(name.strip() for name in text.split(","))
    if not text or not all(_FILE_NAME.match(name) for name in names):
        raise ResponseValidationError(
            f"export answered something that is not a file name ({len(text)} characters)",
            job=job,
            field="<body>",
        )
    return names


def download_body(
    response: httpx.Response, *, secrets: Collection[str] = (), file_name: str = ""
) -> bytes | None:
    """The file's bytes, or ``None`` when the file is not rendered yet.

    Not ready: an empty body, or a JSON object without ``responseCode`` whose
    ``responseMessage`` says "not ready"/"not yet". "File not found" (also "does not exist",
    "expired"; HTTP 200, no ``responseCode``) raises :class:`FileNotFoundOnServerError`.
    A rendered file is returned unparsed.
    """
    job = "download"
    if not response.content.strip() and response.status_code < 400:
        return None
    if len(response.content) > _ENVELOPE_MAX and response.status_code < 400:
        # A rendered file: an envelope is a few hundred bytes. Not parsed as JSON to find
        # out (a whole export would be decoded once here and again by the streaming reader).
        return response.content
    body = check_envelope(response, job=job, secrets=secrets)
    if body is not None and set(body) <= {"responseMessage", "responseCode"}:
        message = body.get("responseMessage")
        if "responseCode" not in body and isinstance(message, str):
            if _NOT_FOUND_TEXT.search(message):
                raise FileNotFoundOnServerError(file_name, redact(message, secrets))
            if _NOT_READY_TEXT.search(message):
                return None
        if "responseCode" in body:
            # {"responseCode": 200} alone is an envelope, not a file: not rendered yet.
            return None
        raise ResponseValidationError(
            "download answered an envelope without responseCode", job=job, field="responseMessage"
        )
    return response.content
