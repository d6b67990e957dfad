"""``expense-bridge db upgrade`` and ``tenants list|add|check`` (state database, registry)."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from rich.console import Console

from expense_bridge import _cli
from expense_bridge._store import schema_head

from .test_store_schema import FIRST_RELEASE_SCHEMA

DOCUMENT = """
policies = ["P1"]
[acumatica]
base_url = "https://erp.example.com/AcumaticaERP/"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "ABC@Company"
[expensify]
partner_user_id = "aa_partner"
"""


def cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = _cli.run(
        [*args, "--json"],
        console=Console(file=out, width=200),
        err_console=Console(file=err, width=200),
        env=env or {},
    )
    text = out.getvalue() or err.getvalue()
    return code, json.loads(text)


def test_db_upgrade_migrates_a_first_release_file_once(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with sqlite3.connect(state) as old:
        old.executescript(FIRST_RELEASE_SCHEMA)
    old.close()
    config = tmp_path / "config.toml"
    config.write_text(f'state_path = "{state}"\n' + DOCUMENT, encoding="utf-8")
    code, doc = cli(["db", "upgrade", "--config", str(config)])
    assert code == 0
    assert doc["result"] == {"database": str(state), "before": "0001", "after": schema_head(),
                             "changed": True}  # fmt: skip
    code, doc = cli(["db", "upgrade"], env={"EXPENSE_BRIDGE_CONFIG": str(config)})
    assert code == 0
    assert doc["result"]["changed"] is False


def test_db_upgrade_refuses_a_newer_schema_with_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(DOCUMENT + f'[state]\nurl = "sqlite:///{state}"\n', encoding="utf-8")
    assert cli(["db", "upgrade", "--config", str(config)])[0] == 0
    with sqlite3.connect(state) as raw:
        raw.execute("UPDATE expense_bridge_schema SET version_num = '0042'")
    raw.close()
    code, doc = cli(["db", "upgrade", "--config", str(config)])
    assert code == 2
    assert "0042" in doc["error"]["message"]
    assert str(state) in doc["error"]["message"]


def test_tenants_add_list_check(tmp_path: Path) -> None:
    registry = tmp_path / "tenants"
    source = tmp_path / "acme.toml"
    source.write_text(DOCUMENT + '[tenant]\ncadence = "5m"\n', encoding="utf-8")
    env = {"EXPENSE_BRIDGE_TENANTS": str(registry)}
    code, doc = cli(["tenants", "add", "acme", str(source)], env=env)
    assert code == 0
    assert doc["result"]["connection"] == "acme"
    code, doc = cli(["tenants", "list"], env=env)
    assert code == 0
    assert [t["name"] for t in doc["result"]["tenants"]] == ["acme"]
    # No secrets in its vault yet: check names what is missing, exit 2.
    code, doc = cli(["tenants", "check", "acme", "--registry", str(registry)])
    assert code == 2
    assert any("acme" in p for p in doc["result"]["problems"]["acme"])
    bad = tmp_path / "bad.toml"
    bad.write_text(DOCUMENT + "[tenant]\ncadence = 'never'\n", encoding="utf-8")
    code, doc = cli(["tenants", "add", "bad", str(bad)], env=env)
    assert code == 2
    assert "tenant.cadence" in json.dumps(doc["error"])
    assert cli(["tenants", "list"])[0] == 2  # no registry given
