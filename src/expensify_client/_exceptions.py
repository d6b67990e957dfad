"""Exceptions raised by ``expensify_client``.

Tree::

    ExpensifyError                     root; ``retryable`` says whether a later retry may succeed
    ├── DataError                      the data Expensify sent cannot be represented faithfully
    │   ├── CurrencyPrecisionError     an amount finer than its currency's ISO precision
    │   ├── ExportParseError           an export file that does not parse
    │   └── ResponseValidationError    a response whose shape does not match the job's contract
    ├── InvalidRequestError            a job rejected locally, before sending (names the field)
    ├── FileNotReadyError              a download still not rendered after the polling budget
    ├── FileNotFoundOnServerError      a download answered "File not found" (never existed/expired)
    ├── APIConnectionError             no response: connect/read/write failure
    │   └── APITimeoutError            no response within the timeout
    └── APIStatusError                 the Integration Server answered with an error code
        ├── AuthenticationError        credentials rejected (401/407 or a credentials message)
        ├── PermissionDeniedError      403, or 500 "Not authorized to authenticate as user …"
        ├── NotFoundError              404 (e.g. policy not found)
        │   └── PolicyNotFoundError    a policy ID the server does not know (404, 410 or 200)
        ├── ValidationError            410 (invalid, missing or malformed argument)
        ├── RateLimitError             429 as HTTP status or as body ``responseCode``
        └── ServerError                500 and other server-side failures

The outcome of a call is read from the response *body* (``responseCode``), never from the
HTTP status alone (see ``expensify_client._envelope``). Exceptions never carry credentials:
they keep the response code, message, HTTP status and a redacted body, not the httpx request
or response objects (whose bodies hold the secret).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ._models import Report, UnparsedReport

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "CurrencyPrecisionError",
    "DataError",
    "ExpensifyError",
    "ExportParseError",
    "FileNotFoundOnServerError",
    "FileNotReadyError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolicyNotFoundError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "ValidationError",
]


class ExpensifyError(Exception):
    """Root of every error raised by ``expensify_client``."""

    #: Whether retrying the same call later may succeed (error intent for callers).
    retryable: ClassVar[bool] = False


class DataError(ExpensifyError):
    """Data received from Expensify cannot be represented faithfully."""


class CurrencyPrecisionError(DataError):
    """An amount has a fraction finer than its currency's ISO 4217 precision (JPY 1000.50)."""


class ExportParseError(DataError):
    """An export file produced by our template does not parse into reports.

    Raised for a broken document (malformed JSON, not UTF-8, not ``{"reports":[...]}``) by
    :func:`~expensify_client.iter_report_export`, and by
    :func:`~expensify_client.parse_report_export` when some reports are unparsed: then
    ``unparsed`` holds those :class:`~expensify_client.UnparsedReport` values and ``reports``
    the reports that did parse (both empty for a broken document).
    """

    def __init__(
        self,
        message: str,
        *,
        unparsed: tuple[UnparsedReport, ...] = (),
        reports: tuple[Report, ...] = (),
    ) -> None:
        super().__init__(message)
        self.unparsed = unparsed
        self.reports = reports


class ResponseValidationError(DataError):
    """A response body does not have the shape the job's contract promises.

    ``job`` names the job (e.g. ``"get/policy"``) and ``field`` the offending key path.
    """

    def __init__(self, message: str, *, job: str, field: str | None = None) -> None:
        super().__init__(message)
        self.job = job
        self.field = field


class InvalidRequestError(ExpensifyError, ValueError):
    """A job was rejected locally because the server would reject it (410) or misread it.

    ``field`` names the offending job field (wire name, e.g. ``"filters.endDate"``).
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FileNotReadyError(ExpensifyError):
    """An exported file was still not rendered after the allowed number of download polls."""

    retryable: ClassVar[bool] = True

    def __init__(self, file_name: str, polls: int) -> None:
        super().__init__(f"file {file_name!r} not ready after {polls} download poll(s)")
        self.file_name = file_name
        self.polls = polls


class FileNotFoundOnServerError(ExpensifyError):
    """A download answered "File not found": the name never existed or the file expired.

    The live answer is HTTP 200 with ``{"responseMessage": "File not found"}`` and no
    ``responseCode`` (expensify-api.md section 1.6, xrl ``src/wire.rs``). Not retryable:
    polling again will not make the file appear; export again instead.
    """

    def __init__(self, file_name: str, message: str) -> None:
        super().__init__(f"file {file_name!r}: {message}")
        self.file_name = file_name
        self.message = message


class APIConnectionError(ExpensifyError):
    """The request did not produce a response (connection, read or write failure)."""

    retryable: ClassVar[bool] = True


class APITimeoutError(APIConnectionError):
    """The request timed out before a response arrived."""


class APIStatusError(ExpensifyError):
    """The Integration Server reported an error.

    ``response_code`` is the body's ``responseCode`` (or the HTTP status when the body held
    none), ``message`` the body's ``responseMessage``, ``body`` the parsed body with any
    credentials removed, ``http_status`` the HTTP status line's code and ``job`` the job
    kind (``"<type>/<inputSettings.type>"``).
    """

    def __init__(
        self,
        message: str,
        *,
        response_code: int,
        body: Any = None,
        http_status: int,
        job: str = "",
    ) -> None:
        where = f" ({job})" if job else ""
        super().__init__(f"Expensify responseCode {response_code}{where}: {message}")
        self.message = message
        self.response_code = response_code
        self.body = body
        self.http_status = http_status
        self.job = job


class AuthenticationError(APIStatusError):
    """The partner credentials were rejected; fix the configuration, do not retry."""


class PermissionDeniedError(APIStatusError):
    """The credentials are valid but lack a permission (policy admin, enabled feature)."""


class NotFoundError(APIStatusError):
    """The addressed object (e.g. a policy) does not exist."""


class PolicyNotFoundError(NotFoundError):
    """The server does not know the policy IDs (or does not show them to these credentials).

    Raised whatever the envelope: a 404 ("Policy not found"), a 410 saying the policy is
    unknown, or a 200 whose ``policyInfo`` lacks a requested policy (then ``response_code``
    is 200). ``policy_ids`` names them. A configuration problem: not retryable.
    """

    def __init__(
        self,
        policy_ids: tuple[str, ...],
        detail: str = "",
        *,
        response_code: int = 404,
        http_status: int = 200,
        body: Any = None,
        job: str = "",
    ) -> None:
        names = ", ".join(repr(pid) for pid in policy_ids)
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"unknown Expensify policy {names}{suffix}",
            response_code=response_code,
            body=body,
            http_status=http_status,
            job=job,
        )
        self.policy_ids = policy_ids


class ValidationError(APIStatusError):
    """The server rejected the job as invalid, missing or malformed (410)."""


class RateLimitError(APIStatusError):
    """The server rate-limited the call (429); ``retry_after`` is seconds, when announced."""

    retryable: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        response_code: int,
        body: Any = None,
        http_status: int,
        job: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, response_code=response_code, body=body, http_status=http_status, job=job
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """The server failed (500 or other 5xx).

    Transient by class intent; the client itself only retries it for read-only jobs, since a
    failed write may have been partly applied.
    """

    retryable: ClassVar[bool] = True
