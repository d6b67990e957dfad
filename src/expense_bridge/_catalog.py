"""A snapshot of the Acumatica reference data the mapping checks a report against.

The posting layer reads it once per sync (accounts, subaccounts, vendors/employees,
projects, tasks, branches, currencies) and passes it into the pure mapping functions.
Every set is the *complete* list of valid codes: a code missing from it is reported as
unknown, so an empty set means "nothing is valid", not "don't check". The two optional
lists (``currencies``, ``cost_codes``) use ``None`` for "don't check".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = ["AccountInfo", "LedgerCatalog"]


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

    def account_is_active(self, code: str) -> bool:
        """True when ``code`` is a known, active GL account."""
        info = self.accounts.get(code)
        return info is not None and info.active

    def vendor_for(self, email: str) -> str | None:
        """The Acumatica vendor/employee ID of the submitter ``email``, if known."""
        return self.vendor_by_email.get(email.strip().lower())
