"""Bridge errors: what went wrong with a report, where, and what the admin should do.

Exception tree (recovery intent in brackets, read from the class alone)::

    BridgeError                     root of every bridge error
    ├── MappingError                a report cannot be mapped  [mark the report failed, continue]
    ├── ConfigError                 the configuration is unusable  [abort the sync]
    └── PostingError                Acumatica refused or a posted report changed  [mark, continue]

A :class:`MappingError` carries *every* :class:`Problem` of the report at once, so the admin
can fix all of them in one go instead of one per sync. Each problem has a stable
:class:`ErrorCode` (its value, e.g. ``"EB-CATEGORY-UNKNOWN"``, is what the state store and
the audit trail record), a field path into the report (``"expenses[3].category"``) or into
the rules (``"rules.card_vendor"``), the Expensify transaction ID when one expense is at fault,
a message saying what is wrong and a ``fix`` sentence saying how to repair it.

Messages never contain secrets: they name reports, expenses, categories and accounts only.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

__all__ = [
    "BridgeError",
    "ConfigError",
    "ErrorCode",
    "MappingError",
    "PostingError",
    "Problem",
]


class ErrorCode(enum.Enum):
    """Stable identifiers of everything that can stop a report from posting.

    The string values never change once released: they are stored and shown to admins.
    """

    # Mapping problems (a report's data does not fit the ledger or the rules)
    REPORT_EMPTY = "EB-REPORT-EMPTY"
    REPORT_ID_INVALID = "EB-REPORT-ID-INVALID"
    CATEGORY_UNKNOWN = "EB-CATEGORY-UNKNOWN"
    CATEGORY_NO_GL_CODE = "EB-CATEGORY-NO-GL-CODE"
    GL_ACCOUNT_INACTIVE = "EB-GL-ACCOUNT-INACTIVE"
    SUBMITTER_NO_VENDOR = "EB-SUBMITTER-NO-VENDOR"
    TAG_UNMAPPED = "EB-TAG-UNMAPPED"
    TAG_MISSING = "EB-TAG-MISSING"
    TAG_VALUE_UNKNOWN = "EB-TAG-VALUE-UNKNOWN"
    REPORT_FIELD_UNKNOWN = "EB-REPORT-FIELD-UNKNOWN"  # a report field's value is not in Acumatica
    CURRENCY_UNSUPPORTED = "EB-CURRENCY-UNSUPPORTED"
    CURRENCY_PRECISION = "EB-CURRENCY-PRECISION"
    CURRENCY_NOT_BASE = "EB-CURRENCY-NOT-BASE"  # rules.post_in = "base", report in another
    CONVERSION_MISSING = "EB-CONVERSION-MISSING"
    DATE_MISSING = "EB-DATE-MISSING"
    CARD_TARGET_INCOMPLETE = "EB-CARD-TARGET-INCOMPLETE"
    REIMBURSABLE_TARGET_INCOMPLETE = "EB-REIMBURSABLE-TARGET-INCOMPLETE"
    DEFAULT_VALUE_UNKNOWN = "EB-DEFAULT-VALUE-UNKNOWN"
    RULES_INVALID = "EB-RULES-INVALID"
    # Posting problems (used by the posting layer)
    CHANGED_AFTER_POSTING = "EB-CHANGED-AFTER-POSTING"
    LEDGER_REJECTED = "EB-LEDGER-REJECTED"
    # Accounting-depth checks (issue 11; raised outside plan_report: _periods, _tax)
    PERIOD_CLOSED = "EB-PERIOD-CLOSED"  # the document date's period is closed (rule: hold)
    PERIOD_UNKNOWN = "EB-PERIOD-UNKNOWN"  # the document date is in no financial period
    TAX_UNMAPPED = "EB-TAX-UNMAPPED"  # an expense's tax code/name has no tax category
    DOCUMENT_MISMATCH = "EB-DOCUMENT-MISMATCH"  # found by key, other content: not adopted
    TOTAL_MISMATCH = "EB-TOTAL-MISMATCH"  # planned lines do not add up to the report total
    REPORT_UNPARSED = "EB-REPORT-UNPARSED"  # the export's report could not be read

    @classmethod
    def from_value(cls, value: str) -> ErrorCode:
        """The code whose stable string is ``value`` (as stored); ``ValueError`` otherwise."""
        return cls(value)


@attrs.frozen(kw_only=True)
class Problem:
    """One reason a report cannot be posted, with where it is and how to fix it."""

    code: ErrorCode
    field: str  # e.g. "expenses[3].category", "currency", "rules.card_vendor"
    message: str
    fix: str
    transaction_id: str | None = None

    def __str__(self) -> str:
        where = (
            self.field if self.transaction_id is None else f"{self.field} ({self.transaction_id})"
        )
        return f"{self.code.value} at {where}: {self.message} Fix: {self.fix}"


class BridgeError(Exception):
    """Root of every error raised by :mod:`expense_bridge`.

    ``retryable``: trying the same report again later may succeed without anyone acting.
    ``aborts_sync``: the whole sync run must stop (the configuration, not one report, is bad).
    """

    retryable: ClassVar[bool] = False
    aborts_sync: ClassVar[bool] = False


def _summary(problems: tuple[Problem, ...]) -> str:
    if not problems:
        return "no problems listed"
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first}{more}"


class MappingError(BridgeError):
    """A report cannot be turned into Acumatica documents; ``problems`` lists every reason."""

    def __init__(self, report_id: str, problems: tuple[Problem, ...]) -> None:
        self.report_id = report_id
        self.problems = tuple(problems)
        super().__init__(f"report {report_id} cannot be posted: {_summary(self.problems)}")

    @property
    def codes(self) -> frozenset[ErrorCode]:
        """The distinct codes of :attr:`problems`."""
        return frozenset(p.code for p in self.problems)

    def __reduce__(self) -> tuple[type[MappingError], tuple[str, tuple[Problem, ...]]]:
        return (type(self), (self.report_id, self.problems))


class ConfigError(BridgeError):
    """The configuration cannot work for any report; ``problems`` lists every reason."""

    aborts_sync: ClassVar[bool] = True

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"configuration is invalid: {_summary(self.problems)}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[Problem, ...]]]:
        return (type(self), (self.problems,))


class PostingError(BridgeError):
    """Posting one report failed for a reason that needs an admin (``code`` says which)."""

    def __init__(self, report_id: str, code: ErrorCode, message: str) -> None:
        self.report_id = report_id
        self.code = code
        self.message = message
        super().__init__(f"report {report_id}: {code.value}: {message}")

    def __reduce__(self) -> tuple[type[PostingError], tuple[str, ErrorCode, str]]:
        return (type(self), (self.report_id, self.code, self.message))
