"""Reference data from Acumatica into Expensify: people, categories and tags.

Acumatica is the system of record for employees and the chart of accounts; Expensify
policies must follow it. This module has two layers:

* **Pure planners** (no clock, no network): :func:`plan_employees`, :func:`plan_categories`
  and :func:`plan_tags` take what was read from both sides and return a *diff*: the exact
  changes to send, plus the records that could not be provisioned, each with a stable
  :class:`ProvisionCode` and a sentence telling the admin how to fix it. Nothing is
  guessed: an employee without an email, two employees sharing one email, or a manager
  outside the synced set is reported, not invented.
* **Runners** (:func:`provision_employees`, :func:`align_categories`,
  :func:`align_tags`) read both sides with the typed clients, plan, and send only the
  changes -- in as few Integration Server calls as the feed rules allow -- unless
  ``dry_run`` is set. A second run right after the first sends nothing.

Decisions where the reference is silent:

* The employee updater's feed may name each email once, so an employee who moves from
  one policy to another is sent in two feeds: first added to the new policy, then
  terminated (``isTerminated``) in the old one -- unless someone in the old policy still
  submits to them (Expensify's ``shouldFixApprovalChains`` invites approvers into the
  policies where they approve; removing them would break those chains).
* Employees are matched on ``employeeID`` first (Acumatica's ``EmployeeID``: the
  updater's stable key that drives email-change detection), then on email.
* Roles are only raised: employees listed in ``ProvisioningSettings.admins`` become
  policy admins; an admin or auditor role given in Expensify is never lowered.
* People in a policy that Acumatica does not know (the policy owner, outside
  accountants) are never touched.
* An employee at the top of the reports-to chain submits to
  :attr:`ProvisioningSettings.top_approver` when set; otherwise that employee is reported
  with ``NO_MANAGER``.
* Categories are merged (never ``replace``): a category whose account became inactive
  is disabled, never deleted, because existing reports may still reference it. A
  category the admin renamed keeps its name; only its GL code and state follow
  Acumatica.
* Tags are sent inline, which replaces the policy's tag list; other tag levels are
  therefore resent unchanged, and tags whose project closed are kept but disabled.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import attrs

from acumatica_client import Contact, EmployeeSettings
from expensify_client import Category, EmployeeRecord, Policy, Tag, TagLevel
from expensify_client import Employee as Member

if TYPE_CHECKING:
    from acumatica_client import (
        Account,
        AcumaticaClient,
        Branch,
        Employee,
        Project,
        Subaccount,
    )
    from expensify_client import ExpensifyClient

__all__ = [
    "AlignResult",
    "CategoryChange",
    "CategoryPlan",
    "EmployeeChange",
    "EmployeePlan",
    "PolicyRule",
    "ProvisionCode",
    "ProvisionIssue",
    "ProvisionResult",
    "ProvisioningRun",
    "ProvisioningSettings",
    "TagPlan",
    "active_branch_codes",
    "active_project_codes",
    "active_subaccount_codes",
    "align_categories",
    "align_tags",
    "category_issues",
    "plan_categories",
    "plan_employees",
    "plan_tags",
    "provision_all",
    "provision_employees",
]

logger = logging.getLogger(__name__)

_ACTIVE_EMPLOYEE = "active"
_ACTIVE_PROJECT = "active"


class ProvisionCode(enum.Enum):
    """Stable codes for records provisioning could not handle."""

    NO_EMAIL = "EB-PROV-NO-EMAIL"
    DUPLICATE_EMAIL = "EB-PROV-DUPLICATE-EMAIL"
    MANAGER_OUTSIDE_SET = "EB-PROV-MANAGER-OUTSIDE-SET"
    NO_MANAGER = "EB-PROV-NO-MANAGER"
    NO_POLICY = "EB-PROV-NO-POLICY"
    CATEGORY_ACCOUNT_INACTIVE = "EB-PROV-CATEGORY-ACCOUNT-INACTIVE"


_FIXES: Mapping[ProvisionCode, str] = {
    ProvisionCode.NO_EMAIL: "Enter an email on the employee's contact info in Acumatica.",
    ProvisionCode.DUPLICATE_EMAIL: (
        "Give each Acumatica employee a distinct email; shared mailboxes cannot submit "
        "expenses in Expensify."
    ),
    ProvisionCode.MANAGER_OUTSIDE_SET: (
        "Set 'Reports To' to an active employee with an email, or add the manager to "
        "the synced employees."
    ),
    ProvisionCode.NO_MANAGER: (
        "Set 'Reports To' in Acumatica, or configure provisioning.top_approver for the "
        "top of the chain."
    ),
    ProvisionCode.NO_POLICY: (
        "Add the employee's department/branch/class to provisioning.policy_rule or set "
        "provisioning.default_policy."
    ),
    ProvisionCode.CATEGORY_ACCOUNT_INACTIVE: (
        "Reactivate the GL account in Acumatica, or give the category an active "
        "account's code; the category was disabled so no new expense uses it."
    ),
}


@attrs.frozen(kw_only=True)
class ProvisionIssue:
    """A record that was not provisioned, with the reason and the fix."""

    code: ProvisionCode
    subject: str  # employee ID, email, category or account code
    message: str

    @property
    def fix(self) -> str:
        """A sentence telling the admin how to resolve the issue."""
        return _FIXES[self.code]


@attrs.frozen(kw_only=True)
class PolicyRule:
    """Chooses an employee's Expensify policy from an Acumatica attribute.

    ``by`` names the attribute (``department``, ``branch`` or ``class``); ``table`` maps
    its values to policy IDs; unmatched employees go to ``ProvisioningSettings.default_policy``.
    """

    by: Literal["department", "branch", "class"] = "department"
    table: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ProvisioningSettings:
    """What provisioning does; embedded in :class:`expense_bridge.BridgeConfig`."""

    default_policy: str | None = None
    policy_rule: PolicyRule = attrs.field(factory=PolicyRule)
    top_approver: str | None = None  # email the head of the chain submits to
    terminate_leavers: bool = True
    admins: tuple[str, ...] = ()  # emails given the policy admin role
    expense_account_types: tuple[str, ...] = ("Expense",)
    new_categories_enabled: bool = True
    tag_level: str = "Project"
    tag_source: Literal["projects", "subaccounts", "branches"] = "projects"

    def policies(self) -> tuple[str, ...]:
        """Every policy this configuration can assign, sorted."""
        found = set(self.policy_rule.table.values())
        if self.default_policy:
            found.add(self.default_policy)
        return tuple(sorted(found))


# --------------------------------------------------------------------------- employees


class EmployeeAction(enum.Enum):
    """What happens to one employee in one policy."""

    ADD = "add"
    UPDATE = "update"
    TERMINATE = "terminate"


@attrs.frozen(kw_only=True)
class EmployeeChange:
    """One line of the employee diff (also one record of the updater feed)."""

    action: EmployeeAction
    record: EmployeeRecord
    changed: tuple[str, ...] = ()  # for UPDATE: which attributes differ

    @property
    def email(self) -> str:
        """The employee's email."""
        return self.record.employee_email

    @property
    def policy_id(self) -> str:
        """The policy the change applies to."""
        return self.record.policy_id


@attrs.frozen(kw_only=True)
class EmployeePlan:
    """The employee diff: changes to send, in feeds that each name an email once."""

    changes: tuple[EmployeeChange, ...] = ()
    issues: tuple[ProvisionIssue, ...] = ()
    unchanged: int = 0

    def feeds(self) -> tuple[tuple[EmployeeRecord, ...], ...]:
        """Group the changes into as few updater feeds as the one-email-per-feed rule allows.

        Adds and updates go first; terminations of people who also appear elsewhere
        (policy moves) go in a later feed so the add lands before the removal.
        """
        batches: list[list[EmployeeRecord]] = []
        seen: list[set[str]] = []
        ordered = sorted(
            self.changes, key=lambda c: (c.action is EmployeeAction.TERMINATE, c.email.lower())
        )
        for change in ordered:
            key = change.email.lower()
            for batch, emails in zip(batches, seen, strict=True):
                if key not in emails:
                    batch.append(change.record)
                    emails.add(key)
                    break
            else:
                batches.append([change.record])
                seen.append({key})
        return tuple(tuple(batch) for batch in batches)

    def count(self, action: EmployeeAction) -> int:
        """How many changes of one kind the plan holds."""
        return sum(1 for change in self.changes if change.action is action)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@attrs.frozen
class _Person:
    employee_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    active: bool
    department: str | None
    branch: str | None
    employee_class: str | None
    reports_to: str | None


def _person(employee: Employee) -> _Person:
    contact = employee.contact_info if isinstance(employee.contact_info, Contact) else None
    settings = (
        employee.employee_settings
        if isinstance(employee.employee_settings, EmployeeSettings)
        else None
    )
    status = _text(employee.status) or ""
    contact_active = True if contact is None else contact.active is not False
    return _Person(
        employee_id=_text(employee.employee_id) or "",
        email=_text(contact.email) if contact is not None else None,
        first_name=_text(contact.first_name) if contact is not None else None,
        last_name=_text(contact.last_name) if contact is not None else None,
        active=status.lower() == _ACTIVE_EMPLOYEE and contact_active,
        department=_text(settings.department_id) if settings is not None else None,
        branch=_text(settings.branch_id) if settings is not None else None,
        employee_class=_text(settings.employee_class) if settings is not None else None,
        reports_to=_text(settings.reports_to) if settings is not None else None,
    )


def _policy_for(person: _Person, settings: ProvisioningSettings) -> str | None:
    rule = settings.policy_rule
    attribute = {
        "department": person.department,
        "branch": person.branch,
        "class": person.employee_class,
    }[rule.by]
    if attribute is not None and attribute in rule.table:
        return rule.table[attribute]
    return settings.default_policy


def plan_employees(
    employees: Iterable[Employee],
    policies: Mapping[str, Policy],
    settings: ProvisioningSettings,
) -> EmployeePlan:
    """Diff Acumatica's employees against the members of the synced Expensify policies.

    ``policies`` must hold every policy the settings can assign, with their ``employees``
    section. Pure: the same inputs give the same plan.
    """
    people = sorted((_person(e) for e in employees), key=lambda p: p.employee_id)
    issues: list[ProvisionIssue] = []

    by_email: dict[str, list[_Person]] = {}
    for person in people:
        if person.email is None:
            if person.active:
                issues.append(
                    ProvisionIssue(
                        code=ProvisionCode.NO_EMAIL,
                        subject=person.employee_id,
                        message=f"employee {person.employee_id} has no email",
                    )
                )
            continue
        by_email.setdefault(person.email.lower(), []).append(person)
    unique: dict[str, _Person] = {}
    for key, group in sorted(by_email.items()):
        active = [p for p in group if p.active]
        if len(active) > 1:
            ids = ", ".join(p.employee_id for p in active)
            issues.append(
                ProvisionIssue(
                    code=ProvisionCode.DUPLICATE_EMAIL,
                    subject=key,
                    message=f"{key} belongs to several active employees ({ids})",
                )
            )
            continue
        # One active holder wins; otherwise the most recent inactive record (a leaver).
        unique[key] = active[0] if active else group[-1]

    email_of = {p.employee_id: p.email for p in unique.values() if p.active and p.email}

    members: dict[tuple[str, str], Member] = {}
    for policy_id, policy in policies.items():
        for member in policy.employees:
            members[(policy_id, member.email.lower())] = member
    member_by_id: dict[str, list[tuple[str, str]]] = {}
    for (policy_id, email), known in members.items():
        if known.employee_id:
            member_by_id.setdefault(known.employee_id, []).append((policy_id, email))

    admins = {a.lower() for a in settings.admins}
    elsewhere: list[tuple[_Person, str, str, str]] = []  # memberships outside the target
    approvers: dict[str, set[str]] = {}
    for (policy_id, _), known in members.items():
        for chain in (known.submits_to, known.approves_to, known.over_limit_approver):
            if chain:
                approvers.setdefault(policy_id, set()).add(chain.lower())
    changes: list[EmployeeChange] = []
    unchanged = 0
    for key, person in sorted(unique.items()):
        email_now = person.email or key  # grouped by email above
        current = sorted(
            {(pid, em) for (pid, em) in members if em == key}
            | set(member_by_id.get(person.employee_id, ()))
        )
        if not person.active:
            if settings.terminate_leavers:
                for policy_id, email in current:
                    changes.append(
                        EmployeeChange(
                            action=EmployeeAction.TERMINATE,
                            record=_record(
                                person, email, policy_id, manager=email, terminated=True
                            ),
                        )
                    )
            continue

        target = _policy_for(person, settings)
        if target is None or target not in policies:
            issues.append(
                ProvisionIssue(
                    code=ProvisionCode.NO_POLICY,
                    subject=person.employee_id,
                    message=(
                        f"no Expensify policy for employee {person.employee_id}"
                        if target is None
                        else f"policy {target} for employee {person.employee_id} is not synced"
                    ),
                )
            )
            continue
        manager = _manager_email(person, email_of, settings)
        if isinstance(manager, ProvisionIssue):
            issues.append(manager)
            continue
        role = "admin" if key in admins else None  # never demotes an admin set in Expensify
        record = _record(person, email_now, target, manager=manager, role=role)
        existing = members.get((target, key))
        if existing is None:
            changes.append(EmployeeChange(action=EmployeeAction.ADD, record=record))
        else:
            changed = _differences(existing, record)
            if changed:
                changes.append(
                    EmployeeChange(action=EmployeeAction.UPDATE, record=record, changed=changed)
                )
            else:
                unchanged += 1
        approvers.setdefault(target, set()).add(manager.lower())
        for other_policy, email in current:
            if other_policy != target and settings.terminate_leavers:
                elsewhere.append((person, email, other_policy, manager))
    for person, email, other_policy, manager in elsewhere:
        if email in approvers.get(other_policy, set()):
            continue  # still approves someone there (Expensify fixed the chain)
        changes.append(
            EmployeeChange(
                action=EmployeeAction.TERMINATE,
                record=_record(person, email, other_policy, manager=manager, terminated=True),
            )
        )
    return EmployeePlan(changes=tuple(changes), issues=tuple(issues), unchanged=unchanged)


def _manager_email(
    person: _Person, email_of: Mapping[str, str | None], settings: ProvisioningSettings
) -> str | ProvisionIssue:
    if person.reports_to is None:
        if settings.top_approver:
            return settings.top_approver
        return ProvisionIssue(
            code=ProvisionCode.NO_MANAGER,
            subject=person.employee_id,
            message=f"employee {person.employee_id} reports to nobody",
        )
    manager = email_of.get(person.reports_to)
    if manager is None:
        return ProvisionIssue(
            code=ProvisionCode.MANAGER_OUTSIDE_SET,
            subject=person.employee_id,
            message=(
                f"employee {person.employee_id} reports to {person.reports_to}, who is not an "
                "active synced employee with an email"
            ),
        )
    return manager


def _record(
    person: _Person,
    email: str,
    policy_id: str,
    *,
    manager: str,
    role: str | None = None,
    terminated: bool = False,
) -> EmployeeRecord:
    return EmployeeRecord(
        employee_email=email,
        manager_email=manager,
        employee_id=person.employee_id,
        policy_id=policy_id,
        first_name=person.first_name,
        last_name=person.last_name,
        role=role,
        is_terminated=terminated,
    )


def _differences(member: Member, record: EmployeeRecord) -> tuple[str, ...]:
    wanted = {
        "submits_to": record.manager_email.lower(),
        "employee_id": record.employee_id,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "role": record.role,
    }
    changed: list[str] = []
    for name, value in wanted.items():
        have = getattr(member, name, None)
        if name == "submits_to" and isinstance(have, str):
            have = have.lower()
        if name in ("first_name", "last_name") and (have is None or value is None):
            continue  # the updater never clears names; a missing side is not a change
        if name == "role" and value is None:
            continue  # roles are only ever raised to admin, never lowered
        if have != value:
            changed.append(name)
    return tuple(changed)


# --------------------------------------------------------------------------- categories


@attrs.frozen(kw_only=True)
class CategoryChange:
    """One category to merge into a policy, and why."""

    category: Category
    reason: Literal["new", "gl_code", "disable", "enable"]


@attrs.frozen(kw_only=True)
class CategoryPlan:
    """Categories to merge into one policy (never a replace), and categories to report."""

    policy_id: str
    changes: tuple[CategoryChange, ...] = ()
    issues: tuple[ProvisionIssue, ...] = ()

    @property
    def categories(self) -> tuple[Category, ...]:
        """The categories to send with ``action: merge``."""
        return tuple(change.category for change in self.changes)


def _category_name(account: Account) -> str:
    description = _text(account.description)
    code = _text(account.account_cd) or ""
    return description or code


def category_issues(policy: Policy, is_active: Callable[[str], bool]) -> tuple[ProvisionIssue, ...]:
    """Categories whose GL code names no active account (``is_active(code)``).

    The same check runs in :func:`plan_categories` and in ``sync()``'s preflight.
    """
    return tuple(
        ProvisionIssue(
            code=ProvisionCode.CATEGORY_ACCOUNT_INACTIVE,
            subject=category.name,
            message=(
                f"category {category.name!r} has GL code {category.gl_code}, which is not an "
                "active expense account in Acumatica"
            ),
        )
        for category in sorted(policy.categories, key=lambda c: c.name)
        if category.gl_code and not is_active(category.gl_code)
    )


def plan_categories(
    accounts: Iterable[Account], policy: Policy, settings: ProvisioningSettings
) -> CategoryPlan:
    """Merge the expense accounts into a policy's categories (account code = GL code).

    Accounts of the configured types become categories; categories whose GL code names an
    inactive (or vanished) account are disabled, never deleted, and reported.
    """
    types = {t.lower() for t in settings.expense_account_types}
    active: dict[str, Account] = {}
    inactive: set[str] = set()
    for account in accounts:
        code = _text(account.account_cd)
        if code is None:
            continue
        if _text(account.type) is None or str(account.type).lower() not in types:
            continue
        if account.active is False:
            inactive.add(code)
        else:
            active[code] = account

    by_code: dict[str, Category] = {}
    by_name = {c.name.lower(): c for c in policy.categories}
    for category in policy.categories:
        if category.gl_code:
            by_code.setdefault(category.gl_code, category)

    # The policy getter's documented category shape has no GL code: when no category
    # carries one, GL codes are unknown (not "missing"), and re-sending them on every run
    # would change nothing the getter could ever show. Only new categories are planned.
    codes_known = any(c.gl_code for c in policy.categories)
    changes: list[CategoryChange] = []
    for code, account in sorted(active.items()):
        existing = by_code.get(code) or by_name.get(_category_name(account).lower())
        if existing is None:
            changes.append(
                CategoryChange(
                    category=Category(
                        name=_category_name(account),
                        enabled=settings.new_categories_enabled,
                        gl_code=code,
                    ),
                    reason="new",
                )
            )
        elif existing.gl_code != code and (codes_known or existing.gl_code is not None):
            changes.append(
                CategoryChange(category=attrs.evolve(existing, gl_code=code), reason="gl_code")
            )
    issues = category_issues(policy, active.__contains__)
    flagged = {issue.subject for issue in issues}
    for category in sorted(policy.categories, key=lambda c: c.name):
        if category.name in flagged and category.enabled:
            changes.append(
                CategoryChange(category=attrs.evolve(category, enabled=False), reason="disable")
            )
    return CategoryPlan(policy_id=policy.policy_id, changes=tuple(changes), issues=issues)


# --------------------------------------------------------------------------- tags


@attrs.frozen(kw_only=True)
class TagPlan:
    """The full tag list to send to one policy, or ``None`` levels when nothing changes."""

    policy_id: str
    levels: tuple[TagLevel, ...] | None  # None: nothing to send
    added: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()


def plan_tags(
    values: Mapping[str, str],
    policy: Policy,
    settings: ProvisioningSettings,
) -> TagPlan:
    """Align one tag level with Acumatica codes (``values``: active code -> description).

    Each active code becomes a tag named ``"<code> - <description>"`` (or just the code)
    with the code as its GL code; tags whose code is no longer active are kept, disabled.
    Other tag levels are resent unchanged (an inline tags update replaces the whole list).
    """
    levels = list(policy.tag_levels)
    index = next((i for i, level in enumerate(levels) if level.name == settings.tag_level), None)
    if index is None and len(levels) == 1:
        # Expensify's single-level tag form carries no level name (the client sends none),
        # so a policy's only level keeps whatever name it has ("Tag" for a new list): with
        # one level, that level is the configured one whatever its name.
        index = 0
    current = levels[index].tags if index is not None else ()
    by_code = {t.gl_code: t for t in current if t.gl_code}
    wanted: list[Tag] = []
    added: list[str] = []
    enabled: list[str] = []
    for code, description in sorted(values.items()):
        existing = by_code.get(code)
        if existing is None:
            name = f"{code} - {description}" if description else code
            wanted.append(Tag(name=name, enabled=True, gl_code=code))
            added.append(code)
        else:
            if not existing.enabled:
                enabled.append(code)
            wanted.append(attrs.evolve(existing, enabled=True))
    disabled: list[str] = []
    for tag in current:
        if tag.gl_code in values:
            continue
        if tag.gl_code is None:
            wanted.append(tag)  # not ours: kept as it is
            continue
        if tag.enabled:
            disabled.append(tag.gl_code)
        wanted.append(attrs.evolve(tag, enabled=False))
    if not (added or disabled or enabled):
        return TagPlan(policy_id=policy.policy_id, levels=None)
    new_level = TagLevel(
        name=settings.tag_level,
        tags=tuple(wanted),
        required=levels[index].required if index is not None else False,
    )
    if index is None:
        levels.insert(0, new_level)
    else:
        levels[index] = new_level
    return TagPlan(
        policy_id=policy.policy_id,
        levels=tuple(levels),
        added=tuple(added),
        disabled=tuple(disabled),
        enabled=tuple(enabled),
    )


def active_project_codes(projects: Sequence[Project]) -> dict[str, str]:
    """Active Acumatica projects as ``code -> description`` for :func:`plan_tags`."""
    found: dict[str, str] = {}
    for project in projects:
        code = _text(project.project_id)
        status = (_text(project.status) or "").lower()
        if code is None or status != _ACTIVE_PROJECT or project.hold is True:
            continue
        found[code] = _text(project.description) or ""
    return found


def active_subaccount_codes(subaccounts: Sequence[Subaccount]) -> dict[str, str]:
    """Active Acumatica subaccounts as ``code -> description`` for :func:`plan_tags`."""
    found: dict[str, str] = {}
    for sub in subaccounts:
        code = _text(sub.subaccount_cd)
        if code is None or sub.active is False:
            continue
        found[code] = _text(sub.description) or ""
    return found


def active_branch_codes(branches: Sequence[Branch]) -> dict[str, str]:
    """Active Acumatica branches as ``code -> name`` for :func:`plan_tags`."""
    found: dict[str, str] = {}
    for branch in branches:
        code = _text(branch.branch_id)
        if code is None or branch.branch_status is False:
            continue
        found[code] = _text(branch.branch_name) or ""
    return found


@attrs.frozen(kw_only=True)
class AlignResult:
    """What :func:`align_categories` / :func:`align_tags` did per policy."""

    category_plans: tuple[CategoryPlan, ...] = ()
    tag_plans: tuple[TagPlan, ...] = ()
    dry_run: bool = False
    expensify_calls: int = 0
    acumatica_calls: int = 0


# --------------------------------------------------------------------------- runners


@attrs.frozen(kw_only=True)
class ProvisionResult:
    """What :func:`provision_employees` planned and (unless a dry run) sent."""

    plan: EmployeePlan
    dry_run: bool
    feeds_sent: int = 0
    skipped: tuple[tuple[str, str], ...] = ()  # (email, reason) the updater reported
    expensify_calls: int = 0
    acumatica_calls: int = 0


class _Calls:
    """Counts calls made through a client by watching its ``calls`` attribute if any."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._start = self._now()

    def _now(self) -> int:
        value = getattr(self._client, "calls", 0)
        return value if isinstance(value, int) else 0

    @property
    def made(self) -> int:
        return self._now() - self._start


def _settings(config: object) -> ProvisioningSettings:
    settings = getattr(config, "provisioning", None)
    if not isinstance(settings, ProvisioningSettings):
        raise TypeError("config.provisioning must be a ProvisioningSettings")
    return settings


def _employees_with_details(acumatica: AcumaticaClient) -> list[Employee]:
    from acumatica_client import Employee

    return list(acumatica.iterate(Employee, expand=("ContactInfo", "EmployeeSettings")))


def provision_employees(
    config: object,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    dry_run: bool = False,
    policies: Mapping[str, Policy] | None = None,
) -> ProvisionResult:
    """Bring the synced policies' members in line with Acumatica's employees.

    Reads every employee (one paged listing) and the synced policies' members (one policy
    getter call), computes the diff with :func:`plan_employees`, and sends only the
    changes through the Advanced Employee Updater: one call per feed (usually one; two
    when someone moves policy). ``dry_run`` sends nothing and returns the diff.
    """
    settings = _settings(config)
    acu, exp = _Calls(acumatica), _Calls(expensify)
    employees = _employees_with_details(acumatica)
    if policies is None:
        policies = expensify.get_policies(settings.policies(), ("employees",))
    plan = plan_employees(employees, policies, settings)
    skipped: list[tuple[str, str]] = []
    sent = 0
    if not dry_run:
        for feed in plan.feeds():
            result = expensify.update_employees(feed)
            sent += 1
            skipped.extend((s.email, s.reason) for s in result.skipped)
    logger.info(
        "provisioning: %d changes, %d issues, %d feeds sent%s",
        len(plan.changes),
        len(plan.issues),
        sent,
        " (dry run)" if dry_run else "",
    )
    return ProvisionResult(
        plan=plan,
        dry_run=dry_run,
        feeds_sent=sent,
        skipped=tuple(skipped),
        expensify_calls=exp.made,
        acumatica_calls=acu.made,
    )


def align_categories(
    config: object,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    dry_run: bool = False,
    policies: Mapping[str, Policy] | None = None,
) -> AlignResult:
    """Merge Acumatica's active expense accounts into each synced policy's categories.

    One account listing, one policy getter call, and one ``merge`` update per policy
    that has changes. Categories are never deleted (see :func:`plan_categories`).
    """
    from acumatica_client import Account

    settings = _settings(config)
    acu, exp = _Calls(acumatica), _Calls(expensify)
    accounts = list(acumatica.iterate(Account))
    if policies is None:
        policies = expensify.get_policies(_synced(config, settings), ("categories",))
    plans = tuple(
        plan_categories(accounts, policy, settings) for _, policy in sorted(policies.items())
    )
    if not dry_run:
        for plan in plans:
            if plan.changes:
                expensify.update_policy(
                    plan.policy_id, categories=plan.categories, categories_action="merge"
                )
    return AlignResult(
        category_plans=plans,
        dry_run=dry_run,
        expensify_calls=exp.made,
        acumatica_calls=acu.made,
    )


def align_tags(
    config: object,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    dry_run: bool = False,
    policies: Mapping[str, Policy] | None = None,
) -> AlignResult:
    """Make active Acumatica projects (or subaccounts) a tag level of each synced policy.

    ``provisioning.tag_source`` picks the source. Tag GL codes are the Acumatica codes,
    so the tag -> dimension map used by posting always resolves. One Acumatica listing,
    one policy getter call, one update per policy whose tags changed.
    """
    from acumatica_client import Project, Subaccount

    settings = _settings(config)
    acu, exp = _Calls(acumatica), _Calls(expensify)
    if settings.tag_source == "projects":
        codes = active_project_codes(list(acumatica.iterate(Project)))
    elif settings.tag_source == "branches":
        codes = active_branch_codes(acumatica.branches())
    else:
        codes = active_subaccount_codes(list(acumatica.iterate(Subaccount)))
    if policies is None:
        policies = expensify.get_policies(_synced(config, settings), ("tags",))
    plans = tuple(plan_tags(codes, policy, settings) for _, policy in sorted(policies.items()))
    if not dry_run:
        for plan in plans:
            if plan.levels is not None:
                expensify.update_policy(plan.policy_id, tags=plan.levels)
    return AlignResult(
        tag_plans=plans, dry_run=dry_run, expensify_calls=exp.made, acumatica_calls=acu.made
    )


def _synced(config: object, settings: ProvisioningSettings) -> tuple[str, ...]:
    configured = getattr(config, "policies", ())
    ids = set(configured) if configured else set()
    ids.update(settings.policies())
    return tuple(sorted(ids))


@attrs.frozen(kw_only=True)
class ProvisioningRun:
    """The three provisioning steps of one run (employees, categories, tags)."""

    employees: ProvisionResult
    categories: AlignResult
    tags: AlignResult
    expensify_total: int = 0

    @property
    def expensify_calls(self) -> int:
        """Integration Server requests made by the whole run (the shared getter included)."""
        return self.expensify_total

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (``--json``)."""
        plan = self.employees.plan
        return {
            "dry_run": self.employees.dry_run,
            "employees": {
                "add": plan.count(EmployeeAction.ADD),
                "update": plan.count(EmployeeAction.UPDATE),
                "terminate": plan.count(EmployeeAction.TERMINATE),
                "unchanged": plan.unchanged,
                "feeds_sent": self.employees.feeds_sent,
                "changes": [
                    {"action": c.action.value, "email": c.email, "policy": c.policy_id,
                     "manager": c.record.manager_email, "changed": list(c.changed)}
                    for c in plan.changes
                ],
                "issues": [
                    {"code": i.code.value, "subject": i.subject, "message": i.message,
                     "fix": i.fix}
                    for i in plan.issues
                ],
            },
            "categories": [
                {"policy": p.policy_id,
                 "changes": [{"name": c.category.name, "gl_code": c.category.gl_code,
                              "reason": c.reason} for c in p.changes],
                 "issues": [{"code": i.code.value, "subject": i.subject} for i in p.issues]}
                for p in self.categories.category_plans
            ],
            "tags": [
                {"policy": p.policy_id, "added": list(p.added), "disabled": list(p.disabled),
                 "enabled": list(p.enabled)}
                for p in self.tags.tag_plans
            ],
            "expensify_calls": self.expensify_calls,
        }  # fmt: skip


def provision_all(
    config: object,
    *,
    acumatica: AcumaticaClient,
    expensify: ExpensifyClient,
    dry_run: bool = False,
) -> ProvisioningRun:
    """Run :func:`align_categories`, :func:`align_tags` and :func:`provision_employees`.

    The synced policies are read once (one getter call with every section) and shared by
    the three steps, so a run costs one getter call plus one call per change set.
    """
    settings = _settings(config)
    before = _Calls(expensify)
    ids = _synced(config, settings)
    policies = expensify.get_policies(ids, ("employees", "categories", "tags"))
    categories = align_categories(
        config, acumatica=acumatica, expensify=expensify, dry_run=dry_run, policies=policies
    )
    tags = align_tags(
        config, acumatica=acumatica, expensify=expensify, dry_run=dry_run, policies=policies
    )
    employees = provision_employees(
        config, acumatica=acumatica, expensify=expensify, dry_run=dry_run, policies=policies
    )
    return ProvisioningRun(
        employees=employees, categories=categories, tags=tags, expensify_total=before.made
    )
