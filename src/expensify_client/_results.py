"""Typed results of the getters and updaters, and the parsers that build them.

Readers are lenient about extra keys (servers add fields) and strict about the keys the
contract promises: a missing or mistyped one raises :class:`ResponseValidationError`
naming the job, the record and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

import attrs

from ._exceptions import PolicyNotFoundError, ResponseValidationError
from ._models import Category, Employee, Policy, PolicySummary, ReportField, Tag, TagLevel

__all__ = [
    "EmployeeUpdateResult",
    "ReportIssue",
    "ReportStatusResult",
    "SkippedEmployee",
    "parse_employee_update",
    "parse_policies",
    "parse_policy_list",
    "parse_report_status",
]


class ReportIssue(NamedTuple):
    """A report the status updater skipped or failed, with the server's reason."""

    report_id: str
    reason: str


class SkippedEmployee(NamedTuple):
    """An employee record the updater skipped, with the server's reason."""

    email: str
    reason: str


@attrs.frozen(kw_only=True)
class ReportStatusResult:
    """Outcome of marking reports reimbursed (200 or 207: always read the lists)."""

    response_code: int
    reimbursed: tuple[str, ...] = ()
    skipped: tuple[ReportIssue, ...] = ()
    failed: tuple[ReportIssue, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every requested report was reimbursed (nothing skipped or failed)."""
        return not self.skipped and not self.failed


@attrs.frozen(kw_only=True)
class EmployeeUpdateResult:
    """Outcome of the Advanced Employee Updater (``dry_run``: nothing was changed)."""

    dry_run: bool
    updated_count: int
    diff_to_add: Mapping[str, tuple[str, ...]] = attrs.field(factory=lambda: MappingProxyType({}))
    diff_to_remove: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=lambda: MappingProxyType({})
    )
    security_groups: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=lambda: MappingProxyType({})
    )
    skipped: tuple[SkippedEmployee, ...] = ()


# --------------------------------------------------------------------------- helpers


class _Reader:
    """Typed accessors that name the job and field path in every error."""

    def __init__(self, job: str) -> None:
        self.job = job

    def fail(self, path: str, problem: str) -> ResponseValidationError:
        path = path.lstrip(".")
        return ResponseValidationError(f"{path}: {problem}", job=self.job, field=path)

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected an object, got {type(value).__name__}")
        return value

    def lst(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, got {type(value).__name__}")
        return value

    def text(self, node: Mapping[str, Any], key: str, path: str) -> str:
        if key not in node:
            raise self.fail(f"{path}.{key}", "missing")
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(f"{path}.{key}", f"expected a string, got {type(value).__name__}")
        return str(value)

    def opt_text(self, node: Mapping[str, Any], key: str, path: str) -> str | None:
        value = node.get(key)
        if value is None or value == "":
            return None
        return self.text(node, key, path)

    def flag(self, node: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise self.fail(f"{path}.{key}", f"expected a boolean, got {value!r}")

    def integer(self, node: Mapping[str, Any], key: str, path: str) -> int | None:
        value = node.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self.fail(f"{path}.{key}", "expected an integer, got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise self.fail(f"{path}.{key}", f"expected an integer, got {value!r}")

    def emails(self, value: Any, path: str) -> dict[str, tuple[str, ...]]:
        mapping = self.obj(value, path)
        out: dict[str, tuple[str, ...]] = {}
        for key, items in mapping.items():
            emails = self.lst(items, f"{path}.{key}")
            if not all(isinstance(e, str) for e in emails):
                raise self.fail(f"{path}.{key}", "expected an array of strings")
            out[str(key)] = tuple(emails)
        return out


# --------------------------------------------------------------------------- parsers


def parse_policy_list(body: Mapping[str, Any]) -> tuple[PolicySummary, ...]:
    """Read ``policyList`` of the policy list getter."""
    r = _Reader("get/policyList")
    items = r.lst(body.get("policyList"), "policyList")
    out: list[PolicySummary] = []
    for i, raw in enumerate(items):
        path = f"policyList[{i}]"
        node = r.obj(raw, path)
        out.append(
            PolicySummary(
                policy_id=r.text(node, "id", path),
                name=r.text(node, "name", path),
                type=r.text(node, "type", path),
                role=r.text(node, "role", path),
                owner=r.text(node, "owner", path),
                output_currency=r.text(node, "outputCurrency", path),
            )
        )
    return tuple(out)


def _category(r: _Reader, raw: Any, path: str) -> Category:
    node = r.obj(raw, path)
    return Category(
        name=r.text(node, "name", path),
        enabled=r.flag(node, "enabled", path, True),
        gl_code=r.opt_text(node, "glCode", path),
        payroll_code=r.opt_text(node, "payrollCode", path),
        are_comments_required=(
            r.flag(node, "areCommentsRequired", path, False)
            if "areCommentsRequired" in node
            else None
        ),
        comment_hint=r.opt_text(node, "commentHint", path),
        max_expense_amount_cents=r.integer(node, "maxExpenseAmount", path),
    )


def _tag(r: _Reader, raw: Any, path: str) -> Tag:
    node = r.obj(raw, path)
    return Tag(
        name=r.text(node, "name", path),
        enabled=r.flag(node, "enabled", path, True),
        gl_code=r.opt_text(node, "glCode", path),
    )


def _tag_levels(r: _Reader, raw: Any, path: str) -> tuple[TagLevel, ...]:
    """Both shapes: a level list ``[{name, tags: [...]}]`` or a flat ``[{name: "A:B"}]``.

    Flat tags (multi-level names joined with ``':'``) are kept whole in one unnamed level,
    so they match an expense's full ``tag`` string.
    """
    if isinstance(raw, Mapping):
        # Some answers wrap the levels in an object keyed by level name.
        raw = [
            {"name": name, **(dict(v) if isinstance(v, Mapping) else {"tags": v})}
            for name, v in raw.items()
        ]
    items = r.lst(raw, path)
    levels: list[TagLevel] = []
    flat: list[Tag] = []
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        node = r.obj(item, here)
        if "tags" in node:
            raw_tags = node["tags"]
            if isinstance(raw_tags, Mapping):
                raw_tags = list(raw_tags.values())
            tags = r.lst(raw_tags, f"{here}.tags")
            required = node.get("required", node.get("setRequired", False))
            levels.append(
                TagLevel(
                    name=r.text(node, "name", here),
                    tags=tuple(_tag(r, t, f"{here}.tags[{j}]") for j, t in enumerate(tags)),
                    required=r.flag({"required": required}, "required", here, False),
                )
            )
        else:
            flat.append(_tag(r, node, here))
    if flat:
        levels.insert(0, TagLevel(name="", tags=tuple(flat)))
    return tuple(levels)


def _report_field(r: _Reader, raw: Any, path: str) -> ReportField:
    node = r.obj(raw, path)
    values: list[str] = []
    for j, value in enumerate(r.lst(node.get("values", []), f"{path}.values")):
        if isinstance(value, Mapping):
            key = "name" if "name" in value else "value"
            values.append(r.text(value, key, f"{path}.values[{j}]"))
        elif isinstance(value, str):
            values.append(value)
        else:
            raise r.fail(f"{path}.values[{j}]", f"expected a string, got {type(value).__name__}")
    return ReportField(
        name=r.text(node, "name", path),
        type=r.text(node, "type", path),
        values=tuple(values),
        default_value=r.opt_text(node, "defaultValue", path),
    )


def _first_text(
    r: _Reader, node: Mapping[str, Any], keys: tuple[str, ...], path: str
) -> str | None:
    """The first non-empty of several synonymous keys (e.g. getter vs updater names)."""
    for key in keys:
        value = r.opt_text(node, key, path)
        if value is not None:
            return value
    return None


#: The approver keys: the policy getter's names (``forwardsTo``/``overLimitForwardsTo``,
#: Expensify's answers) first, then the employee updater's (``approvesTo``,
#: ``overLimitApprover`` and its alias ``limitApprover``).
_APPROVES_TO_KEYS: Final = ("forwardsTo", "approvesTo")
_OVER_LIMIT_KEYS: Final = ("overLimitForwardsTo", "overLimitApprover", "limitApprover")


def _employee(r: _Reader, raw: Any, path: str) -> Employee:
    node = r.obj(raw, path)
    return Employee(
        email=r.text(node, "email", path),
        role=r.opt_text(node, "role", path) or "user",
        submits_to=r.opt_text(node, "submitsTo", path),
        employee_id=r.opt_text(node, "employeeID", path),
        first_name=r.opt_text(node, "firstName", path),
        last_name=r.opt_text(node, "lastName", path),
        approves_to=_first_text(r, node, _APPROVES_TO_KEYS, path),
        custom_field_1=r.opt_text(node, "customField1", path),
        custom_field_2=r.opt_text(node, "customField2", path),
        approval_limit_cents=r.integer(node, "approvalLimit", path),
        over_limit_approver=_first_text(r, node, _OVER_LIMIT_KEYS, path),
    )


def parse_policies(body: Mapping[str, Any], requested: tuple[str, ...]) -> dict[str, Policy]:
    """Read ``policyInfo`` of the policy getter into :class:`Policy` values keyed by ID.

    A requested policy missing from the answer raises :class:`PolicyNotFoundError` naming it
    (the server omits policies the caller cannot see; silently returning fewer would hide
    that).
    """
    r = _Reader("get/policy")
    info = r.obj(body.get("policyInfo"), "policyInfo")
    out: dict[str, Policy] = {}
    for policy_id, raw in info.items():
        path = f"policyInfo.{policy_id}"
        node = r.obj(raw, path)
        out[str(policy_id)] = Policy(
            policy_id=str(policy_id),
            name=r.opt_text(node, "name", path) or "",
            output_currency=r.opt_text(node, "outputCurrency", path),
            categories=tuple(
                _category(r, c, f"{path}.categories[{i}]")
                for i, c in enumerate(r.lst(node.get("categories", []), f"{path}.categories"))
            ),
            tag_levels=_tag_levels(r, node.get("tags", []), f"{path}.tags"),
            report_fields=tuple(
                _report_field(r, f, f"{path}.reportFields[{i}]")
                for i, f in enumerate(r.lst(node.get("reportFields", []), f"{path}.reportFields"))
            ),
            employees=tuple(
                _employee(r, e, f"{path}.employees[{i}]")
                for i, e in enumerate(r.lst(node.get("employees", []), f"{path}.employees"))
            ),
        )
    missing = tuple(pid for pid in requested if pid not in out)
    if missing:
        raise PolicyNotFoundError(
            missing, "missing from the policy getter's answer", response_code=200, job=r.job
        )
    return out


def _issues(r: _Reader, raw: Any, path: str) -> tuple[ReportIssue, ...]:
    out: list[ReportIssue] = []
    for i, item in enumerate(r.lst(raw, path)):
        node = r.obj(item, f"{path}[{i}]")
        out.append(
            ReportIssue(
                report_id=r.text(node, "reportID", f"{path}[{i}]"),
                reason=r.opt_text(node, "reason", f"{path}[{i}]") or "",
            )
        )
    return tuple(out)


def parse_report_status(body: Mapping[str, Any]) -> ReportStatusResult:
    """Read the report status updater's answer (the lists decide, not the code)."""
    r = _Reader("update/reportStatus")
    ids = r.lst(body.get("reportIDs", []), "reportIDs")
    if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids):
        raise r.fail("reportIDs", "expected an array of report IDs")
    return ReportStatusResult(
        response_code=int(body["responseCode"]),
        reimbursed=tuple(str(i) for i in ids),
        skipped=_issues(r, body.get("skippedReports", []), "skippedReports"),
        failed=_issues(r, body.get("failedReports", []), "failedReports"),
    )


def parse_employee_update(body: Mapping[str, Any]) -> EmployeeUpdateResult:
    """Read the Advanced Employee Updater's answer."""
    r = _Reader("update/employees")
    diff = r.obj(body.get("diff", {}), "diff")
    skipped: list[SkippedEmployee] = []
    for i, item in enumerate(r.lst(body.get("skippedEmployees", []), "skippedEmployees")):
        path = f"skippedEmployees[{i}]"
        node = r.obj(item, path)
        skipped.append(
            SkippedEmployee(
                email=r.text(node, "email", path), reason=r.opt_text(node, "reason", path) or ""
            )
        )
    if "updatedEmployeesCount" not in body:
        raise r.fail("updatedEmployeesCount", "missing")
    count = r.integer(body, "updatedEmployeesCount", "")
    return EmployeeUpdateResult(
        dry_run=r.flag(body, "dry-run", "", False),
        updated_count=count or 0,
        diff_to_add=MappingProxyType(r.emails(diff.get("diffToAdd", {}), "diff.diffToAdd")),
        diff_to_remove=MappingProxyType(
            r.emails(diff.get("diffToRemove", {}), "diff.diffToRemove")
        ),
        security_groups=MappingProxyType(
            r.emails(body.get("securityGroupEmployeesMap", {}), "securityGroupEmployeesMap")
        ),
        skipped=tuple(skipped),
    )
