"""The one exception tree of :mod:`acumatica_client`.

``AcumaticaError`` is the root. Transport failures are :class:`APIConnectionError`
(:class:`APITimeoutError` for timeouts); every non-2xx answer is an
:class:`APIStatusError` subclass chosen by status, carrying the request, the response
and the parsed body. Messages never contain credentials, tokens or cookies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ActionTimeoutError",
    "AcumaticaError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EndpointVersionError",
    "FieldError",
    "FieldNotInVersionError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "ValidationError",
    "status_error",
]


class AcumaticaError(Exception):
    """Root of every error raised by :mod:`acumatica_client`."""


class APIConnectionError(AcumaticaError):
    """The request did not get an HTTP answer (DNS, refused, reset, dropped)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out; whether the server applied it is unknown."""


@attrs.frozen
class FieldError:
    """One field-level validation message, e.g. ``Details[1].Account``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class APIStatusError(AcumaticaError):
    """Acumatica answered with a non-2xx status."""

    status_code: ClassVar[int | None] = None

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.request = request
        self.response = response
        self.body = body

    @property
    def status(self) -> int:
        """The HTTP status of the response."""
        return self.response.status_code


class BadRequestError(APIStatusError):
    """400: the request was malformed or rejected."""

    status_code = 400


class ValidationError(BadRequestError):
    """The entity was echoed back with errors on fields (400 or 422).

    ``errors`` lists every field path and its message, details included.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body: Any = None,
        errors: Sequence[FieldError] = (),
        entity_error: str | None = None,
    ) -> None:
        super().__init__(message, request=request, response=response, body=body)
        self.errors = tuple(errors)
        self.entity_error = entity_error


class AuthenticationError(APIStatusError):
    """401: not signed in, or the token/session expired and could not be renewed."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the user lacks rights to the entity or action."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: no such record (an unknown endpoint raises :class:`EndpointVersionError`)."""

    status_code = 404


class ConflictError(APIStatusError):
    """409: the record changed concurrently."""

    status_code = 409


class PreconditionFailedError(APIStatusError):
    """412: an ``If-Match`` / ``If-None-Match`` precondition failed."""

    status_code = 412


class UnprocessableEntityError(APIStatusError):
    """422 without field-level errors."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429: over the licence's request rate, concurrency or API-login limit."""

    status_code = 429

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (``Retry-After``), if it said."""
        return parse_retry_after(self.response.headers.get("Retry-After"))


class InternalServerError(APIStatusError):
    """5xx: the server failed."""

    status_code = 500


class EndpointVersionError(AcumaticaError):
    """The pinned endpoint (name/version) is not served by this Acumatica instance."""

    def __init__(self, endpoint_name: str, pinned_version: str, offered: Sequence[str]) -> None:
        self.endpoint_name = endpoint_name
        self.pinned_version = pinned_version
        self.offered = tuple(offered)
        served = ", ".join(self.offered) if self.offered else "no endpoints"
        super().__init__(
            f"Acumatica endpoint {endpoint_name}/{pinned_version} is not served by this "
            f"instance; it offers {served}. Pin one of those versions in the connection "
            "settings (the version must match the ERP release)."
        )


class FieldNotInVersionError(AcumaticaError, ValueError):
    """A field was set that the pinned endpoint version's schema does not have."""

    def __init__(self, entity: str, field: str, version: str) -> None:
        self.entity = entity
        self.field = field
        self.version = version
        super().__init__(
            f"{entity}.{field} does not exist in endpoint version {version}; leave it UNSET "
            "or pin an endpoint version that has it"
        )


class ActionTimeoutError(AcumaticaError):
    """An action (e.g. ReleaseBill) was still running after the configured polls."""

    def __init__(self, action: str, polls: int) -> None:
        self.action = action
        self.polls = polls
        super().__init__(f"action {action} still running after {polls} status polls")


_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_TAGS = re.compile(r"<[^>]+>")


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), ``None`` if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from datetime import UTC, datetime

        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return max(0.0, seconds)


def _field_errors(entity: Mapping[str, Any], prefix: str = "") -> list[FieldError]:
    found: list[FieldError] = []
    for key, value in entity.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if isinstance(value.get("error"), str):
                found.append(FieldError(path, value["error"]))
            elif "value" not in value:
                found.extend(_field_errors(value, f"{path}."))
        elif isinstance(value, list):
            for index, row in enumerate(value):
                if isinstance(row, Mapping):
                    if isinstance(row.get("error"), str):
                        found.append(FieldError(f"{path}[{index}]", row["error"]))
                    found.extend(_field_errors(row, f"{path}[{index}]."))
    return found


def _parse_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal) if response.content else None
    except ValueError:
        return response.text


def _message(body: Any, response: httpx.Response) -> str:
    if isinstance(body, Mapping):
        for key in ("exceptionMessage", "message", "error_description", "error"):
            text = body.get(key)
            if isinstance(text, str) and text:
                return text
    if isinstance(body, str) and body.strip():
        return " ".join(_TAGS.sub(" ", body).split())[:300]
    return response.reason_phrase or f"HTTP {response.status_code}"


def status_error(request: httpx.Request, response: httpx.Response) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for a non-2xx response.

    Reads the three body shapes Acumatica uses: the entity echoed back with ``error`` on
    fields (a :class:`ValidationError` listing every field, details included), the
    standard error object (``message``/``exceptionMessage``), or HTML/plain text.
    """
    body = _parse_body(response)
    status = response.status_code
    where = f"{request.method} {request.url.path}"
    if isinstance(body, Mapping) and status in (400, 422, 500):
        errors = _field_errors(body)
        entity_error = body.get("error") if isinstance(body.get("error"), str) else None
        if errors or (entity_error and "exceptionMessage" not in body):
            detail = "; ".join(str(e) for e in errors) or str(entity_error)
            return ValidationError(
                f"{where} rejected ({status}): {entity_error or 'field errors'}: {detail}",
                request=request,
                response=response,
                body=body,
                errors=errors,
                entity_error=entity_error,
            )
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else APIStatusError)
    return cls(
        f"{where} failed ({status}): {_message(body, response)}",
        request=request,
        response=response,
        body=body,
    )
