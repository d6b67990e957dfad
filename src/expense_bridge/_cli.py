"""The ``expense-bridge`` command line (also ``python -m expense_bridge``).

Commands: ``demo``, ``init``, ``sync [--dry-run]``, ``status``, ``audit REPORT_ID``,
``replay REPORT_ID``, ``provision [--dry-run]``, ``credentials set|rotate``. Every command
accepts ``--json`` (one JSON document on stdout, shape
``{"command", "ok", "exit_code", "result" | "error"}``).

Exit codes: 0 ok; 1 failed; 2 usage or configuration error; 3 finished, but some reports
are held (they need an admin: the output says why and how to fix each).

Only :func:`main` configures logging (``--verbose``); :func:`run` is what tests call.
"""

from __future__ import annotations

import argparse
import enum
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import attrs
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ._config import (
    ENV_CONFIG,
    BridgeConfig,
    default_config_path,
    default_state_path,
    render_template,
)
from ._errors import BridgeError, ConfigError
from ._factory import open_clients, vault_for
from ._replay import replay
from ._results import PostResult, SyncResult
from ._store import ReportStatus, SQLiteStore
from ._sync import sync
from ._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    KNOWN_SECRETS,
    CredentialVault,
    VaultError,
)

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_HELD", "EXIT_OK", "build_parser", "main", "run"]

logger = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2  # usage or configuration error
EXIT_HELD: Final = 3  # finished, some reports held


class _UsageError(Exception):
    """A usage problem found after parsing (exit code 2)."""


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so :func:`run` controls the exit code."""

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        raise _UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every sub-command and option)."""
    common = _ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default: ${ENV_CONFIG} or {default_config_path()})",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document")
    common.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    parser = _ArgumentParser(
        prog="expense-bridge",
        description="Post approved Expensify reports into Acumatica, exactly once.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)

    demo = sub.add_parser("demo", parents=[common], help="run the self-contained demo")
    demo.add_argument("--today", type=date.fromisoformat, help="pretend today is YYYY-MM-DD")

    init = sub.add_parser("init", parents=[common], help="write a commented config template")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.add_argument("--acumatica-url", help="acumatica.base_url")
    init.add_argument("--endpoint-version", help="acumatica.endpoint_version, e.g. 24.200.001")
    init.add_argument("--username", help="acumatica.username")
    init.add_argument("--client-id", help="acumatica.client_id (OAuth)")
    init.add_argument("--partner-user-id", help="expensify.partner_user_id")
    init.add_argument("--policy", action="append", default=[], help="an Expensify policy ID")

    sync = sub.add_parser("sync", parents=[common], help="post ready reports")
    sync.add_argument("--dry-run", action="store_true", help="plan only, write nothing")

    provision = sub.add_parser(
        "provision", parents=[common], help="employees, categories and tags from Acumatica"
    )
    provision.add_argument("--dry-run", action="store_true", help="show the diff, send nothing")

    sub.add_parser("status", parents=[common], help="configuration, credentials and state")

    audit = sub.add_parser("audit", parents=[common], help="a report's audit trail")
    audit.add_argument("report_id")

    replay = sub.add_parser("replay", parents=[common], help="post a held report again")
    replay.add_argument("report_id")

    creds = sub.add_parser("credentials", parents=[common], help="manage stored secrets")
    cred_sub = creds.add_subparsers(dest="action", required=True, parser_class=_ArgumentParser)
    for action, text in (
        ("set", "store a system's secrets (creates the vault and key)"),
        ("rotate", "replace a system's secret, or re-encrypt under a new key"),
    ):
        p = cred_sub.add_parser(action, parents=[common], help=text)
        choices = ("acumatica", "expensify") + (("key",) if action == "rotate" else ())
        p.add_argument("system", choices=choices)
        p.add_argument(
            "--stdin", action="store_true", help="read the secret(s) from stdin, one per line"
        )
    return parser


# --------------------------------------------------------------------------- output


def _jsonable(value: Any) -> Any:
    """A JSON-ready copy of attrs objects, enums, dates, Decimals, paths and containers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | Path):
        return str(value)
    if attrs.has(type(value)):
        return {f.name: _jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


@attrs.define
class _Out:
    """Where a command writes: a rich console, or JSON collected for one final document."""

    console: Console
    json: bool
    command: str

    def emit(self, code: int, result: Any = None, error: Mapping[str, Any] | None = None) -> int:
        if self.json:
            doc: dict[str, Any] = {
                "command": self.command,
                "ok": code in (EXIT_OK, EXIT_HELD),
                "exit_code": code,
            }
            if error is not None:
                doc["error"] = dict(error)
            else:
                doc["result"] = _jsonable(result)
            self.console.print_json(json.dumps(doc))
        return code


def _error_doc(exc: BaseException) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    problems = getattr(exc, "problems", None)
    if problems:
        doc["problems"] = [
            {
                "code": p.code.value,
                "field": p.field,
                "message": p.message,
                "fix": p.fix,
            }
            for p in problems
        ]
    return doc


def _print_error(out: _Out, exc: BaseException, code: int) -> int:
    if out.json:
        return out.emit(code, error=_error_doc(exc))
    if isinstance(exc, ConfigError):
        out.console.print("[bold red]The configuration is invalid:[/]")
        table = Table("field", "problem", "fix", show_lines=False)
        for p in exc.problems:
            table.add_row(p.field, p.message, p.fix)
        out.console.print(table)
    else:
        out.console.print(f"[bold red]error:[/] {exc}", highlight=False)
    return code


# --------------------------------------------------------------------------- helpers


def _config_path(args: argparse.Namespace, env: Mapping[str, str]) -> Path:
    if args.config is not None:
        return Path(args.config)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    return default_config_path()


def _load_config(args: argparse.Namespace, env: Mapping[str, str]) -> BridgeConfig:
    return BridgeConfig.from_toml(_config_path(args, env), env=env)


def _vault(config: BridgeConfig, env: Mapping[str, str]) -> CredentialVault:
    default = vault_for(config)
    return CredentialVault(default.path, env=env)


def _store(config: BridgeConfig) -> SQLiteStore:
    path = config.state_path or default_state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path)


@contextmanager
def _progress(out: _Out, description: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``update(step, done, total)`` (no-op with --json)."""
    if out.json or not out.console.is_terminal:

        def quiet(step: str = "", done: int = 0, total: int | None = None) -> None:
            del step, done, total

        yield quiet
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out.console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(step: str = "", done: int = 0, total: int | None = None) -> None:
            bar.update(task, description=f"{description}: {step}" if step else description,
                       completed=done, total=total)  # fmt: skip

        yield update


def _render_result(out: _Out, title: str, result: SyncResult | PostResult) -> None:
    """A rich rendering of a sync or replay: counts, then one row per report."""
    if isinstance(result, SyncResult):
        summary = Table(title=title, show_header=False)
        summary.add_row("pulled", str(result.pulled))
        for action, count in result.counts.items():
            if count:
                summary.add_row(action, str(count))
        summary.add_row("calls", f"Acumatica {result.calls.acumatica}, "
                        f"Expensify {result.calls.expensify}")  # fmt: skip
        for error in result.errors:
            summary.add_row("error", error)
        for warning in result.warnings:
            summary.add_row("warning", warning)
        out.console.print(summary)
    if not result.outcomes:
        return
    table = Table("report", "action", "status", "documents", "problem", "fix", title="Reports")
    for outcome in result.outcomes:
        table.add_row(
            outcome.report_id,
            outcome.action.value,
            outcome.status.value if outcome.status else "",
            ", ".join(outcome.documents),
            ", ".join(p.code.value for p in outcome.problems),
            " ".join(p.fix for p in outcome.problems) or (outcome.detail or ""),
        )
    out.console.print(table)


# --------------------------------------------------------------------------- commands


def _cmd_init(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    path = _config_path(args, env)
    if path.exists() and not args.force:
        raise _UsageError(f"{path} exists; pass --force to overwrite it")
    values: dict[str, Any] = {}
    acumatica = {
        "base_url": args.acumatica_url,
        "endpoint_version": args.endpoint_version,
        "username": args.username,
        "client_id": args.client_id,
    }
    values["acumatica"] = {k: v for k, v in acumatica.items() if v}
    if args.partner_user_id:
        values["expensify"] = {"partner_user_id": args.partner_user_id}
    if args.policy:
        values["policies"] = list(args.policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_template(values), encoding="utf-8")
    if not out.json:
        out.console.print(f"Wrote {path}. Fill in the options marked REQUIRED, then run")
        out.console.print("  expense-bridge credentials set acumatica")
        out.console.print("  expense-bridge credentials set expensify")
    return out.emit(EXIT_OK, {"path": str(path)})


def _read_secret(prompt: str, *, use_stdin: bool, stdin: IO[str]) -> str:
    value = stdin.readline().rstrip("\r\n") if use_stdin else getpass.getpass(f"{prompt}: ")
    if not value:
        raise _UsageError(f"no value given for {prompt}")
    return value


def _secrets_for(system: str, config: BridgeConfig) -> tuple[str, ...]:
    if system == "expensify":
        return (EXPENSIFY_PARTNER_SECRET,)
    if config.acumatica.auth == "oauth":
        return (ACUMATICA_PASSWORD, ACUMATICA_CLIENT_SECRET)
    return (ACUMATICA_PASSWORD,)


def _cmd_credentials(
    args: argparse.Namespace, out: _Out, env: Mapping[str, str], stdin: IO[str]
) -> int:
    config = _load_config(args, env)
    vault = _vault(config, env)
    if args.action == "rotate" and args.system == "key":
        new_key = vault.rotate_key()
        result: dict[str, Any] = {"rotated": "key", "key_source": vault.key_source}
        if new_key is not None:
            # The key came from the environment: the operator must store the new one.
            result["new_key"] = new_key.reveal()
            if not out.json:
                out.console.print("The vault is now encrypted with a new key. Put it in")
                out.console.print(f"EXPENSE_BRIDGE_KEY (shown once): {new_key.reveal()}")
        elif not out.json:
            out.console.print(f"The vault key in {vault.key_file} was rotated.")
        return out.emit(EXIT_OK, result)
    names = _secrets_for(args.system, config)
    if args.action == "set":
        vault.create_key()
    values = {
        name: _read_secret(KNOWN_SECRETS[name], use_stdin=args.stdin, stdin=stdin) for name in names
    }
    if args.action == "set":
        vault.set_many(values)
    else:
        for name, value in values.items():
            vault.rotate(name, value)
    if not out.json:
        verb = "Stored" if args.action == "set" else "Rotated"
        out.console.print(f"{verb} {', '.join(names)} in {vault.path}.")
    return out.emit(EXIT_OK, {"action": args.action, "stored": list(names)})


def _cmd_status(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    config = _load_config(args, env)
    vault = _vault(config, env)
    needed = {
        *_secrets_for("acumatica", config),
        *_secrets_for("expensify", config),
    }
    stored: dict[str, str | None] = dict.fromkeys(sorted(needed))
    vault_error: str | None = None
    try:
        for name, stamp in vault.items_masked():
            stored[name] = stamp.isoformat()
    except VaultError as exc:
        vault_error = str(exc)
    result: dict[str, Any] = {
        "connection": config.connection,
        "acumatica": {
            "base_url": config.acumatica.base_url,
            "endpoint": str(config.acumatica.endpoint),
            "auth": config.acumatica.auth,
        },
        "expensify": {"partner_user_id": config.expensify.partner_user_id},
        "policies": list(config.policies),
        "vault": {"path": str(vault.path), "key_source": vault.key_source, "secrets": stored},
    }
    if vault_error:
        result["vault"]["error"] = vault_error
    store = _store(config)
    result["state"] = store.summary(config.connection)
    result["bookmark"] = _jsonable(store.bookmark(config.connection))
    result["runs"] = store.runs(config.connection, 5)
    result["held"] = [
        {"report_id": r.report_id, "problems": list(r.errors)}
        for r in store.with_status(config.connection, ReportStatus.HELD)
    ]
    missing = [name for name, when in stored.items() if name in needed and when is None]
    code = EXIT_CONFIG if missing or vault_error else EXIT_OK
    if not out.json:
        table = Table(title="expense-bridge status", show_header=False)
        table.add_row("connection", config.connection)
        table.add_row("acumatica", f"{config.acumatica.base_url} ({config.acumatica.endpoint}, "
                      f"{config.acumatica.auth})")  # fmt: skip
        table.add_row("expensify", config.expensify.partner_user_id)
        table.add_row("policies", ", ".join(config.policies))
        table.add_row("vault", f"{vault.path} (key from {vault.key_source})")
        for name, when in stored.items():
            table.add_row(f"  {name}", when or "[red]missing[/]")
        for key in ("bookmark", "state"):
            if key in result:
                table.add_row(key, json.dumps(result[key]))
        out.console.print(table)
        _render_runs_and_held(out.console, result)
        if vault_error:
            out.console.print(f"[red]{vault_error}[/]")
        elif missing:
            out.console.print("[red]Missing secrets:[/] run 'expense-bridge credentials set …'")
    return out.emit(code, result)


def _render_runs_and_held(console: Console, result: Mapping[str, Any]) -> None:
    runs = result.get("runs") or []
    if runs:
        table = Table(title="Last runs")
        for column in ("started", "pulled", "posted", "held", "errors"):
            table.add_column(column)
        for run_ in runs:
            counts = run_.get("counts", {})
            table.add_row(str(run_["started"]), str(run_.get("pulled", "")),
                          str(counts.get("posted", 0)), str(counts.get("held", 0)),
                          "; ".join(run_.get("errors", [])))  # fmt: skip
        console.print(table)
    held = result.get("held") or []
    if held:
        table = Table(title=f"Held reports ({len(held)})")
        for column in ("report", "code", "where", "fix"):
            table.add_column(column)
        for item in held:
            for problem in item["problems"] or [{}]:
                cells = (problem.get(k, "") for k in ("code", "field", "fix"))
                table.add_row(item["report_id"], *(str(c) for c in cells))
        console.print(table)


def _cmd_sync(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    config = _load_config(args, env)
    store = _store(config)
    with (
        open_clients(config, vault=_vault(config, env)) as (acumatica, expensify),
        _progress(out, "Syncing") as update,
    ):
        result = sync(config, acumatica=acumatica, expensify=expensify, store=store,
                      dry_run=args.dry_run, progress=update)  # fmt: skip
    if not out.json:
        title = "Dry run (nothing written)" if args.dry_run else "Sync finished"
        _render_result(out, title, result)
    code = EXIT_FAILED if not result.ok else EXIT_HELD if result.held else EXIT_OK
    return out.emit(code, result.to_dict())


def _cmd_provision(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    from .provisioning import provision_all

    config = _load_config(args, env)
    vault = _vault(config, env)
    with (
        open_clients(config, vault=vault) as (acumatica, expensify),
        _progress(out, "Provisioning"),
    ):
        result = provision_all(config, acumatica=acumatica, expensify=expensify,
                               dry_run=args.dry_run)  # fmt: skip
    if not out.json:
        render_provisioning(out.console, result)
    issues = bool(result.employees.plan.issues)
    return out.emit(EXIT_HELD if issues else EXIT_OK, result.to_dict())


def render_provisioning(console: Console, result: Any) -> None:
    """Print a provisioning run's diff: employee changes, issues, categories and tags."""
    data = result.to_dict()
    people = data["employees"]
    title = "Provisioning diff" + (" (dry run: nothing sent)" if data["dry_run"] else "")
    summary = Table(title=title)
    for column in ("add", "update", "terminate", "unchanged", "issues", "feeds sent"):
        summary.add_column(column, justify="right")
    summary.add_row(str(people["add"]), str(people["update"]), str(people["terminate"]),
                    str(people["unchanged"]), str(len(people["issues"])),
                    str(people["feeds_sent"]))  # fmt: skip
    console.print(summary)
    changes = [c for c in people["changes"] if c["action"] != "add"][:20]
    if changes:
        table = Table(title="Employee updates and terminations")
        for column in ("action", "email", "policy", "manager", "changed"):
            table.add_column(column)
        for c in changes:
            table.add_row(c["action"], c["email"], c["policy"], c["manager"],
                          ", ".join(c["changed"]))  # fmt: skip
        console.print(table)
    if people["issues"]:
        table = Table(title="Employees not provisioned")
        for column in ("code", "employee", "fix"):
            table.add_column(column)
        for issue in people["issues"]:
            table.add_row(issue["code"], issue["subject"], issue["fix"])
        console.print(table)
    for plan in data["categories"]:
        console.print(
            f"Policy {plan['policy']}: {len(plan['changes'])} category changes, "
            f"{len(plan['issues'])} categories on inactive accounts"
        )
    for plan in data["tags"]:
        console.print(
            f"Policy {plan['policy']}: tags added {len(plan['added'])}, "
            f"disabled {len(plan['disabled'])}, re-enabled {len(plan['enabled'])}"
        )
    console.print(f"Expensify calls: {data['expensify_calls']}")


def _cmd_replay(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    config = _load_config(args, env)
    with (
        open_clients(config, vault=_vault(config, env)) as (acumatica, expensify),
        _progress(out, f"Replaying {args.report_id}"),
    ):
        result = replay(args.report_id, config=config, acumatica=acumatica,
                        expensify=expensify, store=_store(config))  # fmt: skip
    if not out.json:
        _render_result(out, f"Report {args.report_id}", result)
    return out.emit(EXIT_HELD if result.held else EXIT_OK, result.to_dict())


def _cmd_audit(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    config = _load_config(args, env)
    records = _store(config).audit_trail(args.report_id, config.connection)
    if not records:
        raise _UsageError(f"no audit records for report {args.report_id}")
    if not out.json:
        render_audit(out.console, args.report_id, records)
    return out.emit(EXIT_OK, {"report_id": args.report_id, "records": records})


def render_audit(console: Console, report_id: str, records: Sequence[Any]) -> None:
    """Print a report's audit trail as a table (one row per recorded step)."""
    table = Table(title=f"Audit trail of report {report_id}")
    rows = [_jsonable(r) for r in records]
    columns = [k for k in ("time", "at", "run_id", "step", "outcome", "document", "error_code")
               if any(isinstance(r, dict) and k in r for r in rows)]  # fmt: skip
    for column in columns:
        table.add_column(column)
    for row in rows:
        if isinstance(row, dict):
            table.add_row(*(str(row.get(c) if row.get(c) is not None else "") for c in columns))
    console.print(table)


def _cmd_demo(args: argparse.Namespace, out: _Out, env: Mapping[str, str]) -> int:
    from .demo._run import run_demo

    code: int = run_demo(console=out.console, today=args.today, json_output=out.json)
    return code


# --------------------------------------------------------------------------- entry points


def run(
    argv: Sequence[str] | None = None,
    *,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Parse ``argv``, run the command, return the exit code (never calls ``sys.exit``)."""
    console = console or Console()
    env = os.environ if env is None else env
    stdin = stdin or sys.stdin
    raw = list(sys.argv[1:] if argv is None else argv)
    out = _Out(console=console, json="--json" in raw, command=raw[0] if raw else "")
    try:
        args = build_parser().parse_args(raw)
    except _UsageError as exc:
        return _print_error(out, exc, EXIT_CONFIG)
    out.command = args.command if args.command != "credentials" else f"credentials {args.action}"
    try:
        if args.command == "init":
            return _cmd_init(args, out, env)
        if args.command == "credentials":
            return _cmd_credentials(args, out, env, stdin)
        if args.command == "status":
            return _cmd_status(args, out, env)
        if args.command == "sync":
            return _cmd_sync(args, out, env)
        if args.command == "replay":
            return _cmd_replay(args, out, env)
        if args.command == "provision":
            return _cmd_provision(args, out, env)
        if args.command == "audit":
            return _cmd_audit(args, out, env)
        return _cmd_demo(args, out, env)
    except (_UsageError, ConfigError, VaultError) as exc:
        return _print_error(out, exc, EXIT_CONFIG)
    except BridgeError as exc:
        code = EXIT_CONFIG if exc.aborts_sync else EXIT_FAILED
        return _print_error(out, exc, code)
    except KeyboardInterrupt:
        out.console.print("interrupted")
        return EXIT_FAILED
    except Exception as exc:  # the CLI turns every failure into exit code 1
        logger.debug("command failed", exc_info=True)
        return _print_error(out, exc, EXIT_FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: configure logging from ``-v`` (only here), then :func:`run`."""
    raw = list(sys.argv[1:] if argv is None else argv)
    short = [a[1:] for a in raw if a.startswith("-") and not a.startswith("--")]
    verbosity = sum(len(a) for a in short if set(a) == {"v"}) + raw.count("--verbose")
    if verbosity:
        logging.basicConfig(
            level=logging.DEBUG if verbosity > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    return run(raw)
