"""Authentication: the OAuth2 ``httpx.Auth`` flow and the cookie session.

Driven by small scripted apps through ``httpx.MockTransport`` (the emulator is tested
separately). Secrets must never reach a repr, a log record or an exception message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

import attrs
import httpx
import pytest

from acumatica_client import (
    Account,
    AcumaticaClient,
    AuthenticationError,
    ClientOptions,
    CookieLogin,
    Endpoint,
    InternalServerError,
    MemoryTokenStore,
    OAuth2,
    Token,
    TokenStore,
)

BASE = "https://erp.example.test/AcumaticaDB"
ENTITY_PATH = "/AcumaticaDB/entity/Default/24.200.001/Account"
TOKEN_PATH = "/AcumaticaDB/identity/connect/token"
CLIENT_ID = "88358B02-A48D-A50E-F710-39C1636C30F6@Company"
CLIENT_SECRET = "cl1ent-s3cret-VALUE"
PASSWORD = "pa55word-VALUE"
SECRETS = (CLIENT_SECRET, PASSWORD, "access-", "refresh-", "cookie-VALUE")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class IdentityServer:
    """Issues numbered tokens; the resource accepts only tokens listed in ``valid``.

    ``token_answers`` overrides the next token-endpoint answers (status, body).
    """

    def __init__(self, *, refresh: bool = True, expires_in: int = 3600) -> None:
        self.refresh = refresh
        self.expires_in = expires_in
        self.issued = 0
        self.valid: set[str] = set()
        self.grants: list[dict[str, str]] = []
        self.log: list[tuple[str, str]] = []  # (what, detail)
        self.token_answers: list[tuple[int, dict[str, str]]] = []
        self.resource_hook: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            return self.token(request)
        assert request.url.path == ENTITY_PATH
        bearer = request.headers.get("Authorization", "")
        self.log.append(("GET", bearer))
        if self.resource_hook is not None:
            answer = self.resource_hook(request)
            if answer is not None:
                return answer
        if bearer.removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"message": "You are not logged in."})
        return httpx.Response(200, json=[{"AccountCD": {"value": "61000"}}])

    def token(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self.lock:
            self.grants.append(form)
            self.log.append(("TOKEN", form["grant_type"]))
            if self.token_answers:
                status, answer = self.token_answers.pop(0)
                return httpx.Response(status, json=answer)
            self.issued += 1
            access = f"access-{self.issued}"
            self.valid.add(access)
            body: dict[str, object] = {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
            }
            if self.refresh:
                body["refresh_token"] = f"refresh-{self.issued}"
            return httpx.Response(200, json=body)


def oauth(
    *, clock: Clock | None = None, store: TokenStore | None = None, scope: str | None = None
) -> OAuth2:
    extra = {} if scope is None else {"scope": scope}
    return OAuth2(
        base_url=BASE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username="admin",
        password=PASSWORD,
        token_store=store,
        clock=clock or Clock(),
        **extra,
    )


def client_for(
    app: Callable[[httpx.Request], httpx.Response], auth: httpx.Auth | None
) -> AcumaticaClient:
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        auth=auth,
        transport=httpx.MockTransport(app),
        options=ClientOptions(sleep=lambda s: None, jitter=lambda: 0.0),
    )


class TestToken:
    def test_repr_hides_the_token_values(self) -> None:
        """Neither the access nor the refresh token is printed."""
        token = Token(access_token="access-XYZ", refresh_token="refresh-XYZ", expires_at=10.0)
        assert "XYZ" not in repr(token)
        assert "expires_at=10.0" in repr(token)

    def test_expiry_with_leeway(self) -> None:
        """A token counts as expired 30 s before its expiry time."""
        token = Token(access_token="a", expires_at=100.0)
        assert not token.expired(69.9)
        assert token.expired(70.0)
        assert token.expired(100.0, leeway=0)

    def test_is_frozen(self) -> None:
        """Tokens are values: replaced, never mutated."""
        token = Token(access_token="a")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            token.access_token = "b"  # type: ignore[misc]

    def test_memory_store(self) -> None:
        """The memory store returns what was saved and forgets on None."""
        store = MemoryTokenStore()
        assert store.load() is None
        token = Token(access_token="a")
        store.save(token)
        assert store.load() is token
        store.save(None)
        assert store.load() is None
        assert "a" not in repr(MemoryTokenStore(token)).replace("MemoryTokenStore", "")


class TestOAuth2Flow:
    def test_construction_does_no_io(self) -> None:
        """Building the auth and the client sends nothing."""
        server = IdentityServer()
        client_for(server, oauth())
        assert server.log == []

    def test_scope_must_include_api(self) -> None:
        """Without the ``api`` scope the token cannot call the REST API."""
        with pytest.raises(ValueError, match="api"):
            oauth(scope="openid offline_access")

    def test_first_call_gets_a_token_with_the_password_grant(self) -> None:
        """Exact grant form; the token is then reused for later calls."""
        server = IdentityServer()
        auth = oauth()
        client = client_for(server, auth)
        client.list(Account)
        client.list(Account)
        assert server.grants == [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant_type": "password",
                "username": "admin",
                "password": PASSWORD,
                "scope": "api offline_access",
            }
        ]
        assert server.log == [
            ("TOKEN", "password"),
            ("GET", "Bearer access-1"),
            ("GET", "Bearer access-1"),
        ]
        assert auth.token_requests == 1
        assert client.calls == 2  # token grants are not entity traffic

    def test_stored_token_is_used_without_a_grant(self) -> None:
        """An injected store with a live token saves the sign-in (one API seat)."""
        server = IdentityServer()
        server.valid.add("access-saved")
        clock = Clock()
        store = MemoryTokenStore(Token(access_token="access-saved", expires_at=clock() + 600))
        client_for(server, oauth(store=store, clock=clock)).list(Account)
        assert server.log == [("GET", "Bearer access-saved")]

    def test_expired_token_is_refreshed_before_the_call(self) -> None:
        """By the client's clock the token expired: refresh grant first, no 401 round trip."""
        server = IdentityServer()
        clock = Clock()
        auth = oauth(clock=clock)
        client = client_for(server, auth)
        client.list(Account)
        clock.now += 3600
        client.list(Account)
        assert server.log == [
            ("TOKEN", "password"),
            ("GET", "Bearer access-1"),
            ("TOKEN", "refresh_token"),
            ("GET", "Bearer access-2"),
        ]
        assert server.grants[1] == {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": "refresh-1",
        }
        stored = auth.token_store.load()
        assert stored is not None
        assert stored.access_token == "access-2"
        assert stored.expires_at == clock.now + 3600

    def test_401_refreshes_exactly_once_and_replays(self) -> None:
        """Server-side expiry: one refresh grant, then the same request again."""
        server = IdentityServer()
        auth = oauth()
        client = client_for(server, auth)
        client.list(Account)
        server.valid.clear()  # the server dropped the session
        found = client.list(Account, top=5)
        assert [a.account_cd for a in found] == ["61000"]
        assert server.log == [
            ("TOKEN", "password"),
            ("GET", "Bearer access-1"),
            ("GET", "Bearer access-1"),
            ("TOKEN", "refresh_token"),
            ("GET", "Bearer access-2"),
        ]
        assert auth.token_requests == 2

    def test_401_without_refresh_token_signs_in_again(self) -> None:
        """No refresh token (no offline_access): the password grant is used instead."""
        server = IdentityServer(refresh=False)
        client = client_for(server, oauth(scope="api"))
        client.list(Account)
        server.valid.clear()
        client.list(Account)
        assert [g["grant_type"] for g in server.grants] == ["password", "password"]
        assert server.grants[0]["scope"] == "api"

    def test_rejected_refresh_falls_back_to_the_password_grant(self) -> None:
        """An expired refresh token (400 invalid_grant) leads to a fresh sign-in."""
        server = IdentityServer()
        client = client_for(server, oauth())
        client.list(Account)
        server.valid.clear()
        server.token_answers.append((400, {"error": "invalid_grant"}))
        client.list(Account)
        assert [g["grant_type"] for g in server.grants] == ["password", "refresh_token", "password"]
        assert server.log[-1] == ("GET", "Bearer access-2")

    def test_second_401_raises_authentication_error(self) -> None:
        """A 401 after refreshing is final: AuthenticationError, no loop, one refresh."""
        server = IdentityServer()
        auth = oauth()
        client = client_for(server, auth)
        client.list(Account)
        server.resource_hook = lambda request: httpx.Response(
            401, json={"message": "You are not logged in."}
        )
        with pytest.raises(AuthenticationError) as info:
            client.list(Account)
        assert info.value.status_code == 401
        assert [g["grant_type"] for g in server.grants] == ["password", "refresh_token"]
        assert [what for what, _ in server.log].count("GET") == 3
        text = str(info.value) + repr(info.value)
        assert all(secret not in text for secret in SECRETS)

    def test_bad_credentials_raise_authentication_error_without_secrets(self) -> None:
        """The identity server's error is reported; the password and secret are not."""
        server = IdentityServer()
        server.token_answers.append(
            (400, {"error": "invalid_grant", "error_description": "invalid_username_or_password"})
        )
        client = client_for(server, oauth())
        with pytest.raises(AuthenticationError, match="invalid_username_or_password") as info:
            client.list(Account)
        assert all(secret not in str(info.value) for secret in SECRETS)
        assert [what for what, _ in server.log] == ["TOKEN"]  # nothing sent unauthenticated

    def test_token_endpoint_outage_is_transient_not_an_auth_failure(self) -> None:
        """A 503 from the identity server is InternalServerError, retried for a GET."""
        server = IdentityServer()
        server.token_answers.append((503, {"message": "down"}))
        client = client_for(server, oauth())
        assert len(client.list(Account)) == 1
        assert [what for what, _ in server.log] == ["TOKEN", "TOKEN", "GET"]

        failing = IdentityServer()
        failing.token_answers.extend([(503, {"message": "down"})] * 5)
        with pytest.raises(InternalServerError):
            client_for(failing, oauth()).list(Account)

    def test_token_answer_without_access_token(self) -> None:
        """A 200 that is not a token is an authentication failure, not a KeyError."""
        server = IdentityServer()
        server.token_answers.append((200, {"token_type": "Bearer"}))
        with pytest.raises(AuthenticationError, match="not an OAuth token"):
            client_for(server, oauth()).list(Account)

    def test_concurrent_401s_share_one_refresh(self) -> None:
        """Two threads hitting 401 with the same stale token cause a single refresh grant."""
        server = IdentityServer()
        clock = Clock()
        store = MemoryTokenStore(
            Token(access_token="access-stale", refresh_token="refresh-0", expires_at=clock() + 600)
        )
        auth = oauth(store=store, clock=clock)
        client = client_for(server, auth)
        both_rejected = threading.Barrier(2)

        def hook(request: httpx.Request) -> httpx.Response | None:
            if request.headers["Authorization"] == "Bearer access-stale":
                both_rejected.wait(timeout=10)  # both calls got past their first send
                return httpx.Response(401)
            return None

        server.resource_hook = hook
        errors: list[BaseException] = []

        def call() -> None:
            try:
                client.list(Account)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert [g["grant_type"] for g in server.grants] == ["refresh_token"]
        assert server.log.count(("GET", "Bearer access-1")) == 2

    def test_repr_and_logs_hold_no_secret(self, caplog: pytest.LogCaptureFixture) -> None:
        """Through sign-in, refresh and replay, no secret reaches a repr or a log record."""
        server = IdentityServer()
        auth = oauth()
        client = client_for(server, auth)
        with caplog.at_level(logging.DEBUG):
            client.list(Account)
            server.valid.clear()
            client.list(Account)
        assert caplog.records  # the flow did log
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for text in (logged, repr(auth), repr(client), repr(auth.token_store.load())):
            assert all(secret not in text for secret in SECRETS), text


class CookieServer:
    """Login/logout with a session cookie; entity calls need the cookie."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.bodies: list[object] = []
        self.sessions: set[str] = set()
        self.logout_status = 204

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/AcumaticaDB")
        cookie = request.headers.get("Cookie", "")
        self.log.append(f"{request.method} {path} cookie={'yes' if cookie else 'no'}")
        if path == "/entity/auth/login":
            body = json.loads(request.content)
            self.bodies.append(body)
            if body.get("password") != PASSWORD:
                return httpx.Response(401, json={"message": "Invalid credentials"})
            self.sessions.add("cookie-VALUE")
            return httpx.Response(
                204, headers={"Set-Cookie": ".ASPXAUTH=cookie-VALUE; path=/; HttpOnly"}
            )
        if path == "/entity/auth/logout":
            self.sessions.discard(cookie.removeprefix(".ASPXAUTH="))
            return httpx.Response(self.logout_status)
        if cookie.removeprefix(".ASPXAUTH=") not in self.sessions:
            return httpx.Response(401)
        return httpx.Response(200, json=[])


class TestCookieSession:
    def test_login_body_and_repr(self) -> None:
        """Optional fields are left out of the body; the password is never printed."""
        login = CookieLogin(name="admin", password=PASSWORD, tenant="Company")
        assert login.body() == {"name": "admin", "password": PASSWORD, "tenant": "Company"}
        full = CookieLogin(name="a", password=PASSWORD, tenant="T", branch="HQ", locale="en-US")
        assert full.body() == {
            "name": "a",
            "password": PASSWORD,
            "tenant": "T",
            "branch": "HQ",
            "locale": "en-US",
        }
        assert PASSWORD not in repr(login)
        assert PASSWORD not in repr(full)

    def test_login_then_calls_then_logout(self) -> None:
        """The session cookie is carried by calls and cleared after the logout."""
        server = CookieServer()
        client = client_for(server, None)
        login = CookieLogin(name="admin", password=PASSWORD, tenant="Company", branch="HQ")
        with client.session(login) as same:
            assert same is client
            client.list(Account)
        assert server.log == [
            "POST /entity/auth/login cookie=no",
            "GET /entity/Default/24.200.001/Account cookie=yes",
            "POST /entity/auth/logout cookie=yes",
        ]
        assert server.bodies == [
            {"name": "admin", "password": PASSWORD, "tenant": "Company", "branch": "HQ"}
        ]
        assert server.sessions == set()
        with pytest.raises(AuthenticationError):
            client.list(Account)  # no cookie any more
        assert server.log[-1] == "GET /entity/Default/24.200.001/Account cookie=no"

    def test_logout_happens_even_when_the_body_raises(self) -> None:
        """The API seat is released on error; the body's exception propagates unchanged."""
        server = CookieServer()
        client = client_for(server, None)
        boom = RuntimeError("boom")

        def work() -> None:
            with client.session(CookieLogin(name="admin", password=PASSWORD)):
                client.list(Account)
                raise boom

        with pytest.raises(RuntimeError) as info:
            work()
        assert info.value is boom
        assert server.log[-1] == "POST /entity/auth/logout cookie=yes"
        assert server.sessions == set()

    def test_failed_logout_is_logged_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        """A failing logout never hides the body's result; it is reported in the log."""
        server = CookieServer()
        server.logout_status = 500
        client = client_for(server, None)
        with (
            caplog.at_level(logging.WARNING, logger="acumatica_client"),
            client.session(CookieLogin(name="admin", password=PASSWORD)),
        ):
            client.list(Account)
        assert server.log.count("POST /entity/auth/logout cookie=yes") == 5  # retried: repeatable
        assert any("logout failed" in r.getMessage() for r in caplog.records)

    def test_bad_password_raises_and_sends_no_logout(self) -> None:
        """A rejected sign-in holds no seat: AuthenticationError, no logout, no secret."""
        server = CookieServer()
        client = client_for(server, None)
        entered = False
        with (
            pytest.raises(AuthenticationError) as info,
            client.session(CookieLogin(name="admin", password="wrong-PASSWORD-x")),
        ):
            entered = True
        assert not entered
        assert server.log == ["POST /entity/auth/login cookie=no"]
        assert "wrong-PASSWORD-x" not in str(info.value)

    def test_session_needs_a_client_without_oauth(self) -> None:
        """A cookie session on an OAuth client would hold two seats: refused."""
        client = client_for(IdentityServer(), oauth())
        with (
            pytest.raises(ValueError, match="cookie"),
            client.session(CookieLogin(name="admin", password=PASSWORD)),
        ):
            pass  # pragma: no cover

    def test_no_secret_in_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        """Login, calls and logout log method, path and status only."""
        server = CookieServer()
        client = client_for(server, None)
        with (
            caplog.at_level(logging.DEBUG),
            client.session(CookieLogin(name="admin", password=PASSWORD)),
        ):
            client.list(Account)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "POST /AcumaticaDB/entity/auth/login -> 204" in logged
        assert all(secret not in logged for secret in SECRETS)
