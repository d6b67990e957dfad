"""The ``expense-bridge`` command line (also ``python -m expense_bridge``), built on click.

Commands: ``demo``, ``init``, ``sync [--dry-run]``, ``status [--check]``,
``audit REPORT_ID``, ``replay REPORT_ID``, ``provision [--dry-run]``,
``credentials set|rotate``, ``completion SHELL``. The global options ``--config``,
``--json`` and ``-v``/``--verbose`` are accepted before or after the command name.

Streams: results go to stdout, errors and warnings to stderr. With ``--json`` stdout
holds only one JSON document (``{"command", "ok", "exit_code", "result"}``) or nothing,
and an error is one JSON document on stderr (``{"command", "ok", "exit_code", "error"}``).

Exit codes: 0 ok; 1 failed; 2 usage or configuration error; 3 finished, but some reports
are held (they need an admin: the output says why and how to fix each).

Only :func:`main` configures logging (``-v``: the project's loggers at INFO, ``-vv``: at
DEBUG and httpx's request lines at INFO, every line passed through a secret filter);
:func:`run` is what tests call.

Other modules add commands to :data:`cli` with :func:`global_options` and read the
:class:`CliState` with ``click.get_current_context().find_object(CliState)``.
"""

from __future__ import annotations

import enum
import errno
import getpass
import json
import logging
import os
import re
import socket
import ssl
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, TypeVar
from urllib.parse import urlsplit

import attrs
import click
from rich.align import AlignMethod
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import Text

import acumatica_client
import expensify_client

from ._config import (
    ENV_CONFIG,
    BridgeConfig,
    default_config_path,
    render_template,
)
from ._errors import BridgeError, ConfigError
from ._factory import open_clients, vault_for
from ._notify import SMTP_PASSWORD
from ._replay import replay
from ._results import Action, PostResult, SyncResult
from ._store import DatabaseStore, ReportStatus
from ._sync import sync
from ._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    KNOWN_SECRETS,
    CredentialVault,
    VaultError,
)

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_HELD",
    "EXIT_OK",
    "LOGGER_NAMES",
    "CliState",
    "SecretFilter",
    "UsageError",
    "cli",
    "configure_logging",
    "describe_connection_error",
    "global_options",
    "main",
    "run",
]

logger = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2  # usage or configuration error
EXIT_HELD: Final = 3  # finished, some reports held

PROG: Final = "expense-bridge"
COMPLETE_VAR: Final = "_EXPENSE_BRIDGE_COMPLETE"

#: The loggers ``-v`` turns on (the project's own; every library logs below these names).
LOGGER_NAMES: Final = ("expense_bridge", "acumatica_client", "expensify_client")

EXIT_CODES_HELP: Final = (
    "\b\nExit codes:\n"
    "  0  ok\n"
    "  1  failed (a run-level error: connection, server, acknowledgement)\n"
    "  2  configuration or usage error (the message names the setting to fix)\n"
    "  3  finished, but some reports are held (the output says why and how to fix each)"
)

_F = TypeVar("_F", bound=Callable[..., Any])


class UsageError(Exception):
    """A usage problem found after parsing (exit code 2)."""


# --------------------------------------------------------------------------- state


@attrs.define
class CliState:
    """What one invocation carries: streams, environment and the global options.

    ``stdout`` receives results, ``stderr`` errors and warnings. ``config_path`` is
    ``--config`` when given; :meth:`resolve_config_path` applies ``EXPENSE_BRIDGE_CONFIG``
    and the default location.
    """

    stdout: Console
    stderr: Console
    env: Mapping[str, str]
    stdin: IO[str]
    json: bool = False
    verbose: int = 0
    config_path: Path | None = None
    command: str = ""
    config: BridgeConfig | None = None

    def resolve_config_path(self) -> Path:
        """``--config``, else ``$EXPENSE_BRIDGE_CONFIG``, else the per-user default."""
        if self.config_path is not None:
            return self.config_path
        if self.env.get(ENV_CONFIG):
            return Path(self.env[ENV_CONFIG])
        return default_config_path()

    def load_config(self) -> BridgeConfig:
        """Read and validate the configuration (``EXPENSE_BRIDGE_*`` overrides applied)."""
        self.config = BridgeConfig.from_toml(self.resolve_config_path(), env=self.env)
        return self.config

    def vault(self, config: BridgeConfig) -> CredentialVault:
        """The configured vault, reading its key from this invocation's environment."""
        return CredentialVault(vault_for(config).path, env=self.env)

    def emit(self, code: int, result: Any = None) -> int:
        """Write the ``--json`` result document to stdout (nothing otherwise); return ``code``."""
        if self.json:
            doc = {
                "command": self.command,
                "ok": code in (EXIT_OK, EXIT_HELD),
                "exit_code": code,
                "result": _jsonable(result),
            }
            _write_json(self.stdout, doc)
        return code

    def warn(self, message: str) -> None:
        """A warning on stderr (in ``--json`` mode too: stderr is not parsed)."""
        self.stderr.print(f"[yellow]warning:[/] {message}", highlight=False)


def _state() -> CliState:
    return click.get_current_context().find_object(CliState)  # type: ignore[return-value]


def _write_json(console: Console, doc: Mapping[str, Any]) -> None:
    """One JSON document, unwrapped and uncoloured, whatever the console's width."""
    console.file.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    console.file.flush()


# --------------------------------------------------------------------------- global options


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(CliState).config_path = value  # type: ignore[union-attr]


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(CliState).json = True  # type: ignore[union-attr]


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    state = ctx.find_object(CliState)
    assert state is not None  # noqa: S101 - run() always provides it
    # Called for every level of the command line, given or not: the innermost names the
    # command ("tenants list"), whatever the options around it.
    command = ctx.command_path.removeprefix(PROG).strip()
    if command:
        state.command = command
    if value:
        state.verbose += value


def global_options(func: _F) -> _F:
    """Add ``--config``, ``--json`` and ``-v`` to a command, so they work in any position."""
    func = click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_set_config,
        help=f"Configuration file (default: ${ENV_CONFIG} or {default_config_path()}).",
    )(func)
    func = click.option(
        "--json",
        "json_output",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print one JSON document on stdout (errors as JSON on stderr).",
    )(func)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbose,
        help="Log to stderr: -v the bridge's steps, -vv debug (secrets are always masked).",
    )(func)


class _Group(click.Group):
    """Commands listed in the order they are defined (the order of a first run)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


_CONTEXT: Final[dict[str, Any]] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}


def _version() -> str:
    from . import __version__

    return __version__


@click.group(cls=_Group, context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
@click.version_option(
    version=None, package_name="expense-bridge", prog_name=PROG, message="%(prog)s %(version)s"
)
@global_options
def cli() -> None:
    """Post approved Expensify reports into Acumatica ERP, exactly once.

    Global options (--config, --json, -v) may be given before or after the command.

    \b
    First run:
      expense-bridge init --acumatica-url https://erp.example.com \\
          --endpoint-version 24.200.001 --username api-user \\
          --client-id 'GUID@Tenant' --partner-user-id aa_you_example_com --policy F1E2D3C4
      expense-bridge credentials set acumatica
      expense-bridge credentials set expensify
      expense-bridge status --check
      expense-bridge sync --dry-run
      expense-bridge sync
    """


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


def _table(*columns: str, title: str | None = None, show_header: bool = True) -> Table:
    """A table whose cells fold instead of truncating (IDs, e-mails and codes stay whole)."""
    table = Table(title=title, show_header=show_header)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _error_doc(exc: BaseException, message: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": type(exc).__name__, "message": message or str(exc)}
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


def _print_error(state: CliState, exc: BaseException, code: int, message: str | None = None) -> int:
    """Report ``exc`` on stderr (JSON with ``--json``); return ``code``."""
    if state.json:
        doc = {
            "command": state.command,
            "ok": False,
            "exit_code": code,
            "error": _error_doc(exc, message),
        }
        _write_json(state.stderr, doc)
        return code
    if isinstance(exc, ConfigError):
        state.stderr.print("[bold red]The configuration is invalid:[/]")
        table = _table("field", "problem", "fix")
        for p in exc.problems:
            table.add_row(p.field, p.message, p.fix)
        state.stderr.print(table)
    else:
        state.stderr.print(f"[bold red]error:[/] {message or exc}", highlight=False, markup=True)
    return code


# --------------------------------------------------------------------------- connection errors


_DNS_TEXT: Final = re.compile(
    r"name or service not known|nodename nor servname|temporary failure in name resolution|"
    r"getaddrinfo failed|no address associated|name resolution|errno -[235]\b|"
    r"\[errno 8\]|\[errno 11001\]",
    re.IGNORECASE,
)
_REFUSED_TEXT: Final = re.compile(r"connection refused|errno 111\b|errno 61\b|10061", re.I)
_TLS_TEXT: Final = re.compile(r"ssl|tls|certificate", re.IGNORECASE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _connection_cause(exc: BaseException) -> str:
    """``timed out``, ``DNS lookup failed``, ``TLS handshake failed``, ``connection refused``…"""
    chain = list(_chain(exc))
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain)
    if any(
        isinstance(
            e,
            TimeoutError
            | socket.timeout
            | acumatica_client.APITimeoutError
            | expensify_client.APITimeoutError,
        )
        or type(e).__name__.endswith("Timeout")
        for e in chain
    ):
        return "timed out"
    if any(isinstance(e, socket.gaierror) for e in chain) or _DNS_TEXT.search(text):
        return "DNS lookup failed (the host name does not resolve)"
    if any(isinstance(e, ssl.SSLError) for e in chain) or _TLS_TEXT.search(text):
        return "TLS handshake failed (certificate or protocol)"
    if any(
        isinstance(e, ConnectionRefusedError)
        or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED)
        for e in chain
    ) or _REFUSED_TEXT.search(text):
        return "connection refused (nothing listens on that port)"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset by the server"
    return f"connection failed ({type(chain[-1]).__name__})"


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(
        exc, acumatica_client.APIConnectionError | expensify_client.APIConnectionError
    ) or any(
        isinstance(e, acumatica_client.APIConnectionError | expensify_client.APIConnectionError)
        for e in _chain(exc)
    )


def _which_side(exc: BaseException, config: BridgeConfig | None) -> str:
    """``acumatica`` or ``expensify``: whose request failed."""
    chain = list(_chain(exc))
    for e in chain:
        if isinstance(e, expensify_client.ExpensifyError):
            return "expensify"
        if isinstance(e, acumatica_client.AcumaticaError):
            return "acumatica"
    for e in chain:  # a bare transport error: match the request's origin
        request = getattr(e, "request", None)
        if request is None or config is None:
            continue
        try:
            origin = (request.url.host, request.url.port)
        except (AttributeError, RuntimeError):
            continue
        for side in ("expensify", "acumatica"):
            url = urlsplit(getattr(config, side).base_url)
            if origin == (url.hostname, url.port):
                return side
    return "acumatica"


def describe_connection_error(
    exc: BaseException, config: BridgeConfig | None, config_path: Path | None = None
) -> str:
    """One line for an operator: the host, the cause and the setting to check."""
    side = _which_side(exc, config)
    if config is not None:
        url = config.expensify.base_url if side == "expensify" else config.acumatica.base_url
    else:
        url = ""
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme else None)
    where = f"{host}:{port}" if port else host
    name = "Expensify" if side == "expensify" else "Acumatica"
    cause = _connection_cause(exc)
    setting = f"{side}.base_url"
    hint = f"check {setting} ({url})" if url else f"check {setting}"
    if config_path is not None:
        hint += f" in {config_path}"
    if cause == "timed out":
        hint += f", the network path to {host}, and {side}.timeout if the server is slow"
    elif cause.startswith("TLS"):
        hint += ", and that the server's certificate is valid for that name"
    else:
        hint += f", and that {host} is reachable from this machine"
    return f"cannot reach {name} at {where}: {cause}; {hint}."


# --------------------------------------------------------------------------- helpers


def _store(config: BridgeConfig) -> DatabaseStore:
    from ._factory import open_store

    return open_store(config)  # state.url, else the SQLite file at state_path


@contextmanager
def _progress(state: CliState, description: str) -> Iterator[Callable[..., None]]:
    """A progress bar on a terminal's stderr; yields ``update(step, done, total)``."""
    if state.json or not state.stderr.is_terminal:

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
    with Progress(*columns, console=state.stderr, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(step: str = "", done: int = 0, total: int | None = None) -> None:
            bar.update(task, description=f"{description}: {step}" if step else description,
                       completed=done, total=total)  # fmt: skip

        yield update


_PLANNED: Final = frozenset({Action.WOULD_POST, Action.WOULD_ADOPT})


def _render_result(state: CliState, title: str, result: SyncResult | PostResult) -> None:
    """A rendering of a sync or replay: counts, then one row per report."""
    console = state.stdout
    if isinstance(result, SyncResult):
        summary = _table("what", "value", title=title, show_header=False)
        summary.add_row("pulled", str(result.pulled))
        for action, count in result.counts.items():
            if count:
                summary.add_row(action, str(count))
        summary.add_row("calls", f"Acumatica {result.calls.acumatica}, "
                        f"Expensify {result.calls.expensify}")  # fmt: skip
        console.print(summary)
        for error in result.errors:
            state.stderr.print(f"[bold red]error:[/] {error}", highlight=False)
        for warning in result.warnings:
            state.warn(warning)
    if not result.outcomes:
        return
    table = _table(
        "report", "action", "status", "total", "documents", "problem", "fix", title="Reports"
    )
    for outcome in result.outcomes:
        table.add_row(
            outcome.report_id,
            outcome.action.value,
            outcome.status.value if outcome.status else "",
            outcome.total or "",
            ", ".join(outcome.documents),
            ", ".join(p.code.value for p in outcome.problems),
            " ".join(p.fix for p in outcome.problems)
            or ("" if outcome.action in _PLANNED else outcome.detail or ""),
        )
    console.print(table)
    planned = [o for o in result.outcomes if o.action in _PLANNED and o.detail]
    if planned:
        console.print("Planned documents (nothing written):", style="bold")
        for outcome in planned:
            console.print(f"report {outcome.report_id}", highlight=False, markup=False)
            for text in (outcome.detail or "").splitlines():
                console.print(f"  {text}", highlight=False, markup=False, soft_wrap=True)


# --------------------------------------------------------------------------- commands


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--acumatica-url", help="acumatica.base_url, e.g. https://erp.example.com")
@click.option("--endpoint-version", help="acumatica.endpoint_version, e.g. 24.200.001")
@click.option("--username", help="acumatica.username (the API user).")
@click.option("--client-id", help="acumatica.client_id for OAuth (GUID@Tenant).")
@click.option("--partner-user-id", help="expensify.partner_user_id")
@click.option("--policy", "policies", multiple=True, help="An Expensify policy ID (repeatable).")
@global_options
def init(
    force: bool,
    acumatica_url: str | None,
    endpoint_version: str | None,
    username: str | None,
    client_id: str | None,
    partner_user_id: str | None,
    policies: tuple[str, ...],
) -> int:
    """Write a commented configuration template (config.toml).

    Every option is explained in the file; the ones marked REQUIRED need a value.

    \b
    Examples:
      expense-bridge init --endpoint-version 24.200.001 --policy F1E2D3C4B5A69788
      expense-bridge --config tenant-b.toml init --force
    """
    state = _state()
    path = state.resolve_config_path()
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    values: dict[str, Any] = {}
    acumatica = {
        "base_url": acumatica_url,
        "endpoint_version": endpoint_version,
        "username": username,
        "client_id": client_id,
    }
    values["acumatica"] = {k: v for k, v in acumatica.items() if v}
    if partner_user_id:
        values["expensify"] = {"partner_user_id": partner_user_id}
    if policies:
        values["policies"] = list(policies)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_template(values), encoding="utf-8")
    if not state.json:
        state.stdout.print(f"Wrote {path}. Fill in the options marked REQUIRED, then run",
                           highlight=False)  # fmt: skip
        state.stdout.print("  expense-bridge credentials set acumatica")
        state.stdout.print("  expense-bridge credentials set expensify")
    return state.emit(EXIT_OK, {"path": str(path)})


def _read_secret(prompt: str, *, use_stdin: bool, state: CliState) -> str:
    if use_stdin:
        value = state.stdin.readline().rstrip("\r\n")
    else:
        if not (state.stdin.isatty() and sys.stdin.isatty()):
            raise UsageError(
                "no terminal to prompt for the secret on; pass --stdin and pipe the "
                f"secret(s) in, one per line (e.g. printf '%s\\n' \"$SECRET\" | "
                f"expense-bridge credentials {state.command.split()[-1]} ... --stdin)"
            )
        value = getpass.getpass(f"{prompt}: ")
    if not value:
        raise UsageError(f"no value given for {prompt}")
    return value


#: Prompts for the secrets ``credentials set|rotate`` stores (the vault's, and SMTP's).
_PROMPTS: Final[Mapping[str, str]] = {
    **KNOWN_SECRETS,
    SMTP_PASSWORD: "SMTP login password (notifications.smtp_username)",
}


def _secrets_for(system: str, config: BridgeConfig) -> tuple[str, ...]:
    if system == "expensify":
        return (EXPENSIFY_PARTNER_SECRET,)
    if system == "smtp":
        return (SMTP_PASSWORD,)
    if config.acumatica.auth == "oauth":
        return (ACUMATICA_PASSWORD, ACUMATICA_CLIENT_SECRET)
    return (ACUMATICA_PASSWORD,)


@cli.group(cls=_Group, epilog=EXIT_CODES_HELP)
@global_options
def credentials() -> None:
    """Store and rotate the secrets (Fernet-encrypted vault; the key stays outside it).

    \b
    Examples:
      expense-bridge credentials set acumatica
      printf '%s\\n' "$PARTNER_SECRET" | expense-bridge credentials set expensify --stdin
      expense-bridge credentials rotate key
    """


_STDIN_HELP: Final = (
    "Read the secret(s) from stdin, one per line (acumatica with OAuth: password, then "
    "client secret). Needed when there is no terminal (scripts, CI)."
)


@credentials.command("set", epilog=EXIT_CODES_HELP)
@click.argument("system", type=click.Choice(["acumatica", "expensify", "smtp"]))
@click.option("--stdin", "use_stdin", is_flag=True, help=_STDIN_HELP)
@global_options
def credentials_set(system: str, use_stdin: bool) -> int:
    """Store a system's secrets (creates the vault and its key when missing).

    acumatica: the API user's password (and the client secret with OAuth);
    expensify: the partnerUserSecret; smtp: the password of notifications.smtp_username.
    Prompts on a terminal, or reads --stdin.

    \b
    Examples:
      expense-bridge credentials set acumatica
      printf '%s\\n%s\\n' "$PW" "$CLIENT_SECRET" | expense-bridge credentials set acumatica --stdin
    """
    return _credentials("set", system, use_stdin)


@credentials.command("rotate", epilog=EXIT_CODES_HELP)
@click.argument("system", type=click.Choice(["acumatica", "expensify", "smtp", "key"]))
@click.option("--stdin", "use_stdin", is_flag=True, help=_STDIN_HELP)
@global_options
def credentials_rotate(system: str, use_stdin: bool) -> int:
    """Replace a system's secret, or re-encrypt the vault under a new key (``key``).

    With the key in EXPENSE_BRIDGE_KEY the new key is printed once: store it there.

    \b
    Examples:
      printf '%s\\n' "$NEW_SECRET" | expense-bridge credentials rotate expensify --stdin
      expense-bridge credentials rotate key
    """
    return _credentials("rotate", system, use_stdin)


def _credentials(action: str, system: str, use_stdin: bool) -> int:
    state = _state()
    config = state.load_config()
    vault = state.vault(config)
    if action == "rotate" and system == "key":
        new_key = vault.rotate_key()
        result: dict[str, Any] = {"rotated": "key", "key_source": vault.key_source}
        if new_key is not None:
            # The key came from the environment: the operator must store the new one.
            result["new_key"] = new_key.reveal()
            if not state.json:
                state.stdout.print("The vault is now encrypted with a new key. Put it in")
                state.stdout.print(f"EXPENSE_BRIDGE_KEY (shown once): {new_key.reveal()}",
                                   highlight=False)  # fmt: skip
        elif not state.json:
            state.stdout.print(f"The vault key in {vault.key_file} was rotated.", highlight=False)
        return state.emit(EXIT_OK, result)
    names = _secrets_for(system, config)
    if system == "smtp" and not config.notifications.smtp_username:
        state.warn("notifications.smtp_username is not set: the SMTP password is only used "
                   "to log in as that user")  # fmt: skip
    values = {
        name: _read_secret(_PROMPTS[name], use_stdin=use_stdin, state=state) for name in names
    }
    if action == "set":
        vault.create_key()
        vault.set_many(values)
    else:
        for name, value in values.items():
            vault.rotate(name, value)
    if not state.json:
        verb = "Stored" if action == "set" else "Rotated"
        state.stdout.print(f"{verb} {', '.join(names)} in {vault.path}.", highlight=False)
    return state.emit(EXIT_OK, {"action": action, "stored": list(names)})


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--check",
    is_flag=True,
    help="Also ask the servers: Acumatica serves the pinned endpoint and accepts the "
    "credentials; Expensify accepts the partner credentials and knows the policies.",
)
@global_options
def status(check: bool) -> int:
    """Show the configuration, stored credentials, last runs and held reports.

    Exits 2 when a secret is missing or (with --check) a server refuses the settings.

    \b
    Examples:
      expense-bridge status
      expense-bridge status --check --json
      expense-bridge --config tenant-b.toml status
    """
    state = _state()
    config = state.load_config()
    vault = state.vault(config)
    needed = {*_secrets_for("acumatica", config), *_secrets_for("expensify", config)}
    if config.notifications.smtp_host and config.notifications.smtp_username:
        needed.add(SMTP_PASSWORD)  # notification e-mail logs in with it
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
    with closing(_store(config)) as store:
        result["state"] = store.summary(config.connection)
        result["bookmark"] = _jsonable(store.bookmark(config.connection))
        result["runs"] = _jsonable(store.runs(config.connection, 5))
        result["held"] = [
            {"report_id": r.report_id, "problems": _jsonable(list(r.errors))}
            for r in store.with_status(config.connection, ReportStatus.HELD)
        ]
    missing = [name for name, when in stored.items() if name in needed and when is None]
    code = EXIT_CONFIG if missing or vault_error else EXIT_OK
    if check and code == EXIT_OK:
        result["check"] = _check_servers(state, config, vault)
        if not all(item["ok"] for item in result["check"].values()):
            code = EXIT_CONFIG
    if not state.json:
        table = _table("what", "value", title="expense-bridge status", show_header=False)
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
        for side, item in result.get("check", {}).items():
            table.add_row(f"check {side}", ("ok: " if item["ok"] else "FAILED: ") + item["detail"])
        state.stdout.print(table)
        _render_runs_and_held(state.stdout, result)
        if vault_error:
            state.stderr.print(f"[red]{vault_error}[/]", highlight=False)
        elif missing:
            state.stderr.print(
                f"[red]Missing secrets:[/] {', '.join(missing)}; run "
                "'expense-bridge credentials set acumatica|expensify'",
                highlight=False,
            )
        for side, item in result.get("check", {}).items():
            if not item["ok"]:
                state.stderr.print(f"[red]{side}:[/] {item['detail']}", highlight=False)
    return state.emit(code, result)


def _check_servers(
    state: CliState, config: BridgeConfig, vault: CredentialVault
) -> dict[str, dict[str, Any]]:
    """Ask both servers whether the configuration works (``status --check``)."""
    from acumatica_client import Account

    checks: dict[str, dict[str, Any]] = {}
    with open_clients(config, vault=vault) as (acumatica, expensify):
        try:
            acumatica.check_endpoint()
            acumatica.list(Account, select=("AccountCD",), top=1)
            checks["acumatica"] = {
                "ok": True,
                "detail": f"{config.acumatica.endpoint} is served; credentials accepted",
            }
        except Exception as exc:  # every failure is reported, not raised
            checks["acumatica"] = {"ok": False, "detail": _short(state, exc)}
        try:
            known = {p.policy_id for p in expensify.get_policy_list()}
            unknown = [p for p in config.policies if p not in known]
            if unknown:
                checks["expensify"] = {
                    "ok": False,
                    "detail": f"policies {', '.join(unknown)} are not visible to "
                    f"{config.expensify.partner_user_id}; check 'policies'",
                }
            else:
                checks["expensify"] = {
                    "ok": True,
                    "detail": f"credentials accepted; {len(config.policies)} policies found",
                }
        except Exception as exc:  # every failure is reported, not raised
            checks["expensify"] = {"ok": False, "detail": _short(state, exc)}
    return checks


def _short(state: CliState, exc: BaseException) -> str:
    if _is_connection_error(exc):
        return describe_connection_error(exc, state.config)
    return f"{type(exc).__name__}: {exc}"


def _render_runs_and_held(console: Console, result: Mapping[str, Any]) -> None:
    runs = result.get("runs") or []
    if runs:
        table = _table("started", "pulled", "posted", "held", "errors", title="Last runs")
        for run_ in runs:
            counts = run_.get("counts", {})
            table.add_row(str(run_["started"]), str(run_.get("pulled", "")),
                          str(counts.get("posted", 0)), str(counts.get("held", 0)),
                          "; ".join(run_.get("errors", [])))  # fmt: skip
        console.print(table)
    held = result.get("held") or []
    if held:
        table = _table("report", "code", "where", "fix", title=f"Held reports ({len(held)})")
        for item in held:
            for problem in item["problems"] or [{}]:
                cells = (problem.get(k, "") for k in ("code", "field", "fix"))
                table.add_row(item["report_id"], *(str(c) for c in cells))
        console.print(table)


@cli.command("sync", epilog=EXIT_CODES_HELP)
@click.option("--dry-run", is_flag=True, help="Plan only: show what would post, write nothing.")
@global_options
def sync_command(dry_run: bool) -> int:
    """Post every ready report into Acumatica, exactly once, then mark it exported.

    Schedule this (cron, systemd timer, Kubernetes CronJob). A report that needs a person
    is held with the reason and the fix; the run goes on with the others (exit 3).

    \b
    Examples:
      expense-bridge sync --dry-run
      expense-bridge sync --json > last-run.json
      expense-bridge --config tenant-b.toml sync -v
    """
    state = _state()
    config = state.load_config()
    with (
        closing(_store(config)) as store,
        open_clients(config, vault=state.vault(config)) as (acumatica, expensify),
        _progress(state, "Syncing") as update,
    ):
        result = sync(config, acumatica=acumatica, expensify=expensify, store=store,
                      dry_run=dry_run, progress=update)  # fmt: skip
    if not state.json:
        title = "Dry run (nothing written)" if dry_run else "Sync finished"
        _render_result(state, title, result)
    code = EXIT_FAILED if not result.ok else EXIT_HELD if result.held else EXIT_OK
    return state.emit(code, result.to_dict())


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--dry-run", is_flag=True, help="Show the diff, send nothing.")
@global_options
def provision(dry_run: bool) -> int:
    """Bring Expensify policies in line with Acumatica: employees, categories, tags.

    Employees become policy members with their approvers; expense GL accounts become
    categories; active projects become tags. Exit 3 when some employees cannot be
    provisioned (the output names each and the fix).

    \b
    Examples:
      expense-bridge provision --dry-run
      expense-bridge provision --json
    """
    from .provisioning import provision_all

    state = _state()
    config = state.load_config()
    with (
        open_clients(config, vault=state.vault(config)) as (acumatica, expensify),
        _progress(state, "Provisioning"),
    ):
        result = provision_all(config, acumatica=acumatica, expensify=expensify,
                               dry_run=dry_run)  # fmt: skip
    if not state.json:
        render_provisioning(state.stdout, result)
    issues = bool(result.employees.plan.issues)
    return state.emit(EXIT_HELD if issues else EXIT_OK, result.to_dict())


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
        table = _table("action", "email", "policy", "manager", "changed",
                       title="Employee updates and terminations")  # fmt: skip
        for c in changes:
            table.add_row(c["action"], c["email"], c["policy"], c["manager"],
                          ", ".join(c["changed"]))  # fmt: skip
        console.print(table)
    if people["issues"]:
        table = _table("code", "employee", "fix", title="Employees not provisioned")
        for issue in people["issues"]:
            table.add_row(issue["code"], issue["subject"], issue["fix"])
        console.print(table)
    for plan in data["categories"]:
        console.print(
            f"Policy {plan['policy']}: {len(plan['changes'])} category changes, "
            f"{len(plan['issues'])} categories on inactive accounts",
            highlight=False,
        )
    for plan in data["tags"]:
        console.print(
            f"Policy {plan['policy']}: tags added {len(plan['added'])}, "
            f"disabled {len(plan['disabled'])}, re-enabled {len(plan['enabled'])}",
            highlight=False,
        )
    console.print(f"Expensify calls: {data['expensify_calls']}", highlight=False)


@cli.command("replay", epilog=EXIT_CODES_HELP)
@click.argument("report_id")
@global_options
def replay_command(report_id: str) -> int:
    """Post one held report again after its problem was fixed.

    \b
    Examples:
      expense-bridge audit 41234567
      expense-bridge replay 41234567
    """
    state = _state()
    config = state.load_config()
    with (
        closing(_store(config)) as store,
        open_clients(config, vault=state.vault(config)) as (acumatica, expensify),
        _progress(state, f"Replaying {report_id}"),
    ):
        result = replay(config, report_id, acumatica=acumatica, expensify=expensify,
                        store=store)  # fmt: skip
    if not state.json:
        _render_result(state, f"Report {report_id}", result)
    return state.emit(EXIT_HELD if result.held else EXIT_OK, result.to_dict())


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("report_id")
@global_options
def audit(report_id: str) -> int:
    """Show one report's audit trail: intent, create, post, acknowledge, holds.

    Reads only the local state store (no network).

    \b
    Examples:
      expense-bridge audit 41234567
      expense-bridge audit 41234567 --json
    """
    state = _state()
    config = state.load_config()
    with closing(_store(config)) as store:
        records = store.audit_trail(report_id, config.connection)
    if not records:
        raise UsageError(f"no audit records for report {report_id}")
    if not state.json:
        render_audit(state.stdout, report_id, records)
    return state.emit(EXIT_OK, {"report_id": report_id, "records": records})


def render_audit(console: Console, report_id: str, records: Sequence[Any]) -> None:
    """Print a report's audit trail as a table (one row per recorded step)."""
    rows = [_jsonable(r) for r in records]
    columns = [k for k in ("time", "at", "run_id", "step", "outcome", "document", "error_code")
               if any(isinstance(r, dict) and k in r for r in rows)]  # fmt: skip
    table = _table(*columns, title=f"Audit trail of report {report_id}")
    for row in rows:
        if isinstance(row, dict):
            table.add_row(*(str(row.get(c) if row.get(c) is not None else "") for c in columns))
    console.print(table)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Pretend today is YYYY-MM-DD.",
)
@global_options
def demo(today: datetime | None) -> int:
    """Run the self-contained demo: both emulators on loopback, a seeded company.

    Provisions ~300 employees, syncs 150 reports, syncs again (nothing changes) and
    prints one report's audit trail. Needs no configuration and leaves nothing running.

    \b
    Examples:
      expense-bridge demo
      expense-bridge demo --today 2026-11-20 --json
    """
    from .demo._run import run_demo

    state = _state()
    code: int = run_demo(
        console=state.stdout, today=today.date() if today else None, json_output=state.json
    )
    return code


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@global_options
def completion(shell: str) -> int:
    """Print the shell completion script for bash, zsh or fish (in the JSON with --json).

    \b
    Examples:
      expense-bridge completion bash > ~/.local/share/bash-completion/completions/expense-bridge
      expense-bridge completion zsh > "${fpath[1]}/_expense-bridge"
      expense-bridge completion fish > ~/.config/fish/completions/expense-bridge.fish
    """
    from click.shell_completion import get_completion_class

    state = _state()
    completer = get_completion_class(shell)
    if completer is None:  # pragma: no cover - the Choice lists only known shells
        raise UsageError(f"no completion for {shell}")
    source = completer(cli, {}, PROG, COMPLETE_VAR).source()
    if not source.endswith("\n"):
        source += "\n"
    if not state.json:
        state.stdout.file.write(source)
    return state.emit(EXIT_OK, {"shell": shell, "script": source})


# --------------------------------------------------------------------------- logging


_SECRET_PATTERNS: Final = (
    # header lines and header tuples: Authorization, Cookie, Set-Cookie
    re.compile(
        r"(?i)((?:authorization|proxy-authorization|cookie|set-cookie)['\"]?\s*[:=,]\s*"
        r"(?:b?['\"])?)([^'\"\r\n]+)"
    ),
    # bearer tokens anywhere
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9\-._~+/]+=*)"),
    # OAuth/form/JSON fields
    re.compile(
        r"(?i)((?:access_token|refresh_token|id_token|client_secret|password|"
        r"partnerUserSecret|code)['\"]?\s*[:=]\s*['\"]?)([^'\"&,\s}]+)"
    ),
    # Acumatica session cookies by name
    re.compile(r"(?i)((?:ASP\.NET_SessionId|\.ASPXAUTH|UserBranch|Locale|requestid)=)([^;\s'\"]+)"),
)


class SecretFilter(logging.Filter):
    """Masks Authorization/Cookie values, bearer tokens and secret fields in log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is passed on unchanged
            return True
        masked = message
        for pattern in _SECRET_PATTERNS:
            masked = pattern.sub(r"\1[redacted]", masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(verbosity: int, stream: IO[str] | None = None) -> logging.Handler | None:
    """Send the project's loggers to ``stream`` (stderr) at INFO (1) or DEBUG (2+).

    Only :data:`LOGGER_NAMES` are turned on, and httpx's one-line request log at INFO
    with ``-vv``; httpcore (which logs raw headers, cookies included) stays off. Every line
    passes :class:`SecretFilter`. Returns the handler (``None`` when ``verbosity`` is 0).
    """
    if verbosity <= 0:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter())
    level = logging.DEBUG if verbosity > 1 else logging.INFO
    names = [*LOGGER_NAMES, *(["httpx"] if verbosity > 1 else [])]
    for name in names:
        target = logging.getLogger(name)
        target.addHandler(handler)
        target.setLevel(logging.INFO if name == "httpx" else level)
    return handler


# --------------------------------------------------------------------------- db, tenants


@cli.group(cls=_Group, epilog=EXIT_CODES_HELP)
@global_options
def db() -> None:
    """The state database (SQLite file or PostgreSQL): its schema version and migrations.

    \b
    Examples:
      expense-bridge db upgrade
      expense-bridge --config /etc/expense-bridge/acme.toml db upgrade --json
    """


@db.command("upgrade", epilog=EXIT_CODES_HELP)
@global_options
def db_upgrade() -> int:
    """Migrate the state database of the configuration in use to this release's schema.

    Uses state.url (or state_path) of --config / EXPENSE_BRIDGE_CONFIG. A second run
    changes nothing; a database written by a newer release is refused (exit 2).

    \b
    Examples:
      expense-bridge db upgrade
    """
    state = _state()
    config = state.load_config()
    with closing(_store(config)) as store:
        before, after = store.upgrade()
        location = store.location
    result = {"database": location, "before": before, "after": after, "changed": before != after}
    if not state.json:
        if before == after:
            state.stdout.print(f"{location}: schema {after}, nothing to do")
        else:
            state.stdout.print(f"{location}: schema {before or 'none'} -> {after}")
    return state.emit(EXIT_OK, result)


_REGISTRY_HELP: Final = (
    "Tenant registry: a directory of <name>.toml files or a database URL "
    "(default: EXPENSE_BRIDGE_TENANTS)."
)


def _registry(state: CliState, registry: str | None) -> Any:
    from .tenants import open_registry

    location = registry or state.env.get("EXPENSE_BRIDGE_TENANTS")
    if not location:
        raise UsageError("no tenant registry: pass --registry or set EXPENSE_BRIDGE_TENANTS")
    return open_registry(location)


@cli.group(cls=_Group, epilog=EXIT_CODES_HELP)
@global_options
def tenants() -> None:
    """Tenants of a scale-out deployment (see docs/deployment.md).

    \b
    Examples:
      expense-bridge tenants list --registry /etc/expense-bridge/tenants
      expense-bridge tenants add acme acme.toml --registry /etc/expense-bridge/tenants
      expense-bridge tenants check acme
    """


@tenants.command("list", epilog=EXIT_CODES_HELP)
@click.option("--registry", help=_REGISTRY_HELP)
@global_options
def tenants_list(registry: str | None) -> int:
    """List the tenants with their cadence and whether beat schedules them.

    \b
    Examples:
      expense-bridge tenants list --registry /etc/expense-bridge/tenants
      EXPENSE_BRIDGE_TENANTS=postgresql://bridge@db/bridge expense-bridge tenants list --json
    """
    state = _state()
    reg = _registry(state, registry)
    rows = []
    for name in reg.names():
        tenant = reg.get(name)
        rows.append({"name": name, "connection": tenant.config.connection,
                     "cadence": tenant.cadence, "enabled": tenant.enabled})  # fmt: skip
    if not state.json:
        table = _table("tenant", "connection", "cadence", "enabled")
        for row in rows:
            table.add_row(row["name"], row["connection"], str(row["cadence"]),
                          "yes" if row["enabled"] else "no")  # fmt: skip
        state.stdout.print(table)
    return state.emit(EXIT_OK, {"registry": reg.location, "tenants": rows})


@tenants.command("add", epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--registry", help=_REGISTRY_HELP)
@global_options
def tenants_add(name: str, file: Path, registry: str | None) -> int:
    """Validate a tenant's configuration FILE and add it to the registry as NAME.

    The file is checked like --config (every problem named, exit 2) before it is added.

    \b
    Examples:
      expense-bridge tenants add acme acme.toml --registry /etc/expense-bridge/tenants
      expense-bridge tenants add globex globex.toml --json
    """
    state = _state()
    reg = _registry(state, registry)
    tenant = reg.add(name, file.read_text(encoding="utf-8"))
    if not state.json:
        state.stdout.print(f"tenant {name} added to {reg.location}")
    return state.emit(EXIT_OK, {"registry": reg.location, "name": tenant.name,
                                "connection": tenant.config.connection})  # fmt: skip


@tenants.command("check", epilog=EXIT_CODES_HELP)
@click.argument("name", required=False)
@click.option("--registry", help=_REGISTRY_HELP)
@global_options
def tenants_check(name: str | None, registry: str | None) -> int:
    """Check one tenant (or all): configuration, secrets in its vault, state database.

    Exit 2 when any tenant has a problem (each is named with its fix).

    \b
    Examples:
      expense-bridge tenants check acme --registry /etc/expense-bridge/tenants
      expense-bridge tenants check --json
    """
    from .tenants import check_tenant

    state = _state()
    reg = _registry(state, registry)
    found: dict[str, list[str]] = {}
    for each in [name] if name else reg.names():
        try:
            found[each] = check_tenant(reg.get(each))
        except BridgeError as exc:
            found[each] = [str(exc)]
    if not state.json:
        for each, problems in found.items():
            state.stdout.print(f"{each}: " + ("ready" if not problems else "; ".join(problems)))
    code = EXIT_CONFIG if any(found.values()) else EXIT_OK
    return state.emit(code, {"registry": reg.location, "problems": found})


# --------------------------------------------------------------------------- entry points


def _exit_code_for(exc: BaseException) -> int:
    policy_not_found = getattr(expensify_client, "PolicyNotFoundError", None)
    if isinstance(exc, UsageError | ConfigError | VaultError | click.UsageError):
        return EXIT_CONFIG
    if isinstance(exc, acumatica_client.EndpointVersionError):
        return EXIT_CONFIG
    if isinstance(policy_not_found, type) and isinstance(exc, policy_not_found):
        return EXIT_CONFIG
    if isinstance(exc, BridgeError):
        return EXIT_CONFIG if exc.aborts_sync else EXIT_FAILED
    return EXIT_FAILED


def _pre_scan(raw: Sequence[str]) -> tuple[bool, str]:
    """``--json`` and the command name, read before parsing (for errors click raises)."""
    options = list(raw[: raw.index("--")] if "--" in raw else raw)
    words: list[str] = []
    skip = False
    for arg in options:
        if skip:
            skip = False
            continue
        if arg == "--config":
            skip = True
            continue
        if not arg.startswith("-"):
            words.append(arg)
    group = words[0] if words and isinstance(cli.commands.get(words[0]), click.Group) else None
    command = " ".join(words[:2]) if group else " ".join(words[:1])
    return "--json" in options, command


#: Width of rules (``console.rule``) on a non-terminal console, whose lines are unbounded.
RULE_WIDTH: Final = 100


class _UncutConsole(Console):
    """A console for non-terminal output (cron mail, CI logs): lines are never cut, so IDs,
    codes, e-mails and timestamps stay whole, but rules are :data:`RULE_WIDTH` wide."""

    def rule(
        self,
        title: str | Text = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """A horizontal rule at most :data:`RULE_WIDTH` wide (see :meth:`Console.rule`)."""
        rule = Rule(title=title, characters=characters, style=style, align=align)
        self.print(rule, width=min(self.width, RULE_WIDTH))


def _default_console(stream: IO[str]) -> Console:
    """A console on ``stream``; not a terminal: wide enough that nothing is cut (rules
    stay :data:`RULE_WIDTH` wide)."""
    console = Console(file=stream)
    if not console.is_terminal:
        console = _UncutConsole(file=stream, width=10_000, no_color=True)
    return console


def run(
    argv: Sequence[str] | None = None,
    *,
    console: Console | None = None,
    err_console: Console | None = None,
    env: Mapping[str, str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Parse ``argv``, run the command, return the exit code (never calls ``sys.exit``).

    ``console`` receives results (default: stdout), ``err_console`` errors and warnings
    (default: stderr). ``env`` replaces :data:`os.environ` for configuration overrides,
    the vault key and ``EXPENSE_BRIDGE_CONFIG``.
    """
    raw = list(sys.argv[1:] if argv is None else argv)
    json_flag, command = _pre_scan(raw)
    state = CliState(
        stdout=console or _default_console(sys.stdout),
        stderr=err_console or _default_console(sys.stderr),
        env=os.environ if env is None else env,
        stdin=stdin or sys.stdin,
        json=json_flag,
        command=command,
    )
    verbose = sum(len(a) - 1 for a in raw if re.fullmatch(r"-v+", a)) + raw.count("--verbose")
    try:
        code = cli.main(args=raw, prog_name=PROG, standalone_mode=False, obj=state,
                        complete_var=COMPLETE_VAR)  # fmt: skip
    except click.exceptions.NoArgsIsHelpError as exc:
        state.stderr.print(exc.format_message(), highlight=False, markup=False)
        return EXIT_CONFIG
    except click.UsageError as exc:
        hint = f"{exc.format_message()}\nTry '{PROG} --help' for help."
        return _print_error(state, exc, EXIT_CONFIG, hint if not state.json else None)
    except click.ClickException as exc:
        return _print_error(state, exc, EXIT_CONFIG, exc.format_message())
    except click.Abort:
        state.stderr.print("interrupted")
        return EXIT_FAILED
    except KeyboardInterrupt:
        state.stderr.print("interrupted")
        return EXIT_FAILED
    except Exception as exc:  # every failure becomes an exit code and a message
        code = _exit_code_for(exc)
        message = None
        if _is_connection_error(exc):
            path = state.resolve_config_path() if state.config is not None else None
            message = describe_connection_error(exc, state.config, path)
        logger.debug("command failed", exc_info=True)
        if max(state.verbose, verbose) >= 2 and not state.json:
            state.stderr.print("".join(traceback.format_exception(exc)), highlight=False,
                               markup=False)  # fmt: skip
        return _print_error(state, exc, code, message)
    if code is None:  # a group alone, or --help/--version handled by click
        return EXIT_OK
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: configure logging from ``-v`` (only here), then :func:`run`."""
    raw = list(sys.argv[1:] if argv is None else argv)
    options = raw[: raw.index("--")] if "--" in raw else raw
    verbosity = sum(len(a) - 1 for a in options if re.fullmatch(r"-v+", a))
    verbosity += options.count("--verbose")
    handler = configure_logging(verbosity)
    try:
        return run(raw)
    finally:
        if handler is not None:
            for name in (*LOGGER_NAMES, "httpx"):
                logging.getLogger(name).removeHandler(handler)
