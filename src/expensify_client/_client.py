"""``ExpensifyClient``: sends jobs to the Integration Server and reads their outcome.

Every call is one ``application/x-www-form-urlencoded`` POST to one URL, whose form field
``requestJobDescription`` holds the job as a JSON string (plus ``template`` for exports and
``data`` for the employee feed, as sibling fields). Calls pass through a shared
:class:`RateLimiter` and one tenacity retry layer: rate-limit answers are retried for every
job (the server did not run the job), transport failures and 5xx only for jobs that are
safe to repeat (getters, downloads, exports without ``onFinish``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Final, TypeVar

import attrs
import httpx

from ._credentials import Credentials
from ._envelope import check_envelope, download_body, export_file_names, redact
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    FileNotFoundOnServerError,
    FileNotReadyError,
    InvalidRequestError,
    NotFoundError,
    PolicyNotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from ._jobs import (
    CategoriesAction,
    EmployeeRecord,
    ExportRequest,
    FileSystem,
    PrimaryPolicyMode,
    download_job,
    employee_feed,
    employee_update_job,
    export_job,
    policy_get_job,
    policy_list_job,
    policy_update_job,
    report_status_job,
)
from ._limiter import RateLimiter
from ._models import Category, Policy, PolicySummary, TagLevel
from ._results import (
    EmployeeUpdateResult,
    ReportStatusResult,
    parse_employee_update,
    parse_policies,
    parse_policy_list,
    parse_report_status,
)
from ._retry import RetryPolicy, make_retrying

__all__ = ["DEFAULT_BASE_URL", "ClientOptions", "ExpensifyClient"]

logger = logging.getLogger("expensify_client")

#: The Integration Server's one endpoint.
DEFAULT_BASE_URL: Final = (
    "https://integrations.expensify.com/Integration-Server/ExpensifyIntegrations"
)
#: Header telling the server (or the emulator) how many times this call was retried.
RETRY_COUNT_HEADER: Final = "x-expensify-client-retry-count"
DEFAULT_POLICY_FIELDS: Final = ("categories", "tags", "reportFields", "employees")

_T = TypeVar("_T")


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _uniform() -> float:
    return random.random()  # noqa: S311 - retry jitter, not a security use


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Client configuration (immutable; derive changed copies with ``with_options``).

    ``timeout``: seconds per HTTP request. ``retry``: the retry policy. ``limits``: a
    :class:`RateLimiter` to share between clients (``None``: each client gets its own, with
    Expensify's documented windows). ``sleep``, ``jitter`` and ``today`` are injectable for
    tests: the sleep used between retries and download polls, a ``[0, 1)`` draw for retry
    jitter, and the date "today" used by the export filters' one-year rule (UTC).
    """

    timeout: float = 60.0
    retry: RetryPolicy = RetryPolicy()
    limits: RateLimiter | None = None
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = _uniform
    today: Callable[[], date] = _utc_today


class _Connection:
    """The httpx client, created lazily (no I/O in constructors) and shared by clones."""

    def __init__(
        self, http_client: httpx.Client | None, transport: httpx.BaseTransport | None
    ) -> None:
        self._client = http_client
        self._owned = http_client is None
        self._transport = transport
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> httpx.Client:
        with self._lock:
            if self._closed:
                raise RuntimeError("the ExpensifyClient is closed")
            if self._client is None:
                self._client = httpx.Client(transport=self._transport)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._owned and self._client is not None:
                self._client.close()
            self._closed = self._owned


def _job_kind(job: Mapping[str, Any]) -> str:
    settings = job.get("inputSettings")
    sub = settings.get("type") if isinstance(settings, Mapping) else None
    return f"{job['type']}/{sub}" if sub else str(job["type"])


def _load_default_template() -> str:
    try:
        module = importlib.import_module("._template", __package__)
        template = module.EXPORT_TEMPLATE
    except (ImportError, AttributeError) as exc:
        raise InvalidRequestError(
            "no packaged export template is available; pass template=", field="template"
        ) from exc
    if not isinstance(template, str):
        raise InvalidRequestError("the packaged EXPORT_TEMPLATE is not a string", field="template")
    return template


_POLICY_MISSING_TEXT: Final = re.compile(
    r"\bpolicy\b[^.]{0,40}\b(not found|unknown|does not exist|doesn't exist)"
    r"|\b(unknown|invalid|no such) policy\b",
    re.IGNORECASE,
)


@contextlib.contextmanager
def _policy_errors(policy_ids: tuple[str, ...]) -> Iterator[None]:
    """Turn "no such policy" answers (404, or a 410 saying so) into PolicyNotFoundError."""
    try:
        yield
    except PolicyNotFoundError:
        raise
    except (NotFoundError, ValidationError) as exc:
        if isinstance(exc, ValidationError) and not _POLICY_MISSING_TEXT.search(exc.message):
            raise
        named = tuple(pid for pid in policy_ids if f"'{pid}'" in exc.message) or policy_ids
        raise PolicyNotFoundError(
            named,
            exc.message,
            response_code=exc.response_code,
            http_status=exc.http_status,
            body=exc.body,
            job=exc.job,
        ) from exc


class ExpensifyClient:
    """A typed client for the Expensify (Classic) Integration Server.

    Construct with keyword arguments only; nothing is sent until a method is called. Pass
    ``http_client`` to reuse your own :class:`httpx.Client` (never closed by us), or
    ``transport`` (e.g. :class:`httpx.MockTransport` over the emulator). Use as a context
    manager to close the connection pool it owns.
    """

    def __init__(
        self,
        *,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        options: ClientOptions = ClientOptions(),
    ) -> None:
        if http_client is not None and transport is not None:
            raise ValueError("pass either http_client or transport, not both")
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be an expensify_client.Credentials")
        self._credentials = credentials
        self._base_url = base_url
        self._options = options
        self._limiter = options.limits or RateLimiter(sleep=options.sleep)
        self._connection = _Connection(http_client, transport)
        self.calls = 0  # HTTP requests sent (retries included), for API-budget accounting

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        return f"ExpensifyClient(base_url={self._base_url!r}, credentials={self._credentials!r})"

    def __enter__(self) -> ExpensifyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool this client (or the client it was derived from) owns."""
        self._connection.close()

    @property
    def options(self) -> ClientOptions:
        """The client's options (``limits`` is the limiter actually in use)."""
        return attrs.evolve(self._options, limits=self._limiter)

    @property
    def base_url(self) -> str:
        """The Integration Server URL every job is posted to."""
        return self._base_url

    def with_options(
        self,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        limits: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> ExpensifyClient:
        """A copy with some options changed, sharing this client's pool and rate limiter."""
        changes: dict[str, Any] = {"limits": limits or self._limiter}
        if timeout is not None:
            changes["timeout"] = timeout
        if retry is not None:
            changes["retry"] = retry
        if sleep is not None:
            changes["sleep"] = sleep
        clone = ExpensifyClient.__new__(ExpensifyClient)
        clone._credentials = self._credentials
        clone._base_url = base_url or self._base_url
        clone._options = attrs.evolve(self._options, **changes)
        clone._limiter = clone._options.limits or self._limiter
        clone._connection = self._connection
        clone.calls = 0
        return clone

    # ------------------------------------------------------------------ sending

    def _send(
        self,
        job: Mapping[str, Any],
        *,
        reader: Callable[[httpx.Response], _T],
        repeatable: bool,
        extra: Mapping[str, str] | None = None,
    ) -> _T:
        """POST ``job`` (credentials inserted here) and read the outcome with ``reader``."""
        kind = _job_kind(job)
        wire: dict[str, Any] = {"type": job["type"], "credentials": self._credentials.to_wire()}
        wire.update((k, v) for k, v in job.items() if k != "type")
        # ASCII-safe JSON (non-ASCII as \u escapes): correct whatever charset the server
        # assumes for the urlencoded form.
        form = {"requestJobDescription": json.dumps(wire, separators=(",", ":"), ensure_ascii=True)}
        form.update(extra or {})
        secrets = (self._credentials.partner_user_secret,)
        attempts = 0

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, RateLimitError):
                return True
            return repeatable and isinstance(exc, APIConnectionError | ServerError)

        def once() -> _T:
            nonlocal attempts
            attempts += 1
            key = self._credentials.partner_user_id
            reserved = self._limiter.wait(key)
            self.calls += 1
            started = time.perf_counter()
            status: int | str = "-"
            code: int | str = "-"
            try:
                try:
                    response = self._connection.get().post(
                        self._base_url,
                        data=form,
                        headers={RETRY_COUNT_HEADER: str(attempts - 1)},
                        timeout=self._options.timeout,
                    )
                except httpx.TimeoutException as exc:
                    status = type(exc).__name__
                    raise APITimeoutError(
                        f"{kind}: request timed out ({type(exc).__name__})"
                    ) from exc
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                    detail = redact(str(exc), secrets)
                    raise APIConnectionError(f"{kind}: {type(exc).__name__}: {detail}") from exc
                status = response.status_code
                try:
                    result = reader(response)
                except APIStatusError as exc:
                    code = exc.response_code
                    raise
                code = "ok"
                return result
            finally:
                # Space later calls from this call's completion (an upper bound of when the
                # server counted it), not from its send time.
                self._limiter.finished(key, reserved)
                logger.debug(
                    "expensify POST job=%s http=%s responseCode=%s attempt=%d duration=%.3fs",
                    kind,
                    status,
                    code,
                    attempts,
                    time.perf_counter() - started,
                )

        retrying = make_retrying(
            self._options.retry,
            should_retry=should_retry,
            sleep=self._options.sleep,
            uniform=self._options.jitter,
            describe=kind,
        )
        return retrying(once)

    def _json(
        self, job: Mapping[str, Any], *, repeatable: bool, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        kind = _job_kind(job)
        secrets = (self._credentials.partner_user_secret,)

        def reader(response: httpx.Response) -> dict[str, Any]:
            body = check_envelope(response, job=kind, secrets=secrets)
            if body is None or "responseCode" not in body:
                raise ResponseValidationError(
                    "expected a JSON envelope with responseCode", job=kind, field="responseCode"
                )
            return body

        return self._send(job, reader=reader, repeatable=repeatable, extra=extra)

    # ------------------------------------------------------------------ exports

    def export_files(
        self, request: ExportRequest, template: str | None = None, *, today: date | None = None
    ) -> tuple[str, ...]:
        """Start a report export; return the generated file name(s) (several for pdf).

        ``template`` defaults to the packaged ``EXPORT_TEMPLATE``. ``today`` (default: the
        options' clock, UTC) drives the filters' one-year rule. An export with a
        ``markAsExported`` action is never re-sent after a transport error or 5xx.
        """
        text = _load_default_template() if template is None else template
        if not text.strip():
            raise InvalidRequestError("the template must be a non-empty string", field="template")
        job = export_job(request, today=today or self._options.today())
        secrets = (self._credentials.partner_user_secret,)
        return self._send(
            job,
            reader=lambda r: export_file_names(r, secrets=secrets),
            repeatable=not request.marks,
            extra={"template": text},
        )

    def export_reports(
        self, request: ExportRequest, template: str | None = None, *, today: date | None = None
    ) -> str:
        """Start a report export that yields one file; return its name.

        Raises :class:`ResponseValidationError` when the server produced several files
        (pdf: one per report); use :meth:`export_files` for those.
        """
        names = self.export_files(request, template, today=today)
        if len(names) != 1:
            raise ResponseValidationError(
                f"export produced {len(names)} files; use export_files()",
                job="file/combinedReportData",
                field="<body>",
            )
        return names[0]

    def download(
        self,
        file_name: str,
        *,
        max_polls: int = 12,
        poll_interval: float = 5.0,
        file_system: FileSystem = "integrationServer",
    ) -> bytes:
        """Download an exported file, polling while it is not rendered yet.

        Each poll is one download job through the rate limiter; between polls the client
        sleeps ``poll_interval`` seconds (the injected sleep). After ``max_polls`` polls
        without the file, raises :class:`FileNotReadyError` (retryable: the file name stays
        valid, download it later rather than exporting again). A "File not found" answer
        (a name that never existed or expired) raises :class:`FileNotFoundOnServerError`
        within two requests: the first one is given one more poll, the second is final.
        """
        if max_polls < 1:
            raise InvalidRequestError("max_polls must be >= 1", field="max_polls")
        job = download_job(file_name, file_system=file_system)
        secrets = (self._credentials.partner_user_secret,)
        not_found = 0
        for poll in range(1, max_polls + 1):
            try:
                content = self._send(
                    job,
                    reader=lambda r: download_body(r, secrets=secrets, file_name=file_name),
                    repeatable=True,
                )
            except FileNotFoundOnServerError:
                # One "File not found" may be a file whose rendering has not registered it
                # yet (the not-ready signal is undocumented); a second one is final.
                not_found += 1
                if not_found >= 2 or poll == max_polls:
                    raise
                content = None
            if content is not None:
                return content
            logger.debug("expensify download not ready: poll %d of %d", poll, max_polls)
            if poll < max_polls:
                self._options.sleep(poll_interval)
        raise FileNotReadyError(file_name, max_polls)

    def export_and_download(
        self,
        request: ExportRequest,
        template: str | None = None,
        *,
        today: date | None = None,
        max_polls: int = 12,
        poll_interval: float = 5.0,
    ) -> bytes:
        """Export (one file) and download it; the export is never repeated while polling."""
        name = self.export_reports(request, template, today=today)
        return self.download(name, max_polls=max_polls, poll_interval=poll_interval)

    # ------------------------------------------------------------------ policies

    def get_policy_list(self, *, admin_only: bool | None = None) -> tuple[PolicySummary, ...]:
        """The policies the credentials' account can see (``adminOnly`` filters to admin)."""
        return parse_policy_list(
            self._json(policy_list_job(admin_only=admin_only), repeatable=True)
        )

    def get_policies(
        self, ids: Iterable[str], fields: Iterable[str] = DEFAULT_POLICY_FIELDS
    ) -> dict[str, Policy]:
        """Policies by ID with the requested sections (both tag shapes are understood)."""
        job = policy_get_job(ids, fields)
        requested = tuple(job["inputSettings"]["policyIDList"])
        with _policy_errors(requested):
            body = self._json(job, repeatable=True)
        return parse_policies(body, requested)

    def update_policy(
        self,
        policy_id: str,
        *,
        categories: Sequence[Category] | None = None,
        categories_action: CategoriesAction = "merge",
        tags: Sequence[TagLevel] | None = None,
    ) -> None:
        """Update a policy's categories and/or tags (tags: replaces the whole tag list)."""
        job = policy_update_job(
            policy_id, categories=categories, categories_action=categories_action, tags=tags
        )
        with _policy_errors((policy_id,)):
            self._json(job, repeatable=False)

    # ------------------------------------------------------------------ employees, reports

    def update_employees(
        self,
        records: Iterable[EmployeeRecord],
        *,
        dry_run: bool = False,
        set_primary_policy: PrimaryPolicyMode = "none",
        fix_approval_chains: bool = True,
        skip_notification_email: bool = False,
    ) -> EmployeeUpdateResult:
        """Run the Advanced Employee Updater with ``records`` as the feed."""
        feed = employee_feed(records)
        job = employee_update_job(
            dry_run=dry_run,
            set_primary_policy=set_primary_policy,
            fix_approval_chains=fix_approval_chains,
            skip_notification_email=skip_notification_email,
        )
        data = json.dumps(feed, separators=(",", ":"), ensure_ascii=True)
        body = self._json(job, repeatable=dry_run, extra={"data": data})
        return parse_employee_update(body)

    def mark_reimbursed(self, report_ids: Iterable[str]) -> ReportStatusResult:
        """Move Approved reports to Reimbursed; skipped/failed reports are returned, not raised."""
        return parse_report_status(self._json(report_status_job(report_ids), repeatable=False))
