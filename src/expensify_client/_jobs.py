"""Pure builders of ``requestJobDescription`` objects.

Every builder returns a plain ``dict`` ready for ``json.dumps`` and **without** the
``credentials`` object: the client inserts it at send time, so job values can be logged,
compared and tested without ever holding a secret. Builders read no clock: rules that depend
on "today" take it as an argument. They validate locally what the Integration Server would
reject with a 410 (or silently misread), raising :class:`InvalidRequestError` naming the field.

Wire placement (see the facts reference, section 1.4): ``fileName``/``fileSystem`` of a
download and ``categories``/``tags`` of a policy update sit at the TOP level, beside
``inputSettings``; ``reportState`` sits in ``inputSettings``, not in ``filters``;
``policyIDList`` is a comma string in export filters but a JSON array in the policy getter;
``limit`` and ``test`` are strings; the employee updater's flag is spelt ``dry-run``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Final, Literal

import attrs

from ._exceptions import InvalidRequestError
from ._models import Category, ReportState, TagLevel

__all__ = [
    "POLICY_FIELDS",
    "EmployeeRecord",
    "ExportFilters",
    "ExportRequest",
    "download_job",
    "employee_feed",
    "employee_update_job",
    "export_job",
    "policy_get_job",
    "policy_list_job",
    "policy_update_job",
    "report_status_job",
]

#: Sections the policy getter can return (``inputSettings.fields``).
POLICY_FIELDS: Final = frozenset({"categories", "reportFields", "tags", "tax", "employees"})

FILE_EXTENSIONS: Final = frozenset({"csv", "xls", "xlsx", "txt", "pdf", "json", "xml"})
ROLES: Final = frozenset({"user", "auditor", "admin"})
PRIMARY_POLICY_MODES: Final = frozenset({"none", "new_employees", "all_employees"})

_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_BASENAME_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_EMAIL_RE: Final = re.compile(r"^[^\s@,]+@[^\s@,]+\.[^\s@,]+$")

CategoriesAction = Literal["merge", "replace"]
PrimaryPolicyMode = Literal["none", "new_employees", "all_employees"]
FileSystem = Literal["integrationServer", "reconciliation"]


# --------------------------------------------------------------------------- helpers


def _ids(values: Iterable[object], field: str) -> tuple[str, ...]:
    """Validated IDs, duplicates dropped, first-seen order kept (linear: a dict, not a list)."""
    out: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise InvalidRequestError(
                f"invalid ID {value!r} (letters, digits, _ and - only)", field=field
            )
        out[value] = None
    return tuple(out)


def _email(value: object, field: str) -> str:
    if not isinstance(value, str) or not _EMAIL_RE.match(value):
        raise InvalidRequestError(f"invalid email address {value!r}", field=field)
    return value


def _label(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError("label must be a non-empty string", field=field)
    return value


def _plus_year(day: date) -> date:
    """The same calendar day one year later (29 Feb -> 28 Feb: the shorter, stricter span)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _minus_year(day: date) -> date:
    """The same calendar day one year earlier (29 Feb -> 1 Mar: the stricter threshold)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return date(day.year - 1, 3, 1)


def _iso(day: date) -> str:
    return day.strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- export


def _tuple_of_str(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        # A bare string would otherwise become a tuple of characters.
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class ExportFilters:
    """``inputSettings.filters`` of a report export.

    ``report_ids``/``policy_ids`` are sent as comma strings. At least one of ``report_ids``,
    ``start_date`` or ``approved_after`` is required (the server rejects a bare
    ``reportState`` filter). ``start_date``/``end_date`` are inclusive and apply to the later
    of a report's created and submitted dates; ``approved_after`` keeps reports approved
    strictly after that day; ``marked_as_exported`` drops reports already marked with that
    label. Since December 2024 ``end_date`` is required once an anchor date is more than a
    year old, and the span may not exceed one year: :meth:`validate` checks that against
    the ``today`` you pass.
    """

    report_ids: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    policy_ids: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    start_date: date | None = None
    end_date: date | None = None
    approved_after: date | None = None
    marked_as_exported: str | None = None

    def validate(self, *, today: date) -> None:
        """Raise :class:`InvalidRequestError` for anything the server would reject (410)."""
        _ids(self.report_ids, "filters.reportIDList")
        _ids(self.policy_ids, "filters.policyIDList")
        if self.marked_as_exported is not None:
            _label(self.marked_as_exported, "filters.markedAsExported")
        if not (self.report_ids or self.start_date or self.approved_after):
            raise InvalidRequestError(
                "one of reportIDList, startDate or approvedAfter is required",
                field="filters",
            )
        anchors = [
            (name, day)
            for name, day in (
                ("startDate", self.start_date),
                ("approvedAfter", self.approved_after),
            )
            if day is not None
        ]
        threshold = _minus_year(today)
        for name, anchor in anchors:
            if self.end_date is None:
                if anchor < threshold:
                    raise InvalidRequestError(
                        f"required when {name} ({_iso(anchor)}) is more than one year "
                        f"before today ({_iso(today)})",
                        field="filters.endDate",
                    )
                continue
            if self.end_date < anchor or (name == "approvedAfter" and self.end_date == anchor):
                raise InvalidRequestError(
                    f"{_iso(self.end_date)} selects nothing after {name} {_iso(anchor)}",
                    field="filters.endDate",
                )
            if self.end_date > _plus_year(anchor):
                raise InvalidRequestError(
                    f"span from {name} {_iso(anchor)} to {_iso(self.end_date)} exceeds one year",
                    field="filters.endDate",
                )

    def to_wire(self) -> dict[str, str]:
        """The ``filters`` object (dates ``yyyy-mm-dd``; ID lists as comma strings)."""
        wire: dict[str, str] = {}
        if self.report_ids:
            wire["reportIDList"] = ",".join(_ids(self.report_ids, "filters.reportIDList"))
        if self.policy_ids:
            wire["policyIDList"] = ",".join(_ids(self.policy_ids, "filters.policyIDList"))
        if self.start_date is not None:
            wire["startDate"] = _iso(self.start_date)
        if self.end_date is not None:
            wire["endDate"] = _iso(self.end_date)
        if self.approved_after is not None:
            wire["approvedAfter"] = _iso(self.approved_after)
        if self.marked_as_exported is not None:
            wire["markedAsExported"] = self.marked_as_exported
        return wire


def _states(value: Iterable[ReportState]) -> tuple[ReportState, ...]:
    return tuple(dict.fromkeys(ReportState(state) for state in value))


@attrs.frozen(kw_only=True)
class ExportRequest:
    """A report export (``type: file``) through a FreeMarker template.

    ``mark_as_exported`` adds the ``onFinish`` action ``markAsExported`` with that label
    (skipped by the server when ``test`` is true). Such an export is never re-sent by the
    client after a transport failure, since it could mark twice.
    """

    filters: ExportFilters
    report_states: tuple[ReportState, ...] = attrs.field(
        default=(ReportState.APPROVED, ReportState.REIMBURSED), converter=_states
    )
    limit: int | None = None
    file_extension: str = "json"
    file_basename: str | None = None
    mark_as_exported: str | None = None
    test: bool = False
    #: ``outputSettings.includeFullPageReceiptsPdf`` (pdf only): each receipt as a full page.
    full_page_receipts: bool = False

    @property
    def marks(self) -> bool:
        """Whether the job has an ``onFinish`` action that changes server state."""
        return self.mark_as_exported is not None and not self.test

    def validate(self, *, today: date) -> None:
        """Raise :class:`InvalidRequestError` for anything the server would reject."""
        self.filters.validate(today=today)
        if not self.report_states:
            raise InvalidRequestError(
                "at least one report state is required", field="inputSettings.reportState"
            )
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise InvalidRequestError(
                f"must be a positive integer, not {self.limit!r}", field="inputSettings.limit"
            )
        if self.file_extension not in FILE_EXTENSIONS:
            raise InvalidRequestError(
                f"unsupported {self.file_extension!r}"
                f" (one of {', '.join(sorted(FILE_EXTENSIONS))})",
                field="outputSettings.fileExtension",
            )
        if self.file_basename is not None and not _BASENAME_RE.match(self.file_basename):
            raise InvalidRequestError(
                f"invalid {self.file_basename!r} (letters, digits, '.', '_' and '-' only)",
                field="outputSettings.fileBasename",
            )
        if self.mark_as_exported is not None:
            _label(self.mark_as_exported, "onFinish.markAsExported.label")
        if self.full_page_receipts and self.file_extension != "pdf":
            raise InvalidRequestError(
                "full-page receipts need fileExtension 'pdf'",
                field="outputSettings.includeFullPageReceiptsPdf",
            )


def export_job(request: ExportRequest, *, today: date) -> dict[str, Any]:
    """Build a ``type: file`` job (the template travels in a separate form field)."""
    request.validate(today=today)
    input_settings: dict[str, Any] = {
        "type": "combinedReportData",
        "reportState": ",".join(state.value for state in request.report_states),
    }
    if request.limit is not None:
        input_settings["limit"] = str(request.limit)
    input_settings["filters"] = request.filters.to_wire()
    output_settings: dict[str, Any] = {"fileExtension": request.file_extension}
    if request.file_basename is not None:
        output_settings["fileBasename"] = request.file_basename
    if request.full_page_receipts:
        output_settings["includeFullPageReceiptsPdf"] = True
    job: dict[str, Any] = {
        "type": "file",
        "onReceive": {"immediateResponse": ["returnRandomFileName"]},
        "inputSettings": input_settings,
        "outputSettings": output_settings,
        "test": "true" if request.test else "false",
    }
    if request.mark_as_exported is not None:
        job["onFinish"] = [{"actionName": "markAsExported", "label": request.mark_as_exported}]
    return job


# --------------------------------------------------------------------------- download


def download_job(
    file_name: str, *, file_system: FileSystem = "integrationServer"
) -> dict[str, Any]:
    """Build a ``type: download`` job: top-level ``fileName``/``fileSystem``, no inputSettings."""
    if not _BASENAME_RE.match(file_name):
        raise InvalidRequestError(f"invalid file name {file_name!r}", field="fileName")
    if file_system not in ("integrationServer", "reconciliation"):
        raise InvalidRequestError(f"unsupported {file_system!r}", field="fileSystem")
    return {"type": "download", "fileName": file_name, "fileSystem": file_system}


# --------------------------------------------------------------------------- getters


def policy_list_job(*, admin_only: bool | None = None) -> dict[str, Any]:
    """Build the policy list getter (``type: get``, ``inputSettings.type: policyList``)."""
    settings: dict[str, Any] = {"type": "policyList"}
    if admin_only is not None:
        settings["adminOnly"] = bool(admin_only)
    return {"type": "get", "inputSettings": settings}


def policy_get_job(policy_ids: Iterable[str], fields: Iterable[str]) -> dict[str, Any]:
    """Build the policy getter: ``policyIDList`` and ``fields`` are JSON arrays here."""
    ids = _ids(_tuple_of_str(policy_ids), "inputSettings.policyIDList")
    if not ids:
        raise InvalidRequestError(
            "at least one policy ID is required", field="inputSettings.policyIDList"
        )
    sections: dict[str, None] = {}
    for name in _tuple_of_str(fields):
        if name not in POLICY_FIELDS:
            raise InvalidRequestError(
                f"unknown section {name!r} (one of {', '.join(sorted(POLICY_FIELDS))})",
                field="inputSettings.fields",
            )
        sections[name] = None
    wanted = list(sections)
    if not wanted:
        raise InvalidRequestError("at least one section is required", field="inputSettings.fields")
    return {
        "type": "get",
        "inputSettings": {"type": "policy", "policyIDList": list(ids), "fields": wanted},
    }


# --------------------------------------------------------------------------- policy update


def _category_wire(category: Category, index: int) -> dict[str, Any]:
    field = f"categories.data[{index}]"
    if not category.name.strip():
        raise InvalidRequestError("category name must not be empty", field=f"{field}.name")
    wire: dict[str, Any] = {"name": category.name, "enabled": category.enabled}
    optional: tuple[tuple[str, Any], ...] = (
        ("glCode", category.gl_code),
        ("payrollCode", category.payroll_code),
        ("areCommentsRequired", category.are_comments_required),
        ("commentHint", category.comment_hint),
        ("maxExpenseAmount", category.max_expense_amount_cents),
    )
    for key, value in optional:
        if value is not None:
            wire[key] = value
    return wire


def _tag_level_wire(level: TagLevel, index: int, *, single: bool) -> dict[str, Any]:
    field = f"tags.data[{index}]"
    wire: dict[str, Any] = {}
    if level.name and not single:
        wire["name"] = level.name
    wire["setRequired"] = level.required
    tags: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, tag in enumerate(level.tags):
        if not tag.name.strip():
            raise InvalidRequestError(
                "tag name must not be empty", field=f"{field}.tags[{position}].name"
            )
        if tag.name in seen:
            raise InvalidRequestError(
                f"duplicate tag {tag.name!r}", field=f"{field}.tags[{position}].name"
            )
        seen.add(tag.name)
        item: dict[str, Any] = {"name": tag.name, "enabled": tag.enabled}
        if tag.gl_code is not None:
            item["glCode"] = tag.gl_code
        tags.append(item)
    wire["tags"] = tags
    return wire


def policy_update_job(
    policy_id: str,
    *,
    categories: Sequence[Category] | None = None,
    categories_action: CategoriesAction = "merge",
    tags: Sequence[TagLevel] | None = None,
) -> dict[str, Any]:
    """Build the policy updater: ``categories`` and ``tags`` sit at the TOP level.

    Tags are sent inline (``source: "inline"``); the server replaces the policy's whole tag
    list with them. A single-level tag list is sent without a level ``name``, as the
    reference's single-level example shows none (the name is the list's own, kept by the
    server); several levels are sent with their names. ``categories_action``
    ``"replace"`` deletes categories not listed. Every builder is linear in its input.
    """
    (pid,) = _ids((policy_id,), "inputSettings.policyID")
    if categories is None and tags is None:
        raise InvalidRequestError(
            "nothing to update: pass categories and/or tags", field="categories"
        )
    if categories_action not in ("merge", "replace"):
        raise InvalidRequestError(
            f"must be 'merge' or 'replace', not {categories_action!r}", field="categories.action"
        )
    job: dict[str, Any] = {"type": "update", "inputSettings": {"type": "policy", "policyID": pid}}
    if categories is not None:
        data = [_category_wire(category, i) for i, category in enumerate(categories)]
        seen: set[str] = set()
        for i, item in enumerate(data):
            if item["name"] in seen:
                raise InvalidRequestError(
                    f"duplicate category {item['name']!r}", field=f"categories.data[{i}].name"
                )
            seen.add(item["name"])
        job["categories"] = {"action": categories_action, "data": data}
    if tags is not None:
        levels = list(tags)
        single = len(levels) == 1
        job["tags"] = {
            "source": "inline",
            "data": [_tag_level_wire(level, i, single=single) for i, level in enumerate(levels)],
        }
    return job


# --------------------------------------------------------------------------- employees


def _opt_email(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        _email(value, attribute.name)


@attrs.frozen(kw_only=True)
class EmployeeRecord:
    """One record of the Advanced Employee Updater feed (form field ``data``).

    ``employee_email``, ``manager_email`` (submits-to), ``employee_id`` (stable external ID)
    and ``policy_id`` are required. ``approval_limit_cents`` needs ``over_limit_approver``.
    ``is_terminated`` removes the employee from ``policy_id``.
    """

    employee_email: str = attrs.field(validator=lambda i, a, v: _email(v, "employeeEmail"))
    manager_email: str = attrs.field(validator=lambda i, a, v: _email(v, "managerEmail"))
    employee_id: str
    policy_id: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    is_terminated: bool = False
    approves_to: str | None = attrs.field(default=None, validator=_opt_email)
    approval_limit_cents: int | None = None
    over_limit_approver: str | None = attrs.field(default=None, validator=_opt_email)
    additional_policy_ids: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    custom_field_1: str | None = None
    custom_field_2: str | None = None
    worker_status: str | None = None
    domain_group_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.employee_id.strip():
            raise InvalidRequestError("must not be empty", field="employeeID")
        _ids((self.policy_id,), "policyID")
        _ids(self.additional_policy_ids, "additionalPolicyIDs")
        if self.role is not None and self.role not in ROLES:
            raise InvalidRequestError(
                f"unknown role {self.role!r} (user, auditor or admin)", field="role"
            )
        if self.approval_limit_cents is not None:
            if isinstance(self.approval_limit_cents, bool) or self.approval_limit_cents < 0:
                raise InvalidRequestError("must be a non-negative integer", field="approvalLimit")
            if self.over_limit_approver is None:
                raise InvalidRequestError(
                    "required when approvalLimit is given", field="overLimitApprover"
                )

    def to_wire(self) -> dict[str, Any]:
        """The feed object, with the updater's key names; ``None`` values are left out."""
        wire: dict[str, Any] = {
            "employeeEmail": self.employee_email,
            "managerEmail": self.manager_email,
            "employeeID": self.employee_id,
            "policyID": self.policy_id,
        }
        optional: tuple[tuple[str, Any], ...] = (
            ("firstName", self.first_name),
            ("lastName", self.last_name),
            ("role", self.role),
            ("approvesTo", self.approves_to),
            ("approvalLimit", self.approval_limit_cents),
            ("overLimitApprover", self.over_limit_approver),
            ("customField1", self.custom_field_1),
            ("customField2", self.custom_field_2),
            ("workerStatus", self.worker_status),
            ("domainGroupID", self.domain_group_id),
        )
        for key, value in optional:
            if value is not None:
                wire[key] = value
        wire["isTerminated"] = self.is_terminated
        if self.additional_policy_ids:
            wire["additionalPolicyIDs"] = list(self.additional_policy_ids)
        return wire


def employee_feed(records: Iterable[EmployeeRecord]) -> list[dict[str, Any]]:
    """The ``data`` form field's JSON array (one object per record; emails unique)."""
    feed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        key = record.employee_email.lower()
        if key in seen:
            raise InvalidRequestError(
                f"duplicate employee {record.employee_email!r}",
                field=f"data[{index}].employeeEmail",
            )
        seen.add(key)
        feed.append(record.to_wire())
    if not feed:
        raise InvalidRequestError("the employee feed is empty", field="data")
    return feed


def employee_update_job(
    *,
    dry_run: bool = False,
    set_primary_policy: PrimaryPolicyMode = "none",
    fix_approval_chains: bool = True,
    skip_notification_email: bool = False,
) -> dict[str, Any]:
    """Build the Advanced Employee Updater job (feed in the separate ``data`` form field)."""
    if set_primary_policy not in PRIMARY_POLICY_MODES:
        raise InvalidRequestError(
            f"must be one of {', '.join(sorted(PRIMARY_POLICY_MODES))}, not {set_primary_policy!r}",
            field="setEmployeePrimaryPolicy",
        )
    return {
        "type": "update",
        "inputSettings": {"type": "employees", "entity": "generic"},
        "dataSource": "request",
        "dry-run": bool(dry_run),
        "setEmployeePrimaryPolicy": set_primary_policy,
        "shouldFixApprovalChains": bool(fix_approval_chains),
        "shouldSkipNotificationEmail": bool(skip_notification_email),
    }


# --------------------------------------------------------------------------- report status


def report_status_job(report_ids: Iterable[str]) -> dict[str, Any]:
    """Build the report status updater (Approved -> ``REIMBURSED``; IDs as a comma string)."""
    ids = _ids(_tuple_of_str(report_ids), "inputSettings.filters.reportIDList")
    if not ids:
        raise InvalidRequestError(
            "at least one report ID is required", field="inputSettings.filters.reportIDList"
        )
    return {
        "type": "update",
        "inputSettings": {
            "type": "reportStatus",
            "status": "REIMBURSED",
            "filters": {"reportIDList": ",".join(ids)},
        },
    }
