"""The CLI against both emulators served over loopback HTTP: config file, vault, state."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rich.console import Console

import expense_bridge
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import _cli
from expense_bridge._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from expense_bridge._rules import PostingRules
from expense_bridge._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    ENV_KEY,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)
from expense_bridge.provisioning import ProvisioningSettings
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

PASSWORD = "cli-e2e-acumatica-pw-51d0"
CLIENT_SECRET = "cli-e2e-client-secret-77aa"
PARTNER_SECRET = "cli-e2e-partner-secret-c3f9"
OWNER = "owner@firm.test"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], AcumaticaEmulator, list[str]]]:
    acu = AcumaticaEmulator(
        users={"bridge": PASSWORD},
        oauth_clients={"bridge@Company": CLIENT_SECRET},
        hold_on_entry=False,
    )
    acu.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True},
                         {"AccountCD": "21000", "Type": "Liability", "Active": True}])  # fmt: skip
    acu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                         "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
    acu.seed("Employee", [{"EmployeeID": "EMP0001", "Status": "Active",
                           "ContactInfo": {"Email": "ann@firm.test", "FirstName": "Ann"},
                           "EmployeeSettings": {"DepartmentID": "CONSULT"}}])  # fmt: skip
    exp = ExpensifyEmulator()
    exp.add_account("aa_bridge", PARTNER_SECRET, email=OWNER)
    exp.add_policy("POL1", "Firm", owner=OWNER,
                   categories=[category("Travel", "61000"), category("Mystery", None)],
                   employees=[employee("ann@firm.test", submits_to=OWNER)])  # fmt: skip
    now = datetime.now(UTC)
    ids = []
    for n, cat in enumerate(("Travel", "Mystery")):
        spec = ExpenseSpec(amount_cents=5000 + n, currency="USD", created=now.date(),
                           merchant="Air", category=cat)  # fmt: skip
        rid = exp.add_report("POL1", submitter="ann@firm.test", name=f"Trip {n}",
                             currency="USD", expenses=[spec],
                             created=now - timedelta(days=3))  # fmt: skip
        exp.submit(rid, now - timedelta(days=2))
        exp.approve(rid, now - timedelta(days=1))
        ids.append(rid)
    env = {ENV_KEY: Fernet.generate_key().decode()}
    with acu.serve() as acu_server, exp.serve() as exp_server:
        config = BridgeConfig(
            acumatica=AcumaticaSettings(base_url=acu_server.base_url,
                                        endpoint_version="24.200.001", username="bridge",
                                        client_id="bridge@Company"),
            expensify=ExpensifySettings(partner_user_id="aa_bridge", base_url=exp_server.url),
            policies=("POL1",),
            rules=PostingRules(employee_liability_account="21000"),
            state_path=tmp_path / "state.sqlite3",
            vault_path=tmp_path / "vault.fernet",
            provisioning=ProvisioningSettings(default_policy="POL1", top_approver=OWNER),
        )  # fmt: skip
        path = tmp_path / "config.toml"
        path.write_text(config.to_toml(), encoding="utf-8")
        CredentialVault(tmp_path / "vault.fernet", env=env).set_many(
            {ACUMATICA_PASSWORD: PASSWORD, ACUMATICA_CLIENT_SECRET: CLIENT_SECRET,
             EXPENSIFY_PARTNER_SECRET: PARTNER_SECRET}
        )  # fmt: skip
        yield path, env, acu, ids


def cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    buffer = io.StringIO()
    code = _cli.run(args, console=Console(file=buffer, width=200), env=env)
    return code, buffer.getvalue()


@pytest.mark.loopback
def test_sync_status_audit_over_http_without_leaking_secrets(
    setup: tuple[Path, dict[str, str], AcumaticaEmulator, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, env, acu, (good, held) = setup
    cfg = ["--config", str(path), "--json"]
    caplog.set_level(logging.DEBUG)

    code, out = cli(["sync", *cfg], env)
    doc = json.loads(out)
    assert code == 3, out  # finished, one report held
    actions = {o["report_id"]: o["action"] for o in doc["result"]["outcomes"]}
    assert actions == {good: "posted", held: "held"}
    assert [b["VendorRef"] for b in acu.records("Bill")] == [f"EXB-{good}"]

    code, out = cli(["status", *cfg], env)
    status = json.loads(out)["result"]
    assert code == 0
    assert status["state"] == {"acknowledged": 1, "held": 1}
    assert status["held"][0]["report_id"] == held
    assert status["held"][0]["problems"][0]["code"] == "EB-CATEGORY-NO-GL-CODE"

    code, out = cli(["audit", good, *cfg], env)
    steps = [r["step"] for r in json.loads(out)["result"]["records"]]
    assert code == 0
    assert steps == ["intent", "create", "post", "acknowledge"]

    code, out = cli(["sync", *cfg], env)  # within the overlap: the held report is seen again
    again = json.loads(out)["result"]
    assert code == 3
    assert [(o["report_id"], o["action"]) for o in again["outcomes"]] == [(held, "held")]
    assert again["counts"]["posted"] == 0
    assert len(acu.records("Bill")) == 1

    code, out = cli(["provision", "--dry-run", *cfg], env)
    assert code == 0
    assert json.loads(out)["result"]["employees"]["update"] == 1  # employeeID gets set

    everything = caplog.text + out + path.read_text() + (path.parent / "vault.fernet").read_text()
    for secret in (PASSWORD, CLIENT_SECRET, PARTNER_SECRET):
        assert secret not in everything


class _Recording(dict[str, object]):
    """A dict that remembers every key ever stored (live cookies and tokens)."""

    def __init__(self, initial: dict[str, object], seen: set[str]) -> None:
        super().__init__(initial)
        self.seen = seen
        seen.update(initial)

    def __setitem__(self, key: str, value: object) -> None:
        self.seen.add(key)
        super().__setitem__(key, value)


_HEADER_VALUE = re.compile(
    r"(?i)\b(authorization|cookie|set-cookie)['\"]?\s*[:=]\s*b?['\"]?([^\s'\",]+)"
)


@pytest.mark.loopback
@pytest.mark.parametrize("auth", ["oauth", "cookie"])
def test_vv_logs_no_session_secret(
    setup: tuple[Path, dict[str, str], AcumaticaEmulator, list[str]], auth: str
) -> None:
    """-vv over loopback, both sign-in modes: stderr has debug lines but no secret at all."""
    path, env, acu, _ = setup
    if auth == "cookie":
        path.write_text(path.read_text().replace('auth = "oauth"', 'auth = "cookie"'))
        assert 'auth = "cookie"' in path.read_text()
    live: set[str] = set()
    acu.backend.sessions = _Recording(acu.backend.sessions, live)  # type: ignore[assignment]
    acu.backend.grants = _Recording(acu.backend.grants, live)  # type: ignore[assignment]
    src = str(Path(expense_bridge.__file__).resolve().parents[1])
    run_env = {**os.environ, **env, "PYTHONPATH": src, "COLUMNS": "80"}
    stderr = ""
    for args in (["sync", "-vv"], ["-vv", "status", "--check"], ["provision", "--dry-run", "-vv"]):
        done = subprocess.run(
            [sys.executable, "-m", "expense_bridge", *args, "--config", str(path)],
            env=run_env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 3), done.stderr[-3000:]
        stderr += done.stderr
    # the run did sign in and did log at debug level, so the scan below means something
    assert live, "the emulator issued no session cookie or token"
    assert " DEBUG acumatica_client" in stderr
    assert " DEBUG expense_bridge" in stderr
    assert " INFO httpx: HTTP Request: " in stderr
    assert "httpcore" not in stderr
    for secret in (PASSWORD, CLIENT_SECRET, PARTNER_SECRET, *live):
        assert secret not in stderr
    for match in _HEADER_VALUE.finditer(stderr):
        assert match.group(2) in ("[redacted]", "REDACTED", "***"), match.group(0)


@pytest.mark.loopback
def test_dry_run_shows_amount_accounts_and_lines_and_writes_nothing(
    setup: tuple[Path, dict[str, str], AcumaticaEmulator, list[str]],
) -> None:
    path, env, acu, (good, held) = setup
    out, err = io.StringIO(), io.StringIO()
    code = _cli.run(["sync", "--dry-run", "--config", str(path)], env=env,
                    console=Console(file=out, width=100),
                    err_console=Console(file=err, width=100))  # fmt: skip
    text = out.getvalue()
    assert code in (0, 3), err.getvalue()
    assert acu.records("Bill") == []  # nothing written
    if f"report {good}" in text:  # the Travel report maps (its category has a GL code)
        assert f"EXB-{good}: 50.00 USD, vendor EMP0001" in text
        assert "account 61000" in text
        assert ": 50.00" in text
    assert "Planned documents (nothing written)" in text or held in text
    assert held in text
