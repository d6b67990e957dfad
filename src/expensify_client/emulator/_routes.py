"""``ExpensifyEmulator``: request parsing, the auth and rate-limit gates, faults, routing.

The emulator is a plain ``Callable[[httpx.Request], httpx.Response]``: pass
:meth:`ExpensifyEmulator.transport` to a client, or :meth:`ExpensifyEmulator.serve` it on
127.0.0.1. Only ``POST /Integration-Server/ExpensifyIntegrations`` reaches the jobs; the
control plane (JSON) lives under ``/_emulator/``.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

import attrs
import httpx

from .._models import Category, Employee, ReportField, TagLevel
from .._results import parse_policies
from ._backend import Backend
from ._errors import (
    AUTH_MESSAGE,
    RATE_LIMIT_MESSAGE,
    EmulatorStateError,
    JobError,
    bad_argument,
    envelope,
    json_response,
    missing,
)
from ._faults import Fault, FaultPlan
from ._freemarker import FreeMarkerRenderer
from ._handlers import (
    FORWARD_KEYS,
    HANDLERS,
    RENDERERS,
    UNMODIFIED_VALUES,
    JobContext,
    ServerOptions,
    ServletError,
    UnknownParameterError,
    credentials_allowed,
    job_kind,
)
from ._lenient_json import LenientJSONError, loads_object
from ._ratelimit import SlidingWindowLimiter
from ._seed import ExpenseSpec
from ._server import API_PATH, LoopbackServer

__all__ = [
    "API_PATH",
    "CONTROL_PREFIX",
    "CREDENTIAL_ERRORS",
    "DEFAULT_ACCOUNT_EMAIL",
    "DEFAULT_PARTNER_USER_ID",
    "DEFAULT_PARTNER_USER_SECRET",
    "ExpensifyEmulator",
    "LoggedRequest",
    "live_like_freemarker",
]

logger = logging.getLogger(__name__)

#: Prefix of the JSON control plane.
CONTROL_PREFIX: Final = "/_emulator/"
#: The emulator's default partner credentials (``ExpensifyEmulator(default_account=True)``
#: registers them, acting as :data:`DEFAULT_ACCOUNT_EMAIL`). Public test values, not secrets.
DEFAULT_PARTNER_USER_ID: Final = "aa_emulator_example_com"
#: See :data:`DEFAULT_PARTNER_USER_ID`.
DEFAULT_PARTNER_USER_SECRET: Final = "emulator-partner-secret"  # noqa: S105 (public test value)
#: The Expensify login the default credentials act as.
DEFAULT_ACCOUNT_EMAIL: Final = "owner@example.com"
#: How bad credentials are answered (``credential_errors``): ``"407"`` -- HTTP 200 with
#: ``{"responseCode": 407, ...}`` (default); ``"401"`` -- the servlet's HTTP 401
#: ``Unauthorized`` page; ``"403"`` -- the servlet's HTTP 403 ``Invalid Credentials`` page
#: (the last two are what Expensify's 2013 script matched). See ``COVERAGE.md``.
CREDENTIAL_ERRORS: Final = frozenset({"407", "401", "403"})
_RETRY_HEADER: Final = "x-expensify-client-retry-count"


def live_like_freemarker() -> FreeMarkerRenderer:
    """The engine configured as the live server appears to be (see ``COVERAGE.md``).

    ``classic_compatible`` (a missing value prints as empty: a production third-party
    template increments a variable it never assigns) and ``number_format="computer"`` (no
    digit grouping: Expensify's own CSV sample prints ``${expense.amount}`` bare, and
    third-party JSON templates do the same and parse the result as JSON).
    """
    return FreeMarkerRenderer(classic_compatible=True, number_format="computer")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class LoggedRequest:
    """One request the emulator answered (never the secret, the template or the feed)."""

    at: datetime
    method: str
    path: str
    job: str | None
    partner_user_id: str | None
    http_status: int
    response_code: int | None
    retry_count: int | None
    fault: bool = False


def _parse_multipart(content: bytes, content_type: str) -> dict[str, list[str]]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + content
    )
    fields: dict[str, list[str]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields.setdefault(name, []).append(raw.decode("utf-8", "replace"))
    return fields


def _form(request: httpx.Request) -> dict[str, list[str]]:
    """The POST body's form fields (urlencoded or multipart); other bodies carry none."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    body = request.content
    if media == "application/x-www-form-urlencoded":
        try:
            return parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise bad_argument("requestJobDescription") from None
    if media == "multipart/form-data":
        return _parse_multipart(body, content_type)
    return {}


def _first(fields: Mapping[str, list[str]], name: str) -> str | None:
    """``ServletRequest.getParameter``: the first value (query string first), or None."""
    values = fields.get(name)
    return values[0] if values else None


def _parameters(request: httpx.Request) -> dict[str, list[str]]:
    """Every request parameter as a Java servlet sees it: query string, then the body.

    The live server reads parameters from both places (the help site's Postman guide sends
    the job in the query string and the template in the body; a published Go client sends
    both in the query string of a body-less POST). Values of a name given twice keep that
    order and the first one wins, as with ``getParameter``.
    """
    try:
        query = parse_qs(request.url.query.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise bad_argument("requestJobDescription") from None
    fields: dict[str, list[str]] = {name: list(values) for name, values in query.items()}
    for name, values in _form(request).items():
        fields.setdefault(name, []).extend(values)
    return fields


class ExpensifyEmulator:
    """A strict, in-memory Expensify Integration Server.

    ``clock`` (tz-aware UTC datetimes; default: the real clock) drives the rate-limit
    windows, the one-year export rule and the reimbursement time. Downloads answer "not
    ready" (an empty 200) ``download_not_ready_polls`` times per file before serving it.
    ``rate_limits=False`` turns the 5-per-10 s / 20-per-60 s windows off. ``sleep`` is
    used by injected ``delay`` faults (default :func:`time.sleep`).

    Switches for answers where the evidence allows several readings (``COVERAGE.md``):

    * ``category_gl_codes`` -- the policy getter's categories carry ``glCode`` and
      ``payrollCode`` (default False: the documented ``{name, enabled,
      areCommentsRequired}``);
    * ``flat_tags`` -- the policy getter answers tags as the documented flat list of
      ``"Level1:Level2"`` names (default False: one entry per level);
    * ``forward_keys`` -- ``"getter"`` (default: ``forwardsTo``/``overLimitForwardsTo``)
      or ``"updater"`` (``approvesTo``/``overLimitApprover``) in the getter's employees;
    * ``report_field_value_objects`` -- the policy getter answers dropdown values as
      ``{"value": ..., "enabled": true}`` objects (default False: strings, as documented);
    * ``file_lifetime`` -- exported files answer "File not found" once older (default:
      they never expire);
    * ``unmodified_values`` -- what never-edited expenses carry in ``modifiedAmount``,
      ``modifiedMerchant``, ``modifiedCreated``: ``"zero"`` (default: ``0``, ``""``,
      ``""``) or ``"missing"`` (null); ``modified_flag`` -- also export the boolean
      ``modified`` (default False: absent);
    * ``unknown_keys`` -- ``"reject"`` (default: 410 ``Unknown parameter '<key>' in
      '<object>'``, which surfaces misspellings) or ``"ignore"`` (as the live server is
      reported to do; for third-party clients that send extra keys);
    * ``credential_errors`` -- one of :data:`CREDENTIAL_ERRORS` (default ``"407"``);
    * ``renderer`` -- ``"auto"`` (default: the Python rendition for the project's own
      template, the real FreeMarker engine for any other), ``"python"`` or
      ``"freemarker"``; ``freemarker`` -- the engine (default:
      :func:`live_like_freemarker`, a :class:`~expensify_client.emulator.FreeMarkerRenderer`
      over Debian's jar with ``classic_compatible`` and ``number_format="computer"``; nothing
      is started before the first third-party template);
    * ``default_account`` -- register :data:`DEFAULT_PARTNER_USER_ID` /
      :data:`DEFAULT_PARTNER_USER_SECRET` acting as :data:`DEFAULT_ACCOUNT_EMAIL` (also
      after :meth:`reset`).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        download_not_ready_polls: int = 0,
        rate_limits: bool = True,
        sleep: Callable[[float], None] | None = None,
        category_gl_codes: bool = False,
        flat_tags: bool = False,
        forward_keys: str = "getter",
        report_field_value_objects: bool = False,
        file_lifetime: timedelta | None = None,
        unmodified_values: str = "zero",
        modified_flag: bool = False,
        credential_errors: str = "407",
        unknown_keys: str = "reject",
        renderer: str = "auto",
        freemarker: FreeMarkerRenderer | None = None,
        default_account: bool = False,
    ) -> None:
        if download_not_ready_polls < 0:
            raise ValueError("download_not_ready_polls must be >= 0")
        if forward_keys not in FORWARD_KEYS:
            raise ValueError(f"forward_keys must be one of {sorted(FORWARD_KEYS)}")
        if credential_errors not in CREDENTIAL_ERRORS:
            raise ValueError(f"credential_errors must be one of {sorted(CREDENTIAL_ERRORS)}")
        if unmodified_values not in UNMODIFIED_VALUES:
            raise ValueError(f"unmodified_values must be one of {sorted(UNMODIFIED_VALUES)}")
        if unknown_keys not in ("reject", "ignore"):
            raise ValueError("unknown_keys must be 'reject' or 'ignore'")
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {sorted(RENDERERS)}")
        if file_lifetime is not None and file_lifetime <= timedelta(0):
            raise ValueError("file_lifetime must be positive")
        self._clock = clock or _utc_now
        self._sleep = sleep or time.sleep
        self.download_not_ready_polls = download_not_ready_polls
        self.rate_limits = rate_limits
        self.credential_errors = credential_errors
        self.unknown_keys = unknown_keys
        self.options = ServerOptions(
            category_gl_codes=category_gl_codes,
            flat_tags=flat_tags,
            forward_keys=forward_keys,
            report_field_value_objects=report_field_value_objects,
            file_lifetime=file_lifetime,
            unmodified_values=unmodified_values,
            modified_flag=modified_flag,
            renderer=renderer,
            freemarker=freemarker if freemarker is not None else live_like_freemarker(),
        )
        self._default_account = default_account
        self._backend = Backend(self._clock)
        self._limiter = SlidingWindowLimiter(self._backend.now)
        self._faults = FaultPlan()
        self._log: list[LoggedRequest] = []
        self._receipts: dict[str, tuple[bytes, str]] = {}  # name -> (content, content type)
        if default_account:
            self.add_account()

    def add_receipt(self, name: str, content: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``content`` at ``GET /receipts/<name>`` (the path returned; no auth, like
        the receipt links of the export's ``receiptObject.url``). Use the path under the
        loopback server's ``base_url`` as an expense's ``receipt_url``."""
        if not name or "/" in name:
            raise ValueError("a receipt name is one path segment")
        self._receipts[name] = (bytes(content), content_type)
        return f"/receipts/{name}"

    # ------------------------------------------------------------------ transport

    def transport(self) -> httpx.MockTransport:
        """An :class:`httpx.MockTransport` over this emulator."""
        return httpx.MockTransport(self)

    @contextlib.contextmanager
    def serve(self) -> Iterator[LoopbackServer]:
        """Serve over real HTTP on 127.0.0.1 (ephemeral port) for the ``with`` block."""
        server = LoopbackServer(self)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as the Integration Server (or the control plane) would."""
        path = request.url.path
        if path.startswith(CONTROL_PREFIX):
            return self._control(request)
        if path.startswith("/receipts/") and request.method.upper() == "GET":
            found = self._receipts.get(path.removeprefix("/receipts/"))
            if found is None:
                return ServletError(404, "Not Found").to_response()
            return httpx.Response(200, content=found[0], headers={"Content-Type": found[1]})
        if path != API_PATH:
            return ServletError(404, "Not Found").to_response()
        if request.method.upper() != "POST":
            return ServletError(405, "HTTP method GET is not supported by this URL").to_response()
        state: dict[str, Any] = {"job": None, "pid": None, "fault": False}
        try:
            response = self._api(request, state)
        except JobError as exc:
            response = exc.to_response()
        except ServletError as exc:
            response = exc.to_response()
        except httpx.TimeoutException:
            self._record(request, state, 0, None)
            raise
        self._record(request, state, response.status_code, _code_of(response))
        return response

    # ------------------------------------------------------------------ API

    def _api(self, request: httpx.Request, state: dict[str, Any]) -> httpx.Response:
        fields = _parameters(request)
        raw = _first(fields, "requestJobDescription")
        if raw is None or not raw.strip():
            raise missing("requestJobDescription")
        try:
            job = loads_object(raw)
        except LenientJSONError as exc:
            # org.json's exception escapes the servlet: Tomcat's 500 page (the official
            # script matched "HTTP Status 500 - JSONObject").
            raise ServletError(500, f"JSONObject: {exc}") from None
        kind = job_kind(job)
        state["job"] = kind
        credentials = job.get("credentials")
        pid = credentials.get("partnerUserID") if isinstance(credentials, Mapping) else None
        state["pid"] = pid if isinstance(pid, str) else None
        fault = self._faults.take(kind)
        if fault is not None:
            state["fault"] = True
            if fault.delay:
                self._sleep(fault.delay)
            early = self._fault_response(fault)
            if early is not None:
                return early
        if self.rate_limits and state["pid"] is not None:
            wait = self._limiter.hit(state["pid"])
            if wait is not None:
                raise JobError(429, RATE_LIMIT_MESSAGE, http_status=429)
        job_type = job.get("type")
        if not isinstance(job_type, str) or job_type not in HANDLERS:
            raise bad_argument("type")
        if not isinstance(credentials, Mapping) or set(credentials) - credentials_allowed(job_type):
            raise self._credential_error()
        account = self._backend.authenticate(
            credentials.get("partnerUserID"), credentials.get("partnerUserSecret")
        )
        if account is None:
            raise self._credential_error()
        context = JobContext(
            job=job,
            account=account,
            backend=self._backend,
            template=_first(fields, "template"),
            data=_first(fields, "data"),
            file=_first(fields, "file"),
            download_not_ready_polls=self.download_not_ready_polls,
            options=self.options,
        )
        response = self._run(job_type, context)
        if fault is not None and fault.drop_response:
            raise httpx.ReadTimeout("emulator fault: response dropped", request=request)
        return response

    def _run(self, job_type: str, context: JobContext) -> httpx.Response:
        """The job's handler; with ``unknown_keys="ignore"``, unknown keys are dropped."""
        for _ in range(200):
            try:
                return HANDLERS[job_type](context)
            except UnknownParameterError as exc:
                if self.unknown_keys != "ignore" or not isinstance(exc.container, dict):
                    raise
                del exc.container[exc.key]  # as live: an unknown key is ignored
        raise JobError(410, "Too many unknown parameters")

    def _credential_error(self) -> JobError | ServletError:
        if self.credential_errors == "401":
            return ServletError(401, "Unauthorized")
        if self.credential_errors == "403":
            return ServletError(403, "Invalid Credentials")
        return JobError(407, AUTH_MESSAGE)

    @staticmethod
    def _fault_response(fault: Fault) -> httpx.Response | None:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.status is not None:
            message = (
                RATE_LIMIT_MESSAGE if fault.status == 429 else f"Injected fault {fault.status}"
            )
            return envelope(fault.status, message, http_status=fault.status, headers=headers)
        if fault.response_code is not None:
            code = fault.response_code
            message = (
                RATE_LIMIT_MESSAGE
                if code == 429
                else AUTH_MESSAGE
                if code in (401, 407)
                else f"Injected fault {code}"
            )
            return envelope(code, message, headers=headers)
        return None

    def _record(
        self, request: httpx.Request, state: Mapping[str, Any], status: int, code: int | None
    ) -> None:
        retry = request.headers.get(_RETRY_HEADER)
        entry = LoggedRequest(
            at=self._backend.now(),
            method=request.method,
            path=request.url.path,
            job=state.get("job"),
            partner_user_id=state.get("pid"),
            http_status=status,
            response_code=code,
            retry_count=int(retry) if retry is not None and retry.isdigit() else None,
            fault=bool(state.get("fault")),
        )
        with self._backend.lock:
            self._log.append(entry)
        logger.debug("expensify emulator job=%s http=%s responseCode=%s", entry.job, status, code)

    # ------------------------------------------------------------------ control plane (Python)

    def add_account(
        self,
        partner_user_id: str = DEFAULT_PARTNER_USER_ID,
        partner_user_secret: str = DEFAULT_PARTNER_USER_SECRET,
        *,
        email: str = DEFAULT_ACCOUNT_EMAIL,
    ) -> None:
        """Register partner credentials acting as the Expensify login ``email``.

        Without arguments: the public default credentials (:data:`DEFAULT_PARTNER_USER_ID`,
        :data:`DEFAULT_PARTNER_USER_SECRET`) acting as :data:`DEFAULT_ACCOUNT_EMAIL`.
        """
        self._backend.add_account(partner_user_id, partner_user_secret, email=email)

    def add_policy(
        self,
        policy_id: str,
        name: str,
        *,
        owner: str,
        output_currency: str = "USD",
        categories: Sequence[Category] = (),
        tag_levels: Sequence[TagLevel] = (),
        report_fields: Sequence[ReportField] = (),
        employees: Sequence[Employee] = (),
        policy_type: str = "corporate",
        approval_mode: str = "submit_and_approve",
    ) -> None:
        """Create (or replace) a policy; the owner is always an admin member.

        ``approval_mode="submit_and_close"`` plays Expensify's "Submit and Close" workflow:
        a submitted report goes straight to ``ARCHIVED`` (website: Closed), never
        ``APPROVED``.
        """
        self._backend.add_policy(
            policy_id,
            name,
            owner=owner,
            output_currency=output_currency,
            policy_type=policy_type,
            approval_mode=approval_mode,
            categories=categories,
            tag_levels=tag_levels,
            report_fields=report_fields,
            employees=employees,
        )

    def add_report(
        self,
        policy_id: str,
        *,
        submitter: str,
        name: str,
        currency: str,
        expenses: Sequence[ExpenseSpec],
        created: datetime,
        report_id: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> str:
        """Create an OPEN report; returns its ID (generated ``R…`` when ``report_id`` is None).

        ``fields`` are report-field values by field name (exported as ``customField``).
        """
        return self._backend.add_report(
            policy_id,
            submitter=submitter,
            name=name,
            currency=currency,
            expenses=expenses,
            created=created,
            report_id=report_id,
            fields=fields,
        )

    def submit(self, report_id: str, at: datetime) -> None:
        """OPEN -> SUBMITTED."""
        self._backend.submit(report_id, at)

    def approve(self, report_id: str, at: datetime, by: str | None = None) -> None:
        """SUBMITTED -> APPROVED (``by``: the approver; default the submitter's submitsTo)."""
        self._backend.approve(report_id, at, by)

    def reimburse(self, report_id: str, at: datetime) -> None:
        """APPROVED -> REIMBURSED (refused for a card-only report, final at APPROVED)."""
        self._backend.reimburse(report_id, at)

    def reject(self, report_id: str, at: datetime) -> None:
        """SUBMITTED/APPROVED -> OPEN."""
        self._backend.reject(report_id, at)

    def reopen(self, report_id: str, at: datetime) -> None:
        """Any state but OPEN -> OPEN."""
        self._backend.reopen(report_id, at)

    def archive(self, report_id: str, at: datetime) -> None:
        """APPROVED/REIMBURSED -> ARCHIVED (website: Closed)."""
        self._backend.archive(report_id, at)

    def mark_exported(self, report_id: str, label: str) -> None:
        """Label a report as exported (as an earlier ``markAsExported`` would have)."""
        self._backend.mark_exported(report_id, label)

    def refuse_marks(self, report_id: str, refuse: bool = True) -> None:
        """Nasty answer: later ``markAsExported`` actions leave this report unlabelled.

        The export still answers its file name (the live answer never lists the reports
        marked); only a later read (an export filtered by ``markedAsExported``, or
        :meth:`exported_labels`) shows the label is missing.
        """
        self._backend.refuse_marks(report_id, refuse)

    def report(self, report_id: str) -> dict[str, Any]:
        """A report's export data model plus ``state`` and ``exportedLabels``."""
        return self._backend.report_view(report_id)

    def policy(self, policy_id: str) -> dict[str, Any]:
        """A policy in the getter's wire shape (every section) plus id/name/owner."""
        return self._backend.policy_view(policy_id)

    def exported_labels(self, report_id: str) -> frozenset[str]:
        """The export labels a report carries."""
        with self._backend.lock:
            if report_id not in self._backend.reports:
                raise EmulatorStateError(f"unknown report {report_id!r}")
            return frozenset(self._backend.reports[report_id].labels)

    def files(self) -> dict[str, bytes]:
        """Generated export files by name."""
        with self._backend.lock:
            return {name: f.content for name, f in self._backend.files.items()}

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every API request answered so far (a copy)."""
        with self._backend.lock:
            return list(self._log)

    def reset(self) -> None:
        """Forget all state, requests, faults and rate-limit history."""
        self._backend.reset()
        self._limiter.reset()
        self._faults.clear()
        with self._backend.lock:
            self._log.clear()
        if self._default_account:
            self.add_account()

    def inject(
        self,
        *,
        job_type: str | None = None,
        status: int | None = None,
        response_code: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        drop_response: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` jobs matching ``job_type`` fail (see :class:`Fault`)."""
        if status is not None and response_code is not None:
            raise ValueError("pass status (HTTP) or response_code (body), not both")
        if status is None and response_code is None and delay is None and not drop_response:
            raise ValueError("a fault needs status, response_code, delay or drop_response")
        self._faults.add(
            Fault(
                job_type=job_type,
                status=status,
                response_code=response_code,
                retry_after=retry_after,
                delay=delay,
                drop_response=drop_response,
                times=times,
            )
        )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """Fault uses not consumed yet."""
        return self._faults.pending

    # ------------------------------------------------------------------ control plane (HTTP)

    def _control(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path[len(CONTROL_PREFIX) :].strip("/")
        method = request.method.upper()
        try:
            body: Any = json.loads(request.content) if request.content.strip() else {}
        except ValueError:
            return json_response({"error": "body is not JSON"}, http_status=400)
        if not isinstance(body, dict):
            return json_response({"error": "body must be a JSON object"}, http_status=400)
        try:
            result = self._control_route(method, path, body)
        except (EmulatorStateError, KeyError) as exc:
            status = 404 if isinstance(exc, KeyError) or "unknown" in str(exc) else 409
            return json_response({"error": str(exc)}, http_status=status)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, http_status=400)
        if result is None:
            return json_response({"error": f"no route {method} /{path}"}, http_status=404)
        return json_response(result)

    def _control_route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        parts = path.split("/")
        if (method, path) == ("POST", "reset"):
            self.reset()
            return {"ok": True}
        if (method, path) == ("POST", "accounts"):
            self.add_account(
                body.get("partnerUserID", DEFAULT_PARTNER_USER_ID),
                body.get("partnerUserSecret", DEFAULT_PARTNER_USER_SECRET),
                email=body.get("email", DEFAULT_ACCOUNT_EMAIL),
            )
            return {"ok": True}
        if (method, path) == ("POST", "policies"):
            self._seed_policy(body)
            return {"ok": True}
        if method == "GET" and len(parts) == 2 and parts[0] == "policies":
            return self.policy(parts[1])
        if (method, path) == ("POST", "reports"):
            return {"reportID": self._seed_report(body)}
        if method == "GET" and len(parts) == 2 and parts[0] == "reports":
            return self.report(parts[1])
        if method == "POST" and len(parts) == 3 and parts[0] == "reports":
            return self._advance(parts[1], parts[2], body)
        if (method, path) == ("GET", "requests"):
            return [_log_wire(entry) for entry in self.request_log]
        if (method, path) == ("POST", "faults"):
            self.inject(
                job_type=body.get("jobType"),
                status=body.get("status"),
                response_code=body.get("responseCode"),
                retry_after=body.get("retryAfter"),
                delay=body.get("delay"),
                drop_response=bool(body.get("dropResponse", False)),
                times=int(body.get("times", 1)),
            )
            return {"pending": self.pending_faults}
        if (method, path) == ("DELETE", "faults"):
            self.clear_faults()
            return {"pending": 0}
        return None

    def _advance(self, report_id: str, step: str, body: Mapping[str, Any]) -> Any:
        if step == "refuse-marks":
            self.refuse_marks(report_id, bool(body.get("refuse", True)))
            return self.report(report_id)
        at = _datetime(body.get("at"), "at")
        if step == "approve":
            self.approve(report_id, at, body.get("by"))
        elif step == "label":
            self.mark_exported(report_id, str(body.get("label", "")))
        else:
            actions: dict[str, Callable[[str, datetime], None]] = {
                "submit": self.submit,
                "reimburse": self.reimburse,
                "reject": self.reject,
                "reopen": self.reopen,
                "archive": self.archive,
            }
            if step not in actions:
                return None
            actions[step](report_id, at)
        return self.report(report_id)

    def _seed_policy(self, body: Mapping[str, Any]) -> None:
        """Seed from the policy getter's wire shape (parsed by the client's own reader)."""
        policy_id = str(body["policyID"])
        sections = {
            k: body[k] for k in ("categories", "tags", "reportFields", "employees") if k in body
        }
        parsed = parse_policies({"policyInfo": {policy_id: sections}}, (policy_id,))[policy_id]
        self.add_policy(
            policy_id,
            str(body["name"]),
            owner=str(body["owner"]),
            output_currency=str(body.get("outputCurrency", "USD")),
            approval_mode=str(body.get("approvalMode", "submit_and_approve")),
            categories=parsed.categories,
            tag_levels=parsed.tag_levels,
            report_fields=parsed.report_fields,
            employees=parsed.employees,
        )

    def _seed_report(self, body: Mapping[str, Any]) -> str:
        expenses = [
            ExpenseSpec(
                amount_cents=int(e["amount"]),
                currency=str(e["currency"]),
                created=date.fromisoformat(str(e["created"])),
                merchant=str(e.get("merchant", "")),
                category=e.get("category"),
                tags=tuple(e.get("tags", ())),
                comment=str(e.get("comment", "")),
                reimbursable=bool(e.get("reimbursable", True)),
                billable=bool(e.get("billable", False)),
                transaction_id=e.get("transactionID"),
                external_id=e.get("externalID"),
                converted_amount_cents=e.get("convertedAmount"),
            )
            for e in body.get("expenses", [])
        ]
        return self.add_report(
            str(body["policyID"]),
            submitter=str(body["submitter"]),
            name=str(body["name"]),
            currency=str(body["currency"]),
            expenses=expenses,
            created=_datetime(body.get("created"), "created"),
            report_id=body.get("reportID"),
            fields=body.get("fields"),
        )


def _datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an ISO 8601 date-time with a zone")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry a time zone")
    return parsed


def _log_wire(entry: LoggedRequest) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "method": entry.method,
        "path": entry.path,
        "job": entry.job,
        "partnerUserID": entry.partner_user_id,
        "httpStatus": entry.http_status,
        "responseCode": entry.response_code,
        "retryCount": entry.retry_count,
        "fault": entry.fault,
    }


_CODE_RE: Final = re.compile(rb'^\s*\{.*"responseCode"\s*:\s*(\d+)', re.DOTALL)


def _code_of(response: httpx.Response) -> int | None:
    match = _CODE_RE.match(response.content[:200])
    return int(match.group(1)) if match else None
