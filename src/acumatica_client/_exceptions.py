"""The one exception tree of :mod:`acumatica_client`.

::

    AcumaticaError                       root of everything raised here
    ├── APIConnectionError               no HTTP answer (DNS, refused, reset)
    │   └── APITimeoutError              timed out; whether the server applied it is unknown
    ├── APIStatusError                   non-2xx: .status_code .request .response .body .messages
    │   ├── BadRequestError              400
    │   │   └── ValidationError          400/422 with per-field errors: .errors (also an
    │   │                                UnprocessableEntityError)
    │   ├── AuthenticationError          401, or "Invalid credentials" in the body (any status)
    │   ├── LoginLimitError              sign-in/token refused: "API Login Limit" (no seat free)
    │   ├── PermissionDeniedError        403
    │   ├── NotFoundError                404, or 500 NoEntitySatisfiesTheConditionException
    │   ├── ConflictError                409
    │   ├── PreconditionFailedError      412 (If-Match / If-None-Match)
    │   ├── UnprocessableEntityError     the tenant refused to save the record (422)
    │   │   └── EntityHasErrorsError     500 OutcomeEntityHasErrorsException (save-time refusal)
    │   ├── OptimizationError            500 "Optimization cannot be performed": .fields
    │   ├── SetupNotEnteredError         500 PXSetupNotEnteredException: .form
    │   ├── RateLimitError               429: .retry_after
    │   └── InternalServerError          other 5xx
    ├── EndpointVersionError             pinned endpoint version not served
    ├── FieldNotInVersionError           (also ValueError) field absent from the pinned version
    └── ActionTimeoutError               an action still running after the allowed polls

:func:`status_error` turns a non-2xx response into the right class, reading the three
body shapes Acumatica uses in the official client's order (entity echoed back with
``error`` members, then the ``HttpError`` object with ``message``/``exceptionMessage``/
``exceptionType``/``innerException``, then HTML or plain text stripped of tags): the class
follows what the body says, not only the status (a missing record is a 500 on Acumatica).
Every class states its recovery intent in ``retryable``; only :class:`RateLimitError`,
:class:`InternalServerError` and connection errors are transient. Messages never
contain credentials: the request's ``Authorization``/``Cookie`` values and any
password, secret or token the request carried are replaced by ``[redacted]``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

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
    "EntityHasErrorsError",
    "FieldError",
    "FieldNotInVersionError",
    "InternalServerError",
    "LoginLimitError",
    "NotFoundError",
    "OptimizationError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "SetupNotEnteredError",
    "UnprocessableEntityError",
    "ValidationError",
    "parse_retry_after",
    "redact",
    "status_error",
]

REDACTED = "[redacted]"


class AcumaticaError(Exception):
    """Root of every error raised by :mod:`acumatica_client`."""

    #: Whether repeating the same call later may succeed (transient failure).
    retryable: ClassVar[bool] = False


class APIConnectionError(AcumaticaError):
    """The request did not get an HTTP answer (DNS, refused, reset, dropped)."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out; whether the server applied it is unknown."""


@attrs.frozen
class FieldError:
    """One field-level validation message.

    ``path`` locates the field in the entity: ``VendorRef``, ``ContactInfo.Email``,
    ``Details[1].Account`` (0-based position in the array), or ``Details[1]`` for an
    error on the whole detail line.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class APIStatusError(AcumaticaError):
    """Acumatica answered with a non-2xx status.

    ``body`` is the parsed JSON (numbers with a fraction as ``Decimal``), the text when
    the body is not JSON, or ``None`` when it is empty. ``messages`` holds every message
    the body carried, in the official client's parsing order: the entity's own
    ``error``, then each field's and each detail line's ``error`` (as ``path: text``);
    or the ``HttpError``'s ``message``, ``exceptionMessage`` and nested
    ``innerException`` messages (the generic "An error has occurred." left out); or the
    text of an HTML/plain body. Duplicates are dropped; it may be empty.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body: Any = None,
        messages: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.request = request
        self.response = response
        self.body = body
        self.status_code: int = response.status_code
        self.messages: tuple[str, ...] = tuple(messages)

    @property
    def status(self) -> int:
        """The HTTP status of the response (same as ``status_code``)."""
        return self.status_code


class BadRequestError(APIStatusError):
    """400: the request was malformed or rejected."""


class UnprocessableEntityError(APIStatusError):
    """The tenant refused to save the record (a write rejected at validation or save time).

    Raised for 422 (the entity echoed back with ``error`` members) and, through
    :class:`EntityHasErrorsError`, for a 500 ``OutcomeEntityHasErrorsException``.
    ``messages`` lists every field, detail-line and top-level message. Never retried:
    sending the same record again gets the same answer. For an operator: the data (an
    account, vendor, project, branch, duplicate vendor reference…) must be corrected in
    Acumatica or in the source before the document is sent again.
    """


class ValidationError(BadRequestError, UnprocessableEntityError):
    """The server rejected field values (400 or 422 with per-field messages).

    ``errors`` lists every field path and message, detail lines and linked entities
    included; ``entity_error`` is the entity-level summary when the server gave one.
    Also an :class:`UnprocessableEntityError` (a rejected write); never retried.
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
        messages: Sequence[str] = (),
    ) -> None:
        super().__init__(message, request=request, response=response, body=body, messages=messages)
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.entity_error = entity_error


class EntityHasErrorsError(UnprocessableEntityError):
    """500 ``OutcomeEntityHasErrorsException``: the record failed when it was saved.

    Acumatica checked the record as a whole while persisting it (for example the AP
    preference "Raise an Error on Duplicate Vendor Reference Number") and refused it.
    The document was **not** created; ``messages`` says why. Never retried. For an
    operator: correct what the message names, then send the document again.
    """


class AuthenticationError(APIStatusError):
    """Not signed in, or the credentials were refused.

    401 (session or token expired and could not be renewed), or any answer whose body
    says ``Invalid credentials``. For an operator: check the user name, password,
    tenant and OAuth client in the connection settings; not retried.
    """


class LoginLimitError(APIStatusError):
    """Sign-in or token request refused with "API Login Limit": no API seat is free.

    Every open API session (cookie sign-in or OAuth grant) holds one of the licence's
    API-user seats. Sent once and not retried in a loop (each attempt would only be
    refused again). For an operator: free a seat by signing the other sessions out
    (or revoking their grants), or wait for the server's 10-minute session timeout.
    """


class PermissionDeniedError(APIStatusError):
    """403: the user lacks rights to the entity or action (or the feature is off)."""


class NotFoundError(APIStatusError):
    """No such record: 404, or Acumatica's 500 ``NoEntitySatisfiesTheConditionException``.

    An unknown endpoint raises :class:`EndpointVersionError` instead. Never retried.
    """


class ConflictError(APIStatusError):
    """409: the record changed concurrently, or a long operation runs on the form."""


class PreconditionFailedError(APIStatusError):
    """412: an ``If-Match`` / ``If-None-Match`` precondition failed."""


class OptimizationError(APIStatusError):
    """500 "Optimization cannot be performed": a list read asked for fields it cannot join.

    A list GET runs one optimised query; fields or expanded entities backed by a
    delegate cannot take part. ``fields`` names them (as the server listed them).
    Never retried. For a developer or operator: narrow ``$select``/``$expand`` to leave
    those fields out, or read the records one by one by key.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body: Any = None,
        messages: Sequence[str] = (),
        fields: Sequence[str] = (),
    ) -> None:
        super().__init__(message, request=request, response=response, body=body, messages=messages)
        self.fields: tuple[str, ...] = tuple(fields)


class SetupNotEnteredError(APIStatusError):
    """500 ``PXSetupNotEnteredException``: the tenant is not configured for this form.

    ``form`` names the setup form Acumatica says is missing (e.g. "Accounts Payable
    Preferences"), or is ``None`` when the message did not say. Never retried. For an
    operator: an Acumatica administrator must fill in that form in the tenant.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body: Any = None,
        messages: Sequence[str] = (),
        form: str | None = None,
    ) -> None:
        super().__init__(message, request=request, response=response, body=body, messages=messages)
        self.form = form


class RateLimitError(APIStatusError):
    """429: over the licence's request rate or concurrency queue.

    Retried with backoff (``Retry-After`` when given; Acumatica usually sends none).
    """

    retryable: ClassVar[bool] = True

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (``Retry-After``), ``None`` if it did not say."""
        return parse_retry_after(self.response.headers.get("Retry-After"))


class InternalServerError(APIStatusError):
    """5xx: the server failed (retried only for requests that are safe to repeat)."""

    retryable: ClassVar[bool] = True


class EndpointVersionError(AcumaticaError):
    """The pinned endpoint (name/version) is not served by this Acumatica instance."""

    def __init__(self, endpoint_name: str, pinned_version: str, offered: Iterable[str]) -> None:
        self.endpoint_name = endpoint_name
        self.pinned_version = pinned_version
        self.offered: tuple[str, ...] = tuple(offered)
        names = [v if "/" in v else f"{endpoint_name}/{v}" for v in self.offered]
        served = f"it offers {', '.join(names)}" if names else f"it offers no {endpoint_name}"
        super().__init__(
            f"Acumatica endpoint {endpoint_name}/{pinned_version} is not served by this "
            f"instance; {served}. Pin one of those in the connection settings."
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
    """An action (e.g. ``ReleaseBill``) was still running after the allowed status polls.

    The action may still complete on the server; look the record up before repeating it.
    """

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


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); ``None`` if absent/bad.

    ``now`` (tz-aware) is the reference time for the HTTP-date form; default: the clock.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


# ----------------------------------------------------------------------------- parsing


def _field_errors(node: Mapping[str, Any], prefix: str) -> list[FieldError]:
    """Every ``error`` member below an entity object, with its path."""
    found: list[FieldError] = []
    for key, value in node.items():
        if key in ("value", "error"):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if isinstance(value.get("error"), str) and value["error"]:
                found.append(FieldError(path, value["error"]))
            found.extend(_field_errors(value, f"{path}."))
        elif isinstance(value, list):
            for index, row in enumerate(value):
                if isinstance(row, Mapping):
                    where = f"{path}[{index}]"
                    if isinstance(row.get("error"), str) and row["error"]:
                        found.append(FieldError(where, row["error"]))
                    found.extend(_field_errors(row, f"{where}."))
    return found


def _model_state_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """``HttpError.modelState``: field -> list of messages."""
    state = body.get("modelState")
    if not isinstance(state, Mapping):
        return []
    found: list[FieldError] = []
    for key, messages in state.items():
        items = messages if isinstance(messages, list) else [messages]
        found.extend(FieldError(str(key), str(m)) for m in items if m is not None)
    return found


def _parse_body(response: httpx.Response) -> Any:
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None
    if not content:
        return None
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError:
        return response.text


_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def _text_message(text: str) -> str:
    plain = html.unescape(_TAGS.sub(" ", _SCRIPT.sub(" ", text)))
    return " ".join(plain.split())[:500]


def _innermost(body: Mapping[str, Any]) -> str | None:
    inner = body.get("innerException")
    deepest: str | None = None
    depth = 0
    while isinstance(inner, Mapping) and depth < 20:
        text = inner.get("exceptionMessage") or inner.get("message")
        if isinstance(text, str) and text:
            deepest = text
        inner = inner.get("innerException")
        depth += 1
    return deepest


def _message(body: Any, response: httpx.Response) -> str:
    if isinstance(body, Mapping):
        for key in ("exceptionMessage", "message", "error_description", "error"):
            text = body.get(key)
            if isinstance(text, str) and text:
                detail = body.get("messageDetail")
                if isinstance(detail, str) and detail and detail != text:
                    text = f"{text} ({detail})"
                cause = _innermost(body)
                if cause and cause != text:
                    text = f"{text}; caused by: {cause}"
                kind = body.get("exceptionType")
                if isinstance(kind, str) and kind:
                    text = f"{text} [{kind}]"
                return text
    if isinstance(body, str) and body.strip():
        return _text_message(body)
    return response.reason_phrase or f"HTTP {response.status_code}"


# --------------------------------------------------------------------------- redaction

_SECRET_KEYS = ("password", "client_secret", "refresh_token", "access_token", "id_token", "code")
_GENERIC_SECRETS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)(\"?(?:password|passwd|client_secret|refresh_token|access_token|id_token|"
        r"token|secret|cookie|set-cookie|authorization)\"?\s*[:=]\s*\"?)[^\"&;,\s}]+"
    ),
    re.compile(r"(?i)(\.ASPXAUTH|ASP\.NET_SessionId|UserBranch|Locale|requestid)=[^;,\s]+"),
)


def _request_secrets(request: httpx.Request) -> set[str]:
    """Credential values the request carried (headers and token/login bodies)."""
    secrets: set[str] = set()
    for name in ("authorization", "cookie", "proxy-authorization"):
        for value in request.headers.get_list(name):
            secrets.add(value)
            secrets.update(part for part in value.split(" ", 1)[1:])  # the token after "Bearer "
            for crumb in value.split(";"):
                if "=" in crumb:
                    secrets.add(crumb.split("=", 1)[1].strip())
    try:
        content = request.content
    except httpx.RequestNotRead:
        content = b""
    if content:
        text = content.decode("utf-8", "replace")
        pairs: list[tuple[str, Any]] = []
        try:
            data = json.loads(text)
        except ValueError:
            pairs = list(parse_qsl(text, keep_blank_values=False))
        else:
            if isinstance(data, Mapping):
                pairs = list(data.items())
        secrets.update(
            value
            for key, value in pairs
            if isinstance(value, str) and str(key).lower() in _SECRET_KEYS
        )
    return {s for s in secrets if len(s) >= 3}


def redact(text: str, request: httpx.Request | None = None) -> str:
    """``text`` with credentials replaced by ``[redacted]``.

    Removes every secret value ``request`` carried (``Authorization``/``Cookie`` values,
    passwords, client secrets and tokens in its body) and anything that looks like a
    bearer token or a ``password=…``/``"access_token": "…"`` pair.
    """
    if request is not None:
        for secret in sorted(_request_secrets(request), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
    for index, pattern in enumerate(_GENERIC_SECRETS):
        if index == 0:
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        else:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


# ------------------------------------------------------------------------------ mapping


_GENERIC = "An error has occurred."
_NOT_FOUND_TYPE = "NoEntitySatisfiesTheConditionException"
_OUTCOME_TYPE = "OutcomeEntityHasErrorsException"
_SETUP_TYPE = "PXSetupNotEnteredException"
_OPTIMIZATION = "Optimization cannot be performed"
_LOGIN_LIMIT = "API Login Limit"
_INVALID_CREDENTIALS = "Invalid credentials"
_SETUP_FORM = re.compile(r"not entered on the (?P<form>.+?) form", re.IGNORECASE)
_CAUSE_LIST = re.compile(r"fields? cause the error\s*:?", re.IGNORECASE)


def _http_error_chain(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``HttpError`` object and its nested ``innerException`` objects, outermost first."""
    chain: list[Mapping[str, Any]] = []
    node: Any = body
    while isinstance(node, Mapping) and len(chain) < 20:
        chain.append(node)
        node = node.get("innerException")
    return chain


def _body_messages(body: Any) -> list[str]:
    """Every message the body carries, in the official client's parsing order.

    Entity shape first (the entity's ``error``, then field and detail-line errors as
    ``path: text``), then ``HttpError`` (``message``, ``exceptionMessage``, then each
    ``innerException``), then the tag-stripped text of an HTML/plain body.
    """
    found: list[str] = []
    if isinstance(body, Mapping):
        top = body.get("error")
        if isinstance(top, str) and top.strip():
            found.append(top.strip())
        found.extend(str(e) for e in _field_errors(body, ""))
        for node in _http_error_chain(body):
            for key in ("message", "exceptionMessage", "messageDetail", "error_description"):
                text = node.get(key)
                if isinstance(text, str) and text.strip() and text.strip() != _GENERIC:
                    found.append(text.strip())
        found.extend(str(e) for e in _model_state_errors(body))
    elif isinstance(body, str) and body.strip():
        found.append(_text_message(body))
    return list(dict.fromkeys(found))


def _exception_types(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return []
    return [
        str(node["exceptionType"])
        for node in _http_error_chain(body)
        if isinstance(node.get("exceptionType"), str)
    ]


def _has_type(types: Sequence[str], name: str) -> bool:
    return any(t == name or t.endswith("." + name) for t in types)


def _optimization_fields(messages: Sequence[str]) -> list[str]:
    """The field names listed after "The following fields cause the error:"."""
    fields: list[str] = []
    for text in messages:
        if _OPTIMIZATION not in text:
            continue
        match = _CAUSE_LIST.search(text)
        tail = text[match.end() :] if match else ""
        for line in re.split(r"[\r\n;]+", tail):
            for name in line.split(":", 1)[0].split(","):
                name = name.strip().strip(".")
                if name and len(name) <= 200:
                    fields.append(name)
    return list(dict.fromkeys(fields))


def status_error(request: httpx.Request, response: httpx.Response) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for a non-2xx ``response``.

    Reads the body shapes of Acumatica's errors in the official client's order: the
    entity echoed back with ``error`` on fields, detail lines and linked entities (400/422
    → :class:`ValidationError` listing every field), ``HttpError`` (``message``/
    ``exceptionMessage``/``exceptionType``/``innerException``/``modelState``), and HTML
    or plain text. What the body says decides the class before the status does:

    * ``API Login Limit`` → :class:`LoginLimitError`; ``Invalid credentials`` →
      :class:`AuthenticationError` (any status);
    * ``NoEntitySatisfiesTheConditionException`` → :class:`NotFoundError`;
    * ``OutcomeEntityHasErrorsException`` → :class:`EntityHasErrorsError`;
    * "Optimization cannot be performed" → :class:`OptimizationError`;
    * ``PXSetupNotEnteredException`` → :class:`SetupNotEnteredError`.

    The message names the method, path and status, never the query string or any
    credential.
    """
    body = _parse_body(response)
    status = response.status_code
    where = f"{request.method} {request.url.path}"
    messages = [redact(m, request) for m in _body_messages(body)]
    types = _exception_types(body)
    common: dict[str, Any] = {
        "request": request,
        "response": response,
        "body": body,
        "messages": messages,
    }
    text = " ".join(messages)

    def say(head: str) -> str:
        return redact(f"{where} {head} ({status}): {_message(body, response)}", request)

    if _LOGIN_LIMIT.lower() in text.lower():
        return LoginLimitError(
            redact(
                f"{where} refused ({status}): API Login Limit: every API seat of the "
                "licence is in use. Free one by signing the other API sessions out (or "
                "revoking their OAuth grants), or wait for the 10-minute session timeout.",
                request,
            ),
            **common,
        )
    if _INVALID_CREDENTIALS.lower() in text.lower():
        return AuthenticationError(say("refused the credentials"), **common)
    if _has_type(types, _NOT_FOUND_TYPE):
        return NotFoundError(say("found no such record"), **common)
    if _has_type(types, _OUTCOME_TYPE):
        return EntityHasErrorsError(say("rejected the record when saving it"), **common)
    if _OPTIMIZATION in text:
        fields = _optimization_fields(messages)
        named = ", ".join(fields) if fields else "see the message"
        return OptimizationError(
            redact(
                f"{where} failed ({status}): the list query cannot be optimised; narrow "
                f"$select/$expand to leave out {named}, or read the records one by one: "
                f"{_message(body, response)}",
                request,
            ),
            fields=fields,
            **common,
        )
    if _has_type(types, _SETUP_TYPE):
        match = _SETUP_FORM.search(text)
        form = match.group("form").strip() if match else None
        named = f"the {form} form" if form else "a setup form"
        return SetupNotEnteredError(
            redact(
                f"{where} failed ({status}): the tenant is not configured: {named} must "
                f"be filled in in Acumatica: {_message(body, response)}",
                request,
            ),
            form=form,
            **common,
        )
    if isinstance(body, Mapping) and status in (400, 422):
        errors = _field_errors(body, "") + _model_state_errors(body)
        if errors:
            entity_error = body.get("error") if isinstance(body.get("error"), str) else None
            summary = entity_error or body.get("message")
            head = summary if isinstance(summary, str) and summary else "invalid fields"
            detail = "; ".join(str(e) for e in errors)
            return ValidationError(
                redact(f"{where} rejected ({status}): {head}: {detail}", request),
                errors=errors,
                entity_error=entity_error,
                **common,
            )
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else APIStatusError)
    return cls(say("failed"), **common)
