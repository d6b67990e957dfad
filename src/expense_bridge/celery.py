"""The bridge as tasks of *your* Celery app (``pip install expense-bridge[celery]``).

The tasks are ``shared_task``s: they bind to whatever Celery app the worker runs, with Redis
or RabbitMQ as broker; there is no app of ours. Wire them in::

    # proj/celery.py
    from celery import Celery
    from expense_bridge.celery import beat_schedule

    app = Celery("proj", broker="amqp://…")
    app.conf.imports = ["expense_bridge.celery"]          # registers the tasks
    app.conf.beat_schedule = beat_schedule("/etc/expense-bridge/tenants")

Tasks:

* :func:`sync_tenant` -- one ``sync`` of one tenant. Late acknowledgement (a worker that
  dies mid-run leaves the message to another worker) and idempotent by construction: the
  tenant's run lease (in the state database, renewed by a heartbeat) lets one sync per
  tenant run at a time -- a second one skips, or waits ``wait`` seconds -- and every
  report is posted exactly once by the store's claims and the look-up-by-key protocol.
  Transient failures (network, 429, 5xx, the state database going away, the run lease
  held) are retried with Celery's retry and exponential backoff; permanent ones
  (configuration, credentials) fail the task with a message naming the tenant and the
  cause, and are not retried.
* :func:`provision_tenant` -- ``provision`` (employees, categories, tags) for one tenant.
* :func:`beat_schedule` -- a ``beat_schedule`` mapping built from the tenants' cadences.

Tenants come from a registry (:mod:`expense_bridge.tenants`): a directory of TOML files or
a database URL, passed as ``registry`` or read from ``EXPENSE_BRIDGE_TENANTS`` when the
task runs.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import Retry

from ._errors import BridgeError
from ._store import LeaseBusyError, StateUnavailableError
from .tenants import Tenant, open_registry

__all__ = [
    "PermanentTaskError",
    "beat_schedule",
    "is_transient",
    "provision_tenant",
    "run_sync",
    "sync_tenant",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the tenant registry (directory or database URL).
REGISTRY_ENV = "EXPENSE_BRIDGE_TENANTS"
#: Retries of a transient failure before the task fails (backoff 10 s, 20 s, … 10 min).
MAX_RETRIES = 8
#: Seconds before the first retry of a transient failure (doubled on each retry).
DEFAULT_BACKOFF = 10.0
#: The longest wait between two retries, in seconds.
MAX_BACKOFF = 600.0
#: Seconds a run lease or report claim lasts between heartbeats (a killed worker's
#: successor takes over within this time).
DEFAULT_LEASE = 90.0


class PermanentTaskError(Exception):
    """A sync or provisioning run that retrying cannot fix (the message says why).

    A plain exception with one string argument so every result backend can store it.
    """


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later may succeed without anyone acting."""
    from acumatica_client import (
        APIConnectionError as AcumaticaConnectionError,
    )
    from acumatica_client import (
        InternalServerError,
        LoginLimitError,
    )
    from acumatica_client import (
        RateLimitError as AcumaticaRateLimitError,
    )
    from expensify_client import APIConnectionError as ExpensifyConnectionError
    from expensify_client import RateLimitError as ExpensifyRateLimitError

    transient: tuple[type[BaseException], ...] = (
        AcumaticaConnectionError,
        AcumaticaRateLimitError,
        InternalServerError,
        LoginLimitError,
        ExpensifyConnectionError,
        ExpensifyRateLimitError,
        LeaseBusyError,
    )
    try:
        from expensify_client import ServerError

        transient += (ServerError,)
    except ImportError:  # pragma: no cover - older expensify_client
        pass
    if isinstance(exc, StateUnavailableError):
        return exc.retryable
    if isinstance(exc, transient):
        return True
    return bool(isinstance(exc, BridgeError) and exc.retryable)


def _backoff(retries: int, first: float = DEFAULT_BACKOFF) -> float:
    """Seconds before retry number ``retries + 1``: ``first``, doubled each time, capped."""
    return float(min(MAX_BACKOFF, first * 2**retries))


def _registry(location: str | None) -> str:
    found = location or os.environ.get(REGISTRY_ENV)
    if not found:
        raise PermanentTaskError(
            f"no tenant registry: pass registry=… or set {REGISTRY_ENV} to a directory of "
            "tenant TOML files or a database URL"
        )
    return found


def _load(registry: str | None, tenant: str) -> Tenant:
    try:
        return open_registry(_registry(registry)).get(tenant)
    except BridgeError as exc:
        raise PermanentTaskError(f"tenant {tenant}: {exc}") from None


def _owner(task: Any) -> str:
    request = getattr(task, "request", None)
    task_id = getattr(request, "id", None) or "local"
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"


def run_sync(
    tenant: Tenant,
    *,
    owner: str,
    wait: float = 0.0,
    exclusive: bool = True,
    lease_seconds: float = DEFAULT_LEASE,
) -> dict[str, Any]:
    """Run one sync of ``tenant`` under its run lease; the summary as a JSON-ready dict.

    Raises :class:`LeaseBusyError` when another worker holds the tenant's run lease for
    longer than ``wait`` seconds. ``exclusive=False`` runs without the run lease (the
    per-report claims alone keep every report exactly-once; used to race workers).
    ``lease_seconds``: how long the run lease and report claims last between heartbeats,
    i.e. how soon a killed worker's successor takes over. Callable without Celery.
    """
    from ._factory import open_store
    from ._sync import sync

    store = open_store(tenant.config, heartbeat=True, claim_lease=lease_seconds)
    try:
        if exclusive:
            with store.run_lease(
                tenant.config.connection, owner, wait=wait, lease_seconds=lease_seconds
            ):
                result = sync(tenant.config, store=store)
        else:
            result = sync(tenant.config, store=store)
    finally:
        store.close()
    return {
        "tenant": tenant.name,
        "run_id": result.run_id,
        "pulled": result.pulled,
        "counts": dict(result.counts),
        "errors": list(result.errors),
        "calls": {"acumatica": result.calls.acumatica, "expensify": result.calls.expensify},
    }


@shared_task(
    bind=True,
    name="expense_bridge.sync_tenant",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def sync_tenant(
    self: Any,
    tenant: str,
    registry: str | None = None,
    wait: float = 0.0,
    exclusive: bool = True,
    lease_seconds: float = DEFAULT_LEASE,
    backoff: float = DEFAULT_BACKOFF,
) -> dict[str, Any]:
    """Sync one tenant (see the module docstring); returns the run's summary.

    ``wait``: seconds to wait for the tenant's run lease when another worker holds it
    (0: skip at once). ``exclusive``/``lease_seconds``: see :func:`run_sync`.
    ``backoff``: seconds before the first retry of a transient failure, doubled on each
    further retry (at most :data:`MAX_BACKOFF`); must be positive.
    """
    if not backoff > 0:
        raise PermanentTaskError(f"tenant {tenant}: backoff must be > 0 seconds, not {backoff!r}")
    loaded = _load(registry, tenant)
    try:
        return run_sync(
            loaded,
            owner=_owner(self),
            wait=wait,
            exclusive=exclusive,
            lease_seconds=lease_seconds,
        )
    except Retry:
        raise
    except Exception as exc:
        if isinstance(exc, LeaseBusyError) and wait == 0 and self.request.retries == 0:
            logger.info("tenant %s: a sync is already running; this one is skipped", tenant)
            return {"tenant": tenant, "skipped": str(exc)}
        if is_transient(exc):
            logger.warning(
                "tenant %s: %s; retrying (attempt %d)",
                tenant,
                type(exc).__name__,
                self.request.retries + 1,
            )
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries, backoff)) from exc
        logger.error("tenant %s: sync failed: %s: %s", tenant, type(exc).__name__, exc)  # noqa: TRY400 - the message is the report; no traceback in logs
        raise PermanentTaskError(f"tenant {tenant}: {type(exc).__name__}: {exc}") from None


@shared_task(
    bind=True,
    name="expense_bridge.provision_tenant",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def provision_tenant(
    self: Any, tenant: str, registry: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Provision one tenant (employees, categories, tags); returns what changed."""
    from ._factory import open_clients
    from .provisioning import provision_all

    loaded = _load(registry, tenant)
    try:
        with open_clients(loaded.config) as (acumatica, expensify):
            run = provision_all(
                loaded.config, acumatica=acumatica, expensify=expensify, dry_run=dry_run
            )
    except Exception as exc:
        if is_transient(exc):
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        raise PermanentTaskError(f"tenant {tenant}: {type(exc).__name__}: {exc}") from None
    return {"tenant": tenant, "dry_run": dry_run, "changes": run.to_dict()}


def beat_schedule(
    registry: str | os.PathLike[str],
    *,
    task: str = "expense_bridge.sync_tenant",
    queue: str | None = None,
    wait: float = 0.0,
) -> dict[str, dict[str, Any]]:
    """A Celery ``beat_schedule`` with one entry per enabled tenant, at its cadence.

    Each entry expires after one cadence (a beat tick not run by then is dropped rather
    than piling up behind a slow tenant).
    """
    location = os.fspath(registry)
    reg = open_registry(location)
    schedule: dict[str, dict[str, Any]] = {}
    for name in reg.names():
        tenant = reg.get(name)
        if not tenant.enabled:
            continue
        options: dict[str, Any] = {"expires": tenant.cadence.total_seconds()}
        if queue is not None:
            options["queue"] = queue
        schedule[f"expense-bridge:sync:{name}"] = {
            "task": task,
            "schedule": timedelta(seconds=tenant.cadence.total_seconds()),
            "args": (name,),
            "kwargs": {"registry": location, "wait": wait},
            "options": options,
        }
    return schedule
