"""expense_bridge.testing: cassette scrubbing and Expensify-aware matching."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from vcr.request import Request

from expense_bridge.testing import (
    REDACTED,
    expensify_job_signature,
    find_secrets,
    make_vcr,
    match_requests,
    scrub_request,
    scrub_response,
    vcr_config,
)

EXPENSIFY = "https://integrations.expensify.com/Integration-Server/ExpensifyIntegrations"
SECRET = "pa55-w0rd-very-secret-value"


def job_body(job_type: str, settings: dict[str, object], **extra: str) -> bytes:
    job = {
        "type": job_type,
        "credentials": {"partnerUserID": "aa_user", "partnerUserSecret": SECRET},
        "inputSettings": settings,
        **extra,
    }
    return urlencode({"requestJobDescription": json.dumps(job), "template": "x"}).encode()


def test_expensify_credentials_are_scrubbed_from_the_form_field() -> None:
    request = Request("POST", EXPENSIFY, job_body("file", {"type": "combinedReportData"}), {})
    scrubbed = scrub_request(request)
    form = dict(parse_qsl(scrubbed.body.decode()))
    job = json.loads(form["requestJobDescription"])
    assert job["credentials"] == {"partnerUserID": REDACTED, "partnerUserSecret": REDACTED}
    assert job["inputSettings"] == {"type": "combinedReportData"}
    assert form["template"] == "x"
    assert SECRET not in scrubbed.body.decode()


def test_acumatica_oauth_and_login_secrets_are_scrubbed() -> None:
    token = Request(
        "POST",
        "https://erp.test/identity/connect/token",
        urlencode(
            {
                "grant_type": "password",
                "username": "admin",
                "password": SECRET,
                "client_secret": SECRET,
                "refresh_token": SECRET,
            }
        ).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer x"},
    )
    scrubbed = scrub_request(token)
    assert SECRET not in scrubbed.body.decode()
    assert dict(parse_qsl(scrubbed.body.decode()))["username"] == "admin"
    assert scrubbed.headers["Authorization"] == REDACTED

    login = Request(
        "POST",
        "https://erp.test/entity/auth/login",
        json.dumps({"name": "admin", "password": SECRET, "tenant": "Co"}).encode(),
        {"Content-Type": "application/json", "Cookie": "ASP.NET_SessionId=abc"},
    )
    scrubbed = scrub_request(login)
    assert json.loads(scrubbed.body) == {"name": "admin", "password": REDACTED, "tenant": "Co"}
    assert scrubbed.headers["Cookie"] == REDACTED


def test_tokens_and_cookies_are_scrubbed_from_responses() -> None:
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Set-Cookie": [".ASPXAUTH=abc"], "Content-Type": ["application/json"]},
        "body": {
            "string": json.dumps(
                {"access_token": SECRET, "refresh_token": SECRET, "expires_in": 3600}
            ).encode()
        },
    }
    scrubbed = scrub_response(response)
    assert scrubbed["headers"]["Set-Cookie"] == [REDACTED]
    body = json.loads(scrubbed["body"]["string"])
    assert body == {"access_token": REDACTED, "refresh_token": REDACTED, "expires_in": 3600}


def test_expensify_calls_match_on_job_not_url() -> None:
    export = Request("POST", EXPENSIFY, job_body("file", {"type": "combinedReportData"}), {})
    same = Request("POST", EXPENSIFY, job_body("file", {"type": "combinedReportData"}), {})
    download = Request("POST", EXPENSIFY, job_body("download", {}, fileName="a.json"), {})
    other_file = Request("POST", EXPENSIFY, job_body("download", {}, fileName="b.json"), {})
    match_requests(export, same)
    with pytest.raises(AssertionError, match="Expensify job"):
        match_requests(export, download)
    with pytest.raises(AssertionError):
        match_requests(download, other_file)
    assert expensify_job_signature(b"not a form") is None


def test_other_calls_match_on_method_path_and_query() -> None:
    a = Request("GET", "https://erp.test/entity/Default/24.200.001/Bill?$top=5&$skip=0", None, {})
    b = Request("GET", "https://erp.test/entity/Default/24.200.001/Bill?$skip=0&$top=5", None, {})
    c = Request("GET", "https://erp.test/entity/Default/24.200.001/Bill?$top=5&$skip=5", None, {})
    match_requests(a, b)
    with pytest.raises(AssertionError, match="query"):
        match_requests(a, c)


def test_config_builds_a_replay_only_recorder() -> None:
    config = vcr_config(cassette_dir="cassettes")
    assert config["record_mode"] == "none"
    assert config["cassette_library_dir"] == "cassettes"
    recorder = make_vcr()
    assert "expense_bridge" in recorder.matchers


def test_find_secrets_names_what_leaked() -> None:
    text = f"body: {SECRET} and more"
    assert find_secrets(text, {"expensify": SECRET, "empty": ""}) == ["expensify"]
    assert find_secrets("clean", [SECRET]) == []


def test_make_vcr_without_vcrpy_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "vcr", None)  # import vcr -> ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError) as info:
        make_vcr()
    assert "pip install expense-bridge[testing]" in str(info.value)


@pytest.mark.loopback
def test_recording_oauth_logs_no_token_or_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """vcrpy logs each exchange before scrubbing it; make_vcr keeps tokens out of that log."""
    from acumatica_client import (
        Account,
        AcumaticaClient,
        CookieLogin,
        Endpoint,
        MemoryTokenStore,
        OAuth2,
    )
    from acumatica_client.emulator import AcumaticaEmulator

    password, client_secret = "vcr-log-pw-91ab", "vcr-log-client-secret-7c2d"
    acu = AcumaticaEmulator(users={"bridge": password},
                            oauth_clients={"bridge@Company": client_secret})  # fmt: skip
    acu.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True}])
    tokens = MemoryTokenStore()
    caplog.set_level(logging.DEBUG)
    with acu.serve() as server:
        recorder = make_vcr(cassette_dir=tmp_path, record_mode="all")
        with recorder.use_cassette("oauth.yaml"):
            auth = OAuth2(base_url=server.base_url, client_id="bridge@Company",
                          client_secret=client_secret, username="bridge", password=password,
                          token_store=tokens)  # fmt: skip
            with AcumaticaClient(
                base_url=server.base_url, endpoint=Endpoint("Default", "24.200.001"), auth=auth
            ) as client:
                client.list(Account, top=1)
        with (
            recorder.use_cassette("cookie.yaml"),
            AcumaticaClient(
                base_url=server.base_url, endpoint=Endpoint("Default", "24.200.001")
            ) as client,
            client.session(CookieLogin(name="bridge", password=password)),
        ):
            client.list(Account, top=1)
    token = tokens.load()
    assert token is not None
    assert token.refresh_token
    logged = caplog.text
    assert "Appending request" in logged  # vcrpy did log the exchanges
    assert "/identity/connect/token" in logged
    secrets = {"access": token.access_token, "refresh": token.refresh_token,
               "password": password, "client_secret": client_secret}  # fmt: skip
    assert find_secrets(logged, secrets) == []
    cassettes = "".join(p.read_text() for p in tmp_path.glob("*.yaml"))
    assert "Set-Cookie" in cassettes or "set-cookie" in cassettes.lower()
    assert find_secrets(cassettes, secrets) == []
    for line in logged.splitlines():  # no live session cookie value either
        assert "ASP.NET_SessionId=" not in line or "REDACTED" in line
