"""Shared pieces of the accounting-depth tests (no tests here).

* :class:`World` and :func:`make_world`: both emulators, real clients on a simulated clock, a
  real state store (tests/bridge_world.py, shared with tests/integration/);
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
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.bridge_world import (  # the two-emulator world, shared with the e2e tests
    CLIENT_SECRET,
    OWNER,
    PARTNER,
    PARTNER_SECRET,
    PASSWORD,
    START,
    SimClock,
    World,
    close_world,
    make_world,
)

SMTP_SECRET = "smtp-pass-5e0a19"
#: Every secret the tests hand out; none may appear in anything the bridge sends.
SECRETS = (PARTNER_SECRET, CLIENT_SECRET, PASSWORD, SMTP_SECRET)

__all__ = [
    "CLIENT_SECRET",
    "OWNER",
    "PARTNER",
    "PARTNER_SECRET",
    "PASSWORD",
    "SECRETS",
    "SMTP_SECRET",
    "START",
    "HttpSink",
    "SimClock",
    "SmtpStub",
    "World",
    "close_world",
    "make_world",
]


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
