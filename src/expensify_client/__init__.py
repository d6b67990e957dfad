"""A typed client for the Expensify (Classic) Integration Server.

The public names are re-exported here; implementation lives in ``_private`` modules.
"""

from __future__ import annotations

import logging as _logging
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _distribution_version

from ._cents import MINOR_UNITS, cents_to_decimal, decimal_to_cents, minor_units
from ._client import DEFAULT_BASE_URL, ClientOptions, ExpensifyClient
from ._credentials import Credentials
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CurrencyPrecisionError,
    DataError,
    ExpensifyError,
    ExportParseError,
    FileNotFoundOnServerError,
    FileNotReadyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PolicyNotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from ._export import iter_report_export, parse_report_export
from ._jobs import (
    POLICY_FIELDS,
    EmployeeRecord,
    ExportFilters,
    ExportRequest,
    download_job,
    employee_feed,
    employee_update_job,
    export_job,
    policy_get_job,
    policy_list_job,
    policy_update_job,
    report_status_job,
)
from ._limiter import RateLimiter, SharedRateLimiter
from ._models import (
    Attendee,
    Category,
    Employee,
    Expense,
    Policy,
    PolicySummary,
    Report,
    ReportField,
    ReportProblem,
    ReportState,
    Tag,
    TagLevel,
    TagValue,
    UnparsedReport,
)
from ._results import EmployeeUpdateResult, ReportIssue, ReportStatusResult, SkippedEmployee
from ._retry import RetryPolicy
from ._template import EXPORT_TEMPLATE, export_template, report_field_key

# Library logging: records go nowhere unless the application configures a handler.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

try:
    __version__: str = _distribution_version("expense-bridge")
    """The installed distribution's version (one source: ``pyproject.toml``)."""
except _PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_BASE_URL",
    "EXPORT_TEMPLATE",
    "MINOR_UNITS",
    "POLICY_FIELDS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Attendee",
    "AuthenticationError",
    "Category",
    "ClientOptions",
    "Credentials",
    "CurrencyPrecisionError",
    "DataError",
    "Employee",
    "EmployeeRecord",
    "EmployeeUpdateResult",
    "Expense",
    "ExpensifyClient",
    "ExpensifyError",
    "ExportFilters",
    "ExportParseError",
    "ExportRequest",
    "FileNotFoundOnServerError",
    "FileNotReadyError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "Policy",
    "PolicyNotFoundError",
    "PolicySummary",
    "RateLimitError",
    "RateLimiter",
    "Report",
    "ReportField",
    "ReportIssue",
    "ReportProblem",
    "ReportState",
    "ReportStatusResult",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "SharedRateLimiter",
    "SkippedEmployee",
    "Tag",
    "TagLevel",
    "TagValue",
    "UnparsedReport",
    "ValidationError",
    "cents_to_decimal",
    "decimal_to_cents",
    "download_job",
    "employee_feed",
    "employee_update_job",
    "export_job",
    "export_template",
    "iter_report_export",
    "minor_units",
    "parse_report_export",
    "policy_get_job",
    "policy_list_job",
    "policy_update_job",
    "report_field_key",
    "report_status_job",
]
