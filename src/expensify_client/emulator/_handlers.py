"""One handler per job: read the job strictly, call the backend, render the answer.

Handlers receive a :class:`JobContext` (the decoded job, the sibling form fields, the
authenticated account) and return an :class:`httpx.Response` or raise
:class:`~._errors.JobError`. Unknown keys are rejected with a 410 naming them (the live
server ignores them; rejecting surfaces misspellings such as ``fileBaseName`` or
``reportStates`` -- see ``COVERAGE.md``), except the policy updater's sections misplaced
inside ``inputSettings``, which are silently ignored as observed live.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

import attrs
import httpx

from .._models import Category, ReportField, ReportState, Tag, TagLevel
from . import _render as python_rendition
from ._backend import Account, Backend, EmployeeUpdate, FileRecord, reference_date
from ._errors import (
    FILE_NOT_FOUND,
    JobError,
    bad_argument,
    json_response,
    missing,
    text_response,
)
from ._freemarker import FreeMarkerError, FreeMarkerRenderer, FreeMarkerUnavailableError
from ._pdf import report_pdf
from ._xlsx import csv_text_to_xlsx

__all__ = [
    "HANDLERS",
    "RENDERERS",
    "UNMODIFIED_VALUES",
    "JobContext",
    "ServerOptions",
    "ServletError",
    "UnknownParameterError",
    "job_kind",
]

#: Renderer choices: ``auto`` (the Python rendition for the project's own template, the real
#: FreeMarker engine for any other), ``python`` (own template only), ``freemarker`` (always
#: the real engine).
RENDERERS: Final = frozenset({"auto", "python", "freemarker"})
#: Choices for never-edited expenses' modified* values.
UNMODIFIED_VALUES: Final = frozenset({"zero", "missing"})
#: Forward-to key names in the policy getter's employees.
FORWARD_KEYS: Final = frozenset({"getter", "updater"})

_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE: Final = re.compile(r"^[^\s@,]+@[^\s@,]+\.[^\s@,]+$")
_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_BASENAME_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
#: Extensions the emulator renders (the template defines the bytes).
_TEXT_EXTENSIONS: Final = frozenset({"csv", "txt", "json", "xml"})
#: Spreadsheet output: the rendered text is read as CSV and written as a workbook.
_WORKBOOK_EXTENSIONS: Final = frozenset({"xlsx"})
#: Not emulated: legacy Excel (410 ``... is not supported by the emulator``).
_BINARY_EXTENSIONS: Final = frozenset({"xls"})
#: One PDF per report (``_pdf.report_pdf``); the answer lists the names comma-separated.
_PDF_EXTENSIONS: Final = frozenset({"pdf"})
_POLICY_FIELDS: Final = frozenset({"categories", "reportFields", "tags", "tax", "employees"})
_ROLES: Final = frozenset({"user", "auditor", "admin"})
_PRIMARY_POLICY: Final = frozenset({"none", "new_employees", "all_employees"})
_CREDENTIAL_KEYS: Final = frozenset({"partnerUserID", "partnerUserSecret"})


class ServletError(Exception):
    """A failure the servlet container answers itself: an HTTP error page, no envelope."""

    def __init__(self, http_status: int, text: str) -> None:
        super().__init__(text)
        self.http_status = http_status
        self.text = text

    def to_response(self) -> httpx.Response:
        """The error page (``text/html`` like Tomcat's, never a JSON envelope)."""
        page = f"<html><body><h1>HTTP Status {self.http_status} - {self.text}</h1></body></html>"
        return text_response(
            page, http_status=self.http_status, content_type="text/html;charset=utf-8"
        )


@attrs.frozen(kw_only=True)
class ServerOptions:
    """The emulator's switches for answers where the evidence allows several readings."""

    #: Policy getter: categories carry ``glCode``/``payrollCode`` (False: the documented
    #: shape ``{name, enabled, areCommentsRequired}``).
    category_gl_codes: bool = False
    #: Policy getter: tags as the documented flat list (``"Level1:Level2"`` names).
    flat_tags: bool = False
    #: Policy getter: ``getter`` (``forwardsTo``/``overLimitForwardsTo``) or ``updater``
    #: (``approvesTo``/``overLimitApprover``) key names for employees.
    forward_keys: str = "getter"
    #: Policy getter: dropdown values as ``{"value", "enabled"}`` objects (the key the
    #: updater's table documents) instead of strings.
    report_field_value_objects: bool = False
    #: Exported files answer "File not found" once older than this (None: never).
    file_lifetime: timedelta | None = None
    #: Never-edited expenses' ``modifiedAmount``/``modifiedMerchant``/``modifiedCreated``:
    #: ``"zero"`` (``0``/``""``/``""``) or ``"missing"`` (null).
    unmodified_values: str = "zero"
    #: Export the INT-era boolean ``modified`` on expenses.
    modified_flag: bool = False
    #: See :data:`RENDERERS`.
    renderer: str = "auto"
    #: The real engine (None: never used).
    freemarker: FreeMarkerRenderer | None = None


@attrs.frozen(kw_only=True)
class JobContext:
    """Everything a handler needs for one job."""

    job: Mapping[str, Any]
    account: Account
    backend: Backend
    template: str | None = None
    data: str | None = None
    file: str | None = None
    download_not_ready_polls: int = 0
    options: ServerOptions = ServerOptions()


def job_kind(job: Mapping[str, Any]) -> str:
    """``type`` or ``type/inputSettings.type`` (for logs, faults and error routing)."""
    kind = job.get("type")
    settings = job.get("inputSettings")
    sub = settings.get("type") if isinstance(settings, Mapping) else None
    base = kind if isinstance(kind, str) else "?"
    return f"{base}/{sub}" if isinstance(sub, str) and sub else base


# --------------------------------------------------------------------------- readers


class UnknownParameterError(JobError):
    """410 ``Unknown parameter '<key>' in '<where>'``; carries the object and key."""

    def __init__(self, container: Mapping[str, Any], key: str, where: str) -> None:
        super().__init__(410, f"Unknown parameter '{key}' in '{where}'")
        self.container = container
        self.key = key


def _only(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise UnknownParameterError(obj, extra[0], where)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad_argument(name)
    return value


def _required_object(parent: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if name not in parent:
        raise missing(name)
    return _object(parent[name], name)


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_argument(name)
    return value


def _day(value: Any) -> date:
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise JobError(410, f"Malformed date '{value}'. Expected format is yyyy-MM-dd")


def _opt_day(obj: Mapping[str, Any], key: str) -> date | None:
    return None if key not in obj else _day(obj[key])


def _comma_ids(value: Any, name: str) -> list[str]:
    """A comma string of IDs (export filters): an array is malformed here."""
    text = _string(value, name)
    ids = [part.strip() for part in text.split(",")]
    if not all(_ID_RE.match(i) for i in ids):
        raise bad_argument(name)
    return ids


def _array_ids(value: Any, name: str) -> list[str]:
    """A JSON array of IDs (getters/updaters): a comma string is malformed here."""
    if not isinstance(value, list) or not value:
        raise bad_argument(name)
    if not all(isinstance(i, str) and _ID_RE.match(i) for i in value):
        raise bad_argument(name)
    return list(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise bad_argument(name)
    return value


def _test_flag(job: Mapping[str, Any]) -> bool:
    """``test`` is documented as the STRING "true"/"false"; a JSON boolean is rejected."""
    value = job.get("test", "false")
    if value not in ("true", "false") or not isinstance(value, str):
        raise bad_argument("test")
    return value == "true"


def _plus_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _minus_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return date(day.year - 1, 3, 1)


def _one_year_rule(anchors: Sequence[tuple[str, date]], end: date | None, today: date) -> None:
    """endDate required once an anchor is >1 year old; span at most one year."""
    for name, anchor in anchors:
        if end is None:
            if anchor < _minus_year(today):
                raise JobError(
                    410,
                    f"Required parameter 'endDate' is missing: '{name}' is more than one "
                    "year in the past",
                )
        elif end > _plus_year(anchor):
            raise JobError(410, f"The span from '{name}' to 'endDate' exceeds one year")


# --------------------------------------------------------------------------- export


def _export_states(settings: Mapping[str, Any]) -> list[ReportState]:
    if "reportState" not in settings:
        return list(ReportState)
    raw = _string(settings["reportState"], "reportState")
    states: list[ReportState] = []
    for part in raw.split(","):
        try:
            states.append(ReportState(part.strip()))
        except ValueError:
            raise JobError(410, f"Invalid reportState '{part.strip()}'") from None
    return states


def _on_finish(job: Mapping[str, Any], allowed: Iterable[str]) -> list[Mapping[str, Any]]:
    if "onFinish" not in job:
        return []
    actions = job["onFinish"]
    if not isinstance(actions, list):
        raise bad_argument("onFinish")
    allowed_set = set(allowed)
    out: list[Mapping[str, Any]] = []
    for raw in actions:
        action = _object(raw, "onFinish")
        name = action.get("actionName")
        if name not in allowed_set:
            raise JobError(410, f"Unsupported onFinish action '{name}'")
        if name == "markAsExported":
            _only(action, ("actionName", "label"), "onFinish")
            _string(action.get("label"), "label")
        elif name == "email":
            _only(action, ("actionName", "recipients", "message"), "onFinish")
            _string(action.get("recipients"), "recipients")
        out.append(action)
    return out


def _render(options: ServerOptions, template: str, reports: Sequence[Mapping[str, Any]]) -> str:
    """The template's output: the Python rendition or the real FreeMarker engine."""
    if options.renderer in ("auto", "python"):
        try:
            text = python_rendition.render_export(template, reports)
        except python_rendition.UnsupportedTemplateError as exc:
            if options.renderer == "python":
                raise JobError(
                    410,
                    "Unsupported template: this emulator (renderer='python') renders only "
                    f"expensify_client's EXPORT_TEMPLATE ({exc})",
                ) from exc
        else:
            return text
    engine = options.freemarker
    reason = (
        "no FreeMarker renderer is configured" if engine is None else engine.unavailable_reason()
    )
    if engine is None or reason is not None:
        raise JobError(
            410,
            "Unsupported template: the emulator needs a JVM with FreeMarker to render a "
            f"template other than expensify_client's EXPORT_TEMPLATE ({reason})",
        )
    try:
        return engine.render(template, {"reports": list(reports), "addHeader": True})
    except FreeMarkerError as exc:
        raise JobError(500, f"Template error: {exc}") from exc
    except FreeMarkerUnavailableError as exc:
        raise JobError(410, f"Unsupported template: the emulator's JVM failed ({exc})") from exc


def export(ctx: JobContext) -> httpx.Response:
    """``type: file`` / ``combinedReportData``: filter, render, mark, return the file name."""
    job = ctx.job
    _only(
        job,
        ("type", "credentials", "onReceive", "inputSettings", "outputSettings", "test", "onFinish"),
        "requestJobDescription",
    )
    if job.get("onReceive") != {"immediateResponse": ["returnRandomFileName"]}:
        # Observed live: without onReceive the request hangs and ends in a bare 500.
        raise ServletError(500, "onReceive")
    settings = _required_object(job, "inputSettings")
    _only(settings, ("type", "filters", "reportState", "limit", "employeeEmail"), "inputSettings")
    if settings.get("type") != "combinedReportData":
        raise bad_argument("type")
    output = _required_object(job, "outputSettings")
    _only(output, ("fileExtension", "fileBasename", "includeFullPageReceiptsPdf"), "outputSettings")
    extension = output.get("fileExtension")
    if extension in _BINARY_EXTENSIONS:
        raise JobError(410, f"fileExtension '{extension}' is not supported by the emulator")
    if extension not in _TEXT_EXTENSIONS | _WORKBOOK_EXTENSIONS | _PDF_EXTENSIONS:
        raise bad_argument("fileExtension")
    full_page_receipts = False
    if "includeFullPageReceiptsPdf" in output:
        full_page_receipts = _flag(
            output["includeFullPageReceiptsPdf"], "includeFullPageReceiptsPdf"
        )
    basename = output.get("fileBasename", "export")
    if not isinstance(basename, str) or not _BASENAME_RE.match(basename):
        raise bad_argument("fileBasename")
    test = _test_flag(job)
    actions = _on_finish(job, ("markAsExported", "email"))
    if "filters" not in settings:
        raise missing("filters")
    filters = _object(settings["filters"], "filters")
    _only(
        filters,
        (
            "reportIDList",
            "policyIDList",
            "startDate",
            "endDate",
            "approvedAfter",
            "markedAsExported",
        ),
        "filters",
    )
    report_ids = (
        _comma_ids(filters["reportIDList"], "reportIDList") if "reportIDList" in filters else None
    )
    policy_ids = (
        _comma_ids(filters["policyIDList"], "policyIDList") if "policyIDList" in filters else None
    )
    start = _opt_day(filters, "startDate")
    end = _opt_day(filters, "endDate")
    approved_after = _opt_day(filters, "approvedAfter")
    label = (
        _string(filters["markedAsExported"], "markedAsExported")
        if "markedAsExported" in filters
        else None
    )
    if report_ids is None and start is None and approved_after is None:
        raise JobError(
            410, "Required parameter 'reportIDList', 'startDate' or 'approvedAfter' is missing"
        )
    anchors = [(n, d) for n, d in (("startDate", start), ("approvedAfter", approved_after)) if d]
    _one_year_rule(anchors, end, ctx.backend.today())
    states = _export_states(settings)
    limit: int | None = None
    if "limit" in settings:
        raw_limit = settings["limit"]
        if not isinstance(raw_limit, str) or not raw_limit.isdigit() or int(raw_limit) < 1:
            raise bad_argument("limit")
        limit = int(raw_limit)
    employee_email = None
    if "employeeEmail" in settings:
        employee_email = _string(settings["employeeEmail"], "employeeEmail")
    if ctx.template is None or not ctx.template.strip():
        raise JobError(410, "No Template Submitted")
    backend = ctx.backend
    with backend.lock:
        chosen = backend.select_reports(
            ctx.account,
            report_ids=report_ids,
            policy_ids=policy_ids,
            start=start,
            end=end,
            approved_after=approved_after,
            label=label,
            states=states,
            limit=limit,
            employee_email=employee_email,
        )
        models = [
            backend.report_model(
                r,
                unmodified_values=ctx.options.unmodified_values,
                modified_flag=ctx.options.modified_flag,
            )
            for r in chosen
        ]
        if extension in _PDF_EXTENSIONS:
            # The service's own layout: the template is required but not rendered. One
            # file per report; the names are answered sorted, i.e. in no order a caller
            # could map to reports (the order is undocumented); no report, no name.
            names: list[str] = []
            for model in models:
                name = backend.new_file_name(basename, "pdf")
                pdf = report_pdf(model, full_page_receipts=full_page_receipts)
                backend.files[name] = FileRecord(
                    name=name, owner=ctx.account.partner_user_id, content=pdf,
                    created=backend.now(),
                )  # fmt: skip
                names.append(name)
            answer = ",".join(sorted(names))
        else:
            text = _render(ctx.options, ctx.template, models)
            content = (
                csv_text_to_xlsx(text)
                if extension in _WORKBOOK_EXTENSIONS
                else text.encode("utf-8")
            )
            answer = backend.new_file_name(basename, str(extension))
            backend.files[answer] = FileRecord(
                name=answer,
                owner=ctx.account.partner_user_id,
                content=content,
                created=backend.now(),
            )
        # onFinish runs at the END of the job, after the file exists; never in test mode.
        # A report set to refuse marks is silently left unlabelled (the answer is the
        # file name either way: nothing in it says which reports were marked).
        if not test:
            for action in actions:
                if action.get("actionName") == "markAsExported":
                    for report in chosen:
                        if not report.refuses_marks:
                            report.labels.add(str(action["label"]))
    return text_response(answer)


# --------------------------------------------------------------------------- download


def download(ctx: JobContext) -> httpx.Response:
    """``type: download``: the file's bytes, after the configured not-ready answers."""
    job = ctx.job
    _only(job, ("type", "credentials", "fileName", "fileSystem"), "requestJobDescription")
    if "fileName" not in job:
        raise missing("fileName")
    name = _string(job["fileName"], "fileName")
    file_system = job.get("fileSystem", "integrationServer")
    if file_system not in ("integrationServer", "reconciliation"):
        raise bad_argument("fileSystem")
    not_found = json_response({"responseMessage": FILE_NOT_FOUND})
    with ctx.backend.lock:
        record = ctx.backend.files.get(name)
        if (
            file_system != "integrationServer"
            or record is None
            or record.owner != ctx.account.partner_user_id
        ):
            return not_found
        lifetime = ctx.options.file_lifetime
        if (
            lifetime is not None
            and record.created is not None
            and ctx.backend.now() - record.created > lifetime
        ):
            return not_found  # expired: the same answer as a name that never existed
        if record.polls < ctx.download_not_ready_polls:
            record.polls += 1
            return text_response(b"")  # not rendered yet: an empty 200
        content = record.content
    return text_response(content, content_type="application/octet-stream")


# --------------------------------------------------------------------------- getters


def get(ctx: JobContext) -> httpx.Response:
    """``type: get``: ``policyList`` and ``policy``."""
    job = ctx.job
    _only(job, ("type", "credentials", "inputSettings"), "requestJobDescription")
    settings = _required_object(job, "inputSettings")
    kind = settings.get("type")
    backend = ctx.backend
    if kind == "policyList":
        _only(settings, ("type", "adminOnly", "userEmail"), "inputSettings")
        if "userEmail" in settings:
            raise JobError(500, f"Not authorized to authenticate as user {settings['userEmail']}")
        admin_only = _flag(settings["adminOnly"], "adminOnly") if "adminOnly" in settings else False
        with backend.lock:
            policies = [
                {
                    "id": p.policy_id,
                    "name": p.name,
                    "type": p.type,
                    "role": p.role_of(ctx.account.email),
                    "owner": p.owner,
                    "outputCurrency": p.output_currency,
                }
                for p in backend.member_policies(ctx.account)
            ]
        if admin_only:
            policies = [p for p in policies if p["role"] == "admin"]
        return json_response({"responseCode": 200, "policyList": policies})
    if kind == "policy":
        _only(settings, ("type", "policyIDList", "fields", "userEmail"), "inputSettings")
        if "userEmail" in settings:
            raise JobError(500, f"Not authorized to authenticate as user {settings['userEmail']}")
        if "policyIDList" not in settings:
            raise missing("policyIDList")
        ids = _array_ids(settings["policyIDList"], "policyIDList")
        if "fields" not in settings:
            raise missing("fields")
        fields = settings["fields"]
        if (
            not isinstance(fields, list)
            or not fields
            or not all(isinstance(f, str) and f in _POLICY_FIELDS for f in fields)
        ):
            raise bad_argument("fields")
        with backend.lock:
            visible = {p.policy_id: p for p in backend.member_policies(ctx.account)}
            info = {
                pid: backend.policy_info(
                    visible[pid],
                    fields,
                    category_gl_codes=ctx.options.category_gl_codes,
                    flat_tags=ctx.options.flat_tags,
                    forward_keys=ctx.options.forward_keys,
                    report_field_value_objects=ctx.options.report_field_value_objects,
                )
                for pid in ids
                if pid in visible
            }
        return json_response({"responseCode": 200, "policyInfo": info})
    if kind == "domainCardList":
        raise _not_emulated("get/domainCardList")
    raise bad_argument("type")


# --------------------------------------------------------------------------- updaters


def update(ctx: JobContext) -> httpx.Response:
    """``type: update``: ``policy``, ``employees`` and ``reportStatus``."""
    settings = _required_object(ctx.job, "inputSettings")
    kind = settings.get("type")
    if kind == "policy":
        return _update_policy(ctx, settings)
    if kind == "employees":
        return _update_employees(ctx, settings)
    if kind == "reportStatus":
        return _update_report_status(ctx, settings)
    if kind == "tagApprovers":
        return _update_tag_approvers(ctx, settings)
    if kind == "expenseRules":
        raise _not_emulated(f"update/{kind}")
    raise bad_argument("type")


_CATEGORY_KEYS: Final = {
    "name": "name",
    "enabled": "enabled",
    "glCode": "gl_code",
    "payrollCode": "payroll_code",
    "areCommentsRequired": "are_comments_required",
    "commentHint": "comment_hint",
    "maxExpenseAmount": "max_expense_amount_cents",
}


def _categories(section: Any) -> tuple[str, list[dict[str, Any]]]:
    malformed = JobError(410, "'categories' object malformed")
    if not isinstance(section, Mapping) or set(section) - {"action", "data"}:
        raise malformed
    action = section.get("action")
    data = section.get("data")
    if action not in ("merge", "replace") or not isinstance(data, list):
        raise malformed
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in data:
        if not isinstance(item, Mapping) or set(item) - set(_CATEGORY_KEYS):
            raise malformed
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or name in seen:
            raise malformed
        seen.add(name)
        for key in ("enabled", "areCommentsRequired"):
            if key in item and not isinstance(item[key], bool):
                raise malformed
        for key in ("glCode", "payrollCode", "commentHint"):
            if key in item and not isinstance(item[key], str):
                raise malformed
        if "maxExpenseAmount" in item and (
            isinstance(item["maxExpenseAmount"], bool)
            or not isinstance(item["maxExpenseAmount"], int)
        ):
            raise malformed
        out.append({_CATEGORY_KEYS[k]: v for k, v in item.items()})
    return str(action), out


def _tags(section: Any) -> list[TagLevel]:
    malformed = JobError(410, "'tags' object malformed")
    if not isinstance(section, Mapping) or set(section) - {"source", "action", "data", "config"}:
        raise malformed
    source = section.get("source", "inline")
    if source == "file":
        raise _not_emulated("tags from a file")
    if source != "inline" or "config" in section:
        raise malformed
    # action: the prose says a tags update REPLACES the tag list; "merge" is not honoured.
    if section.get("action", "replace") not in ("replace", "merge"):
        raise malformed
    data = section.get("data")
    if not isinstance(data, list) or not data:
        raise malformed
    levels: list[TagLevel] = []
    multi = len(data) > 1
    for raw in data:
        if not isinstance(raw, Mapping) or set(raw) - {"name", "setRequired", "tags"}:
            raise malformed
        # A level without a name: "Only use with multi-level tagging" (the docs). Marked
        # "" here; the update keeps the policy's current name for it (default "Tag").
        name = raw.get("name", "")
        required = raw.get("setRequired", False)
        tags = raw.get("tags")
        if not isinstance(name, str) or not isinstance(required, bool):
            raise malformed
        if not isinstance(tags, list):
            raise malformed
        items: list[Tag] = []
        seen: set[str] = set()
        for tag in tags:
            if not isinstance(tag, Mapping) or set(tag) - {"name", "enabled", "glCode"}:
                raise malformed
            tag_name = tag.get("name")
            enabled = tag.get("enabled", True)
            gl_code = tag.get("glCode")
            if not isinstance(tag_name, str) or not tag_name.strip() or tag_name in seen:
                raise malformed
            if not isinstance(enabled, bool) or not (gl_code is None or isinstance(gl_code, str)):
                raise malformed
            seen.add(tag_name)
            # Multi-level tags are always enabled (the docs: enabled ignored there).
            items.append(Tag(name=tag_name, enabled=True if multi else enabled, gl_code=gl_code))
        levels.append(TagLevel(name=name, tags=tuple(items), required=required))
    return levels


def _named_levels(new: Sequence[TagLevel], old: Sequence[TagLevel]) -> list[TagLevel]:
    """Unnamed levels keep the name of the policy's level at the same place (else "Tag")."""
    out: list[TagLevel] = []
    for index, level in enumerate(new):
        if level.name:
            out.append(level)
            continue
        name = old[index].name if index < len(old) and old[index].name else "Tag"
        out.append(attrs.evolve(level, name=name))
    return out


def _report_fields(section: Any) -> tuple[str, list[ReportField]]:
    malformed = JobError(410, "'reportFields' object malformed")
    if not isinstance(section, Mapping) or set(section) - {"action", "data"}:
        raise malformed
    action = section.get("action")
    data = section.get("data")
    if action not in ("merge", "replace") or not isinstance(data, list):
        raise malformed
    out: list[ReportField] = []
    for raw in data:
        if not isinstance(raw, Mapping) or set(raw) - {"name", "type", "values", "defaultValue"}:
            raise malformed
        name = raw.get("name")
        kind = raw.get("type")
        if (
            not isinstance(name, str)
            or not name.strip()
            or kind not in ("text", "dropdown", "date")
        ):
            raise malformed
        values: list[str] = []
        raw_values = raw.get("values", [])
        if not isinstance(raw_values, list) or (raw_values and kind != "dropdown"):
            raise malformed
        for value in raw_values:
            if isinstance(value, Mapping):
                # Values as objects: the docs' example keys them "name", the docs' table
                # "value"; both are accepted (one of them, not both at once).
                keys = set(value) & {"name", "value"}
                if (
                    set(value) - {"name", "value", "enabled", "externalID"}
                    or len(keys) != 1
                    or not isinstance(value[next(iter(keys))], str)
                ):
                    raise malformed
                values.append(value[next(iter(keys))])
            elif isinstance(value, str):
                values.append(value)
            else:
                raise malformed
        kinds = {isinstance(v, Mapping) for v in raw_values}
        default = raw.get("defaultValue")
        if len(kinds) > 1 or not (default is None or isinstance(default, str)):
            raise malformed
        out.append(
            ReportField(name=name, type=str(kind), values=tuple(values), default_value=default)
        )
    return str(action), out


def _update_policy(ctx: JobContext, settings: Mapping[str, Any]) -> httpx.Response:
    job = ctx.job
    _only(
        job,
        ("type", "credentials", "inputSettings", "categories", "tags", "reportFields"),
        "requestJobDescription",
    )
    # Sections nested in inputSettings are accepted and IGNORED (a silent no-op, as observed).
    _only(
        settings,
        ("type", "policyID", "policyIDList", "categories", "tags", "reportFields"),
        "inputSettings",
    )
    if "policyID" in settings:
        ids = [_string(settings["policyID"], "policyID")]
    elif "policyIDList" in settings:
        ids = _array_ids(settings["policyIDList"], "policyIDList")
    else:
        raise missing("policyID")
    categories = _categories(job["categories"]) if "categories" in job else None
    tags = _tags(job["tags"]) if "tags" in job else None
    fields = _report_fields(job["reportFields"]) if "reportFields" in job else None
    backend = ctx.backend
    with backend.lock:
        admin = {p.policy_id for p in backend.admin_policies(ctx.account)}
        unknown = [pid for pid in ids if pid not in admin]
        if unknown:
            raise JobError(404, f"Policy not found: '{unknown[0]}'")
        for pid in ids:
            policy = backend.policies[pid]
            if categories is not None:
                action, items = categories
                merged = {} if action == "replace" else dict(policy.categories)
                for values in items:
                    old = policy.categories.get(values["name"])
                    merged[values["name"]] = (
                        attrs.evolve(old, **values)
                        if old is not None and action == "merge"
                        else Category(**values)
                    )
                policy.categories = merged
            if tags is not None:
                policy.tag_levels = _named_levels(tags, policy.tag_levels)
            if fields is not None:
                action, report_fields = fields
                by_name = {} if action == "replace" else {f.name: f for f in policy.report_fields}
                by_name.update((f.name, f) for f in report_fields)
                policy.report_fields = list(by_name.values())
    return json_response({"responseCode": 200})


_FEED_KEYS: Final = frozenset(
    {
        "employeeEmail",
        "managerEmail",
        "employeeID",
        "policyID",
        "firstName",
        "lastName",
        "customField1",
        "customField2",
        "approvalLimit",
        "overLimitApprover",
        "limitApprover",
        "workerStatus",
        "isTerminated",
        "domainGroupID",
        "approvesTo",
        "role",
        "additionalPolicyIDs",
        "shouldRemoveFromUnassignedPolicies",
        "defaultTags",
    }
)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _feed_record(raw: Any) -> EmployeeUpdate:
    if not isinstance(raw, Mapping):
        raise _Skip("Malformed employee record")
    unknown = sorted(set(raw) - _FEED_KEYS)
    if unknown:
        raise _Skip(f"Unknown field '{unknown[0]}'")

    def email_or_none(key: str, label: str) -> str | None:
        if raw.get(key) is None:
            return None
        return email(key, label)

    def email(key: str, label: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not _EMAIL_RE.match(value):
            raise _Skip(f"Invalid {label} email address '{value if value is not None else ''}'")
        return value.lower()

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _Skip(f"Invalid {key} '{value}'")
        return value

    employee_email = email("employeeEmail", "employee")
    manager_email = email("managerEmail", "manager")
    employee_id = text("employeeID")
    if not employee_id or not employee_id.strip():
        raise _Skip("Missing employeeID")
    policy_id = text("policyID")
    if not policy_id:
        raise _Skip("Missing policyID")
    role = text("role")
    if role is not None and role not in _ROLES:
        raise _Skip(f"Invalid role '{role}'")
    terminated = raw.get("isTerminated", False)
    if not isinstance(terminated, bool):
        raise _Skip(f"Invalid isTerminated '{terminated}'")
    limit = raw.get("approvalLimit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise _Skip(f"Invalid approvalLimit '{limit}'")
    over = email_or_none("overLimitApprover", "overLimitApprover") or email_or_none(
        "limitApprover", "overLimitApprover"
    )
    if limit is not None and over is None:
        raise _Skip("Missing overLimitApprover for approvalLimit")
    extra = raw.get("additionalPolicyIDs", [])
    if not isinstance(extra, list) or not all(isinstance(p, str) for p in extra):
        raise _Skip("Invalid additionalPolicyIDs")
    return EmployeeUpdate(
        email=employee_email,
        manager_email=manager_email,
        employee_id=employee_id,
        policy_id=policy_id,
        first_name=text("firstName"),
        last_name=text("lastName"),
        role=role,
        is_terminated=terminated,
        approves_to=email_or_none("approvesTo", "approvesTo"),
        approval_limit=limit,
        over_limit_approver=over,
        additional_policy_ids=tuple(p for p in extra if p != policy_id),
        custom_field_1=text("customField1"),
        custom_field_2=text("customField2"),
        worker_status=text("workerStatus"),
        domain_group_id=text("domainGroupID"),
    )


def _update_employees(ctx: JobContext, settings: Mapping[str, Any]) -> httpx.Response:
    job = ctx.job
    if "policyID" in settings or "fileType" in settings:
        raise _not_emulated("the deprecated CSV employee updater")
    _only(settings, ("type", "entity"), "inputSettings")
    if settings.get("entity") != "generic":
        raise bad_argument("entity")
    _only(
        job,
        (
            "type",
            "credentials",
            "inputSettings",
            "dataSource",
            "dry-run",
            "onFinish",
            "setEmployeePrimaryPolicy",
            "shouldFixApprovalChains",
            "shouldSkipNotificationEmail",
        ),
        "requestJobDescription",
    )
    if "dataSource" not in job:
        raise missing("dataSource")
    if job["dataSource"] in ("download", "sftp"):
        raise _not_emulated(f"dataSource '{job['dataSource']}'")
    if job["dataSource"] != "request":
        raise bad_argument("dataSource")
    dry_run = _flag(job.get("dry-run", False), "dry-run")
    fix = _flag(job.get("shouldFixApprovalChains", True), "shouldFixApprovalChains")
    _flag(job.get("shouldSkipNotificationEmail", False), "shouldSkipNotificationEmail")
    if job.get("setEmployeePrimaryPolicy", "none") not in _PRIMARY_POLICY:
        raise bad_argument("setEmployeePrimaryPolicy")
    _on_finish(job, ("email",))
    if ctx.data is None or not ctx.data.strip():
        raise missing("data")
    try:
        feed = json.loads(ctx.data)
    except ValueError:
        raise bad_argument("data") from None
    if isinstance(feed, Mapping) and set(feed) == {"Employees"}:
        feed = feed["Employees"]
    if not isinstance(feed, list) or not feed:
        raise bad_argument("data")
    records: list[EmployeeUpdate] = []
    skipped: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in feed:
        try:
            record = _feed_record(raw)
        except _Skip as skip:
            who = raw.get("employeeEmail") if isinstance(raw, Mapping) else None
            skipped.append({"email": str(who or ""), "reason": skip.reason})
            continue
        if record.email in seen:
            skipped.append(
                {"email": record.email, "reason": f"Duplicate employee '{record.email}' in feed"}
            )
            continue
        seen.add(record.email)
        records.append(record)
    with ctx.backend.lock:
        answer = ctx.backend.update_employees(
            ctx.account, records, dry_run=dry_run, fix_approval_chains=fix
        )
    answer["skippedEmployees"] = skipped + answer["skippedEmployees"]
    return json_response({"responseCode": 200, **answer})


def _update_report_status(ctx: JobContext, settings: Mapping[str, Any]) -> httpx.Response:
    _only(ctx.job, ("type", "credentials", "inputSettings"), "requestJobDescription")
    _only(settings, ("type", "status", "paymentSource", "filters"), "inputSettings")
    status = settings.get("status")
    if not isinstance(status, str) or not status:
        raise missing("status")
    if status != "REIMBURSED":
        raise JobError(410, f"Status '{status}' is not supported")
    if "paymentSource" in settings:
        source = settings["paymentSource"]
        if not isinstance(source, str) or not 1 <= len(source) <= 100:
            raise bad_argument("paymentSource")
    if "filters" not in settings:
        raise missing("filters")
    filters = _object(settings["filters"], "filters")
    _only(filters, ("reportIDList", "startDate", "endDate"), "filters")
    backend = ctx.backend
    with backend.lock:
        selected: list[Any]
        if "reportIDList" in filters:
            selected = _comma_ids(filters["reportIDList"], "reportIDList")
        elif "startDate" in filters:
            start = _day(filters["startDate"])
            end = _opt_day(filters, "endDate")
            _one_year_rule([("startDate", start)], end, backend.today())
            admin = {p.policy_id for p in backend.admin_policies(ctx.account)}
            selected = sorted(
                (
                    r
                    for r in backend.reports.values()
                    if r.policy_id in admin
                    and reference_date(r) >= start
                    and (end is None or reference_date(r) <= end)
                ),
                key=lambda r: (reference_date(r), r.report_id),
            )
        else:
            raise JobError(410, "Required parameter 'reportIDList' or 'startDate' is missing")
        # Live answers are 200 even when reports were skipped (never 207).
        answer = backend.reimburse_reports(ctx.account, selected, at=backend.now())
    return json_response({"responseCode": 200, **answer})


# --------------------------------------------------------------------------- others


def _not_emulated(what: str) -> JobError:
    return JobError(410, f"{what} is not supported by the emulator")


def not_emulated(ctx: JobContext) -> httpx.Response:
    """``reconciliation``: an explicit 410, never a silent success."""
    raise _not_emulated(job_kind(ctx.job))


def _not_authorized(email: Any) -> JobError:
    """The documented refusal when a restricted feature is not enabled for the account."""
    return JobError(500, f"Not authorized to authenticate as user {email}")


def create(ctx: JobContext) -> httpx.Response:
    """``type: create``: ``policy``; ``report``/``expenses`` as refused by default accounts.

    Creating reports and acting for ``employeeEmail`` must be enabled by Expensify
    (Concierge) per domain; the emulator models an account where it is not, and answers the
    documented 500 ``Not authorized to authenticate as user <email>``.
    """
    job = ctx.job
    _only(job, ("type", "credentials", "inputSettings"), "requestJobDescription")
    settings = _required_object(job, "inputSettings")
    kind = settings.get("type")
    if kind == "policy":
        _only(settings, ("type", "policyName", "plan"), "inputSettings")
        name = settings.get("policyName")
        if not isinstance(name, str) or not name.strip():
            raise missing("policyName", code=500)  # documented with code 500
        plan = settings.get("plan", "team")
        if plan not in ("team", "corporate"):
            raise bad_argument("plan")
        with ctx.backend.lock:
            policy_id = ctx.backend.create_policy(ctx.account, name, str(plan))
        return json_response({"responseCode": 200, "policyID": policy_id, "policyName": name})
    if kind == "report":
        _only(
            settings,
            ("type", "employeeEmail", "policyID", "report", "expenses"),
            "inputSettings",
        )
        raise _not_authorized(settings.get("employeeEmail", ctx.account.email))
    if kind == "expenses":
        _only(settings, ("type", "employeeEmail", "transactionList"), "inputSettings")
        if "employeeEmail" not in settings:
            # Observed live (3P): the restricted parameter is nevertheless required.
            raise JobError(410, "'employeeEmail' parameter is missing or malformed")
        raise _not_authorized(settings["employeeEmail"])
    if kind == "expenseRules":
        raise _not_emulated("create/expenseRules")
    raise bad_argument("type")


def _update_tag_approvers(ctx: JobContext, settings: Mapping[str, Any]) -> httpx.Response:
    """``update`` / ``tagApprovers``: single-level tag lists only."""
    _only(
        ctx.job, ("type", "credentials", "inputSettings", "tagApprovers"), "requestJobDescription"
    )
    _only(settings, ("type", "policyID"), "inputSettings")
    policy_id = settings.get("policyID")
    if not isinstance(policy_id, str) or not policy_id:
        raise missing("policyID")
    entries = ctx.job.get("tagApprovers")
    if not isinstance(entries, list) or not entries:
        raise missing("tagApprovers")
    backend = ctx.backend
    with backend.lock:
        policy = backend.policies.get(policy_id)
        if policy is None or policy.role_of(ctx.account.email) is None:
            raise JobError(410, f"Invalid policyID '{policy_id}'")
        if policy.role_of(ctx.account.email) != "admin":
            raise JobError(403, "Invalid permissions: the user is not a policy admin")
        if len(policy.tag_levels) != 1:
            raise JobError(410, "Tag approvers are only supported on single-level tag lists")
        names = {t.name for t in policy.tag_levels[0].tags}
        updates: dict[str, str] = {}
        for entry in entries:
            if not isinstance(entry, Mapping) or set(entry) - {"name", "approver"}:
                raise bad_argument("tagApprovers")
            name, approver = entry.get("name"), entry.get("approver")
            if not isinstance(name, str) or name not in names:
                raise JobError(410, f"Invalid tag name '{name}'")
            if not isinstance(approver, str) or (
                approver and policy.role_of(approver.lower()) is None
            ):
                raise JobError(410, f"Invalid approver email '{approver}'")
            updates[name] = approver.lower()
        for name, approver in updates.items():
            if approver:
                policy.tag_approvers[name] = approver
            else:
                policy.tag_approvers.pop(name, None)
    return json_response({"responseCode": 200})


#: Handler per job ``type``.
HANDLERS: Final[Mapping[str, Callable[[JobContext], httpx.Response]]] = {
    "file": export,
    "download": download,
    "get": get,
    "update": update,
    "create": create,
    "reconciliation": not_emulated,
}

#: Extra credential keys some jobs accept (the Advanced Employee Updater's feed sources).
EXTRA_CREDENTIAL_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "update": frozenset({"feedUrl", "feedUser", "feedPassword", "sftp"}),
}


def credentials_allowed(kind: str) -> frozenset[str]:
    """Keys allowed in ``credentials`` for a job type."""
    return _CREDENTIAL_KEYS | EXTRA_CREDENTIAL_KEYS.get(kind, frozenset())
