"""Typed usage examples of expense_bridge's entry points: checked by mypy, never executed.

Every entry point takes the configuration first and everything else as keywords.
"""

from __future__ import annotations

from pathlib import Path

from expense_bridge import (
    BridgeConfig,
    PostResult,
    Secrets,
    StateStore,
    SyncResult,
    open_clients,
    post_report,
    provision_all,
    replay,
    sync,
)
from expense_bridge.provisioning import ProvisioningRun
from expensify_client import Report


def load(path: Path) -> BridgeConfig:
    return BridgeConfig.from_toml(path, env={})


def one_run(config: BridgeConfig, secrets: Secrets) -> SyncResult:
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        return sync(config, acumatica=acumatica, expensify=expensify, dry_run=True)


def replay_one(config: BridgeConfig, secrets: Secrets, report_id: str) -> PostResult:
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        return replay(config, report_id, acumatica=acumatica, expensify=expensify)


def post_one(
    config: BridgeConfig, secrets: Secrets, report: Report, store: StateStore
) -> PostResult:
    with open_clients(config, secrets=secrets) as (acumatica, _):
        return post_report(config, report, acumatica=acumatica, store=store)


def provision(config: BridgeConfig, secrets: Secrets) -> ProvisioningRun:
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        return provision_all(config, acumatica=acumatica, expensify=expensify, dry_run=True)


def documents(result: PostResult) -> tuple[str, ...]:
    return result.outcome.documents
