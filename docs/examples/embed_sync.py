"""Run one sync from your own code: configuration in code, secrets from your secret store.

Every entry point takes the configuration first: ``sync(config, ...)``,
``replay(config, report_id, ...)``, ``post_report(config, report, ...)``,
``provision_all(config, ...)``; clients and the store are keyword arguments.

This file is included in the documentation (``docs/embedding.md``) and run by the test
suite against both emulators over loopback (``tests/docs/test_embedding.py``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from expense_bridge import (
    BridgeConfig,
    PostResult,
    Secrets,
    SyncResult,
    open_clients,
    replay,
    sync,
)

log = logging.getLogger("myapp.expenses")


def build_config(acumatica_url: str, expensify_url: str, state_dir: Path) -> BridgeConfig:
    """The same options as config.toml, as a mapping (every problem is reported at once)."""
    return BridgeConfig.from_mapping(
        {
            "policies": ["POL1"],
            "state_path": str(state_dir / "state.sqlite3"),
            "acumatica": {
                "base_url": acumatica_url,
                "endpoint_version": "24.200.001",
                "username": "bridge",
                "client_id": "bridge@Company",
                "timeout": "90s",
            },
            "expensify": {"partner_user_id": "aa_bridge", "base_url": expensify_url},
            "rules": {"employee_liability_account": "21000"},
        }
    )


def secrets_from_environment() -> Secrets:
    """Secrets from wherever your application keeps them; no vault file needed."""
    return Secrets(
        acumatica_password=os.environ["ACUMATICA_PASSWORD"],
        acumatica_client_secret=os.environ["ACUMATICA_CLIENT_SECRET"],
        expensify_partner_user_secret=os.environ["EXPENSIFY_PARTNER_USER_SECRET"],
    )


def run_sync(config: BridgeConfig, secrets: Secrets) -> SyncResult:
    """One sync run; both clients (and the Acumatica session) are closed on return."""
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        result = sync(config, acumatica=acumatica, expensify=expensify)
    for outcome in result.outcomes:
        for problem in outcome.problems:
            log.warning("report %s held: %s (%s)", outcome.report_id, problem.code.value,
                        problem.fix)  # fmt: skip
    log.info("sync %s: %s", result.run_id, {k: v for k, v in result.counts.items() if v})
    return result


def replay_report(config: BridgeConfig, secrets: Secrets, report_id: str) -> PostResult:
    """After the cause of a hold is fixed (e.g. a GL code added in Expensify), post it again.

    The report is exported again by ID, so a report re-opened since is refused, not posted.
    """
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        result = replay(config, report_id, acumatica=acumatica, expensify=expensify)
    log.info("replay %s: %s %s", report_id, result.outcome.action.value,
             ", ".join(result.outcome.documents))  # fmt: skip
    return result
