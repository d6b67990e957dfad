"""Build both API clients from a :class:`~expense_bridge.BridgeConfig` and the vault.

:func:`open_clients` is the one place where configuration, secrets and the typed clients
meet. It is a context manager: both clients (and, for cookie authentication, the Acumatica
session, which holds one of the licence's API seats) are closed on exit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs
import httpx

from acumatica_client import AcumaticaClient, CookieLogin, OAuth2, TokenStore
from acumatica_client import ClientOptions as AcumaticaOptions
from expensify_client import ClientOptions as ExpensifyOptions
from expensify_client import Credentials, ExpensifyClient, SharedRateLimiter

from ._config import BridgeConfig, default_state_path, default_vault_path
from ._limits import (
    DatabaseLicenceLimiter,
    DatabaseRateLimiter,
    RedisLicenceLimiter,
    RedisRateLimiter,
    acumatica_limit_key,
)
from ._secrets import SecretSource
from ._store import DatabaseStore, SQLiteStore
from ._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)

__all__ = ["open_clients", "open_store", "vault_for"]

logger = logging.getLogger(__name__)


def vault_for(config: BridgeConfig) -> CredentialVault:
    """The vault the configuration points at (``vault_path``, else the default location)."""
    path: Path = config.vault_path or default_vault_path()
    return CredentialVault(path)


def open_store(
    config: BridgeConfig, *, heartbeat: bool = False, claim_lease: float = 90.0
) -> DatabaseStore:
    """The state store of ``config``: ``state.url`` if set, else the SQLite file at
    ``state_path`` (default: the user data directory). No I/O until first use.

    ``heartbeat``: renew held claims and leases in the background (long-running workers),
    whose report claims then last ``claim_lease`` seconds between renewals.
    """
    if config.state_url is not None:
        return DatabaseStore(config.state_url, heartbeat=heartbeat, claim_lease=claim_lease)
    return SQLiteStore(config.state_path, heartbeat=heartbeat, claim_lease=claim_lease)


def _shared_backend(config: BridgeConfig) -> str | None:
    """Where rate limits are shared between machines: ``"redis"`` (state.rate_limits_url),
    ``"database"`` (state.url on PostgreSQL) or None (one machine: SQLite file limiter)."""
    if config.rate_limits_url is not None:
        return "redis"
    if config.state_url is not None and config.state_url.startswith("postgres"):
        return "database"
    return None


def _expensify_options(
    config: BridgeConfig, options: ExpensifyOptions | None, store: DatabaseStore | None = None
) -> ExpensifyOptions:
    """Share Expensify's rate windows between processes through a file beside the state.

    A caller-supplied limiter (tests, the demo's simulated clock) is kept as it is.
    """
    options = options or ExpensifyOptions()
    exp = config.expensify
    if exp.timeout is not None:
        options = attrs.evolve(options, timeout=exp.timeout.total_seconds())
    if exp.retries is not None:
        options = attrs.evolve(options, retry=attrs.evolve(options.retry, attempts=exp.retries + 1))
    if options.limits is not None:
        return options
    backend = _shared_backend(config)
    if backend == "redis" and config.rate_limits_url is not None:
        redis_limits = RedisRateLimiter(config.rate_limits_url, sleep=options.sleep)
        return attrs.evolve(options, limits=redis_limits)
    if backend == "database" and store is not None:
        return attrs.evolve(options, limits=DatabaseRateLimiter(store, sleep=options.sleep))
    state = config.state_path or default_state_path()
    limiter = SharedRateLimiter(state.with_name("expensify-rate.sqlite3"), sleep=options.sleep)
    return attrs.evolve(options, limits=limiter)


@contextmanager
def open_clients(
    config: BridgeConfig,
    *,
    vault: CredentialVault | None = None,
    secrets: SecretSource | None = None,
    acumatica_transport: httpx.BaseTransport | None = None,
    expensify_transport: httpx.BaseTransport | None = None,
    acumatica_options: AcumaticaOptions | None = None,
    expensify_options: ExpensifyOptions | None = None,
    token_store: TokenStore | None = None,
) -> Iterator[tuple[AcumaticaClient, ExpensifyClient]]:
    """Yield ``(AcumaticaClient, ExpensifyClient)`` configured from ``config`` and the vault.

    The Acumatica client uses the configured authentication (OAuth password grant, or a
    cookie session opened here and always closed) and the licence ceiling
    (``requests_per_minute``/``max_concurrent``). Secrets are read from ``vault`` (default:
    :func:`vault_for`) and handed straight to the clients; pass ``secrets`` (a
    :class:`~expense_bridge.Secrets`, or anything with ``get(name) -> Secret``) instead to
    hand them over without a vault file.

    The ``*_transport`` arguments (e.g. an emulator's :class:`httpx.MockTransport`) and the
    ``*_options`` exist for tests and the demo; ``acumatica_options.licence`` is replaced by
    the configured ceiling. ``token_store`` keeps OAuth tokens between runs.
    """
    source: SecretSource = (
        secrets if secrets is not None else vault if vault is not None else vault_for(config)
    )
    acu = config.acumatica
    options = attrs.evolve(acumatica_options or AcumaticaOptions(), licence=acu.licence)
    if acu.timeout is not None:  # acumatica.timeout / acumatica.retries from the config
        options = attrs.evolve(options, timeout=acu.timeout.total_seconds())
    if acu.retries is not None:
        options = attrs.evolve(options, retry=attrs.evolve(options.retry, attempts=acu.retries + 1))
    password = source.get(ACUMATICA_PASSWORD)
    auth: httpx.Auth | None = None
    login: CookieLogin | None = None
    if acu.auth == "oauth":
        if acu.client_id is None:  # pragma: no cover - BridgeConfig validation forbids it
            raise ValueError("acumatica.client_id is required for OAuth")
        auth = OAuth2(
            base_url=acu.base_url,
            client_id=acu.client_id,
            client_secret=source.get(ACUMATICA_CLIENT_SECRET).reveal(),
            username=acu.username,
            password=password.reveal(),
            token_store=token_store,
        )
    else:
        login = CookieLogin(
            name=acu.username, password=password.reveal(), tenant=acu.tenant, branch=acu.branch
        )
    credentials = Credentials(
        partner_user_id=config.expensify.partner_user_id,
        partner_user_secret=source.get(EXPENSIFY_PARTNER_SECRET).reveal(),
    )
    with ExitStack() as stack:
        shared = _shared_backend(config)
        limits_store: DatabaseStore | None = None
        if shared == "database":
            limits_store = DatabaseStore(config.state_url)
            stack.callback(limits_store.close)
        shared_licence = (
            _shared_licence(stack, config, limits_store)
            if shared is not None and acumatica_options is None
            else None
        )
        acumatica = stack.enter_context(
            AcumaticaClient(
                base_url=acu.base_url,
                endpoint=acu.endpoint,
                auth=auth,
                options=options,
                transport=acumatica_transport,
                limiter=shared_licence,
            )
        )
        expensify = stack.enter_context(
            ExpensifyClient(
                credentials=credentials,
                base_url=config.expensify.base_url,
                transport=expensify_transport,
                options=_expensify_options(config, expensify_options, limits_store),
            )
        )
        if login is not None:
            stack.enter_context(acumatica.session(login))
        logger.debug(
            "clients opened: acumatica %s (%s), expensify %s",
            acumatica.base_url,
            acu.auth,
            config.expensify.base_url,
        )
        yield acumatica, expensify


def _shared_licence(
    stack: ExitStack, config: BridgeConfig, store: DatabaseStore | None
) -> DatabaseLicenceLimiter | RedisLicenceLimiter | None:
    """The licence limiter every worker using this Acumatica tenant shares (Redis when
    ``state.rate_limits_url`` is set, else the PostgreSQL state database), handed to
    :class:`AcumaticaClient` as its ``limiter``; closed with ``stack``."""
    acu = config.acumatica
    key = acumatica_limit_key(acu.base_url, acu.tenant)
    if config.rate_limits_url is not None:
        redis_limiter = RedisLicenceLimiter(config.rate_limits_url, acu.licence, key)
        stack.callback(redis_limiter.close)
        return redis_limiter
    if store is not None:
        return DatabaseLicenceLimiter(store, acu.licence, key)
    return None  # pragma: no cover - _shared_backend said the limits are shared
