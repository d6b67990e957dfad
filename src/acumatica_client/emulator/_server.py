"""Serve an emulator (any ``httpx.Request -> httpx.Response`` callable) on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

__all__ = ["LoopbackServer"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
        request = httpx.Request(
            self.command,
            f"http://{host}{self.path}",
            headers=[(k, v) for k, v in self.headers.items()],
            content=body,
        )
        if "Content-Length" not in self.headers and "Transfer-Encoding" not in self.headers:
            request.headers.pop("Content-Length", None)  # as on the wire (IIS answers 411)
        try:
            response = self.server.app(request)
        except httpx.TimeoutException:
            self.close_connection = True  # the fault: drop the answer, close the socket
            return
        content = response.read()
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr access log (libraries do not print)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: Callable[[httpx.Request], httpx.Response]


class LoopbackServer:
    """An HTTP server on 127.0.0.1 with an ephemeral port, run in a daemon thread.

    ``base_url`` is ``http://127.0.0.1:<port>``; ``url`` is the service URL under one
    documented name (for Acumatica, the instance URL: equal to ``base_url``).
    """

    def __init__(self, app: Callable[[httpx.Request], httpx.Response]) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = app
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The service URL to give the client (``AcumaticaClient(base_url=server.url)``).

        For Acumatica that is the instance URL itself, so ``url == base_url``; the
        endpoint lives under it at ``/entity/Default/<version>/``. (The Expensify
        emulator's server has the same two attributes.)
        """
        return self.base_url

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
