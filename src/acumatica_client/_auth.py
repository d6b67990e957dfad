"""Authentication: OAuth 2.0 against the tenant's identity server, or a cookie session.

:class:`OAuth2` is an :class:`httpx.Auth` flow. It gets a token with the resource-owner
password grant (scope ``api offline_access`` by default), keeps it in an injectable
:class:`TokenStore`, and on a 401 refreshes **once** (``refresh_token`` grant, falling
back to the password grant when there is no refresh token or it was rejected) and replays
the request. A second 401 is returned to the client, which raises
:class:`~acumatica_client.AuthenticationError`. Grants are serialised by a lock, so
threads that all hit a 401 with the same stale token cause one refresh, not one each.
A 429/5xx from the identity server raises the transient status error; a refusal whose
body says ``API Login Limit`` raises :class:`~acumatica_client.LoginLimitError` after
that one request (no seat is free); any other rejected grant raises
``AuthenticationError``.

Used by :class:`~acumatica_client.AcumaticaClient`, the token and refresh requests go
through the client's own send path (:meth:`OAuth2.token_for`): they are paced by the
client's licence limiter, bounded by its timeout and retried by its retry policy like
every other request. Used as a plain ``httpx.Auth`` elsewhere, grant requests carry the
``timeout`` given to :class:`OAuth2` (never unbounded).

:class:`CookieLogin` holds the credentials of the legacy cookie session
(``/entity/auth/login``); :meth:`AcumaticaClient.session` signs in and always signs out,
because every open session holds one of the licence's API seats.

Secrets (passwords, client secret, tokens) never appear in reprs, logs or errors.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Protocol

import attrs
import httpx

from ._endpoint import token_url
from ._exceptions import AuthenticationError, LoginLimitError, redact, status_error

__all__ = ["CookieLogin", "MemoryTokenStore", "OAuth2", "Token", "TokenStore"]

logger = logging.getLogger("acumatica_client")


def _hidden(value: object) -> str:
    return "***"


@attrs.frozen(kw_only=True)
class Token:
    """An OAuth token pair; ``expires_at`` is epoch seconds. Values never appear in repr."""

    access_token: str = attrs.field(repr=_hidden)
    refresh_token: str | None = attrs.field(default=None, repr=_hidden)
    expires_at: float = 0.0

    def expired(self, now: float, *, leeway: float = 30.0) -> bool:
        """Whether the access token is (about to be) expired at ``now``."""
        return now >= self.expires_at - leeway


class TokenStore(Protocol):
    """Where an :class:`OAuth2` flow keeps its token (memory, the bridge's vault, …)."""

    def load(self) -> Token | None:
        """The stored token, if any."""

    def save(self, token: Token | None) -> None:
        """Store ``token`` (``None`` forgets it)."""


class MemoryTokenStore:
    """A :class:`TokenStore` in memory (the default)."""

    def __init__(self, token: Token | None = None) -> None:
        self._token = token
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryTokenStore()"

    def load(self) -> Token | None:
        """The stored token, if any."""
        with self._lock:
            return self._token

    def save(self, token: Token | None) -> None:
        """Store ``token``."""
        with self._lock:
            self._token = token


class OAuth2(httpx.Auth):
    """OAuth 2.0 (resource-owner password grant + refresh) as an :class:`httpx.Auth` flow.

    ``client_id`` is the connected application's ID (``GUID@Tenant``). Construction does
    no I/O: the first request fetches the token. ``timeout`` (seconds) bounds a grant
    request sent through the plain ``httpx.Auth`` flow; an :class:`AcumaticaClient`
    sends grants with its own timeout, limiter and retry policy instead.
    """

    requires_response_body = True

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        scope: str = "api offline_access",
        token_store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 60.0,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"OAuth2 timeout must be > 0, not {timeout!r}")
        if "api" not in scope.split():
            raise ValueError("the OAuth scope must include 'api' for REST access")
        self._token_url = token_url(base_url)
        self.client_id = client_id
        self.username = username
        self.scope = scope
        self._client_secret = client_secret
        self._password = password
        self.token_store: TokenStore = token_store or MemoryTokenStore()
        self._clock = clock
        self.timeout = timeout
        self._lock = threading.Lock()
        self.token_requests = 0  # grants requested so far (for tests and accounting)

    def __repr__(self) -> str:
        return (
            f"OAuth2(client_id={self.client_id!r}, username={self.username!r}, "
            f"scope={self.scope!r})"
        )

    # -- grants -------------------------------------------------------------------

    def _grant(self, form: dict[str, str]) -> httpx.Request:
        body = {"client_id": self.client_id, "client_secret": self._client_secret, **form}
        return httpx.Request(
            "POST",
            self._token_url,
            data=body,
            headers={"Accept": "application/json"},
            extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
        )

    def _password_grant(self) -> httpx.Request:
        return self._grant(
            {
                "grant_type": "password",
                "username": self.username,
                "password": self._password,
                "scope": self.scope,
            }
        )

    def _read_token(self, request: httpx.Request, response: httpx.Response) -> Token:
        if response.status_code != 200:
            error = status_error(request, response)
            if error.retryable or isinstance(error, LoginLimitError):
                raise error  # 429/5xx: the identity server's trouble; no seat: say so
            raise AuthenticationError(
                redact(
                    f"Acumatica token request failed ({response.status_code}): "
                    f"{_oauth_error(response)}",
                    request,
                ),
                request=request,
                response=response,
                body=error.body,
            )
        try:
            data = json.loads(response.content)
            access = data["access_token"]
            refresh = data.get("refresh_token")
            lifetime = float(data.get("expires_in") or 3600)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise AuthenticationError(
                "Acumatica token response is not an OAuth token (no access_token)",
                request=request,
                response=response,
            ) from exc
        if (
            not isinstance(access, str)
            or not access
            or not (refresh is None or isinstance(refresh, str))
        ):
            raise AuthenticationError(
                "Acumatica token response is not an OAuth token (bad access_token)",
                request=request,
                response=response,
            )
        return Token(
            access_token=access, refresh_token=refresh, expires_at=self._clock() + lifetime
        )

    def _obtain(self, current: Token | None) -> Generator[httpx.Request, httpx.Response, Token]:
        """Refresh ``current`` when it has a refresh token, else (or on failure) log in."""
        if current is not None and current.refresh_token:
            request = self._grant(
                {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            )
            self.token_requests += 1
            response = yield request
            if response.status_code in (400, 401):
                refused = status_error(request, response)
                if isinstance(refused, LoginLimitError):
                    raise refused  # no seat: a password grant would be refused too
            else:  # 400 invalid_grant: rejected; anything else is read (or raised) here
                token = self._read_token(request, response)
                self.token_store.save(token)
                logger.debug("acumatica oauth: token refreshed")
                return token
            logger.info(
                "acumatica oauth: refresh rejected (%d); signing in again", response.status_code
            )
        request = self._password_grant()
        self.token_requests += 1
        response = yield request
        token = self._read_token(request, response)
        self.token_store.save(token)
        logger.debug("acumatica oauth: token obtained with the password grant")
        return token

    # -- the flow -----------------------------------------------------------------

    def _renew(self, stale: Token | None) -> Generator[httpx.Request, httpx.Response, Token]:
        """A usable token in place of ``stale`` (``None``: there was none).

        Serialised by a lock held across the grant request, so concurrent requests that
        all saw a stale token trigger one grant; the others pick up the stored result.
        httpx closes the flow on any error, which releases the lock.
        """
        with self._lock:
            current = self.token_store.load()
            if current is not None and current != stale and not current.expired(self._clock()):
                return current
            return (yield from self._obtain(current if current is not None else stale))

    def token_for(
        self,
        send: Callable[[httpx.Request], httpx.Response],
        *,
        stale: Token | None = None,
    ) -> Token:
        """A usable token, obtaining one through ``send`` when needed.

        ``send`` sends one grant request and returns its response (the client passes its
        paced, bounded, retried send). ``stale``: a token the server refused (401), to
        be replaced even though it has not expired by the clock. Serialised like the
        ``httpx.Auth`` flow: concurrent callers cause one grant.
        """
        token = self.token_store.load()
        if stale is None and token is not None and not token.expired(self._clock()):
            return token
        flow = self._renew(stale if stale is not None else token)
        try:
            request = next(flow)
            while True:
                request = flow.send(send(request))
        except StopIteration as done:
            result: Token = done.value
            return result
        finally:
            flow.close()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach a bearer token; on 401 refresh once and replay the request."""
        token = self.token_store.load()
        if token is None or token.expired(self._clock()):
            token = yield from self._renew(token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code != 401:
            return
        logger.info(
            "acumatica oauth: 401 on %s %s; refreshing once", request.method, request.url.path
        )
        token = yield from self._renew(token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        yield request  # a second 401 is returned as is: the client raises AuthenticationError


def _oauth_error(response: httpx.Response) -> str:
    try:
        data = json.loads(response.content)
    except ValueError:
        return response.reason_phrase
    if isinstance(data, dict):
        return str(data.get("error_description") or data.get("error") or response.reason_phrase)
    return response.reason_phrase


@attrs.frozen(kw_only=True)
class CookieLogin:
    """Credentials for the cookie session (``POST /entity/auth/login``).

    ``tenant``, ``branch`` and ``locale`` are optional, as in Acumatica's login body.
    The password never appears in repr.
    """

    name: str
    password: str = attrs.field(repr=_hidden)
    tenant: str | None = None
    branch: str | None = None
    locale: str | None = None

    def body(self) -> dict[str, str]:
        """The login request body."""
        body = {"name": self.name, "password": self.password}
        for key in ("tenant", "branch", "locale"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body
