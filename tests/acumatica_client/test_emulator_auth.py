"""Authentication against the emulator: OAuth grants, expiry, rotation, cookie seats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from acumatica_client.emulator import AcumaticaEmulator

HOST = "https://erp.test"
BASE = f"{HOST}/entity/Default/24.200.001"
CLIENT_ID = "expense-bridge@Company"
SECRET = "client-secret"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def token(raw: httpx.Client, **form: str) -> httpx.Response:
    fields = {"client_id": CLIENT_ID, "client_secret": SECRET, **form}
    return raw.post(f"{HOST}/identity/connect/token", data=fields)


def password_grant(raw: httpx.Client, scope: str = "api offline_access") -> dict[str, Any]:
    answer = token(raw, grant_type="password", username="admin", password="admin-password",
                   scope=scope)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bearer(raw: httpx.Client, access: str) -> int:
    answer = raw.get(f"{BASE}/Account", headers={"Authorization": f"Bearer {access}"})
    return answer.status_code


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def raw(clock: Clock) -> httpx.Client:
    emu = AcumaticaEmulator(clock=clock, token_lifetime=600)
    return httpx.Client(transport=emu.transport())


class TestOAuth:
    """The identity server's password and refresh grants."""

    def test_token_works_until_its_lifetime_passes_on_the_injected_clock(
        self, raw: httpx.Client, clock: Clock
    ) -> None:
        grant = password_grant(raw)
        assert grant["expires_in"] == 600
        assert grant["token_type"] == "Bearer"
        assert bearer(raw, grant["access_token"]) == 200
        clock.now += timedelta(seconds=599)
        assert bearer(raw, grant["access_token"]) == 200
        clock.now += timedelta(seconds=1)
        assert bearer(raw, grant["access_token"]) == 401

    def test_refresh_tokens_rotate_and_the_old_pair_stops_working(
        self, raw: httpx.Client, clock: Clock
    ) -> None:
        first = password_grant(raw)
        clock.now += timedelta(minutes=20)  # the access token has expired
        second = token(raw, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert second.status_code == 200
        fresh = second.json()
        assert fresh["refresh_token"] != first["refresh_token"]
        assert bearer(raw, fresh["access_token"]) == 200
        replay = token(raw, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        third = token(raw, grant_type="refresh_token", refresh_token=fresh["refresh_token"])
        assert third.status_code == 200
        assert bearer(raw, fresh["access_token"]) == 401  # superseded by the refresh

    def test_refresh_tokens_die_thirty_days_after_the_first_grant(
        self, raw: httpx.Client, clock: Clock
    ) -> None:
        current = password_grant(raw)["refresh_token"]
        for _ in range(4):  # rotation does not extend the absolute deadline
            clock.now += timedelta(days=7)
            answer = token(raw, grant_type="refresh_token", refresh_token=current)
            assert answer.status_code == 200
            current = answer.json()["refresh_token"]
        clock.now += timedelta(days=2, seconds=1)
        late = token(raw, grant_type="refresh_token", refresh_token=current)
        assert late.status_code == 400

    def test_refresh_token_belongs_to_the_client_that_got_it(self, clock: Clock) -> None:
        emu = AcumaticaEmulator(clock=clock, oauth_clients={CLIENT_ID: SECRET, "other": "s2"})
        raw = httpx.Client(transport=emu.transport())
        refresh = password_grant(raw)["refresh_token"]
        stolen = raw.post(f"{HOST}/identity/connect/token", data={
            "grant_type": "refresh_token", "client_id": "other", "client_secret": "s2",
            "refresh_token": refresh})  # fmt: skip
        assert stolen.status_code == 400
        assert token(raw, grant_type="refresh_token", refresh_token=refresh).status_code == 200

    @pytest.mark.parametrize(
        ("form", "error"),
        [
            ({"grant_type": "password", "username": "admin", "password": "bad", "scope": "api"},
             "invalid_grant"),
            ({"grant_type": "password", "username": "admin", "password": "admin-password",
              "scope": "openid"}, "invalid_scope"),
            ({"grant_type": "client_credentials", "scope": "api"}, "unsupported_grant_type"),
            ({"grant_type": "refresh_token", "refresh_token": "nonsense"}, "invalid_grant"),
        ],
    )  # fmt: skip
    def test_grant_errors_are_oauth_json(
        self, raw: httpx.Client, form: dict[str, str], error: str
    ) -> None:
        answer = token(raw, **form)
        assert answer.status_code == 400
        assert answer.json()["error"] == error

    def test_a_wrong_client_secret_is_invalid_client(self, raw: httpx.Client) -> None:
        answer = raw.post(f"{HOST}/identity/connect/token", data={
            "grant_type": "password", "client_id": CLIENT_ID, "client_secret": "nope",
            "username": "admin", "password": "admin-password", "scope": "api"})  # fmt: skip
        assert answer.json() == {"error": "invalid_client"}

    def test_without_offline_access_there_is_no_refresh_token(self, raw: httpx.Client) -> None:
        assert "refresh_token" not in password_grant(raw, scope="api")

    def test_a_json_token_request_is_refused(self, raw: httpx.Client) -> None:
        answer = raw.post(f"{HOST}/identity/connect/token", json={"grant_type": "password"})
        assert answer.json()["error"] == "invalid_request"

    def test_oauth_sessions_can_hold_api_seats(self, clock: Clock) -> None:
        emu = AcumaticaEmulator(clock=clock, api_seats=1, oauth_uses_seats=True)
        raw = httpx.Client(transport=emu.transport())
        first = password_grant(raw, scope="api")
        refused = token(raw, grant_type="password", username="admin",
                        password="admin-password", scope="api")  # fmt: skip
        assert refused.status_code == 429
        assert "API Login Limit" in refused.text
        logout = raw.post(f"{HOST}/entity/auth/logout",
                          headers={"Authorization": f"Bearer {first['access_token']}"})  # fmt: skip
        assert logout.status_code == 204
        assert bearer(raw, first["access_token"]) == 401  # signed out
        second = password_grant(raw, scope="api")
        clock.now += timedelta(hours=1)  # expiry closes the session and frees the seat
        assert bearer(raw, second["access_token"]) == 401
        password_grant(raw, scope="api")


class TestCookieSessions:
    """``/entity/auth/login`` sessions and the licence's API-user limit."""

    def login(self, client: httpx.Client, **extra: Any) -> httpx.Response:
        body = {"name": "admin", "password": "admin-password", "tenant": "Company", **extra}
        return client.post(f"{HOST}/entity/auth/login", json=body)

    def test_seats_are_limited_and_freed_by_logout(self) -> None:
        emu = AcumaticaEmulator(api_seats=2)
        a, b, c = (httpx.Client(transport=emu.transport()) for _ in range(3))
        assert self.login(a).status_code == 204
        assert ".ASPXAUTH" in a.cookies
        assert self.login(b).status_code == 204
        refused = self.login(c)
        assert refused.status_code == 429
        assert "API Login Limit" in refused.json()["exceptionMessage"]
        assert a.get(f"{BASE}/Account").status_code == 200
        assert a.post(f"{HOST}/entity/auth/logout").status_code == 204
        assert a.get(f"{BASE}/Account").status_code == 401  # the cookie is gone
        assert self.login(c).status_code == 204

    @pytest.mark.parametrize(
        "extra",
        [{"password": "wrong"}, {"tenant": "Other"}, {"name": "ghost"}],
    )
    def test_bad_credentials_are_401(self, extra: dict[str, str]) -> None:
        client = httpx.Client(transport=AcumaticaEmulator().transport())
        assert self.login(client, **extra).status_code == 401

    def test_login_body_is_strict(self) -> None:
        client = httpx.Client(transport=AcumaticaEmulator().transport())
        assert self.login(client, company="Company").status_code == 400  # pre-2017 field name
        missing = client.post(f"{HOST}/entity/auth/login", json={"password": "x"})
        assert missing.status_code == 400

    def test_a_branch_must_exist(self) -> None:
        emu = AcumaticaEmulator()
        emu.seed_branches(["HQ"])
        client = httpx.Client(transport=emu.transport())
        assert self.login(client, branch="NOPE").status_code == 500
        assert self.login(client, branch="HQ").status_code == 204

    def test_requests_without_auth_are_401_with_the_http_error_body(self) -> None:
        client = httpx.Client(transport=AcumaticaEmulator().transport())
        answer = client.get(f"{BASE}/Account")
        assert answer.status_code == 401
        assert answer.json()["message"]
        forged = client.get(f"{BASE}/Account", headers={"Authorization": "Bearer forged"})
        assert forged.status_code == 401


def test_discovery_lists_the_served_endpoint_among_others() -> None:
    emu = AcumaticaEmulator(version="23.200.001")
    client = httpx.Client(transport=emu.transport())
    client.post(f"{HOST}/entity/auth/login", json={"name": "admin", "password": "admin-password"})
    body = client.get(f"{HOST}/entity").json()
    assert set(body["version"]) == {"acumaticaBuildVersion", "oemBuildVersion", "databaseVersion"}
    pairs = {(e["name"], e["version"]) for e in body["endpoints"]}
    assert ("Default", "23.200.001") in pairs
    assert ("Default", "24.200.001") not in pairs  # only what it serves
    assert any(name != "Default" for name, _ in pairs)
    assert all(e["href"] == f"/entity/{e['name']}/{e['version']}/" for e in body["endpoints"])


def test_discovery_answers_without_a_session_as_the_guide_says() -> None:
    client = httpx.Client(transport=AcumaticaEmulator().transport())
    body = client.get(f"{HOST}/entity").json()  # system endpoints, no sign-in (§1.3 [DOC])
    assert ("Default", "24.200.001") in {(e["name"], e["version"]) for e in body["endpoints"]}


def test_discovery_hrefs_keep_the_virtual_directory_or_are_absolute() -> None:
    client = httpx.Client(transport=AcumaticaEmulator().transport())
    rows = client.get(f"{HOST}/AcumaticaDB/entity").json()["endpoints"]
    assert all(e["href"].startswith("/AcumaticaDB/entity/") for e in rows)
    absolute = httpx.Client(transport=AcumaticaEmulator(discovery_href="absolute").transport())
    rows = absolute.get(f"{HOST}/AcumaticaDB/entity").json()["endpoints"]
    assert all(e["href"].startswith(f"{HOST}/AcumaticaDB/entity/") for e in rows)


def test_older_builds_answer_discovery_with_a_bare_array() -> None:
    client = httpx.Client(transport=AcumaticaEmulator(discovery_shape="array").transport())
    body = client.get(f"{HOST}/entity").json()
    assert isinstance(body, list)
    assert {"name", "version", "href"} == set(body[0])
    with pytest.raises(ValueError, match="discovery_shape"):
        AcumaticaEmulator(discovery_shape="xml")


def test_an_abandoned_cookie_session_closes_after_ten_minutes_and_frees_its_seat() -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 11, 25, 9, 0, tzinfo=UTC)]
    emu = AcumaticaEmulator(api_seats=1, clock=lambda: now[0])
    login = {"name": "admin", "password": "admin-password"}
    first = httpx.Client(transport=emu.transport())
    assert first.post(f"{HOST}/entity/auth/login", json=login).status_code == 204
    now[0] += timedelta(minutes=9)
    assert first.get(f"{BASE}/Account").status_code == 200  # in use: the idle clock restarts
    second = httpx.Client(transport=emu.transport())
    refused = second.post(f"{HOST}/entity/auth/login", json=login)
    assert refused.status_code == 429
    assert "API Login Limit" in refused.text
    now[0] += timedelta(minutes=10)  # abandoned: no logout, no request for 10 minutes
    assert second.post(f"{HOST}/entity/auth/login", json=login).status_code == 204
    assert first.get(f"{BASE}/Account").status_code == 401  # the old session is gone
