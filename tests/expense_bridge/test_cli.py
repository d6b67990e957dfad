"""The expense-bridge CLI: parsing, streams, exit codes and the --json shape (sync faked)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import socket
import ssl
from datetime import UTC, datetime

import click
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


def invoke_both(args, *, env=None, stdin=""):
    """Run the CLI; return (exit code, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    code = _cli.run(
        args,
        console=Console(file=out, width=200, force_terminal=False),
        err_console=Console(file=err, width=200, force_terminal=False),
        env=env or {},
        stdin=io.StringIO(stdin),
    )
    return code, out.getvalue(), err.getvalue()


def invoke(args, *, env=None, stdin=""):
    """Run the CLI; return (exit code, stdout + stderr)."""
    code, out, err = invoke_both(args, env=env, stdin=stdin)
    return code, out + err


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
        def no_clients(config, *, vault=None, **_):
            yield object(), object()

        monkeypatch.setattr(_cli, "sync", sync)
        monkeypatch.setattr(_cli, "open_clients", no_clients)
        return calls

    return install


class TestParsing:
    """Parse problems are usage errors (exit 2) on stderr, never a traceback or sys.exit."""

    @pytest.mark.parametrize(
        "args",
        [[], ["frobnicate"], ["audit"], ["credentials"], ["credentials", "rotate", "nope"],
         ["sync", "--dry"], ["demo", "--today", "yesterday"], ["provision", "extra"],
         ["completion", "tcsh"]],
    )  # fmt: skip
    def test_usage_errors_exit_2_on_stderr(self, args):
        code, out, err = invoke_both(args)
        assert code == _cli.EXIT_CONFIG
        assert out == ""
        assert err.strip()
        assert "Traceback" not in err

    def test_usage_error_as_json_on_stderr(self):
        code, out, err = invoke_both(["sync", "--bogus", "--json"])
        doc = as_json(err)
        assert code == 2
        assert out == ""
        assert doc["ok"] is False
        assert doc["exit_code"] == 2
        assert doc["command"] == "sync"
        assert "--bogus" in doc["error"]["message"]

    def test_every_command_is_registered(self):
        assert set(_cli.cli.commands) >= {
            "init", "credentials", "status", "sync", "provision", "replay", "audit", "demo",
            "completion",
        }  # fmt: skip
        assert set(_cli.cli.commands["credentials"].commands) == {"set", "rotate"}


def _commands_with_config():
    """(argv, description) for every command that reads the configuration."""
    return [
        (["status"], "status"),
        (["status", "--check"], "status --check"),
        (["sync"], "sync"),
        (["sync", "--dry-run"], "sync --dry-run"),
        (["provision"], "provision"),
        (["provision", "--dry-run"], "provision --dry-run"),
        (["replay", "R1"], "replay"),
        (["audit", "R1"], "audit"),
        (["credentials", "set", "expensify", "--stdin"], "credentials set"),
        (["credentials", "rotate", "key"], "credentials rotate"),
    ]


class TestGlobalOptionPlacement:
    """--config, --json and -v mean the same before and after the command name."""

    @pytest.mark.parametrize(("argv", "name"), _commands_with_config())
    @pytest.mark.parametrize("placement", ["before", "after"])
    def test_config_json_verbose_reach_every_command(self, monkeypatch, tmp_path, argv, name,
                                                     placement):  # fmt: skip
        seen = []

        def load_config(state):
            seen.append((state.config_path, state.json, state.verbose, state.command))
            raise _cli.UsageError("stop here")

        monkeypatch.setattr(_cli.CliState, "load_config", load_config)
        path = tmp_path / "tenant-b.toml"
        options = ["--config", str(path), "--json", "-vv"]
        args = [*options, *argv] if placement == "before" else [*argv, *options]
        code, out, err = invoke_both(args)
        assert code == 2
        assert out == ""
        assert seen == [(path, True, 2, " ".join(argv[:2]) if argv[0] == "credentials"
                         else argv[0])]  # fmt: skip
        assert as_json(err)["error"]["message"] == "stop here"

    @pytest.mark.parametrize("placement", ["before", "after"])
    def test_init_honours_config_in_both_places(self, tmp_path, placement):
        path = tmp_path / placement / "config.toml"
        options = ["--config", str(path), "--json"]
        args = [*options, "init"] if placement == "before" else ["init", *options]
        code, out, err = invoke_both(args)
        assert code == 0, err
        assert as_json(out)["result"] == {"path": str(path)}
        assert path.exists()

    @pytest.mark.parametrize("placement", ["before", "after"])
    def test_demo_honours_json_in_both_places(self, monkeypatch, placement):
        seen = []

        def run_demo(*, console, today, json_output):
            seen.append(json_output)
            return 0

        monkeypatch.setattr("expense_bridge.demo._run.run_demo", run_demo)
        args = ["--json", "demo"] if placement == "before" else ["demo", "--json"]
        assert invoke_both(args)[0] == 0
        assert seen == [True]

    def test_later_config_wins_and_verbose_counts_add_up(self, monkeypatch, tmp_path):
        seen = []

        def load_config(state):
            seen.append((state.config_path, state.verbose))
            raise _cli.UsageError("stop")

        monkeypatch.setattr(_cli.CliState, "load_config", load_config)
        invoke_both(["--config", "a.toml", "-v", "sync", "--config", "b.toml", "-v"])
        assert seen == [(_cli.Path("b.toml"), 2)]


def _leaf_commands(group=None, prefix=()):
    """Every runnable command of the CLI, as its path of names (("tenants", "list"), ...)."""
    group = group or _cli.cli
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


#: Every command with the arguments it needs to parse (FILE: an existing file).
EVERY_COMMAND = {
    ("init",): ["--policy", "P1"],
    ("credentials", "set"): ["expensify", "--stdin"],
    ("credentials", "rotate"): ["key"],
    ("status",): ["--check"],
    ("sync",): ["--dry-run"],
    ("provision",): ["--dry-run"],
    ("replay",): ["R1"],
    ("audit",): ["R1"],
    ("demo",): ["--today", "2026-11-20"],
    ("completion",): ["bash"],
    ("db", "upgrade"): [],
    ("tenants", "list"): ["--registry", "REGISTRY"],
    ("tenants", "add"): ["acme", "FILE", "--registry", "REGISTRY"],
    ("tenants", "check"): ["acme", "--registry", "REGISTRY"],
}


def _every_path():
    """The top level, every group and every command, as paths of names."""
    paths = [()]

    def walk(group, prefix):
        for name, command in group.commands.items():
            paths.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(_cli.cli, ())
    return paths


class TestGlobalOptionsOnEveryCommand:
    """`expense-bridge --config X cmd` == `expense-bridge cmd --config X`, for every command
    the CLI has (a new command without an entry in EVERY_COMMAND fails the first test)."""

    def test_every_command_is_covered(self):
        assert set(_leaf_commands()) == set(EVERY_COMMAND)

    @pytest.mark.parametrize("path", sorted(EVERY_COMMAND), ids=" ".join)
    @pytest.mark.parametrize("placement", ["before", "between", "after"])
    def test_options_reach_the_command_in_any_position(self, monkeypatch, tmp_path, path,
                                                       placement):  # fmt: skip
        seen = []
        real_state = _cli._state

        def state_then_stop():
            state = real_state()
            seen.append((state.config_path, state.json, state.verbose, state.command))
            raise _cli.UsageError("stop here")

        monkeypatch.setattr(_cli, "_state", state_then_stop)
        tenant_file = tmp_path / "acme.toml"
        tenant_file.write_text(MINIMAL, encoding="utf-8")
        args = [str(tenant_file) if a == "FILE" else str(tmp_path / "reg") if a == "REGISTRY"
                else a for a in EVERY_COMMAND[path]]  # fmt: skip
        config = tmp_path / "tenant-b.toml"
        options = ["--config", str(config), "--json", "-vv"]
        if placement == "before":
            argv = [*options, *path, *args]
        elif placement == "between":  # after the group's name (or the command's), before args
            argv = [*path[:1], *options, *path[1:], *args]
        else:
            argv = [*path, *args, *options]
        code, out, err = invoke_both(argv)
        assert (code, out) == (2, ""), err
        assert seen == [(config, True, 2, " ".join(path))]
        doc = as_json(err)
        assert doc["error"]["message"] == "stop here"
        assert doc["command"] == " ".join(path)

    @pytest.mark.parametrize("path", sorted(EVERY_COMMAND), ids=" ".join)
    def test_without_global_options_nothing_is_set(self, monkeypatch, tmp_path, path):
        seen = []
        real_state = _cli._state

        def state_then_stop():
            state = real_state()
            seen.append((state.config_path, state.json, state.verbose))
            raise _cli.UsageError("stop here")

        monkeypatch.setattr(_cli, "_state", state_then_stop)
        (tmp_path / "acme.toml").write_text(MINIMAL, encoding="utf-8")
        args = [str(tmp_path / "acme.toml") if a == "FILE" else str(tmp_path / "reg")
                if a == "REGISTRY" else a for a in EVERY_COMMAND[path]]  # fmt: skip
        code, _, err = invoke_both([*path, *args])
        assert code == 2
        assert seen == [(None, False, 0)]
        assert "stop here" in err


class TestHelpVersionCompletion:
    """Every command explains itself, with examples and the exit codes."""

    @pytest.mark.parametrize(
        "argv", [list(path) for path in _every_path()], ids=lambda a: " ".join(a) or "(top)"
    )
    def test_help(self, capsys, argv):
        """Every command and group (db, tenants, credentials and their commands included)."""
        code, _, _ = invoke_both([*argv, "--help"])
        text = capsys.readouterr().out
        assert code == 0
        assert "Usage: expense-bridge" in text
        assert "Examples:" in text or argv == []
        assert "Exit codes:" in text
        assert "2  configuration or usage error" in text
        assert "3  finished, but some reports are held" in text

    def test_top_level_help_lists_commands_and_global_options(self, capsys):
        invoke_both(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        for word in ("sync", "status", "credentials", "--config", "--json", "--verbose",
                     "--version", "before or after the command"):  # fmt: skip
            assert word in text

    def test_version_on_stdout_is_the_distributions(self, capsys):
        import expense_bridge

        code, _, err = invoke_both(["--version"])
        out = capsys.readouterr().out
        assert code == 0
        assert err == ""
        installed = importlib.metadata.version("expense-bridge")
        assert out.strip() == f"expense-bridge {installed}"
        assert expense_bridge.__version__ == installed

    @pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
    def test_completion_script(self, shell):
        code, out, err = invoke_both(["completion", shell])
        assert code == 0, err
        assert "_EXPENSE_BRIDGE_COMPLETE" in out
        assert f"{shell}_complete" in out
        code, json_out, err = invoke_both(["completion", shell, "--json"])
        assert (code, err) == (0, "")
        assert as_json(json_out)["result"] == {"shell": shell, "script": out}

    def test_completion_answers_for_subcommands(self, monkeypatch, capsys):
        monkeypatch.setenv("_EXPENSE_BRIDGE_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", "expense-bridge cred")
        monkeypatch.setenv("COMP_CWORD", "1")
        with pytest.raises(SystemExit) as exited:
            _cli.run(["cred"])
        assert exited.value.code == 0
        assert "plain,credentials" in capsys.readouterr().out


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

    def test_failure_message_on_stderr_results_on_stdout(self, config_file, fake_sync):
        fake_sync(error=RuntimeError("boom"))
        code, out, err = invoke_both(["sync", "--config", str(config_file)])
        assert code == 1
        assert out == ""
        assert "error: boom" in err
        assert "Traceback" not in err

    def test_traceback_only_at_vv(self, config_file, fake_sync):
        fake_sync(error=RuntimeError("boom"))
        _, _, err = invoke_both(["sync", "-v", "--config", str(config_file)])
        assert "Traceback" not in err
        _, _, err = invoke_both(["sync", "-vv", "--config", str(config_file)])
        assert "Traceback (most recent call last)" in err
        assert "RuntimeError: boom" in err

    def test_held_sync_human_output_on_stdout_json_only_json(self, config_file, fake_sync):
        fake_sync(sync_result(POSTED, HELD, errors=["acknowledgement failed"]))
        code, out, err = invoke_both(["sync", "--config", str(config_file)])
        assert code == 1
        assert "R2" in out
        assert "acknowledgement failed" in err
        code, out, err = invoke_both(["sync", "--config", str(config_file), "--json"])
        assert as_json(out)["result"]["errors"] == ["acknowledgement failed"]
        assert err == ""


class TestExitCodeMapping:
    """Configuration problems found by a server exit 2, like those found locally."""

    def test_endpoint_version_not_served_exits_2(self, config_file, fake_sync):
        from acumatica_client import EndpointVersionError

        fake_sync(error=EndpointVersionError("Default", "24.200.001", ["23.200.001"]))
        code, out, err = invoke_both(["sync", "--config", str(config_file), "--json"])
        assert code == 2
        assert out == ""
        assert "23.200.001" in as_json(err)["error"]["message"]

    def test_config_error_subclass_exits_2(self, config_file, fake_sync):
        class PolicyMissing(_cli.ConfigError):
            pass

        problem = Problem(code=ErrorCode.RULES_INVALID, field="policies",
                          message="policy P1 does not exist", fix="Check policies.")  # fmt: skip
        fake_sync(error=PolicyMissing((problem,)))
        code, _, err = invoke_both(["sync", "--config", str(config_file)])
        assert code == 2
        assert "policy P1 does not exist" in err

    def test_expensify_policy_not_found_exits_2(self, config_file, fake_sync):
        from expensify_client import PolicyNotFoundError

        fake_sync(error=PolicyNotFoundError(("P1",), "Policy not found"))
        code, out, err = invoke_both(["sync", "--config", str(config_file), "--json"])
        assert code == 2
        assert out == ""
        assert as_json(err)["error"]["type"] == "PolicyNotFoundError"


class TestSecretsFromScripts:
    """No terminal: say --stdin; --stdin works for every secret of every system."""

    @pytest.mark.parametrize("action", ["set", "rotate"])
    def test_without_terminal_says_use_stdin(self, config_file, action):
        env = {ENV_KEY: Fernet.generate_key().decode()}
        code, out, err = invoke_both(
            ["credentials", action, "expensify", "--config", str(config_file)], env=env
        )
        assert code == 2
        assert out == ""
        assert "--stdin" in err
        assert "no terminal" in err

    @pytest.mark.parametrize(
        ("system", "auth", "lines", "names"),
        [
            ("acumatica", "oauth", ["pw-a", "cs-b"], ["acumatica.password",
                                                       "acumatica.client_secret"]),
            ("acumatica", "cookie", ["pw-c"], ["acumatica.password"]),
            ("expensify", "oauth", ["ps-d"], ["expensify.partner_user_secret"]),
            ("smtp", "oauth", ["smtp-e"], ["smtp.password"]),
        ],
    )  # fmt: skip
    def test_stdin_sets_and_rotates_every_secret(self, tmp_path, system, auth, lines, names):
        path = tmp_path / "c.toml"
        text = MINIMAL.replace(
            'client_id = "ABC@Company"',
            f'auth = "{auth}"' + ('\nclient_id = "ABC@Company"' if auth == "oauth" else ""),
        )
        path.write_text(text)
        env = {ENV_KEY: Fernet.generate_key().decode()}
        cfg = ["--config", str(path), "--json"]
        code, out, err = invoke_both(["credentials", "set", system, "--stdin", *cfg], env=env,
                                     stdin="".join(f"{v}\n" for v in lines))  # fmt: skip
        assert code == 0, err
        assert as_json(out)["result"]["stored"] == names
        vault = CredentialVault(tmp_path / "vault.fernet", env=env)
        assert [vault.get(n).reveal() for n in names] == lines
        rotated = [f"{v}-2" for v in lines]
        code, out, err = invoke_both(["credentials", "rotate", system, "--stdin", *cfg], env=env,
                                     stdin="".join(f"{v}\n" for v in rotated))  # fmt: skip
        assert code == 0, err
        assert [vault.get(n).reveal() for n in names] == rotated
        assert not any(v in out + err for v in lines + rotated)

    def test_smtp_password_is_needed_once_notifications_log_in(self, tmp_path):
        path = tmp_path / "c.toml"
        path.write_text(MINIMAL)
        env = {ENV_KEY: Fernet.generate_key().decode()}
        cfg = ["--config", str(path)]
        for system, line in (("acumatica", "pw\ncs\n"), ("expensify", "ps\n")):
            assert invoke_both(["credentials", "set", system, "--stdin", *cfg], env=env,
                               stdin=line)[0] == 0  # fmt: skip
        code, out, _ = invoke_both(["status", *cfg, "--json"], env=env)
        assert code == 0
        assert "smtp.password" not in as_json(out)["result"]["vault"]["secrets"]
        # without a login the password has no use: stored, with a warning
        code, _, err = invoke_both(["credentials", "set", "smtp", "--stdin", *cfg], env=env,
                                   stdin="early\n")  # fmt: skip
        assert code == 0
        assert "notifications.smtp_username is not set" in err
        path.write_text(MINIMAL + '[notifications]\nsmtp_host = "smtp.firm.test"\n'
                        'smtp_to = ["ops@firm.test"]\nsmtp_username = "bridge"\n')  # fmt: skip
        vault = CredentialVault(tmp_path / "vault.fernet", env=env)
        vault.delete("smtp.password")
        code, out, _ = invoke_both(["status", *cfg, "--json"], env=env)
        assert code == 2  # notification e-mail would fail to log in
        assert as_json(out)["result"]["vault"]["secrets"]["smtp.password"] is None
        code, _, err = invoke_both(["credentials", "set", "smtp", "--stdin", *cfg], env=env,
                                   stdin="smtp-secret-9\n")  # fmt: skip
        assert (code, err) == (0, "")
        assert vault.get("smtp.password").reveal() == "smtp-secret-9"
        assert invoke_both(["status", *cfg], env=env)[0] == 0

    def test_too_few_lines_is_a_usage_error_naming_the_secret(self, config_file):
        env = {ENV_KEY: Fernet.generate_key().decode()}
        code, _, err = invoke_both(["credentials", "set", "acumatica", "--stdin", "--config",
                                    str(config_file)], env=env, stdin="only-one\n")  # fmt: skip
        assert code == 2
        assert "client secret" in err


LONG_ID = "R" + "7" * 40
LONG_FIX = (
    "Map category 'Very Long Category Name For Client Entertainment' to GL account 61000 "
    "in policy F1E2D3C4B5A69788 or ask approver.with.a.very.long.address@subsidiary.example.com"
)


class TestNonTerminalOutput:
    """Cron mail and CI logs get whole IDs, codes, e-mails and timestamps."""

    def test_default_consoles_never_truncate(self, config_file, fake_sync, capsys):
        held = ReportOutcome(
            report_id=LONG_ID, action=Action.HELD, status=ReportStatus.HELD, total="1234.56 USD",
            problems=(Problem(code=ErrorCode.CATEGORY_UNKNOWN, field="expenses[12].category",
                              message="unknown", fix=LONG_FIX),),
        )  # fmt: skip
        fake_sync(sync_result(POSTED, held))
        code = _cli.run(["sync", "--config", str(config_file)], env={})
        out = capsys.readouterr().out
        assert code == 3
        for text in (LONG_ID, LONG_FIX, "EB-CATEGORY-UNKNOWN", "1234.56 USD", "Bill 000001"):
            assert any(text in line for line in out.splitlines()), text
        assert "…" not in out

    def test_narrow_console_folds_instead_of_cutting(self, config_file, fake_sync):
        held = ReportOutcome(report_id=LONG_ID, action=Action.HELD, status=ReportStatus.HELD,
                             problems=(Problem(code=ErrorCode.CATEGORY_UNKNOWN, field="x",
                                               message="m", fix=LONG_FIX),))  # fmt: skip
        fake_sync(sync_result(held))
        out = io.StringIO()
        _cli.run(
            ["sync", "--config", str(config_file)],
            env={},
            console=Console(file=out, width=60),
            err_console=Console(file=io.StringIO()),
        )
        text = out.getvalue()
        assert "…" not in text
        assert text.count("7") >= LONG_ID.count("7")  # every character of the ID is there


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestConnectionErrors:
    """A failed connection names the host, the cause and the setting to check."""

    def _config(self, tmp_path, acumatica_url, expensify_url):
        path = tmp_path / "c.toml"
        text = MINIMAL.replace("https://erp.example.com", acumatica_url) + (
            f'base_url = "{expensify_url}"\n'
        )
        path.write_text(text)
        env = {ENV_KEY: Fernet.generate_key().decode()}
        CredentialVault(tmp_path / "vault.fernet", env=env).set_many(
            {"acumatica.password": "p", "acumatica.client_secret": "c",
             "expensify.partner_user_secret": "s"}
        )  # fmt: skip
        return path, env

    @pytest.mark.parametrize(
        ("cause", "expected"),
        [
            (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
            (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed"),
            (TimeoutError("timed out"), "timed out"),
            (
                ssl.SSLCertVerificationError(
                    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
                ),
                "TLS handshake failed",
            ),
        ],
    )
    def test_describe_each_cause(self, tmp_path, cause, expected):
        import httpx

        import acumatica_client

        path, _ = self._config(tmp_path, "https://erp.example.com:8443", "http://x.test/IS")
        from expense_bridge import BridgeConfig

        config = BridgeConfig.from_toml(path, env={})
        request = httpx.Request("GET", "https://erp.example.com:8443/entity")
        try:
            try:
                raise cause
            except OSError as inner:
                raise httpx.ConnectError(str(inner), request=request) from inner
        except httpx.ConnectError as transport:
            error = acumatica_client.APIConnectionError("GET /entity: ConnectError",
                                                        request=request)  # fmt: skip
            error.__cause__ = transport
        text = _cli.describe_connection_error(error, config, path)
        assert "erp.example.com:8443" in text
        assert expected in text
        assert "acumatica.base_url" in text
        assert str(path) in text

    @pytest.mark.loopback
    def test_refused_over_the_network(self, tmp_path):
        port = _closed_port()
        url = f"http://127.0.0.1:{port}/Integration-Server/ExpensifyIntegrations"
        path, env = self._config(tmp_path, f"http://127.0.0.1:{port}", url)
        env["EXPENSE_BRIDGE_EXPENSIFY__RETRIES"] = "0"
        env["EXPENSE_BRIDGE_ACUMATICA__RETRIES"] = "0"
        code, out, err = invoke_both(["sync", "--config", str(path)], env=env)
        assert code == 1
        assert out == ""
        assert f"127.0.0.1:{port}" in err
        assert "connection refused" in err
        assert "acumatica.base_url" in err
        assert "Traceback" not in err

    @pytest.mark.loopback
    def test_dns_failure_over_the_network(self, tmp_path):
        path, env = self._config(tmp_path, "https://erp.does-not-exist.invalid",
                                 "https://expensify.does-not-exist.invalid/IS")  # fmt: skip
        env["EXPENSE_BRIDGE_EXPENSIFY__RETRIES"] = "0"
        env["EXPENSE_BRIDGE_ACUMATICA__RETRIES"] = "0"
        code, out, err = invoke_both(["sync", "--config", str(path), "--json"], env=env)
        assert code == 1
        assert out == ""
        message = as_json(err)["error"]["message"]
        assert "erp.does-not-exist.invalid:443" in message
        assert "DNS lookup failed" in message
        assert "acumatica.base_url" in message

    @pytest.mark.loopback
    def test_status_check_names_each_side(self, tmp_path):
        port = _closed_port()
        path, env = self._config(tmp_path, f"http://127.0.0.1:{port}",
                                 "https://expensify.does-not-exist.invalid/IS")  # fmt: skip
        env["EXPENSE_BRIDGE_EXPENSIFY__RETRIES"] = "0"
        env["EXPENSE_BRIDGE_ACUMATICA__RETRIES"] = "0"
        code, out, _ = invoke_both(["status", "--check", "--config", str(path), "--json"],
                                   env=env)  # fmt: skip
        assert code == 2
        check = as_json(out)["result"]["check"]
        assert check["acumatica"]["ok"] is False
        assert f"127.0.0.1:{port}: connection refused" in check["acumatica"]["detail"]
        assert "acumatica.base_url" in check["acumatica"]["detail"]
        assert check["expensify"]["ok"] is False
        assert "expensify.does-not-exist.invalid:443: DNS" in check["expensify"]["detail"]
        assert "expensify.base_url" in check["expensify"]["detail"]

    @pytest.mark.loopback
    def test_timeout_over_the_network(self, tmp_path):
        with socket.socket() as silent:  # accepts connections (backlog), never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            port = silent.getsockname()[1]
            url = f"http://127.0.0.1:{port}/Integration-Server/ExpensifyIntegrations"
            path, env = self._config(tmp_path, f"http://127.0.0.1:{port}", url)
            # cookie sign-in: the first request is the login, sent with the client's timeout
            path.write_text(path.read_text().replace('client_id = "ABC@Company"',
                                                     'auth = "cookie"'))  # fmt: skip
            env.update({"EXPENSE_BRIDGE_EXPENSIFY__RETRIES": "0",
                        "EXPENSE_BRIDGE_EXPENSIFY__TIMEOUT": "1s",
                        "EXPENSE_BRIDGE_ACUMATICA__RETRIES": "0",
                        "EXPENSE_BRIDGE_ACUMATICA__TIMEOUT": "1s"})  # fmt: skip
            code, out, err = invoke_both(["sync", "--config", str(path)], env=env)
        assert code == 1
        assert out == ""
        assert f"127.0.0.1:{port}" in err
        assert "timed out" in err
        assert "acumatica.timeout" in err
        assert "Traceback" not in err


class TestTimeoutsAndRetriesSettings:
    """acumatica/expensify timeout and retries come from config.toml or the environment."""

    def test_from_file_and_env_reach_the_clients(self, tmp_path):
        from expense_bridge import BridgeConfig
        from expense_bridge._factory import open_clients

        path = tmp_path / "c.toml"
        path.write_text(
            MINIMAL.replace(
                'username = "bridge"', 'username = "bridge"\ntimeout = "90s"\nretries = 2'
            )
        )
        config = BridgeConfig.from_toml(
            path,
            env={
                "EXPENSE_BRIDGE_EXPENSIFY__TIMEOUT": "45s",
                "EXPENSE_BRIDGE_EXPENSIFY__RETRIES": "0",
            },
        )
        assert config.acumatica.timeout == _cli.timedelta(seconds=90)
        assert config.acumatica.retries == 2
        assert config.expensify.timeout == _cli.timedelta(seconds=45)
        assert config.expensify.retries == 0
        env = {ENV_KEY: Fernet.generate_key().decode()}
        vault = CredentialVault(tmp_path / "vault.fernet", env=env)
        vault.set_many({"acumatica.password": "p", "acumatica.client_secret": "c",
                        "expensify.partner_user_secret": "s"})  # fmt: skip
        with open_clients(config, vault=vault) as (acumatica, expensify):
            assert acumatica.options.timeout == 90
            assert acumatica.options.retry.attempts == 3
            assert expensify.options.timeout == 45
            assert expensify.options.retry.attempts == 1
        again = BridgeConfig.from_toml(path, env={})
        round_trip = BridgeConfig.from_mapping(again.to_mapping())
        assert round_trip.acumatica.timeout == again.acumatica.timeout

    @pytest.mark.parametrize("bad", ['timeout = "0s"', "retries = -1", 'timeout = "soon"'])
    def test_bad_values_are_named(self, tmp_path, bad):
        path = tmp_path / "c.toml"
        path.write_text(MINIMAL.replace('username = "bridge"', f'username = "bridge"\n{bad}'))
        code, _, err = invoke_both(["status", "--config", str(path), "--json"])
        assert code == 2
        fields = {p["field"] for p in as_json(err)["error"]["problems"]}
        assert fields == {f"acumatica.{bad.split()[0]}"}


class TestDryRunShowsDocuments:
    """sync --dry-run lists each planned document with its amount, accounts and lines."""

    def test_planned_lines_are_printed_whole(self, config_file, fake_sync):
        detail = (
            "Bill EXB-R9: 1234.56 USD, vendor EMP0001, date 2026-11-20\n"
            "  account 61000 (subaccount=000000, project=PRJ-LONG-NAME-0001): 1000.00  Air\n"
            "  account 62000: 234.56  Hotel"
        )
        would = ReportOutcome(report_id="R9", action=Action.WOULD_POST, status=None,
                              documents=("new bill EXB-R9",), total="1234.56 USD",
                              detail=detail)  # fmt: skip
        fake_sync(sync_result(would))
        code, out, err = invoke_both(["sync", "--dry-run", "--config", str(config_file)])
        assert code == 0, err
        assert "Planned documents (nothing written)" in out
        for line in detail.splitlines():
            assert line.strip() in out
        assert "1234.56 USD" in out
        code, out, _ = invoke_both(["sync", "--dry-run", "--config", str(config_file), "--json"])
        assert as_json(out)["result"]["outcomes"][0]["detail"] == detail

    def test_describe_planned_bill_and_journal(self):
        from datetime import date
        from decimal import Decimal

        from acumatica_client import Bill, BillDetail, JournalTransaction, JournalTransactionDetail
        from expense_bridge import DocumentKind, DocumentPart, PlannedDocument
        from expense_bridge._describe import describe_planned

        bill = PlannedDocument(
            report_id="R1", part=DocumentPart.REIMBURSABLE, kind=DocumentKind.BILL,
            key="EXB-R1", total=Decimal("80.25"), currency="USD", fingerprint="f",
            document=Bill(type="Bill", vendor="EMP0001", date=date(2026, 11, 20), details=(
                BillDetail(account="61000", subaccount="000000", amount=Decimal("50.00"),
                           transaction_description="Air"),
                BillDetail(account="62000", project="PRJ1", amount=Decimal("30.25"),
                           transaction_description="Hotel"),
            )),
        )  # fmt: skip
        journal = PlannedDocument(
            report_id="R1", part=DocumentPart.CARD, kind=DocumentKind.JOURNAL,
            key="[EXB-R1]", total=Decimal("12.00"), currency="USD", fingerprint="g",
            document=JournalTransaction(transaction_date=date(2026, 11, 20), details=(
                JournalTransactionDetail(account="61000", debit_amount=Decimal("12.00"),
                                         credit_amount=Decimal("0"), description="Taxi"),
                JournalTransactionDetail(account="21500", debit_amount=Decimal("0"),
                                         credit_amount=Decimal("12.00"), description="Card"),
            )),
        )  # fmt: skip
        text = describe_planned([bill, journal]).splitlines()
        assert text == [
            "Bill EXB-R1: 80.25 USD, vendor EMP0001, date 2026-11-20",
            "  account 61000 (subaccount=000000): 50.00  Air",
            "  account 62000 (project=PRJ1): 30.25  Hotel",
            "Journal [EXB-R1]: 12.00 USD, date 2026-11-20",
            "  account 61000: debit 12.00  Taxi",
            "  account 21500: credit 12.00  Card",
        ]
