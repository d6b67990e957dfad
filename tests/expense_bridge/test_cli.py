"""The expense-bridge CLI: parsing, exit codes and the --json shape (sync faked)."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from rich.console import Console

from expense_bridge import _cli
from expense_bridge._errors import ErrorCode, Problem
from expense_bridge._results import Action, CallCounts, ReportOutcome, SyncResult
from expense_bridge._store import ReportStatus
from expense_bridge._vault import ENV_KEY, EXPENSIFY_PARTNER_SECRET, CredentialVault

MINIMAL = """
policies = ["P1"]
vault_path = "vault.fernet"
state_path = "state.sqlite3"
[acumatica]
base_url = "https://erp.example.com"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "ABC@Company"
[expensify]
partner_user_id = "aa_partner"
"""


def invoke(args, *, env=None, stdin=""):
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False)
    code = _cli.run(args, console=console, env=env or {}, stdin=io.StringIO(stdin))
    return code, buffer.getvalue()


def as_json(output):
    return json.loads(output)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    return path


def sync_result(*outcomes, errors=()):
    now = datetime(2026, 11, 20, tzinfo=UTC)
    return SyncResult(run_id="r1", started=now, finished=now, dry_run=False,
                      outcomes=tuple(outcomes), calls=CallCounts(), pulled=len(outcomes),
                      bookmark_before=None, bookmark_after=None, errors=tuple(errors))  # fmt: skip


HELD = ReportOutcome(
    report_id="R2", action=Action.HELD, status=ReportStatus.HELD,
    problems=(Problem(code=ErrorCode.CATEGORY_UNKNOWN, field="expenses[0].category",
                      message="unknown", fix="Add the category."),),
)  # fmt: skip
POSTED = ReportOutcome(report_id="R1", action=Action.POSTED, status=ReportStatus.ACKNOWLEDGED,
                       documents=("Bill 000001",))  # fmt: skip


@pytest.fixture
def fake_sync(monkeypatch):
    calls = []

    def install(result=None, error=None):
        def sync(config, *, acumatica, expensify, store=None, dry_run=False, progress=None):
            calls.append((config, dry_run))
            if error is not None:
                raise error
            return result

        @contextlib.contextmanager
        def no_clients(config, *, vault=None):
            yield object(), object()

        monkeypatch.setattr(_cli, "sync", sync)
        monkeypatch.setattr(_cli, "open_clients", no_clients)
        return calls

    return install


class TestParsing:
    """argparse problems are usage errors (exit 2), never a traceback or sys.exit."""

    @pytest.mark.parametrize(
        "args",
        [[], ["frobnicate"], ["audit"], ["credentials"], ["credentials", "rotate", "nope"],
         ["sync", "--dry"], ["demo", "--today", "yesterday"]],
    )  # fmt: skip
    def test_usage_errors_exit_2(self, args):
        code, _ = invoke(args)
        assert code == _cli.EXIT_CONFIG

    def test_usage_error_as_json(self):
        code, output = invoke(["sync", "--bogus", "--json"])
        doc = as_json(output)
        assert code == 2
        assert doc["ok"] is False
        assert doc["exit_code"] == 2
        assert "unrecognized arguments" in doc["error"]["message"]

    def test_parser_knows_every_command(self):
        parser = _cli.build_parser()
        assert parser.parse_args(["sync", "--dry-run"]).dry_run is True
        assert parser.parse_args(["replay", "123"]).report_id == "123"
        assert parser.parse_args(["credentials", "rotate", "key"]).system == "key"
        assert parser.parse_args(["provision", "--dry-run"]).dry_run is True
        with pytest.raises(_cli._UsageError):
            parser.parse_args(["provision", "extra"])


class TestInit:
    """init writes the commented template and never overwrites silently."""

    def test_writes_template_then_refuses_overwrite(self, tmp_path):
        path = tmp_path / "c.toml"
        code, _ = invoke(["init", "--config", str(path), "--endpoint-version", "24.200.001"])
        assert code == 0
        text = path.read_text()
        assert 'endpoint_version = "24.200.001"' in text
        assert "# REQUIRED" in text
        code, output = invoke(["init", "--config", str(path), "--json"])
        assert code == 2
        assert "--force" in as_json(output)["error"]["message"]
        assert invoke(["init", "--config", str(path), "--force"])[0] == 0

    def test_config_path_from_environment(self, tmp_path):
        path = tmp_path / "env.toml"
        assert invoke(["init"], env={"EXPENSE_BRIDGE_CONFIG": str(path)})[0] == 0
        assert path.exists()


class TestConfigErrors:
    """A bad configuration exits 2 and lists every problem with its field and fix."""

    def test_invalid_config_json(self, tmp_path):
        path = tmp_path / "c.toml"
        path.write_text(MINIMAL.replace('"24.200.001"', '"latest"').replace("P1", ""))
        code, output = invoke(["sync", "--config", str(path), "--json"])
        doc = as_json(output)
        assert code == 2
        assert doc["error"]["type"] == "ConfigError"
        assert {p["field"] for p in doc["error"]["problems"]} == {
            "acumatica.endpoint_version",
            "policies",
        }
        assert all(p["fix"] and p["code"].startswith("EB-") for p in doc["error"]["problems"])

    def test_invalid_config_table(self, tmp_path):
        path = tmp_path / "missing.toml"
        code, output = invoke(["status", "--config", str(path)])
        assert code == 2
        assert "does not exist" in output


class TestCredentialsAndStatus:
    """Secrets go into the vault from stdin; status reports them without values."""

    def test_set_rotate_status(self, config_file, tmp_path):
        env = {ENV_KEY: Fernet.generate_key().decode()}
        cfg = ["--config", str(config_file)]
        code, output = invoke(["status", *cfg, "--json"], env=env)
        assert code == 2  # secrets missing
        assert as_json(output)["result"]["vault"]["secrets"] == {
            "acumatica.client_secret": None,
            "acumatica.password": None,
            "expensify.partner_user_secret": None,
        }
        assert invoke(["credentials", "set", "acumatica", "--stdin", *cfg],
                      env=env, stdin="pw-1\nclient-secret-1\n")[0] == 0  # fmt: skip
        assert invoke(["credentials", "set", "expensify", "--stdin", *cfg],
                      env=env, stdin="partner-secret-1\n")[0] == 0  # fmt: skip
        code, output = invoke(
            ["credentials", "rotate", "expensify", "--stdin", *cfg, "--json"],
            env=env,
            stdin="partner-secret-2\n",
        )
        assert code == 0
        assert as_json(output) == {
            "command": "credentials rotate",
            "ok": True,
            "exit_code": 0,
            "result": {"action": "rotate", "stored": [EXPENSIFY_PARTNER_SECRET]},
        }
        vault = CredentialVault(tmp_path / "vault.fernet", env=env)
        assert vault.get(EXPENSIFY_PARTNER_SECRET).reveal() == "partner-secret-2"
        code, output = invoke(["status", *cfg, "--json"], env=env)
        doc = as_json(output)
        assert code == 0, output
        assert all(doc["result"]["vault"]["secrets"].values())
        assert "partner-secret" not in output
        assert "pw-1" not in output

    def test_empty_secret_is_a_usage_error(self, config_file):
        env = {ENV_KEY: Fernet.generate_key().decode()}
        code, _ = invoke(
            ["credentials", "set", "expensify", "--stdin", "--config", str(config_file)],
            env=env,
            stdin="\n",
        )
        assert code == 2

    def test_rotate_key_with_key_file(self, config_file, tmp_path):
        cfg = ["--config", str(config_file)]
        invoke(["credentials", "set", "expensify", "--stdin", *cfg], stdin="s1\n")
        key_before = (tmp_path / "vault.fernet.key").read_bytes()
        code, output = invoke(["credentials", "rotate", "key", *cfg, "--json"])
        assert code == 0
        assert "new_key" not in as_json(output)["result"]
        assert (tmp_path / "vault.fernet.key").read_bytes() != key_before
        assert (
            CredentialVault(tmp_path / "vault.fernet", env={})
            .get(EXPENSIFY_PARTNER_SECRET)
            .reveal()
            == "s1"
        )

    def test_wrong_key_exits_2(self, config_file):
        cfg = ["--config", str(config_file)]
        env = {ENV_KEY: Fernet.generate_key().decode()}
        invoke(["credentials", "set", "expensify", "--stdin", *cfg], env=env, stdin="s1\n")
        other = {ENV_KEY: Fernet.generate_key().decode()}
        code, output = invoke(["credentials", "rotate", "key", *cfg, "--json"], env=other)
        assert code == 2
        assert as_json(output)["error"]["type"] == "VaultError"


class TestSync:
    """sync's exit code follows the result; --json carries the whole result."""

    def test_clean_sync_exits_0(self, config_file, fake_sync):
        calls = fake_sync(sync_result(POSTED))
        code, output = invoke(["sync", "--config", str(config_file), "--json"])
        doc = as_json(output)
        assert code == 0
        assert doc["ok"] is True
        assert doc["result"]["counts"]["posted"] == 1
        assert doc["result"]["outcomes"][0]["documents"] == ["Bill 000001"]
        assert calls[0][1] is False

    def test_held_reports_exit_3_and_are_shown(self, config_file, fake_sync):
        calls = fake_sync(sync_result(POSTED, HELD))
        code, output = invoke(["sync", "--dry-run", "--config", str(config_file)])
        assert code == 3
        assert "R2" in output
        assert "EB-CATEGORY-UNKNOWN" in output
        assert "Add the category." in output
        assert calls[0][1] is True
        code, output = invoke(["sync", "--config", str(config_file), "--json"])
        doc = as_json(output)
        assert code == 3
        assert doc["ok"] is True
        assert doc["result"]["outcomes"][1]["problems"][0]["code"] == "EB-CATEGORY-UNKNOWN"

    def test_run_level_errors_exit_1_even_with_held_reports(self, config_file, fake_sync):
        fake_sync(sync_result(HELD, errors=["acknowledgement failed: APITimeoutError"]))
        code, _ = invoke(["sync", "--config", str(config_file), "--json"])
        assert code == 1

    def test_failure_exits_1(self, config_file, fake_sync):
        fake_sync(error=RuntimeError("connection refused"))
        code, output = invoke(["sync", "--config", str(config_file), "--json"])
        assert code == 1
        assert as_json(output)["error"] == {
            "type": "RuntimeError",
            "message": "connection refused",
        }
