"""The bridge configuration: one TOML file, overridable from the environment.

:class:`BridgeConfig` is a frozen value. Load it with :meth:`BridgeConfig.from_toml`
(a file plus ``EXPENSE_BRIDGE_*`` variables) or :meth:`BridgeConfig.from_mapping`; every
problem found is reported at once in one :class:`~expense_bridge.ConfigError` whose
problems each name the field (``acumatica.endpoint_version``) and say how to fix it.

Environment overrides
    ``EXPENSE_BRIDGE_<SECTION>__<FIELD>`` overrides ``[section] field`` (nested tables
    add more ``__`` parts, e.g. ``EXPENSE_BRIDGE_PROVISIONING__POLICY_RULE__BY``); a
    top-level option is ``EXPENSE_BRIDGE_<FIELD>`` (``EXPENSE_BRIDGE_CONNECTION``). Names
    are case-insensitive. Values are text: integers and booleans (``true``/``false``,
    ``1``/``0``, ``yes``/``no``) are converted, lists are comma-separated, tables are
    ``key=value`` pairs separated by commas. ``[[rules.tag_map]]`` cannot be set from the
    environment. An ``EXPENSE_BRIDGE_*`` variable that names no option is an error (a typo
    must not be silently ignored), except the reserved ``EXPENSE_BRIDGE_KEY``,
    ``EXPENSE_BRIDGE_KEY_FILE`` (the vault key) and ``EXPENSE_BRIDGE_CONFIG`` (the CLI's
    config path).

Durations are written ``"2d"``, ``"36h"``, ``"1d12h"``, ``"90m"`` or ``"30s"``.
Relative paths in a file are relative to the file's directory.

How it works: each option is declared once in the option table (``_OPTIONS``: path, kind,
explanation, default); values are validated against it (every problem collected), a cattrs
converter structures them into the settings classes (option ``[section] name`` is
``config.section.name``) and back, and the commented file is written with tomlkit.

Secrets are never part of the configuration: they live in the credential vault.
The Acumatica endpoint version is required and never guessed: it must match one the
instance serves (``expense-bridge status`` checks it).
"""

from __future__ import annotations

import functools
import os
import re
import textwrap
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import cattrs
import tomlkit

from acumatica_client import Endpoint, Licence
from expensify_client import DEFAULT_BASE_URL as EXPENSIFY_DEFAULT_BASE_URL

from ._errors import ConfigError, ErrorCode, Problem
from ._notify import NotificationSettings
from ._rules import (
    HEADER_FIELD_NAMES,
    AcumaticaField,
    CardTarget,
    ClaimStage,
    ClosedPeriodRule,
    DateRule,
    PostIn,
    PostingRules,
    ReceiptTarget,
    ReimbursableTarget,
    TagMapping,
    Trigger,
)
from .provisioning import ProvisioningSettings

__all__ = [
    "ENV_CONFIG",
    "ENV_PREFIX",
    "AcumaticaSettings",
    "BridgeConfig",
    "ExpensifySettings",
    "default_config_path",
    "default_state_path",
    "default_vault_path",
    "format_duration",
    "parse_duration",
    "render_template",
]

#: Prefix of every environment override.
ENV_PREFIX: Final = "EXPENSE_BRIDGE_"
#: Environment variable naming the configuration file (read by the CLI).
ENV_CONFIG: Final = "EXPENSE_BRIDGE_CONFIG"
_RESERVED_ENV: Final = frozenset({"KEY", "KEY_FILE", "CONFIG"})
_APP: Final = "expense-bridge"

_VERSION_RE: Final = re.compile(r"\d+\.\d+\.\d+")
_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DURATION_RE: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")


def default_config_path() -> Path:
    """``<user config dir>/expense-bridge/config.toml`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(_APP)) / "config.toml"


def default_state_path() -> Path:
    """``<user data dir>/expense-bridge/state.sqlite3`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(_APP)) / "state.sqlite3"


def default_vault_path() -> Path:
    """``<user config dir>/expense-bridge/vault.fernet`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(_APP)) / "vault.fernet"


# --------------------------------------------------------------------------- durations


def parse_duration(text: str) -> timedelta:
    """``"2d"``, ``"36h"``, ``"1d12h"``, ``"90m"``, ``"30s"`` → :class:`timedelta`."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"not a duration like '2d', '36h' or '1d12h': {text!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration` (``timedelta(days=2)`` → ``"2d"``)."""
    total = int(value.total_seconds())
    if total <= 0:
        return "0s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


# --------------------------------------------------------------------------- settings


@attrs.frozen(kw_only=True)
class AcumaticaSettings:
    """How to reach the Acumatica tenant (no secrets: those are in the vault).

    ``auth``: ``"oauth"`` (resource-owner password grant of a connected application;
    ``client_id`` is ``GUID@Tenant``) or ``"cookie"`` (``/entity/auth/login``).
    ``requests_per_minute``/``max_concurrent``: the licence ceiling to stay inside;
    ``rate_share``: the share of ``requests_per_minute`` the client uses (``None``: the
    client's default, :attr:`acumatica_client.Licence.rate_share`).
    """

    base_url: str
    endpoint_version: str
    username: str
    endpoint_name: str = "Default"
    auth: Literal["oauth", "cookie"] = "oauth"
    client_id: str | None = None
    tenant: str | None = None
    branch: str | None = None
    requests_per_minute: int | None = None
    max_concurrent: int | None = None
    rate_share: float | None = None
    #: Per-request timeout (``None``: the client's default, 60 s).
    timeout: timedelta | None = None
    #: Retries after the first try of a retryable request (``None``: the client's default).
    retries: int | None = None

    @property
    def endpoint(self) -> Endpoint:
        """The pinned endpoint, e.g. ``Default/24.200.001``."""
        return Endpoint(self.endpoint_name, self.endpoint_version)

    @property
    def licence(self) -> Licence:
        """The licence ceiling for :class:`acumatica_client.ClientOptions`."""
        if self.rate_share is None:
            return Licence(
                requests_per_minute=self.requests_per_minute, max_concurrent=self.max_concurrent
            )
        return Licence(
            requests_per_minute=self.requests_per_minute,
            max_concurrent=self.max_concurrent,
            rate_share=self.rate_share,
        )


@attrs.frozen(kw_only=True)
class ExpensifySettings:
    """How to reach the Expensify Integration Server (the secret is in the vault)."""

    partner_user_id: str
    base_url: str = EXPENSIFY_DEFAULT_BASE_URL
    #: Per-request timeout (``None``: the client's default, 60 s).
    timeout: timedelta | None = None
    #: Retries after the first try of a retryable request (``None``: the client's default).
    retries: int | None = None


@attrs.frozen(kw_only=True)
class BridgeConfig:
    """Everything the bridge needs except secrets. Build with the classmethods."""

    acumatica: AcumaticaSettings
    expensify: ExpensifySettings
    policies: tuple[str, ...]
    connection: str = "default"
    rules: PostingRules = attrs.field(factory=PostingRules)
    export_label: str = "Acumatica"
    overlap: timedelta = timedelta(days=2)
    initial_lookback: timedelta = timedelta(days=30)
    cash_lookback: timedelta = timedelta(days=365)
    page_size: int = 50
    state_path: Path | None = None
    vault_path: Path | None = None
    state_url: str | None = None
    rate_limits_url: str | None = None
    provisioning: ProvisioningSettings = attrs.field(factory=ProvisioningSettings)
    run_provisioning_first: bool = False
    notifications: NotificationSettings = attrs.field(factory=NotificationSettings)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> BridgeConfig:
        """Validate a parsed TOML document; :class:`ConfigError` lists every problem.

        ``base_dir`` anchors relative paths (default: the working directory).
        """
        return _build(data, base_dir=base_dir)

    @classmethod
    def from_toml(cls, path: Path | str, *, env: Mapping[str, str] | None = None) -> BridgeConfig:
        """Read ``path`` and apply ``EXPENSE_BRIDGE_*`` overrides from ``env``.

        ``env`` defaults to :data:`os.environ` (only read). Pass ``env={}`` to ignore it.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                problems=(
                    _problem(
                        "<file>",
                        f"configuration file {path} does not exist",
                        "Create it with 'expense-bridge init' or pass --config.",
                        _MISSING,
                    ),
                )
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                problems=(
                    _problem(
                        "<file>",
                        f"{path} is not valid TOML: {exc}",
                        "Fix the TOML syntax at the position given.",
                    ),
                )
            ) from None
        environ = os.environ if env is None else env
        problems: list[Problem] = []
        data = apply_env(data, environ, problems)
        return _build(data, base_dir=path.parent.resolve(), extra=problems)

    def to_mapping(self) -> dict[str, Any]:
        """The TOML-shaped mapping of this configuration (:meth:`from_mapping` reads it back)."""
        return _unbuild(self)

    def to_toml(self, *, comments: bool = True) -> str:
        """This configuration as TOML, every option explained when ``comments``."""
        return _render(self.to_mapping(), comments=comments)


# --------------------------------------------------------------------------- the schema


@attrs.frozen
class _Opt:
    """One option: where it is, what kind of value, its default and its explanation."""

    path: tuple[str, ...]
    kind: str  # str | int | share | bool | duration | list | path | table | choice | tag_map
    doc: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    example: Any = None  # shown in the template for a required option without a value

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _code(name: str) -> ErrorCode:
    """A configuration code from :class:`ErrorCode`, or the generic ``RULES_INVALID``.

    The dedicated ``CONFIG_*`` codes are used as soon as :mod:`._errors` defines them.
    """
    code = ErrorCode.__members__.get(name)
    return code if code is not None else ErrorCode.RULES_INVALID


_INVALID: Final = _code("CONFIG_INVALID")  # a value of the wrong type or out of range
_MISSING: Final = _code("CONFIG_MISSING")  # a required option has no value
_UNKNOWN: Final = _code("CONFIG_UNKNOWN")  # an option (or EXPENSE_BRIDGE_* variable) is unknown

_DEFAULT_RULES: Final = PostingRules()
_DEFAULT_PROV: Final = ProvisioningSettings()


def _values(enum_type: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(member.value) for member in enum_type)


_OPTIONS: Final[tuple[_Opt, ...]] = (
    # ---------------------------------------------------------------- top level
    _Opt(
        ("connection",),
        "str",
        "A name for this Expensify/Acumatica pair; keys the sync bookmarks in the state "
        "store, so two configurations sharing one store never mix their progress.",
        default="default",
    ),
    _Opt(
        ("policies",),
        "list",
        "Expensify policy IDs whose reports are posted (at least one).",
        required=True,
        example=["F0A1B2C3D4E5F6A7"],
    ),
    _Opt(
        ("export_label",),
        "str",
        "The label the bridge marks exported reports with in Expensify (markAsExported); "
        "reports carrying it are not pulled again.",
        default="Acumatica",
    ),
    _Opt(
        ("overlap",),
        "duration",
        "How far before the last bookmark each sync looks again (late-arriving approvals).",
        default=timedelta(days=2),
    ),
    _Opt(
        ("initial_lookback",),
        "duration",
        "First sync only: how far back approved reports are pulled.",
        default=timedelta(days=30),
    ),
    _Opt(
        ("cash_lookback",),
        "duration",
        "REIMBURSED trigger: how far back approvals are searched (a report approved long "
        "ago may be reimbursed today).",
        default=timedelta(days=365),
    ),
    _Opt(
        ("page_size",),
        "int",
        "Reports per Acumatica lookup page (one lookup query per page).",
        default=50,
        minimum=1,
    ),
    _Opt(
        ("state_path",),
        "path",
        "SQLite state store (bookmarks, per-report status, audit trail). Empty: the user "
        "data directory.",
    ),
    _Opt(
        ("vault_path",),
        "path",
        "Encrypted credential vault. Empty: the user config directory. Its key comes from "
        "EXPENSE_BRIDGE_KEY or the owner-only key file '<vault_path>.key'.",
    ),
    _Opt(
        ("run_provisioning_first",),
        "bool",
        "Run provisioning (employees, categories, tags) before every sync.",
        default=False,
    ),
    # ---------------------------------------------------------------- [state]
    _Opt(
        ("state", "url"),
        "str",
        "State database URL: 'sqlite:///<file>' (the embedded default) or "
        "'postgresql://user@host:5432/db' for many workers; with PostgreSQL the shared rate "
        "limits live there too. Empty: the SQLite file at state_path.",
    ),
    _Opt(
        ("state", "rate_limits_url"),
        "str",
        "Optional Redis URL ('redis://host:6379/0') through which every worker shares the "
        "Expensify and Acumatica rate limits. Empty: the PostgreSQL state database if "
        "state.url is one, else a SQLite file beside the state (one machine).",
    ),
    # ---------------------------------------------------------------- [acumatica]
    _Opt(
        ("acumatica", "base_url"),
        "str",
        "Instance URL including any virtual directory, e.g. https://erp.example.com/AcumaticaERP.",
        required=True,
        example="https://erp.example.com/AcumaticaERP",
    ),
    _Opt(
        ("acumatica", "endpoint_name"),
        "str",
        "Contract-based endpoint name.",
        default="Default",
    ),
    _Opt(
        ("acumatica", "endpoint_version"),
        "str",
        "Endpoint version the instance serves, e.g. 24.200.001 (REQUIRED, never guessed: "
        "see System > Web Service Endpoints, or GET <base_url>/entity).",
        required=True,
        example="24.200.001",
    ),
    _Opt(
        ("acumatica", "auth"),
        "choice",
        "'oauth' (connected application, password grant; recommended) or 'cookie' "
        "(/entity/auth/login session).",
        default="oauth",
        choices=("oauth", "cookie"),
    ),
    _Opt(
        ("acumatica", "client_id"),
        "str",
        "OAuth client ID of the connected application (GUID@Tenant); required for oauth. "
        "Its secret goes into the vault.",
        example="00000000-0000-0000-0000-000000000000@Company",
    ),
    _Opt(
        ("acumatica", "username"),
        "str",
        "API user's login name; the password goes into the vault.",
        required=True,
        example="expense-bridge",
    ),
    _Opt(("acumatica", "tenant"), "str", "Tenant name (cookie login; optional)."),
    _Opt(("acumatica", "branch"), "str", "Branch to sign in to (cookie login; optional)."),
    _Opt(
        ("acumatica", "requests_per_minute"),
        "int",
        "Licence ceiling: API requests per minute (License Monitoring Console). Empty: none.",
        minimum=1,
    ),
    _Opt(
        ("acumatica", "max_concurrent"),
        "int",
        "Licence ceiling: concurrent API requests. Empty: none.",
        minimum=1,
    ),
    _Opt(
        ("acumatica", "rate_share"),
        "share",
        "Share of requests_per_minute the bridge uses, in (0, 1]. Empty: 0.5, which keeps "
        "below the point where Acumatica starts delaying requests and leaves the other half "
        "to other integrations; 1.0 uses the whole licence (allow for the server's delays "
        "in acumatica.timeout).",
    ),
    _Opt(
        ("acumatica", "timeout"),
        "duration",
        "Per-request timeout, e.g. '90s'. The licence queues requests past its limits, so "
        "allow for queueing. Empty: the client's default (60s).",
    ),
    _Opt(
        ("acumatica", "retries"),
        "int",
        "Retries of a failed retryable request (0: none). Empty: the client's default (4).",
        minimum=0,
    ),
    # ---------------------------------------------------------------- [expensify]
    _Opt(
        ("expensify", "partner_user_id"),
        "str",
        "Integration Server partnerUserID; the partnerUserSecret goes into the vault.",
        required=True,
        example="aa_api_domain_com",
    ),
    _Opt(
        ("expensify", "base_url"),
        "str",
        "Integration Server URL.",
        default=EXPENSIFY_DEFAULT_BASE_URL,
    ),
    _Opt(
        ("expensify", "timeout"),
        "duration",
        "Per-request timeout, e.g. '60s'. Empty: the client's default (60s).",
    ),
    _Opt(
        ("expensify", "retries"),
        "int",
        "Retries of a failed retryable request (0: none; waits ride out the 10-second rate "
        "window). Empty: the client's default (4).",
        minimum=0,
    ),
    # ---------------------------------------------------------------- [rules]
    _Opt(
        ("rules", "trigger"),
        "choice",
        "APPROVED (accrual: post when approved) or REIMBURSED (cash: post when reimbursed).",
        default=_DEFAULT_RULES.trigger.value,
        choices=_values(Trigger),
    ),
    _Opt(
        ("rules", "reimbursable_target"),
        "choice",
        "Out-of-pocket spend becomes an AP bill to the employee's vendor ('ap_bill'), a "
        "GL journal crediting rules.employee_liability_account ('journal'), or an Acumatica "
        "expense claim by the employee ('expense_claim', lines by rules.expense_items; card "
        "spend keeps card_target: the Default contract has no 'Paid With' field).",
        default=_DEFAULT_RULES.reimbursable_target.value,
        choices=_values(ReimbursableTarget),
    ),
    _Opt(
        ("rules", "card_target"),
        "choice",
        "Company-card spend becomes a journal crediting rules.card_liability_account "
        "('journal'), an AP bill to rules.card_vendor ('ap_bill'), or nothing ('skip').",
        default=_DEFAULT_RULES.card_target.value,
        choices=_values(CardTarget),
    ),
    _Opt(
        ("rules", "date_rule"),
        "choice",
        "Document date: approved | submitted | last_expense | posting (the sync date).",
        default=_DEFAULT_RULES.date_rule.value,
        choices=_values(DateRule),
    ),
    _Opt(("rules", "default_branch"), "str", "Branch for lines no tag sets a branch on."),
    _Opt(("rules", "default_subaccount"), "str", "Subaccount for lines no tag sets one on."),
    _Opt(("rules", "hold"), "bool", "Create documents on hold.", default=_DEFAULT_RULES.hold),
    _Opt(
        ("rules", "release"),
        "bool",
        "Release documents after creating them (cannot be combined with hold).",
        default=_DEFAULT_RULES.release,
    ),
    _Opt(
        ("rules", "employee_liability_account"),
        "str",
        "GL account credited for reimbursable spend posted as a journal.",
    ),
    _Opt(
        ("rules", "card_liability_account"),
        "str",
        "GL account credited for company-card spend posted as a journal (the default card "
        "target); without it, reports with card spend are held (EB-CARD-TARGET-INCOMPLETE).",
    ),
    _Opt(
        ("rules", "card_vendor"),
        "str",
        "Acumatica vendor ID of the card issuer (card spend posted as a bill).",
    ),
    _Opt(("rules", "ledger_id"), "str", "GL ledger for journals.", default="ACTUAL"),
    _Opt(("rules", "bill_terms"), "str", "Credit terms on bills (empty: the vendor's)."),
    _Opt(
        ("rules", "base_currency"),
        "str",
        "The company's base currency (ISO 4217).",
        default=_DEFAULT_RULES.base_currency,
    ),
    _Opt(
        ("rules", "timezone"),
        "str",
        "IANA time zone in which approval/submission times become document dates.",
        default=_DEFAULT_RULES.timezone,
    ),
    _Opt(
        ("rules", "mark_reimbursed_when_paid"),
        "bool",
        "Accrual (trigger APPROVED): when a posted bill is paid in Acumatica (Closed, balance "
        "0), mark its report reimbursed in Expensify, once.",
        default=_DEFAULT_RULES.mark_reimbursed_when_paid,
    ),
    _Opt(
        ("rules", "prefer_policy_gl_code"),
        "bool",
        "Take a category's GL code from the policy getter before the export's categoryGlCode "
        "(default: the export's code; the getter's only where the export has none).",
        default=_DEFAULT_RULES.prefer_policy_gl_code,
    ),
    _Opt(
        ("rules", "post_card_only_approved"),
        "bool",
        "Cash trigger (REIMBURSED): post card-only reports (nothing to reimburse) once "
        "APPROVED, where they are final.",
        default=_DEFAULT_RULES.post_card_only_approved,
    ),
    _Opt(
        ("rules", "post_closed"),
        "bool",
        "Also post reports closed by a Submit-and-Close policy (website 'Closed', export "
        "state ARCHIVED).",
        default=_DEFAULT_RULES.post_closed,
    ),
    _Opt(
        ("rules", "posting_concurrency"),
        "int",
        "Reports posted at once. Empty: the licence's acumatica.max_concurrent (one at a "
        "time when that is empty too). It can only lower the licence's allowance, never "
        "raise it.",
        minimum=1,
    ),
    _Opt(
        ("rules", "tax_categories"),
        "table",
        "Expensify tax code (or tax name) -> Acumatica tax category set on the bill or "
        "expense claim line of each taxed expense; a taxed expense whose code is missing is "
        "held (EB-TAX-UNMAPPED).",
        default={},
    ),
    _Opt(
        ("rules", "tax_account"),
        "str",
        "GL account that receives each expense's tax as its own line (instead of "
        "tax_categories; not with expense claims); the document total is unchanged.",
    ),
    _Opt(
        ("rules", "tax_zone"),
        "str",
        "Acumatica tax zone (TX206000) of expense claims (reimbursable_target "
        "'expense_claim'): set as the claim's FinancialDetails.TaxZone and on every claim "
        "line; checked against the tenant's zones (a zone it lacks holds the claims). Bills "
        "have no tax zone field: they follow the vendor's TaxZone (AP303000).",
        example="EUVAT",
    ),
    _Opt(
        ("rules", "card_accounts"),
        "table",
        "Per-card routing: a card (its cardID, masked card number or bank feed name, as the "
        "export gives them; looked up in that order) -> its own Acumatica vendor ID "
        "(card_target 'ap_bill') or liability account (card_target 'journal'); unmapped "
        "cards use card_vendor / card_liability_account.",
        default={},
    ),
    _Opt(
        ("rules", "report_fields"),
        "table",
        "Expensify report fields -> Acumatica document header fields: report field name -> "
        "BranchID | Project | Description | LocationID | Terms (bills) or BranchID | "
        "Description (journals; the key prefix stays). A BranchID also becomes the lines' "
        "default branch. Values are checked like tag values (EB-REPORT-FIELD-UNKNOWN).",
        default={},
    ),
    _Opt(
        ("rules", "post_in"),
        "choice",
        "Document currency: 'report' posts in the report currency from Expensify's "
        "converted amounts (the base currency when the policy outputs it; any currency in "
        "the tenant's list), 'base' posts only reports in rules.base_currency and holds "
        "the others (EB-CURRENCY-NOT-BASE).",
        default=_DEFAULT_RULES.post_in.value,
        choices=_values(PostIn),
    ),
    _Opt(
        ("rules", "create_missing_vendors"),
        "bool",
        "Create a missing vendor record (VendorID 'V' + EmployeeID, once, audited) for a "
        "submitter who is an Acumatica employee without one, instead of holding the "
        "report (EB-SUBMITTER-NO-VENDOR); reimbursable bills then go to vendor records.",
        default=_DEFAULT_RULES.create_missing_vendors,
    ),
    _Opt(
        ("rules", "expense_items"),
        "table",
        "Expensify category -> Acumatica expense item (a non-stock item, IN202000) of each "
        "expense claim line (reimbursable_target 'expense_claim'); a category missing here is "
        "held (EB-RULES-INVALID), an item unknown to Acumatica too.",
        default={},
    ),
    _Opt(
        ("rules", "claim_stage"),
        "choice",
        "How far a created expense claim is taken: hold (left On Hold) | submit (Pending "
        "Approval) | approve (Approved) | release (Released). Default: 'release' with "
        "rules.release, 'hold' with rules.hold, else 'submit'.",
        choices=_values(ClaimStage),
    ),
    _Opt(
        ("rules", "attach_receipts"),
        "bool",
        "Download each expense's receipt and attach it to its posted document, once per "
        "receipt; a missing or unreachable receipt is a warning, never a re-post.",
        default=_DEFAULT_RULES.attach_receipts,
    ),
    _Opt(
        ("rules", "receipts_on"),
        "choice",
        "Where a receipt is attached: 'document' (the bill's, journal's or claim's header) "
        "or 'line' (the line carrying the expense, through its files:put link; the header "
        "when a line has no link, noted in the audit).",
        default=_DEFAULT_RULES.receipts_on.value,
        choices=_values(ReceiptTarget),
    ),
    _Opt(
        ("rules", "receipt_attempts"),
        "int",
        "Syncs that try a receipt which failed (a warning): the posting run, then later "
        "syncs re-export just those reports (one Expensify export for all of them) and "
        "attach what is still missing, without posting again. The report PDF "
        "(attach_report_pdf) is retried within the same count.",
        default=_DEFAULT_RULES.receipt_attempts,
        minimum=1,
    ),
    _Opt(
        ("rules", "attach_report_pdf"),
        "bool",
        "Export each posted report from Expensify as a PDF with full-page receipts and "
        "attach it to its documents as report-<reportID>.pdf, once (two Expensify calls "
        "per report: one export per report); a failure is a warning, never a re-post.",
        default=_DEFAULT_RULES.attach_report_pdf,
    ),
    _Opt(
        ("rules", "closed_period"),
        "choice",
        "A document dated in a financial period closed for AP (bills, claims) or GL "
        "(journals): 'hold' it (EB-PERIOD-CLOSED, the period named) or post it into the "
        "first open period after it ('next_open': PostPeriod set, the date kept).",
        default=_DEFAULT_RULES.closed_period.value,
        choices=_values(ClosedPeriodRule),
    ),
    _Opt(
        ("rules", "tag_map"),
        "tag_map",
        "Expensify tag levels -> Acumatica line fields, one [[rules.tag_map]] table each: "
        "level (1-based), field (project | project_task | branch | subaccount | cost_code), "
        "use_gl_code (take the tag's GL code, else its name), required, values (explicit "
        "tag -> Acumatica value table, consulted first).",
        default=(),
    ),
    # ---------------------------------------------------------------- [provisioning]
    _Opt(
        ("provisioning", "default_policy"),
        "str",
        "Policy for employees the policy rule does not place.",
    ),
    _Opt(
        ("provisioning", "top_approver"),
        "str",
        "Email the head of the reports-to chain submits to.",
    ),
    _Opt(
        ("provisioning", "terminate_leavers"),
        "bool",
        "Remove employees who left Acumatica from the policies.",
        default=_DEFAULT_PROV.terminate_leavers,
    ),
    _Opt(
        ("provisioning", "admins"),
        "list",
        "Emails given the policy admin role.",
        default=(),
    ),
    _Opt(
        ("provisioning", "expense_account_types"),
        "list",
        "Acumatica account types that become Expensify categories.",
        default=_DEFAULT_PROV.expense_account_types,
    ),
    _Opt(
        ("provisioning", "new_categories_enabled"),
        "bool",
        "Enable categories created for new accounts.",
        default=_DEFAULT_PROV.new_categories_enabled,
    ),
    _Opt(
        ("provisioning", "tag_level"),
        "str",
        "Name of the tag level provisioning fills.",
        default=_DEFAULT_PROV.tag_level,
    ),
    _Opt(
        ("provisioning", "tag_source"),
        "choice",
        "Where tags come from: projects | subaccounts | branches.",
        default=_DEFAULT_PROV.tag_source,
        choices=("projects", "subaccounts", "branches"),
    ),
    _Opt(
        ("provisioning", "policy_rule", "by"),
        "choice",
        "Employee attribute that picks the policy: department | branch | class.",
        default=_DEFAULT_PROV.policy_rule.by,
        choices=("department", "branch", "class"),
    ),
    _Opt(
        ("provisioning", "policy_rule", "table"),
        "table",
        "Attribute value -> policy ID.",
        default={},
    ),
    # ---------------------------------------------------------------- [notifications]
    _Opt(
        ("notifications", "webhook_url"),
        "str",
        "URL that receives a JSON POST when a run fails or holds reports (tenant, run, "
        "held reports with codes and fixes). Empty: no webhook.",
    ),
    _Opt(
        ("notifications", "smtp_host"),
        "str",
        "SMTP server for e-mail notifications (same events as the webhook). Empty: no e-mail.",
    ),
    _Opt(("notifications", "smtp_port"), "int", "SMTP port.", default=587, minimum=1),
    _Opt(("notifications", "smtp_from"), "str", "Sender address of notification e-mails."),
    _Opt(("notifications", "smtp_to"), "list", "Recipients of notification e-mails.", default=()),
    _Opt(
        ("notifications", "smtp_starttls"),
        "bool",
        "Upgrade the SMTP connection with STARTTLS before sending.",
        default=True,
    ),
    _Opt(
        ("notifications", "smtp_username"),
        "str",
        "SMTP login; its password goes into the vault as 'smtp.password'. Empty: no login.",
    ),
)
_BY_PATH: Final[Mapping[tuple[str, ...], _Opt]] = {opt.path: opt for opt in _OPTIONS}
_SECTIONS: Final = frozenset(opt.path[:i] for opt in _OPTIONS for i in range(1, len(opt.path)))
_TAG_MAP_KEYS: Final = frozenset({"level", "field", "use_gl_code", "required", "values"})


def _problem(field: str, message: str, fix: str, code: ErrorCode | None = None) -> Problem:
    return Problem(code=code or _INVALID, field=field, message=message, fix=fix)


# --------------------------------------------------------------------------- env overrides


def _coerce_env(opt: _Opt, text: str) -> Any:
    """Turn an environment string into the TOML-shaped value of ``opt``."""
    if opt.kind == "int":
        return int(text.strip())
    if opt.kind == "share":
        return float(text.strip())
    if opt.kind == "bool":
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true/false")
    if opt.kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if opt.kind == "table":
        table: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ValueError("expected key=value pairs separated by commas")
            table[key.strip()] = value.strip()
        return table
    if opt.kind == "tag_map":
        raise ValueError("[[rules.tag_map]] can only be set in the TOML file")
    return text


def apply_env(
    data: Mapping[str, Any], env: Mapping[str, str], problems: list[Problem]
) -> dict[str, Any]:
    """``data`` with ``EXPENSE_BRIDGE_*`` overrides applied (problems appended, not raised)."""
    merged = _deep_copy(data)
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].upper()
        if rest in _RESERVED_ENV:
            continue
        path = tuple(part.lower() for part in rest.split("__"))
        opt = _BY_PATH.get(path)
        if opt is None:
            problems.append(
                _problem(
                    name,
                    f"environment variable {name} names no configuration option",
                    "Remove it or correct the name: EXPENSE_BRIDGE_<SECTION>__<FIELD>, "
                    "e.g. EXPENSE_BRIDGE_ACUMATICA__ENDPOINT_VERSION.",
                    _UNKNOWN,
                )
            )
            continue
        try:
            value = _coerce_env(opt, env[name])
        except ValueError as exc:
            problems.append(
                _problem(
                    opt.dotted,
                    f"{name}: {exc}",
                    f"Set {name} to a valid {opt.kind} or unset it.",
                )
            )
            continue
        node = merged
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
    return merged


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


# --------------------------------------------------------------------------- validation


class _Reader:
    """Reads typed values out of the TOML mapping, collecting problems."""

    def __init__(self, data: Mapping[str, Any], base_dir: Path | None) -> None:
        self.data = data
        self.base_dir = base_dir
        self.problems: list[Problem] = []

    def bad(self, opt: _Opt, message: str, fix: str) -> None:
        self.problems.append(_problem(opt.dotted, message, fix))

    def raw(self, opt: _Opt) -> Any:
        node: Any = self.data
        for part in opt.path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def value(self, opt: _Opt) -> Any:
        raw = self.raw(opt)
        if raw is None or raw == "" or raw == []:
            if opt.required:
                self.problems.append(
                    _problem(
                        opt.dotted,
                        f"{opt.dotted} is required",
                        f"Set {opt.dotted} ({opt.doc})",
                        _MISSING,
                    )
                )
            return opt.default
        kind = opt.kind
        if kind in {"str", "choice", "path", "duration"} and not isinstance(raw, str):
            self.bad(opt, f"{opt.dotted} must be a string, not {type(raw).__name__}", "Quote it.")
            return opt.default
        if kind == "str":
            return raw.strip()
        if kind == "choice":
            for choice in opt.choices:
                if raw.strip().lower() == choice.lower():
                    return choice
            self.bad(
                opt,
                f"{opt.dotted} is {raw!r}, not one of {', '.join(opt.choices)}",
                f"Set {opt.dotted} to one of: {', '.join(opt.choices)}.",
            )
            return opt.default
        if kind == "path":
            path = Path(raw).expanduser()
            if not path.is_absolute() and self.base_dir is not None:
                path = self.base_dir / path
            return path
        if kind == "duration":
            try:
                return parse_duration(raw)
            except ValueError as exc:
                self.bad(opt, f"{opt.dotted}: {exc}", "Write a duration like '2d' or '36h'.")
                return opt.default
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.bad(opt, f"{opt.dotted} must be an integer", "Write a whole number.")
                return opt.default
            if opt.minimum is not None and raw < opt.minimum:
                self.bad(
                    opt,
                    f"{opt.dotted} must be at least {opt.minimum}, not {raw}",
                    f"Set {opt.dotted} to {opt.minimum} or more, or remove it.",
                )
                return opt.default
            return raw
        if kind == "share":
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 1:
                self.bad(opt, f"{opt.dotted} must be a number above 0 and at most 1, not {raw!r}",
                         "Write e.g. 0.5 (half the licence) or 1.0 (all of it).")  # fmt: skip
                return opt.default
            return float(raw)
        if kind == "bool":
            if not isinstance(raw, bool):
                self.bad(opt, f"{opt.dotted} must be true or false", "Write true or false.")
                return opt.default
            return raw
        if kind == "list":
            if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
                self.bad(
                    opt,
                    f"{opt.dotted} must be a list of non-empty strings",
                    'Write ["a", "b"].',
                )
                return opt.default
            return tuple(x.strip() for x in raw)
        if kind == "table":
            if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
                self.bad(
                    opt, f"{opt.dotted} must be a table of strings", 'Write { KEY = "value" }.'
                )
                return opt.default
            return {str(k): v for k, v in raw.items()}
        if kind == "tag_map":
            return self.tag_map(opt, raw)
        raise AssertionError(kind)  # pragma: no cover

    def tag_map(self, opt: _Opt, raw: Any) -> tuple[TagMapping, ...]:
        if not isinstance(raw, list):
            self.bad(opt, f"{opt.dotted} must be an array of tables", "Use [[rules.tag_map]].")
            return ()
        result: list[TagMapping] = []
        seen: set[int] = set()
        fields = _values(AcumaticaField)
        for index, item in enumerate(raw):
            where = f"{opt.dotted}[{index}]"

            def bad(field: str, message: str, fix: str, where: str = where) -> None:
                self.problems.append(_problem(f"{where}.{field}", message, fix))

            if not isinstance(item, Mapping):
                self.problems.append(_problem(where, f"{where} must be a table", "Use a table."))
                continue
            for key in sorted(set(item) - _TAG_MAP_KEYS):
                self.problems.append(
                    _problem(
                        f"{where}.{key}",
                        f"{where}.{key} is not an option",
                        f"Remove it; options: {', '.join(sorted(_TAG_MAP_KEYS))}.",
                        _UNKNOWN,
                    )
                )
            level: Any = item.get("level")
            field: Any = item.get("field")
            ok = True
            if isinstance(level, bool) or not isinstance(level, int) or level < 1:
                bad("level", f"{where}.level must be an integer >= 1", "Set level = 1, 2, …")
                ok = False
            elif level in seen:
                bad("level", f"tag level {level} is mapped twice", "Keep one table per level.")
                ok = False
            if not isinstance(field, str) or field.lower() not in fields:
                bad(
                    "field",
                    f"{where}.field is {field!r}, not one of {', '.join(fields)}",
                    f"Set field to one of: {', '.join(fields)}.",
                )
                ok = False
            use_gl_code = item.get("use_gl_code", True)
            required = item.get("required", False)
            for name, flag in (("use_gl_code", use_gl_code), ("required", required)):
                if not isinstance(flag, bool):
                    bad(name, f"{where}.{name} must be true or false", "Write true or false.")
                    ok = False
            values = item.get("values", {})
            if not isinstance(values, Mapping) or not all(
                isinstance(v, str) for v in values.values()
            ):
                bad("values", f"{where}.values must be a table of strings", "Fix the table.")
                ok = False
            if ok:
                seen.add(level)
                result.append(
                    TagMapping(
                        level=level,
                        field=AcumaticaField(field.lower()),
                        use_gl_code=use_gl_code,
                        required=required,
                        values={str(k): v for k, v in values.items()},
                    )
                )
        return tuple(result)


def _unknown_keys(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterable[str]:
    for key, value in data.items():
        path = (*prefix, str(key))
        if path in _BY_PATH:
            continue
        if path in _SECTIONS and isinstance(value, Mapping):
            yield from _unknown_keys(value, path)
            continue
        yield ".".join(path)


def _check_url(reader: _Reader, opt: _Opt, value: str | None) -> None:
    if value and not value.startswith(("http://", "https://")):
        reader.bad(opt, f"{opt.dotted} must start with http:// or https://", "Fix the URL.")


def _build(
    data: Mapping[str, Any], *, base_dir: Path | None, extra: Iterable[Problem] = ()
) -> BridgeConfig:
    reader = _Reader(data, base_dir)
    reader.problems.extend(extra)
    for dotted in _unknown_keys(data):
        reader.problems.append(
            _problem(
                dotted,
                f"{dotted} is not a configuration option",
                "Remove it or correct its name (see 'expense-bridge init' for every option).",
                _UNKNOWN,
            )
        )
    v: dict[tuple[str, ...], Any] = {opt.path: reader.value(opt) for opt in _OPTIONS}

    def get(*path: str) -> Any:
        return v[path]

    def opt(*path: str) -> _Opt:
        return _BY_PATH[path]

    # ---- cross-field checks
    _check_url(reader, opt("acumatica", "base_url"), get("acumatica", "base_url"))
    _check_url(reader, opt("expensify", "base_url"), get("expensify", "base_url"))
    version = get("acumatica", "endpoint_version")
    if version and not _VERSION_RE.fullmatch(version):
        reader.bad(
            opt("acumatica", "endpoint_version"),
            f"acumatica.endpoint_version {version!r} does not look like '24.200.001'",
            "Copy the version from System > Web Service Endpoints in Acumatica.",
        )
    if not _NAME_RE.fullmatch(get("acumatica", "endpoint_name") or ""):
        reader.bad(
            opt("acumatica", "endpoint_name"),
            "acumatica.endpoint_name must be an endpoint name like 'Default'",
            "Set it to the endpoint's name.",
        )
    if get("acumatica", "auth") == "oauth":
        client_id = get("acumatica", "client_id")
        if not client_id:
            reader.problems.append(
                _problem(
                    "acumatica.client_id",
                    "acumatica.client_id is required when acumatica.auth is 'oauth'",
                    "Register a connected application (SM303010) and copy its client ID, "
                    "or set acumatica.auth = 'cookie'.",
                    _MISSING,
                )
            )
        elif "@" not in client_id:
            reader.bad(
                opt("acumatica", "client_id"),
                "acumatica.client_id must look like 'GUID@Tenant'",
                "Copy the whole client ID from Connected Applications (SM303010).",
            )
    rules = {name: get("rules", name) for name in _rule_names()}
    if rules["hold"] and rules["release"]:
        reader.bad(
            opt("rules", "release"),
            "rules.release and rules.hold cannot both be true",
            "Set rules.hold = false to release documents, or rules.release = false.",
        )
    if rules["tax_account"] and rules["tax_categories"]:
        reader.bad(
            opt("rules", "tax_account"),
            "rules.tax_account and rules.tax_categories cannot both be set",
            "Keep tax_categories (tax categories on the lines) or tax_account (tax lines).",
        )
    _check_tax_zone(reader, opt("rules", "tax_zone"), rules)
    for name, field in (rules["report_fields"] or {}).items():
        if field not in HEADER_FIELD_NAMES or not name.strip():
            reader.bad(
                opt("rules", "report_fields"),
                f"rules.report_fields maps {name!r} to {field!r}, which is not a header field "
                "the bridge can fill",
                f"Use one of {', '.join(sorted(HEADER_FIELD_NAMES))}.",
            )
    if not _CURRENCY_RE.fullmatch(rules["base_currency"] or ""):
        reader.bad(
            opt("rules", "base_currency"),
            "rules.base_currency must be an ISO 4217 code like 'USD'",
            "Set it to the company's base currency.",
        )
    try:
        zoneinfo.ZoneInfo(rules["timezone"])
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        reader.bad(
            opt("rules", "timezone"),
            f"rules.timezone {rules['timezone']!r} is not a known IANA time zone",
            "Write a zone like 'UTC' or 'America/New_York'.",
        )
    if rules["reimbursable_target"] == "journal" and not rules["employee_liability_account"]:
        reader.problems.append(
            _problem(
                "rules.employee_liability_account",
                "rules.employee_liability_account is required when reimbursable_target "
                "is 'journal'",
                "Set the GL account that holds amounts owed to employees.",
                _MISSING,
            )
        )
    if rules["reimbursable_target"] == "expense_claim":
        if not rules["expense_items"]:
            reader.problems.append(
                _problem(
                    "rules.expense_items",
                    "rules.expense_items is required when reimbursable_target is 'expense_claim'",
                    "Map each Expensify category to the Acumatica expense item it is "
                    'claimed as: expense_items = { Travel = "TRAVEL" }.',
                    _MISSING,
                )
            )
        if rules["tax_account"]:
            reader.bad(
                opt("rules", "tax_account"),
                "rules.tax_account cannot be combined with reimbursable_target "
                "'expense_claim' (a claim line is one expense and its expense item; tax "
                "cannot be split onto a line of its own)",
                "Use rules.tax_categories (the claim lines carry the tax category), or post "
                "reimbursable spend as 'ap_bill'.",
            )
    if rules["card_target"] == "ap_bill" and not rules["card_vendor"]:
        reader.problems.append(
            _problem(
                "rules.card_vendor",
                "rules.card_vendor is required when card_target is 'ap_bill'",
                "Set the card issuer's Acumatica vendor ID, or card_target = 'journal'.",
                _MISSING,
            )
        )
    _check_url(reader, opt("notifications", "webhook_url"), get("notifications", "webhook_url"))
    if get("notifications", "smtp_host") and not get("notifications", "smtp_to"):
        reader.problems.append(
            _problem(
                "notifications.smtp_to",
                "notifications.smtp_to is required when notifications.smtp_host is set",
                "List the addresses that receive notifications, or remove smtp_host.",
                _MISSING,
            )
        )
    for address in get("notifications", "smtp_to") or ():
        if "@" not in address or any(c.isspace() for c in address):
            reader.bad(
                opt("notifications", "smtp_to"),
                f"notifications.smtp_to: {address!r} is not an e-mail address",
                "Write addresses like 'ops@example.com'.",
            )
    if get("export_label") is not None and not get("export_label"):
        reader.bad(opt("export_label"), "export_label must not be empty", "Set a label.")
    for name in ("overlap", "initial_lookback", "cash_lookback"):
        if get(name) <= timedelta(0):
            reader.bad(opt(name), f"{name} must be longer than zero", "Write e.g. '2d'.")
    for side in ("acumatica", "expensify"):
        timeout = get(side, "timeout")
        if timeout is not None and timeout <= timedelta(0):
            reader.bad(opt(side, "timeout"), f"{side}.timeout must be longer than zero",
                       "Write e.g. '60s', or remove it for the default.")  # fmt: skip
    if get("state", "url") is not None:
        from ._store import StateStoreError, database_url

        if get("state_path") is not None:
            reader.bad(opt("state", "url"), "state.url and state_path are both set",
                       "Keep one: state.url names any database, state_path a file.")  # fmt: skip
        try:
            database_url(get("state", "url"))
        except StateStoreError as exc:
            reader.bad(opt("state", "url"), str(exc),
                       "Write sqlite:///<file> or postgresql://user@host:5432/db.")  # fmt: skip
    limits_url = get("state", "rate_limits_url")
    if limits_url is not None and not str(limits_url).startswith(("redis://", "rediss://")):
        reader.bad(opt("state", "rate_limits_url"), "state.rate_limits_url must be redis://…",
                   "Write redis://host:6379/0, or remove it to use state.url.")  # fmt: skip
    if reader.problems:
        raise ConfigError(problems=tuple(reader.problems))
    values = dict(v)
    values["acumatica", "base_url"] = get("acumatica", "base_url").rstrip("/")
    values["notifications", "smtp_to"] = tuple(get("notifications", "smtp_to") or ())
    return _structure(values)


def _check_tax_zone(reader: _Reader, option: _Opt, rules: Mapping[str, Any]) -> None:
    """rules.tax_zone: a zone ID (no blank, no control character), claims only."""
    zone = rules["tax_zone"]
    if zone is None:
        return
    if not zone or any(not ch.isprintable() for ch in zone):
        reader.bad(
            option,
            f"rules.tax_zone {zone!r} is not a tax zone ID",
            "Write the zone's ID as Acumatica shows it (Tax Zones, TX206000), or remove it.",
        )
    elif rules["reimbursable_target"] != "expense_claim":
        reader.bad(
            option,
            "rules.tax_zone is only used with reimbursable_target 'expense_claim' (a bill "
            "has no tax zone field: Acumatica takes it from the vendor)",
            "Set the zone on the employees' vendor records (Vendors, AP303000, Tax Zone) "
            "and remove rules.tax_zone, or post reimbursable spend as 'expense_claim'.",
        )


def _rule_names() -> tuple[str, ...]:
    return tuple(opt.path[1] for opt in _OPTIONS if opt.path[0] == "rules")


# --------------------------------------------------------------------------- structuring (cattrs)


#: Options whose attribute lives elsewhere in :class:`BridgeConfig` than their TOML path
#: (every other ``[section] name`` is ``config.section.name``; top-level ones ``config.name``).
_ATTRIBUTE_PATHS: Final[Mapping[tuple[str, ...], tuple[str, ...]]] = {
    ("state", "url"): ("state_url",),
    ("state", "rate_limits_url"): ("rate_limits_url",),
}
#: The order ``[[rules.tag_map]]`` tables are written in.
_TAG_MAP_ORDER: Final = ("level", "field", "use_gl_code", "required", "values")


def _attribute_path(opt: _Opt) -> tuple[str, ...]:
    return _ATTRIBUTE_PATHS.get(opt.path, opt.path)


def _option_for(attribute_path: tuple[str, ...]) -> str:
    """The dotted option name nearest to an attribute path (for error messages)."""
    by_attribute = {_attribute_path(opt): opt.dotted for opt in _OPTIONS}
    for depth in range(len(attribute_path), 0, -1):
        found = by_attribute.get(attribute_path[:depth])
        if found is not None:
            return found
    return ".".join(attribute_path) or "<config>"


@functools.cache
def _converter() -> cattrs.Converter:
    """The cattrs converter between :class:`BridgeConfig` and its attribute-shaped mapping.

    Durations are written ``"2d"``, paths as text, enums by value. Extra keys are refused,
    so an option the settings classes do not have fails loudly instead of being dropped.
    """
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(
        timedelta, lambda value, _: value if isinstance(value, timedelta) else parse_duration(value)
    )
    converter.register_unstructure_hook(timedelta, format_duration)
    converter.register_structure_hook(Path, lambda value, _: Path(value))
    converter.register_unstructure_hook(Path, str)
    return converter


def _structure(values: Mapping[tuple[str, ...], Any]) -> BridgeConfig:
    """Validated option values (by option path) -> :class:`BridgeConfig`, with cattrs.

    The options are validated first (:class:`_Reader`: every problem named with its fix);
    anything cattrs or the settings classes still refuse becomes a problem naming the
    option, never a traceback.
    """
    converter = _converter()
    data: dict[str, Any] = {}
    for opt in _OPTIONS:
        *parents, name = _attribute_path(opt)
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = converter.unstructure(values[opt.path])
    try:
        return converter.structure(data, BridgeConfig)
    except cattrs.BaseValidationError as exc:
        problems = []
        for line in cattrs.transform_error(exc, path="$", format_exception=_reason):
            reason, _, where = line.rpartition(" @ ")
            field = _option_for(tuple(p for p in where.removeprefix("$").split(".") if p))
            problems.append(_problem(field, f"{field}: {reason}", "Correct this option."))
        raise ConfigError(problems=tuple(problems)) from exc


def _reason(exc: BaseException, _type: Any) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _lists(value: Any) -> Any:
    """Tuples as lists, recursively (TOML arrays)."""
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _lists(item) for key, item in value.items()}
    return value


def _unbuild(config: BridgeConfig) -> dict[str, Any]:
    """The TOML-shaped mapping of ``config`` (None values left out), with cattrs."""
    data = _converter().unstructure(config)
    result: dict[str, Any] = {}
    for opt in _OPTIONS:
        value: Any = data
        for part in _attribute_path(opt):
            value = value[part]
        if value is None:
            continue
        if opt.kind == "tag_map":
            value = [{key: item[key] for key in _TAG_MAP_ORDER} for item in value]
        node = result
        for part in opt.path[:-1]:
            node = node.setdefault(part, {})
        node[opt.path[-1]] = _lists(value)
    return result


# --------------------------------------------------------------------------- writing (tomlkit)


_HEADER: Final = (
    "expense-bridge configuration.",
    "Every option can be overridden with EXPENSE_BRIDGE_<SECTION>__<FIELD>",
    "(e.g. EXPENSE_BRIDGE_ACUMATICA__ENDPOINT_VERSION); top-level options with",
    "EXPENSE_BRIDGE_<FIELD>. Secrets are NOT kept here: store them in the vault with",
    "'expense-bridge credentials set acumatica' / '... expensify'.",
)
_TAG_MAP_EXAMPLE: Final = (
    "[[rules.tag_map]]",
    "level = 1",
    'field = "project"',
    "use_gl_code = true",
    "required = false",
)


def _toml_item(value: Any) -> Any:
    """A tomlkit item for a TOML-shaped value (a mapping becomes an inline table)."""
    if isinstance(value, timedelta):
        return tomlkit.item(format_duration(value))
    if isinstance(value, Path):
        return tomlkit.item(str(value))
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table.append(str(key), _toml_item(item))
        return table
    if isinstance(value, list | tuple):
        array = tomlkit.array()
        array.extend(_toml_item(v) for v in value)
        return array
    return tomlkit.item(value)


def _comment_lines(text: str, width: int = 94) -> list[Any]:
    """``text`` wrapped into comment lines (``# `` + at most ``width`` characters)."""
    return [tomlkit.comment(line) for line in textwrap.wrap(text, width=width)]


def _render(data: Mapping[str, Any], *, comments: bool, placeholders: bool = False) -> str:
    """Write the options in schema order, grouped by table, with their explanations.

    Built with tomlkit: each option's explanation is a comment above it; an option without
    a value is shown commented out with its default (or an example) when ``comments``.
    ``placeholders``: write required options that have no value as ``""`` with a
    ``REQUIRED`` note (the template), instead of leaving them out.
    """
    doc = tomlkit.document()
    if comments:
        for line in _HEADER:
            doc.add(tomlkit.comment(line))
    # Tables in schema order; each table's own options, then its sub-tables.
    tables: dict[tuple[str, ...], list[_Opt]] = {(): []}
    for opt in _OPTIONS:
        for depth in range(1, len(opt.path)):
            tables.setdefault(opt.path[:depth], [])
        tables[opt.path[:-1]].append(opt)

    def fill(container: Any, path: tuple[str, ...]) -> None:
        for opt in tables[path]:
            if opt.kind == "tag_map":
                continue  # written last in its table, as an array of tables
            node = _node_at(data, opt.path)
            key = opt.path[-1]
            if comments:
                container.add(tomlkit.nl())
                for line in _comment_lines(opt.doc):
                    container.add(line)
            if node is None or node == "" or node == []:
                if opt.required and placeholders:
                    item = _toml_item(_empty(opt))
                    item.comment("REQUIRED")
                    item.trivia.comment_ws = "  "
                    container.add(key, item)
                elif comments:
                    shown = opt.default if opt.default not in (None, {}, ()) else opt.example
                    text = _toml_item(shown).as_string() if shown is not None else ""
                    container.add(tomlkit.comment(f"{key} = {text}".rstrip()))
                continue
            container.add(key, _toml_item(node))
        for opt in tables[path]:
            if opt.kind == "tag_map":
                _add_tag_map(container, opt, _node_at(data, opt.path), comments=comments)
        for child in tables:
            if len(child) == len(path) + 1 and child[: len(path)] == path:
                table = tomlkit.table()
                fill(table, child)
                if comments or len(table):
                    container.add(child[-1], table)

    fill(doc, ())
    return tomlkit.dumps(doc).lstrip("\n")


def _node_at(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a TOML-shaped mapping, or None."""
    node: Any = data
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _empty(opt: _Opt) -> Any:
    return [] if opt.kind == "list" else ""


def _add_tag_map(container: Any, opt: _Opt, items: Any, *, comments: bool) -> None:
    """``[[rules.tag_map]]``: its explanation, then one table per mapping (or an example)."""
    if comments:
        container.add(tomlkit.nl())
        for line in _comment_lines(opt.doc):
            container.add(line)
    if not items:
        if comments:
            for line in _TAG_MAP_EXAMPLE:
                container.add(tomlkit.comment(line))
        return
    tables = tomlkit.aot()
    for item in items:
        table = tomlkit.table()
        for key, value in item.items():
            table.add(key, _toml_item(value))
        tables.append(table)
    container.add(opt.path[-1], tables)


def render_template(values: Mapping[str, Any] | None = None) -> str:
    """The commented TOML written by ``expense-bridge init``.

    ``values``: a TOML-shaped mapping of what is already known (e.g. from ``init``'s
    options). Required options without a value are written as ``""  # REQUIRED`` so
    loading the file fails, naming them, until they are filled in; nothing is guessed.
    """
    return _render(values or {}, comments=True, placeholders=True)
