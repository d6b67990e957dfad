"""A snapshot of the Acumatica reference data the mapping checks a report against.

The posting layer reads it once per sync (accounts, subaccounts, vendors/employees,
projects, tasks, branches, currencies) and passes it into the pure mapping functions.
Every set is the *complete* list of valid codes: a code missing from it is reported as
unknown, so an empty set means "nothing is valid", not "don't check". The optional
lists (``currencies``, ``cost_codes``, ``expense_items``, ``tax_zones``) use ``None`` for
"don't check"; ``periods`` (the financial calendar, read only when the tenant has one)
too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from acumatica_client import Account, Branch, Employee, Project, ProjectTask, Subaccount, Vendor

from ._periods import PeriodCalendar

__all__ = ["AccountInfo", "LedgerCatalog"]

#: Statuses in which a record can be posted to (anything else, e.g. "Inactive", "On Hold",
#: "Completed", "Canceled", is left out of the catalog).
_USABLE_STATUSES = frozenset({"Active", "Planned"})


@attrs.frozen(kw_only=True)
class AccountInfo:
    """One GL account: its code (``AccountCD``), whether it is active, its type and name."""

    code: str
    active: bool = True
    type: str | None = None  # Asset | Liability | Expense | Income ...
    description: str | None = None


def _lower_keys(value: Mapping[str, str]) -> Mapping[str, str]:
    return {k.strip().lower(): v for k, v in sorted(value.items())}


def _strs(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _opt_strs(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _pairs(value: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for a, b in value)


def _accounts(
    value: Mapping[str, AccountInfo] | Iterable[AccountInfo],
) -> Mapping[str, AccountInfo]:
    if isinstance(value, Mapping):
        return dict(value)
    return {a.code: a for a in value}


@attrs.frozen(kw_only=True)
class LedgerCatalog:
    """Acumatica reference data, read once per sync (see the module docstring).

    ``accounts`` may be given as a mapping code -> :class:`AccountInfo` or as an iterable of
    :class:`AccountInfo`. ``vendor_by_email`` keys are lower-cased (and stripped) on
    construction so look-ups are case-insensitive, as e-mail addresses are in practice.
    """

    accounts: Mapping[str, AccountInfo] = attrs.field(factory=dict, converter=_accounts)
    subaccounts: frozenset[str] = attrs.field(factory=frozenset, converter=_strs)
    vendor_by_email: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    vendors: frozenset[str] = attrs.field(factory=frozenset, converter=_strs)
    projects: frozenset[str] = attrs.field(factory=frozenset, converter=_strs)
    project_tasks: frozenset[tuple[str, str]] = attrs.field(factory=frozenset, converter=_pairs)
    branches: frozenset[str] = attrs.field(factory=frozenset, converter=_strs)
    currencies: frozenset[str] | None = attrs.field(default=None, converter=_opt_strs)
    cost_codes: frozenset[str] | None = attrs.field(default=None, converter=_opt_strs)
    # Expense items (active NonStockItem IDs) an expense claim line may name; None: unchecked.
    expense_items: frozenset[str] | None = attrs.field(default=None, converter=_opt_strs)
    # Tax zones (TaxZone IDs) rules.tax_zone may name; None: not read (unchecked).
    tax_zones: frozenset[str] | None = attrs.field(default=None, converter=_opt_strs)
    # The tenant's financial periods; None: not read (no closed-period check).
    periods: PeriodCalendar | None = None
    # E-mail -> EmployeeID of active employees, and -> VendorID of vendor records only
    # (``vendor_by_email`` merges both, employees first): rules.create_missing_vendors.
    employee_by_email: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    vendor_record_by_email: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)

    @classmethod
    def from_records(
        cls,
        *,
        accounts: Iterable[Account] = (),
        subaccounts: Iterable[Subaccount] = (),
        employees: Iterable[Employee] = (),
        vendors: Iterable[Vendor] = (),
        projects: Iterable[Project] = (),
        project_tasks: Iterable[ProjectTask] = (),
        branches: Iterable[Branch] = (),
        currencies: Iterable[str] | None = None,
        cost_codes: Iterable[str] | None = None,
    ) -> LedgerCatalog:
        """A catalog from Acumatica records as the client reads them (pure, no I/O).

        Accounts keep their ``Active`` flag (an inactive one is reported as such).
        Inactive subaccounts and branches, and employees, vendors, projects and tasks whose
        status is not Active/Planned (or a project on hold) are left out. E-mail look-up
        maps each employee's ``ContactInfo.Email`` (then each vendor's ``MainContact.Email``
        not already taken, employees first, each by ascending ID) to its ID.
        """
        return _from_records(
            cls,
            accounts=accounts,
            subaccounts=subaccounts,
            employees=employees,
            vendors=vendors,
            projects=projects,
            project_tasks=project_tasks,
            branches=branches,
            currencies=currencies,
            cost_codes=cost_codes,
        )

    def account_is_active(self, code: str) -> bool:
        """True when ``code`` is a known, active GL account."""
        info = self.accounts.get(code)
        return info is not None and info.active

    def vendor_for(self, email: str) -> str | None:
        """The Acumatica vendor/employee ID of the submitter ``email``, if known."""
        return self.vendor_by_email.get(email.strip().lower())


def _text(value: Any) -> str | None:
    """A set string field's value (``UNSET`` / ``None`` / blank: ``None``)."""
    return value.strip() or None if isinstance(value, str) else None


def _usable(status: Any, *, default: bool = True) -> bool:
    text = _text(status)
    return default if text is None else text in _USABLE_STATUSES


def _from_records(
    cls: type[LedgerCatalog],
    *,
    accounts: Iterable[Account] = (),
    subaccounts: Iterable[Subaccount] = (),
    employees: Iterable[Employee] = (),
    vendors: Iterable[Vendor] = (),
    projects: Iterable[Project] = (),
    project_tasks: Iterable[ProjectTask] = (),
    branches: Iterable[Branch] = (),
    currencies: Iterable[str] | None = None,
    cost_codes: Iterable[str] | None = None,
) -> LedgerCatalog:
    infos = []
    for account in accounts:
        code = _text(account.account_cd)
        if code is not None:
            infos.append(
                AccountInfo(
                    code=code,
                    active=account.active is not False,
                    type=_text(account.type),
                    description=_text(account.description),
                )
            )
    subs = {
        code
        for sub in subaccounts
        if (code := _text(sub.subaccount_cd)) is not None and sub.active is not False
    }
    by_email: dict[str, str] = {}
    employee_emails: dict[str, str] = {}
    vendor_emails: dict[str, str] = {}
    vendor_ids: set[str] = set()
    for employee in sorted(employees, key=lambda e: _text(e.employee_id) or ""):
        ident = _text(employee.employee_id)
        if ident is None or not _usable(employee.status):
            continue
        vendor_ids.add(ident)
        contact = employee.contact_info
        email = _text(contact.email) if contact else None
        if email is not None:
            by_email.setdefault(email.lower(), ident)
            employee_emails.setdefault(email.lower(), ident)
    for vendor in sorted(vendors, key=lambda v: _text(v.vendor_id) or ""):
        ident = _text(vendor.vendor_id)
        if ident is None or not _usable(vendor.status):
            continue
        vendor_ids.add(ident)
        contact = vendor.main_contact
        email = _text(contact.email) if contact else None
        if email is not None:
            by_email.setdefault(email.lower(), ident)  # employees win over vendors
            vendor_emails.setdefault(email.lower(), ident)
    project_ids = {
        ident
        for project in projects
        if (ident := _text(project.project_id)) is not None
        and _usable(project.status)
        and project.hold is not True
    }
    tasks: set[tuple[str, str]] = set()
    for task in project_tasks:
        project_id, task_id = _text(task.project_id), _text(task.project_task_id)
        if project_id is None or task_id is None or not _usable(task.status):
            continue
        if project_id in project_ids:
            tasks.add((project_id, task_id))
    branch_ids = {
        ident
        for branch in branches
        if (ident := _text(branch.branch_id)) is not None and branch.branch_status is not False
    }
    return cls(
        accounts=infos,
        subaccounts=subs,
        vendor_by_email=by_email,
        vendors=vendor_ids,
        projects=project_ids,
        project_tasks=tasks,
        branches=branch_ids,
        currencies=currencies,
        cost_codes=cost_codes,
        employee_by_email=employee_emails,
        vendor_record_by_email=vendor_emails,
    )
