"""expense-bridge: post approved Expensify reports into Acumatica, exactly once.

Scripts call :func:`sync`; :func:`post_report` and :func:`replay` work on one report;
:mod:`expense_bridge.mapping` holds the pure report -> document functions and
:mod:`expense_bridge.provisioning` the Acumatica -> Expensify reference-data direction.
Implementation lives in ``_private`` modules; the public names are re-exported here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _distribution_version

from ._catalog import AccountInfo, LedgerCatalog
from ._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from ._errors import (
    BridgeError,
    ConfigError,
    ErrorCode,
    MappingError,
    PostingError,
    Problem,
)
from ._keys import DocumentKind, DocumentPart, document_key, journal_description
from ._replay import post_report, replay
from ._results import Action, CallCounts, PostResult, ReportOutcome, SyncResult
from ._rules import (
    AcumaticaField,
    CardTarget,
    DateRule,
    PostingRules,
    ReimbursableTarget,
    TagMapping,
    Trigger,
)
from ._store import AuditEntry, ReportStatus, SQLiteStore, StateStore
from ._sync import sync
from ._vault import CredentialVault, Secret
from .mapping import PlannedDocument, plan_report
from .provisioning import (
    AlignResult,
    ProvisioningSettings,
    ProvisionResult,
    align_categories,
    align_tags,
    provision_employees,
)

try:
    __version__: str = _distribution_version("expense-bridge")
    """The installed distribution's version (one source: ``pyproject.toml``)."""
except _PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "AccountInfo",
    "Action",
    "AcumaticaField",
    "AcumaticaSettings",
    "AlignResult",
    "AuditEntry",
    "BridgeConfig",
    "BridgeError",
    "CallCounts",
    "CardTarget",
    "ConfigError",
    "CredentialVault",
    "DateRule",
    "DocumentKind",
    "DocumentPart",
    "ErrorCode",
    "ExpensifySettings",
    "LedgerCatalog",
    "MappingError",
    "PlannedDocument",
    "PostResult",
    "PostingError",
    "PostingRules",
    "Problem",
    "ProvisionResult",
    "ProvisioningSettings",
    "ReimbursableTarget",
    "ReportOutcome",
    "ReportStatus",
    "SQLiteStore",
    "Secret",
    "StateStore",
    "SyncResult",
    "TagMapping",
    "Trigger",
    "align_categories",
    "align_tags",
    "document_key",
    "journal_description",
    "plan_report",
    "post_report",
    "provision_employees",
    "replay",
    "sync",
]
