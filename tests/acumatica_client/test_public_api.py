"""The package's public surface: a pinned ``__all__`` that matches what the modules export."""

from __future__ import annotations

import importlib
import pkgutil
import types

import acumatica_client

EXPECTED = [
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


def _private_modules() -> list[types.ModuleType]:
    names = [
        m.name
        for m in pkgutil.iter_modules(acumatica_client.__path__)
        if m.name.startswith("_") and not m.ispkg
    ]
    return [importlib.import_module(f"acumatica_client.{name}") for name in sorted(names)]


class TestPublicApi:
    def test_all_is_pinned(self) -> None:
        """Adding or removing a public name is a deliberate change to this list."""
        assert acumatica_client.__all__ == EXPECTED

    def test_all_has_no_duplicates_and_every_name_resolves(self) -> None:
        """Each exported name exists on the package."""
        assert len(set(acumatica_client.__all__)) == len(acumatica_client.__all__)
        missing = [n for n in acumatica_client.__all__ if not hasattr(acumatica_client, n)]
        assert missing == []

    def test_all_is_exactly_the_union_of_the_private_modules_exports(self) -> None:
        """Every module's ``__all__`` is re-exported, and nothing else is."""
        exported: dict[str, object] = {}
        for module in _private_modules():
            for name in getattr(module, "__all__", ()):
                assert name not in exported, f"{name} exported by two modules"
                exported[name] = getattr(module, name)
        assert set(acumatica_client.__all__) == set(exported)
        for name, obj in exported.items():
            assert getattr(acumatica_client, name) is obj, name

    def test_no_public_attribute_outside_all(self) -> None:
        """Public-looking attributes of the package are all listed in ``__all__``."""
        public = {
            n
            for n, v in vars(acumatica_client).items()
            if not n.startswith("_") and not isinstance(v, types.ModuleType)
        }
        assert public - {"annotations"} == set(acumatica_client.__all__)
