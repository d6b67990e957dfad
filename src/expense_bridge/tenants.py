"""Tenants: many Expensify/Acumatica pairs run by one deployment.

A tenant is an ordinary bridge configuration (the TOML ``expense-bridge init`` writes) with
an optional ``[tenant]`` table::

    [tenant]
    cadence = "15m"     # how often the beat schedule runs its sync (default 15 minutes)
    enabled = true      # false: kept in the registry, left out of the schedule

Its name is the file name (``acme.toml`` -> ``acme``) or the name it was stored under. Unless
the file sets ``connection``, the tenant's name is its connection (the key of its bookmarks,
report states and run lease in the shared state database), so two tenants never share
state; unless it sets ``vault_path``, its credentials are in ``<name>.vault`` beside the file
(directory registry) -- each tenant has its own secrets.

Two registries hold tenants: :class:`DirectoryRegistry` (a directory of TOML files, one per
tenant) and :class:`DatabaseRegistry` (the same documents in the state database, for users
who prefer that). :func:`open_registry` picks one from a path or a database URL.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs

from ._config import BridgeConfig, parse_duration
from ._errors import ConfigError, Problem
from ._store import DatabaseStore, StateStoreError
from ._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)

__all__ = [
    "DEFAULT_CADENCE",
    "DatabaseRegistry",
    "DirectoryRegistry",
    "Tenant",
    "TenantError",
    "TenantRegistry",
    "check_tenant",
    "open_registry",
    "parse_tenant",
]

#: How often a tenant is synced when its file does not say.
DEFAULT_CADENCE = timedelta(minutes=15)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class TenantError(ConfigError):
    """A tenant is unknown, badly named, or its document is not a valid configuration."""


def _problem(field: str, message: str, fix: str) -> Problem:
    from ._errors import ErrorCode

    code = ErrorCode.__members__.get("CONFIG_INVALID", ErrorCode.RULES_INVALID)
    return Problem(code=code, field=field, message=message, fix=fix)


@attrs.frozen(kw_only=True)
class Tenant:
    """One tenant: its name, configuration, cadence and where it was read from."""

    name: str
    config: BridgeConfig
    cadence: timedelta = DEFAULT_CADENCE
    enabled: bool = True
    source: str = ""


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise TenantError(
            (
                _problem(
                    "tenant",
                    f"tenant name {name!r} is not usable (letters, digits, '.', '_', '-'; "
                    "at most 63 characters, not starting with a punctuation mark)",
                    "Rename the tenant (its file) to e.g. 'acme-corp'.",
                ),
            )
        )


def parse_tenant(
    name: str, document: str, *, source: str = "", base_dir: Path | None = None
) -> Tenant:
    """A tenant from its TOML text; :class:`TenantError` names the tenant and the field."""
    _check_name(name)
    where = source or f"tenant {name}"
    try:
        data: dict[str, Any] = tomllib.loads(document)
    except tomllib.TOMLDecodeError as exc:
        raise TenantError(
            (_problem("<file>", f"{where} is not valid TOML: {exc}", "Fix the TOML syntax."),)
        ) from None
    meta = data.pop("tenant", {})
    problems: list[Problem] = []
    if not isinstance(meta, Mapping):
        meta = {}
        problems.append(_problem("tenant", f"{where}: [tenant] must be a table", "Use [tenant]."))
    unknown = sorted(set(meta) - {"cadence", "enabled"})
    for key in unknown:
        problems.append(
            _problem(f"tenant.{key}", f"{where}: unknown option tenant.{key}", "Remove it.")
        )
    cadence = DEFAULT_CADENCE
    if "cadence" in meta:
        try:
            cadence = parse_duration(str(meta["cadence"]))
        except ValueError:
            cadence = timedelta(0)
        if cadence <= timedelta(0):
            cadence = DEFAULT_CADENCE
            problems.append(
                _problem(
                    "tenant.cadence",
                    f"{where}: tenant.cadence {meta['cadence']!r} is not a positive duration",
                    "Write e.g. '15m' or '1h'.",
                )
            )
    enabled = meta.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(
            _problem("tenant.enabled", f"{where}: tenant.enabled must be true or false", "")
        )
        enabled = True
    data.setdefault("connection", name)
    if base_dir is not None and "vault_path" not in data:
        data["vault_path"] = str(base_dir / f"{name}.vault")
    try:
        config = BridgeConfig.from_mapping(data, base_dir=base_dir)
    except ConfigError as exc:
        problems.extend(attrs.evolve(p, message=f"{where}: {p.message}") for p in exc.problems)
    if problems:
        raise TenantError(tuple(problems))
    return Tenant(name=name, config=config, cadence=cadence, enabled=enabled, source=where)


class TenantRegistry(Protocol):
    """Where tenants are kept (a directory of TOML files, or the state database)."""

    location: str

    def names(self) -> list[str]: ...
    def get(self, name: str) -> Tenant: ...
    def add(self, name: str, document: str) -> Tenant: ...
    def remove(self, name: str) -> bool: ...


def _unknown(name: str, location: str) -> TenantError:
    return TenantError(
        (
            _problem(
                "tenant",
                f"tenant {name!r} is not in the registry {location}",
                "Add it with 'expense-bridge tenants add' or check the name.",
            ),
        )
    )


class DirectoryRegistry:
    """Tenants as ``<directory>/<name>.toml`` files (credentials in ``<name>.vault``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)

    def __repr__(self) -> str:
        return f"DirectoryRegistry({self.location!r})"

    def names(self) -> list[str]:
        """Every tenant name, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.toml"))

    def get(self, name: str) -> Tenant:
        """The tenant called ``name``."""
        _check_name(name)
        path = self.directory / f"{name}.toml"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _unknown(name, self.location) from None
        return parse_tenant(name, text, source=str(path), base_dir=self.directory.resolve())

    def add(self, name: str, document: str) -> Tenant:
        """Validate and write a tenant's file; returns the tenant."""
        tenant = parse_tenant(
            name, document, source=str(self.directory / f"{name}.toml"),
            base_dir=self.directory.resolve(),
        )  # fmt: skip
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.toml"
        temporary = path.with_suffix(".toml.tmp")
        temporary.write_text(document, encoding="utf-8")
        temporary.replace(path)
        return tenant

    def remove(self, name: str) -> bool:
        """Delete a tenant's file (its vault is kept); False when there was none."""
        _check_name(name)
        path = self.directory / f"{name}.toml"
        if not path.exists():
            return False
        path.unlink()
        return True


class DatabaseRegistry:
    """Tenants kept in the state database (table ``tenants``: name -> TOML document).

    Documents must name their ``vault_path`` (there is no directory to put it beside).
    """

    def __init__(self, store: DatabaseStore) -> None:
        self.store = store
        self.location = store.location

    def __repr__(self) -> str:
        return f"DatabaseRegistry({self.location!r})"

    def names(self) -> list[str]:
        """Every tenant name, sorted."""
        return sorted(self.store.tenant_documents())

    def get(self, name: str) -> Tenant:
        """The tenant called ``name``."""
        _check_name(name)
        document = self.store.tenant_documents().get(name)
        if document is None:
            raise _unknown(name, self.location)
        return parse_tenant(name, document, source=f"tenant {name} in {self.location}")

    def add(self, name: str, document: str) -> Tenant:
        """Validate and store a tenant's document; returns the tenant."""
        tenant = parse_tenant(name, document, source=f"tenant {name} in {self.location}")
        self.store.put_tenant(name, document, datetime.now(UTC))
        return tenant

    def remove(self, name: str) -> bool:
        """Delete a stored tenant; False when there was none."""
        return self.store.remove_tenant(name)


def open_registry(location: str | Path) -> DirectoryRegistry | DatabaseRegistry:
    """A registry from a directory path or a database URL (``postgresql://…``,
    ``sqlite:///…``). No I/O until it is used."""
    text = str(location)
    if "://" in text:
        return DatabaseRegistry(DatabaseStore(text))
    return DirectoryRegistry(Path(text))


def check_tenant(tenant: Tenant, *, store: bool = True) -> list[str]:
    """What stops a tenant from syncing, as sentences (empty: ready).

    Checks that every secret its authentication needs is in its vault (values are never
    read into the answer) and, with ``store``, that its state database answers with a
    schema this release can use.
    """
    problems: list[str] = []
    config = tenant.config
    needed = [ACUMATICA_PASSWORD, EXPENSIFY_PARTNER_SECRET]
    if config.acumatica.auth == "oauth":
        needed.append(ACUMATICA_CLIENT_SECRET)
    try:
        vault = CredentialVault(config.vault_path) if config.vault_path else None
        if vault is None:
            from ._factory import vault_for

            vault = vault_for(config)
        present = set(vault.names())
    except Exception as exc:  # the vault's own typed errors; never its contents
        problems.append(f"tenant {tenant.name}: vault cannot be read ({type(exc).__name__})")
        present = set()
    else:
        for name in needed:
            if name not in present:
                problems.append(f"tenant {tenant.name}: secret {name!r} is missing from its vault")
    if store:
        from ._factory import open_store

        state = open_store(config)
        try:
            state.schema_version()
        except StateStoreError as exc:
            problems.append(f"tenant {tenant.name}: {exc}")
        finally:
            state.close()
    return problems
