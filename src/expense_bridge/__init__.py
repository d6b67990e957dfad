"""expense-bridge: post approved Expensify reports into Acumatica, exactly once.

Scripts call :func:`sync`; :func:`post_report` and :func:`replay` work on one report;
:mod:`expense_bridge.mapping` holds the pure report -> document functions and
:mod:`expense_bridge.provisioning` the Acumatica -> Expensify reference-data direction.
Implementation lives in ``_private`` modules; the public names are re-exported here.

Embedding: build a :class:`BridgeConfig` (``from_toml``/``from_mapping``), hand secrets
over with :class:`Secrets` (or a :class:`CredentialVault`), open both clients with
:func:`open_clients` and call :func:`sync`.

Logging: the package logs under ``expense_bridge`` (and ``expense_bridge.<module>``); the
clients under ``acumatica_client`` and ``expensify_client``. Each package logger has a
:class:`logging.NullHandler`; the application decides where records go. No secret is
ever logged.
"""

from __future__ import annotations

import logging as _logging
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
from ._factory import open_clients
from ._keys import DocumentKind, DocumentPart, document_key, journal_description
from ._replay import post_report, replay
from ._results import Action, CallCounts, PostResult, ReportOutcome, SyncResult
from ._rules import (
    AcumaticaField,
    CardTarget,
    ClaimStage,
    ClosedPeriodRule,
    DateRule,
    PostingRules,
    ReimbursableTarget,
    TagMapping,
    Trigger,
)
from ._secrets import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    Secrets,
    SecretSource,
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
    provision_all,
    provision_employees,
)

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

try:
    __version__: str = _distribution_version("expense-bridge")
    """The installed distribution's version (one source: ``pyproject.toml``)."""
except _PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "ACUMATICA_CLIENT_SECRET",
    "ACUMATICA_PASSWORD",
    "EXPENSIFY_PARTNER_SECRET",
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
    "ClaimStage",
    "ClosedPeriodRule",
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
    "SecretSource",
    "Secrets",
    "StateStore",
    "SyncResult",
    "TagMapping",
    "Trigger",
    "align_categories",
    "align_tags",
    "document_key",
    "journal_description",
    "open_clients",
    "plan_report",
    "post_report",
    "provision_all",
    "provision_employees",
    "replay",
    "sync",
]
