"""Shared pieces of the accounting-depth tests (no tests here).

* :class:`World`: both emulators, real clients on a simulated clock, a real state store
  (the same arrangement as tests/integration/test_bridge_end_to_end.py);
* :class:`SmtpStub`: a tiny SMTP server from the standard library's ``socketserver`` on
  127.0.0.1 that smtplib can talk to (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) and that
  keeps every message and login;
* :class:`HttpSink`: a loopback HTTP server that keeps every POST and answers a set status.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, OAuth2
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import BridgeConfig, PostingRules, SQLiteStore, SyncResult, sync
from expense_bridge._config import AcumaticaSettings, ExpensifySettings
from expensify_client import ClientOptions as ExpensifyOptions
from expensify_client import Credentials, ExpensifyClient, RateLimiter
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PARTNER, PARTNER_SECRET = "aa_bridge_firm_test", "e2e-partner-secret-4f1a"
CLIENT_SECRET, PASSWORD = "client-secret-9d2c7e", "admin-password-77b1"
SMTP_SECRET = "smtp-pass-5e0a19"
#: Every secret the tests hand out; none may appear in anything the bridge sends.
SECRETS = (PARTNER_SECRET, CLIENT_SECRET, PASSWORD, SMTP_SECRET)
OWNER = "controller@firm.test"


@dataclass
class SimClock:
    """One simulated time for emulators, limiters and sleeps."""

    now: datetime = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - START).total_seconds() + 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    clock: SimClock
    acumatica: AcumaticaEmulator
    expensify: ExpensifyEmulator
    acu_client: AcumaticaClient
    exp_client: ExpensifyClient
    config: BridgeConfig
    store: SQLiteStore

    def sync(self, **kw: Any) -> SyncResult:
        return sync(
            self.config,
            acumatica=self.acu_client,
            expensify=self.exp_client,
            store=self.store,
            now=self.clock,
            **kw,
        )

    def add_approved(self, n: int, *, email: str = "ann@firm.test", **spec: Any) -> str:
        values: dict[str, Any] = {
            "amount_cents": 10_000 + n,
            "currency": "USD",
            "created": date(2026, 11, 10),
            "merchant": f"Merchant {n}",
            "category": "Travel",
        }
        values.update(spec)
        rid = self.expensify.add_report(
            "POL1",
            submitter=email,
            name=f"Trip {n}",
            currency="USD",
            expenses=[ExpenseSpec(**values)],
            created=self.clock.now - timedelta(days=3),
        )
        self.expensify.submit(rid, self.clock.now - timedelta(days=2))
        self.expensify.approve(rid, self.clock.now - timedelta(hours=1))
        return rid


def make_world(tmp_path: Path, **config_changes: Any) -> World:
    clock = SimClock()
    acu = AcumaticaEmulator(
        version="24.200.001", clock=clock, hold_on_entry=False, users={"admin": PASSWORD},
        oauth_clients={"expense-bridge@Company": CLIENT_SECRET}, sleep=clock.sleep,
    )  # fmt: skip
    acu.seed("Account", [
        {"AccountCD": "61000", "Type": "Expense", "Active": True, "Description": "Travel"},
        {"AccountCD": "62000", "Type": "Expense", "Active": True, "Description": "Meals"},
        {"AccountCD": "21000", "Type": "Liability", "Active": True},
    ])  # fmt: skip
    acu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                         "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
    # GL codes in the policy getter (the bridge reads them there today)
    exp = ExpensifyEmulator(clock=clock, sleep=clock.sleep, category_gl_codes=True)
    exp.add_account(PARTNER, PARTNER_SECRET, email=OWNER)
    exp.add_policy(
        "POL1", "Firm", owner=OWNER,
        categories=[category("Travel", "61000"), category("Meals", "62000"),
                    category("Mystery", None)],
        employees=[employee("ann@firm.test", submits_to=OWNER),
                   employee("ghost@firm.test", submits_to=OWNER)],
    )  # fmt: skip
    auth = OAuth2(base_url="https://erp.test", client_id="expense-bridge@Company",
                  client_secret=CLIENT_SECRET, username="admin", password=PASSWORD)  # fmt: skip
    acu_client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=acu.transport(),
        options=ClientOptions(sleep=clock.sleep, jitter=lambda: 0.0),
    )  # fmt: skip
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id=PARTNER, partner_user_secret=PARTNER_SECRET),
        transport=exp.transport(),
        options=ExpensifyOptions(
            sleep=clock.sleep, jitter=lambda: 0.0, today=lambda: clock.now.date(),
            limits=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        ),
    )  # fmt: skip
    config = BridgeConfig(
        acumatica=AcumaticaSettings(base_url="https://erp.test", endpoint_version="24.200.001",
                                    username="admin", client_id="expense-bridge@Company",
                                    tenant="Company"),
        expensify=ExpensifySettings(partner_user_id=PARTNER),
        policies=("POL1",),
        rules=PostingRules(employee_liability_account="21000"),
        vault_path=tmp_path / "no-vault.fernet",
    )  # fmt: skip
    if config_changes:
        config = attrs.evolve(config, **config_changes)
    return World(clock, acu, exp, acu_client, exp_client, config, SQLiteStore(
        tmp_path / "state.sqlite3"))  # fmt: skip


def close_world(world: World) -> None:
    world.store.close()
    world.acu_client.close()
    world.exp_client.close()


# --------------------------------------------------------------------------- SMTP stub


@dataclass
class SmtpStub:
    """A minimal ESMTP server (AUTH PLAIN; no STARTTLS) on 127.0.0.1, one thread."""

    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> SmtpStub:
        stub = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text: str) -> None:
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 stub.test ESMTP")
                sender, rcpts = "", []
                while line := self.rfile.readline():
                    command = line.decode().rstrip("\r\n")
                    verb = command.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-stub.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
                    elif verb == "HELO":
                        self.reply("250 stub.test")
                    elif verb == "AUTH":
                        parts = command.split()
                        decoded = base64.b64decode(parts[2]).split(b"\0")
                        stub.logins.append((decoded[1].decode(), decoded[2].decode()))
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb == "MAIL":
                        sender, rcpts = command.split(":", 1)[1].strip().split()[0], []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        address = command.split(":", 1)[1].strip().strip("<>")
                        if address in stub.refuse:
                            self.reply("550 no such user")
                        else:
                            rcpts.append(address)
                            self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        data = bytearray()
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        stub.raw.append(bytes(data))
                        stub.messages.append(
                            email.message_from_bytes(bytes(data), policy=email.policy.default)  # type: ignore[arg-type]
                        )
                        stub.envelopes.append((sender, list(rcpts)))
                        self.reply("250 OK queued")
                    elif verb in {"RSET", "NOOP"}:
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class HttpSink:
    """A loopback HTTP server keeping every POST (path, headers, JSON body)."""

    status: int = 204
    posts: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.raw.append(body)
                sink.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/bridge?token=hook-token-31c9"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def started(stub: Any) -> Iterator[Any]:
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


def assert_no_secret(*blobs: bytes | str, extra: tuple[str, ...] = ()) -> None:
    """No test secret (nor ``extra``) occurs in any blob, plain or base64-encoded."""
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
        for secret in (*SECRETS, *extra):
            assert secret not in text
            assert base64.b64encode(secret.encode()).decode() not in text
