"""ExpensifyEmulator: transport strictness, credentials, 410s, rate limits, faults, loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from expensify_client import (
    EXPORT_TEMPLATE,
    AuthenticationError,
    ClientOptions,
    Credentials,
    ExpensifyClient,
    RateLimiter,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from expensify_client.emulator import API_PATH, ExpenseSpec, ExpensifyEmulator, category

URL = "https://integrations.expensify.com" + API_PATH
PID = "aa_ex_example_com"
SECRET = "s3cr3t+/Pa55"
OWNER = "owner@acme.test"


class Clock:
    """A settable UTC clock for the emulator."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make(**kwargs: Any) -> ExpensifyEmulator:
    kwargs.setdefault("rate_limits", False)
    emu = ExpensifyEmulator(**kwargs)
    emu.add_account(PID, SECRET, email=OWNER)
    emu.add_policy("P1", "Acme", owner=OWNER, categories=[category("Meals", "6100")])
    return emu


def _approved_report(emu: ExpensifyEmulator) -> str:
    day = datetime(2025, 2, 1, 9, tzinfo=UTC)
    rid = emu.add_report(
        "P1",
        submitter=OWNER,
        name="Trip",
        currency="USD",
        created=day,
        expenses=[ExpenseSpec(amount_cents=1234, currency="USD", created=day.date())],
    )
    emu.submit(rid, day)
    emu.approve(rid, day)
    return rid


def job(kind: str = "get", **rest: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
    }
    if kind == "get" and "inputSettings" not in rest:
        body["inputSettings"] = {"type": "policyList"}
    body.update(rest)
    return body


def post(emu: ExpensifyEmulator, body: Any, **fields: str) -> httpx.Response:
    raw = body if isinstance(body, str) else json.dumps(body)
    with httpx.Client(transport=emu.transport()) as http:
        return http.post(URL, data={"requestJobDescription": raw, **fields})


def code(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["responseCode"], body.get("responseMessage", "")


def client(emu: ExpensifyEmulator, secret: str = SECRET) -> ExpensifyClient:
    options = ClientOptions(
        retry=RetryPolicy(attempts=1),
        limits=RateLimiter(windows=((1000, 1.0),)),
        sleep=lambda _: None,
    )
    return ExpensifyClient(
        credentials=Credentials(partner_user_id=PID, partner_user_secret=secret),
        transport=emu.transport(),
        options=options,
    )


class TestCredentials:
    """Bad credentials get the auth envelope in an HTTP 200, never a result."""

    def test_good_credentials_answer(self) -> None:
        emu = make()
        response = post(emu, job())
        assert code(response)[:2] == (200, 200)
        assert response.json()["policyList"][0]["id"] == "P1"

    @pytest.mark.parametrize(
        "credentials",
        [
            {"partnerUserID": PID, "partnerUserSecret": "wrong"},
            {"partnerUserID": "aa_nobody", "partnerUserSecret": SECRET},
            {"partnerUserID": PID},
            {"partnerUserID": PID, "partnerUserSecret": SECRET, "extra": "x"},
            "aa_ex_example_com:s3cr3t",
        ],
    )
    def test_rejected_in_body_with_http_200(self, credentials: Any) -> None:
        emu = make()
        response = post(emu, {**job(), "credentials": credentials})
        status, body_code, message = code(response)
        assert (status, body_code) == (200, 407)
        assert "Authentication error" in message
        assert SECRET not in response.text

    def test_missing_credentials(self) -> None:
        emu = make()
        body = job()
        del body["credentials"]
        assert code(post(emu, body))[1] == 407

    def test_client_raises_authentication_error(self) -> None:
        with pytest.raises(AuthenticationError):
            client(make(), secret="not-it").get_policy_list()


class TestMalformedRequests:
    """Each malformed request gets its documented (or recorded) 410."""

    def test_missing_type(self) -> None:
        body = job()
        del body["type"]
        assert code(post(make(), body)) == (
            200,
            410,
            "Argument 'type' is missing or malformed",
        )

    def test_unknown_type(self) -> None:
        assert code(post(make(), job("fetch")))[1:] == (
            410,
            "Argument 'type' is missing or malformed",
        )

    def test_missing_input_settings(self) -> None:
        body = job("get")
        del body["inputSettings"]
        assert code(post(make(), body))[1:] == (
            410,
            "Required parameter 'inputSettings' is missing",
        )

    def test_unknown_input_settings_type(self) -> None:
        body = job("get", inputSettings={"type": "policies"})
        assert code(post(make(), body))[1:] == (410, "Argument 'type' is missing or malformed")

    def test_missing_request_job_description(self) -> None:
        with httpx.Client(transport=make().transport()) as http:
            response = http.post(URL, data={"template": "x"})
        assert code(response)[1:] == (410, "Required parameter 'requestJobDescription' is missing")

    def test_invalid_json_is_the_servlets_500_page(self) -> None:
        # org.json's exception escapes the servlet (the 2013 script matched this page).
        response = post(make(), '"just a string"')
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert "HTTP Status 500 - JSONObject: A JSONObject text must begin with" in response.text

    @pytest.mark.parametrize(
        "raw",
        [
            # Expensify's own report status updater example: a trailing comma.
            '{"type":"get","credentials":{"partnerUserID":"%s","partnerUserSecret":"%s",},'
            '"inputSettings":{"type":"policyList",},}',
            # The 2013 script's single-quoted pseudo-JSON.
            "{'type':'get','credentials':{'partnerUserID':'%s','partnerUserSecret':'%s'},"
            "'inputSettings':{'type':'policyList'}}",
            # Unquoted words, ';' and '=' separators (org.json's JSONTokener).
            "{type=get;credentials:{partnerUserID:'%s',partnerUserSecret:'%s'};"
            "inputSettings:{type:policyList}}",
        ],
    )
    def test_lenient_json_as_org_json_reads_it(self, raw: str) -> None:
        response = post(make(), raw % (PID, SECRET))
        assert code(response)[:2] == (200, 200)
        assert response.json()["policyList"][0]["id"] == "P1"

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ('{"type":"get","type":"get"}', 'Duplicate key "type"'),
            ('{"type":"get"', "Expected a ',' or '}'"),
            ("{", "A JSONObject text must end with '}'"),
            ('{"type" "get"}', "Expected a ':' after a key"),
            ('{"type":"get" "x":1}', "Expected a ',' or '}'"),
            ("[1,2]", "A JSONObject text must begin with '{'"),
        ],
    )
    def test_what_org_json_refuses(self, raw: str, message: str) -> None:
        response = post(make(), raw)
        assert response.status_code == 500
        assert message in response.text

    def test_json_body_instead_of_form_has_no_job(self) -> None:
        with httpx.Client(transport=make().transport()) as http:
            response = http.post(URL, json={"requestJobDescription": job()})
        assert code(response)[1] == 410

    def test_body_less_post_with_the_job_in_the_query_string(self) -> None:
        # As a published Go client sends it: every parameter in the query string.
        emu = make()
        rid = _approved_report(emu)
        export = job(
            "file",
            onReceive={"immediateResponse": ["returnRandomFileName"]},
            inputSettings={"type": "combinedReportData", "filters": {"reportIDList": rid}},
            outputSettings={"fileExtension": "json"},
        )
        with httpx.Client(transport=emu.transport()) as http:
            response = http.post(
                URL,
                params={"requestJobDescription": json.dumps(export), "template": EXPORT_TEMPLATE},
            )
            assert response.request.content == b""
            assert response.status_code == 200
            name = response.text
            fetched = http.post(
                URL,
                params={
                    "requestJobDescription": json.dumps(
                        job("download", fileName=name, fileSystem="integrationServer")
                    )
                },
            )
        assert json.loads(fetched.content)["reports"][0]["reportID"] == rid

    def test_postman_form_job_in_query_template_in_body(self) -> None:
        # The help site's Postman guide: job in the query, template urlencoded in the body.
        emu = make()
        rid = _approved_report(emu)
        export = job(
            "file",
            onReceive={"immediateResponse": ["returnRandomFileName"]},
            inputSettings={"type": "combinedReportData", "filters": {"reportIDList": rid}},
            outputSettings={"fileExtension": "json"},
        )
        with httpx.Client(transport=emu.transport()) as http:
            response = http.post(
                URL,
                params={"requestJobDescription": json.dumps(export)},
                data={"template": EXPORT_TEMPLATE},
            )
        assert response.status_code == 200
        assert json.loads(emu.files()[response.text])["reports"][0]["reportID"] == rid

    def test_unknown_key_is_named(self) -> None:
        body = job("get", inputSettings={"type": "policyList", "adminonly": True})
        assert code(post(make(), body))[1:] == (
            410,
            "Unknown parameter 'adminonly' in 'inputSettings'",
        )

    def test_duplicate_parameter_first_value_wins(self) -> None:
        # ServletRequest.getParameter: the first value (query string before body).
        with httpx.Client(transport=make().transport()) as http:
            response = http.post(
                URL,
                content=(
                    "requestJobDescription="
                    + quote(json.dumps(job()), safe="")
                    + "&requestJobDescription=x"
                ).encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert code(response)[:2] == (200, 200)
            response = http.post(
                URL,
                params={"requestJobDescription": "x"},
                data={"requestJobDescription": json.dumps(job())},
            )
        assert response.status_code == 500

    def test_multipart_body_is_accepted(self) -> None:
        with httpx.Client(transport=make().transport()) as http:
            response = http.post(URL, files={"requestJobDescription": (None, json.dumps(job()))})
        assert code(response)[:2] == (200, 200)

    def test_get_method_and_other_paths_are_servlet_errors(self) -> None:
        with httpx.Client(transport=make().transport()) as http:
            assert http.get(URL).status_code == 405
            other = http.post(
                "https://integrations.expensify.com/Integration-Server/getFile",
                data={"requestJobDescription": json.dumps(job())},
            )
        assert other.status_code == 404
        assert "responseCode" not in other.text

    @pytest.mark.parametrize(
        ("kind", "sub"), [("create", "expenseRules"), ("reconciliation", "Unreported")]
    )
    def test_unemulated_jobs_fail_explicitly(self, kind: str, sub: str) -> None:
        body = job(kind, inputSettings={"type": sub})
        _, body_code, message = code(post(make(), body))
        assert body_code == 410
        assert "not supported by the emulator" in message


class TestRateLimits:
    """5 per 10 s AND 20 per 60 s per partnerUserID, on the injected clock."""

    def burst(self, emu: ExpensifyEmulator, clock: Clock, gaps: list[float]) -> list[int]:
        statuses = []
        for gap in gaps:
            clock.advance(gap)
            statuses.append(post(emu, job()).status_code)
        return statuses

    def test_ten_second_window(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=True)
        statuses = self.burst(emu, clock, [0.0] * 6)
        assert statuses == [200] * 5 + [429]
        response = post(emu, job())
        assert code(response) == (
            429,
            429,
            "You have been rate-limited. Please try again later or contact "
            "help@expensify.com for assistance.",
        )
        assert "retry-after" not in response.headers
        clock.advance(10.0)
        assert post(emu, job()).status_code == 200

    def test_sixty_second_window_in_a_thirty_call_burst(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=True)
        # One call every 2.5 s never trips the 10 s window (4 per 10 s) ...
        statuses = self.burst(emu, clock, [2.5] * 30)
        # ... but the 21st call within 60 s does.
        assert statuses[:20] == [200] * 20
        assert statuses[20] == 429
        assert 200 not in statuses[20:24]

    def test_rejected_requests_count(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=True)
        self.burst(emu, clock, [0.0] * 5)
        # Hammering every second keeps the 10 s window full.
        assert self.burst(emu, clock, [1.0] * 12) == [429] * 12

    def test_limits_are_per_partner_user_id(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=True)
        emu.add_account("aa_other", "other-secret", email=OWNER)
        self.burst(emu, clock, [0.0] * 6)
        other = job()
        other["credentials"] = {"partnerUserID": "aa_other", "partnerUserSecret": "other-secret"}
        assert post(emu, other).status_code == 200

    def test_disabled(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=False)
        assert self.burst(emu, clock, [0.0] * 30) == [200] * 30

    def test_client_sees_rate_limit_error(self) -> None:
        clock = Clock()
        emu = make(clock=clock, rate_limits=True)
        self.burst(emu, clock, [0.0] * 5)
        with pytest.raises(RateLimitError):
            client(emu).get_policy_list()


class TestFaults:
    """Injected faults hit the next matching jobs, then the emulator recovers."""

    def test_http_status_fault_with_retry_after(self) -> None:
        emu = make()
        emu.inject(job_type="get", status=429, retry_after=7, times=2)
        first, second, third = (post(emu, job()) for _ in range(3))
        assert first.status_code == second.status_code == 429
        assert first.headers["retry-after"] == "7"
        assert third.status_code == 200
        assert emu.pending_faults == 0

    def test_body_code_fault(self) -> None:
        emu = make()
        emu.inject(response_code=500)
        assert code(post(emu, job()))[:2] == (200, 500)
        assert code(post(emu, job()))[:2] == (200, 200)

    def test_job_type_must_match(self) -> None:
        emu = make()
        emu.inject(job_type="get/policy", response_code=401)
        assert code(post(emu, job()))[1] == 200  # get/policyList does not match
        policy = job(
            "get",
            inputSettings={"type": "policy", "policyIDList": ["P1"], "fields": ["categories"]},
        )
        assert code(post(emu, policy))[1] == 401

    def test_client_retries_server_fault_then_succeeds(self) -> None:
        emu = make()
        emu.inject(job_type="get", response_code=500)
        options = ClientOptions(
            retry=RetryPolicy(attempts=3),
            limits=RateLimiter(windows=((1000, 1.0),)),
            sleep=lambda _: None,
        )
        with ExpensifyClient(
            credentials=Credentials(partner_user_id=PID, partner_user_secret=SECRET),
            transport=emu.transport(),
            options=options,
        ) as api:
            assert [p.policy_id for p in api.get_policy_list()] == ["P1"]
        assert [e.retry_count for e in emu.request_log] == [0, 1]
        assert [e.response_code for e in emu.request_log] == [500, 200]

    def test_client_gives_up_on_persistent_fault(self) -> None:
        emu = make()
        emu.inject(response_code=500, times=5)
        with pytest.raises(ServerError):
            client(emu).get_policy_list()

    def test_drop_response_runs_the_job(self) -> None:
        emu = make()
        emu.inject(job_type="update", drop_response=True)
        update = job(
            "update",
            inputSettings={"type": "policy", "policyID": "P1"},
            categories={"action": "merge", "data": [{"name": "Travel", "glCode": "6200"}]},
        )
        with pytest.raises(httpx.ReadTimeout):
            post(emu, update)
        assert [c["name"] for c in emu.policy("P1")["categories"]] == ["Meals", "Travel"]

    def test_delay_uses_injected_sleep(self) -> None:
        slept: list[float] = []
        emu = make(sleep=slept.append)
        emu.inject(delay=3.5)
        assert code(post(emu, job()))[1] == 200
        assert slept == [3.5]

    def test_clear_faults(self) -> None:
        emu = make()
        emu.inject(response_code=500, times=3)
        emu.clear_faults()
        assert code(post(emu, job()))[1] == 200

    def test_fault_needs_an_effect(self) -> None:
        with pytest.raises(ValueError, match="needs"):
            make().inject(job_type="get")


class TestRequestLog:
    """The log records outcomes but never secrets."""

    def test_log_has_no_secret(self) -> None:
        emu = make()
        post(emu, job())
        post(emu, {**job(), "credentials": {"partnerUserID": PID, "partnerUserSecret": "bad"}})
        log = emu.request_log
        assert [(e.job, e.response_code) for e in log] == [
            ("get/policyList", 200),
            ("get/policyList", 407),
        ]
        assert SECRET not in repr(log)

    def test_reset_clears_state(self) -> None:
        emu = make()
        post(emu, job())
        emu.reset()
        assert emu.request_log == []
        assert code(post(emu, job()))[1] == 407  # the account is gone too


class TestControlPlaneHTTP:
    """The JSON control plane under /_emulator/ seeds and inspects state."""

    def test_seed_and_export_flow_over_control_plane(self) -> None:
        emu = ExpensifyEmulator(rate_limits=False)
        with httpx.Client(transport=emu.transport(), base_url="http://emu") as http:
            assert http.post(
                "/_emulator/accounts",
                json={"partnerUserID": PID, "partnerUserSecret": SECRET, "email": OWNER},
            ).json() == {"ok": True}
            assert (
                http.post(
                    "/_emulator/policies",
                    json={
                        "policyID": "P9",
                        "name": "Nine",
                        "owner": OWNER,
                        "categories": [{"name": "Meals", "enabled": True, "glCode": "6100"}],
                        "tags": [{"name": "Dept", "tags": [{"name": "Sales", "glCode": "200"}]}],
                    },
                ).status_code
                == 200
            )
            created = http.post(
                "/_emulator/reports",
                json={
                    "policyID": "P9",
                    "submitter": "a@acme.test",
                    "name": "Trip",
                    "currency": "USD",
                    "created": "2025-02-01T09:00:00Z",
                    "expenses": [
                        {
                            "amount": 500,
                            "currency": "USD",
                            "created": "2025-02-01",
                            "category": "Meals",
                            "tags": ["Sales"],
                        }
                    ],
                },
            ).json()
            report_id = created["reportID"]
            assert (
                http.post(
                    f"/_emulator/reports/{report_id}/submit", json={"at": "2025-02-02T00:00:00Z"}
                ).json()["state"]
                == "SUBMITTED"
            )
            view = http.get(f"/_emulator/reports/{report_id}").json()
            assert view["transactionList"][0]["ntag1GlCode"] == "200"
            assert (
                http.post(
                    f"/_emulator/reports/{report_id}/reimburse", json={"at": "2025-02-03T00:00:00Z"}
                ).status_code
                == 409
            )
            assert http.get("/_emulator/policies/P9").json()["tags"][0]["name"] == "Dept"
            assert http.get("/_emulator/reports/NOPE").status_code == 404
            assert http.post("/_emulator/faults", json={"responseCode": 500}).json() == {
                "pending": 1
            }
            assert http.request("DELETE", "/_emulator/faults").json() == {"pending": 0}
            assert http.post("/_emulator/reset").json() == {"ok": True}
        assert emu.request_log == []


@pytest.mark.loopback
class TestLoopback:
    """serve() answers over real HTTP on 127.0.0.1, through the real client."""

    def test_client_over_http(self) -> None:
        emu = make()
        with emu.serve() as server:
            assert server.base_url.startswith("http://127.0.0.1:")
            assert server.url == server.base_url + API_PATH
            options = ClientOptions(
                retry=RetryPolicy(attempts=1),
                limits=RateLimiter(windows=((1000, 1.0),)),
                sleep=lambda _: None,
            )
            with ExpensifyClient(
                credentials=Credentials(partner_user_id=PID, partner_user_secret=SECRET),
                base_url=server.url,
                options=options,
            ) as api:
                assert [p.policy_id for p in api.get_policy_list()] == ["P1"]
                result = api.mark_reimbursed(["R0NOPE"])
                assert result.skipped[0].reason == "Report not found"
            with httpx.Client() as http:
                assert http.get(server.base_url + "/_emulator/requests").json()[0]["job"] == (
                    "get/policyList"
                )

    def test_dropped_response_closes_connection(self) -> None:
        emu = make()
        emu.inject(drop_response=True)
        with emu.serve() as server, httpx.Client() as http:
            with pytest.raises(httpx.TransportError):
                http.post(server.url, data={"requestJobDescription": json.dumps(job())})
            ok = http.post(server.url, data={"requestJobDescription": json.dumps(job())})
        assert ok.json()["responseCode"] == 200
