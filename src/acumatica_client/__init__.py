"""A typed client for Acumatica ERP's Contract-Based REST API.

Pin the endpoint (``Endpoint("Default", "24.200.001")``), pick an auth (:class:`OAuth2`
or a cookie :meth:`AcumaticaClient.session`), then read and write the typed entities::

    with AcumaticaClient(base_url=url, endpoint=DEFAULT_ENDPOINT, auth=oauth) as client:
        client.check_endpoint()
        bills = client.list(Bill, filter=Field("Status").eq("Open"))

The public names are re-exported here; implementation lives in ``_private`` modules.
"""

from __future__ import annotations

import logging as _logging
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _distribution_version

from ._auth import (
    CookieLogin,
    MemoryTokenStore,
    OAuth2,
    Token,
    TokenStore,
)
from ._client import (
    AcumaticaClient,
    ClientOptions,
    RequestLimiter,
    key_values,
)
from ._converters import (
    configure_converter,
    dumps,
    from_wire,
    loads,
    make_converter,
    schema_type,
    to_wire,
)
from ._endpoint import (
    DEFAULT_ENDPOINT,
    Endpoint,
    discovery_url,
    entity_url,
    instance_url,
    location_url,
    login_url,
    logout_url,
    token_url,
)
from ._exceptions import (
    ActionTimeoutError,
    AcumaticaError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EndpointVersionError,
    EntityHasErrorsError,
    FieldError,
    FieldNotInVersionError,
    InternalServerError,
    LoginLimitError,
    NotFoundError,
    OptimizationError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    SetupNotEnteredError,
    UnprocessableEntityError,
    ValidationError,
    parse_retry_after,
    redact,
    status_error,
)
from ._filters import (
    Field,
    Filter,
    expand_param,
    literal,
    select_param,
)
from ._limiter import (
    Licence,
    LicenceLimiter,
)
from ._links import RecordLinks, files_put_url
from ._models import (
    UNSET,
    Account,
    AcumaticaEntity,
    Bill,
    BillDetail,
    Branch,
    Contact,
    Currency,
    CustomField,
    Employee,
    EmployeeSettings,
    ExpenseClaim,
    ExpenseClaimAPDocument,
    ExpenseClaimDetail,
    ExpenseClaimFinancialDetail,
    FinancialPeriod,
    FinancialPeriodDetail,
    JournalTransaction,
    JournalTransactionDetail,
    NonStockItem,
    Project,
    ProjectTask,
    Subaccount,
    TaxCategory,
    TaxCategoryTaxDetail,
    TaxZone,
    TaxZoneApplicableTaxDetail,
    UnsetType,
    Vendor,
)
from ._retry import (
    RetryPolicy,
)
from ._schema import (
    ACTIONS,
    ENTITY_FIELDS,
    KEY_FIELDS,
    KNOWN_VERSIONS,
    TOP_LEVEL_ENTITIES,
)

# Library logging: records go nowhere unless the application configures a handler.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

try:
    __version__: str = _distribution_version("expense-bridge")
    """The installed distribution's version (one source: ``pyproject.toml``)."""
except _PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "ACTIONS",
    "DEFAULT_ENDPOINT",
    "ENTITY_FIELDS",
    "KEY_FIELDS",
    "KNOWN_VERSIONS",
    "TOP_LEVEL_ENTITIES",
    "UNSET",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "ActionTimeoutError",
    "AcumaticaClient",
    "AcumaticaEntity",
    "AcumaticaError",
    "AuthenticationError",
    "BadRequestError",
    "Bill",
    "BillDetail",
    "Branch",
    "ClientOptions",
    "ConflictError",
    "Contact",
    "CookieLogin",
    "Currency",
    "CustomField",
    "Employee",
    "EmployeeSettings",
    "Endpoint",
    "EndpointVersionError",
    "EntityHasErrorsError",
    "ExpenseClaim",
    "ExpenseClaimAPDocument",
    "ExpenseClaimDetail",
    "ExpenseClaimFinancialDetail",
    "Field",
    "FieldError",
    "FieldNotInVersionError",
    "Filter",
    "FinancialPeriod",
    "FinancialPeriodDetail",
    "InternalServerError",
    "JournalTransaction",
    "JournalTransactionDetail",
    "Licence",
    "LicenceLimiter",
    "LoginLimitError",
    "MemoryTokenStore",
    "NonStockItem",
    "NotFoundError",
    "OAuth2",
    "OptimizationError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "Project",
    "ProjectTask",
    "RateLimitError",
    "RecordLinks",
    "RequestLimiter",
    "RetryPolicy",
    "SetupNotEnteredError",
    "Subaccount",
    "TaxCategory",
    "TaxCategoryTaxDetail",
    "TaxZone",
    "TaxZoneApplicableTaxDetail",
    "Token",
    "TokenStore",
    "UnprocessableEntityError",
    "UnsetType",
    "ValidationError",
    "Vendor",
    "configure_converter",
    "discovery_url",
    "dumps",
    "entity_url",
    "expand_param",
    "files_put_url",
    "from_wire",
    "instance_url",
    "key_values",
    "literal",
    "loads",
    "location_url",
    "login_url",
    "logout_url",
    "make_converter",
    "parse_retry_after",
    "redact",
    "schema_type",
    "select_param",
    "status_error",
    "to_wire",
    "token_url",
]
