"""ExpensifyClient over httpx.MockTransport with small scripted apps."""

from __future__ import annotations

import json
import logging
from datetime import date
from urllib.parse import parse_qs

import httpx
import pytest

from expensify_client import (
    DEFAULT_BASE_URL,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Category,
    ClientOptions,
    EmployeeRecord,
    ExpensifyClient,
    ExportFilters,
    ExportRequest,
    FileNotReadyError,
    InvalidRequestError,
    RateLimiter,
    RateLimitError,
    ReportIssue,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
    SkippedEmployee,
    Tag,
    TagLevel,
    ValidationError,
)

from ._app import CREDS, SECRET, App, Clock, envelope, make_client, text

TEMPLATE = "<#list reports as r>${r.reportID}+${r.total?c}</#list> a+b=c & d%20"
REQUEST = ExportRequest(filters=ExportFilters(report_ids=("R00AAA",)))
MARKING = ExportRequest(filters=ExportFilters(report_ids=("R00AAA",)), mark_as_exported="gl")
TODAY = date(2025, 6, 15)


class TestFormEncoding:
    def test_export_form_fields(self):
        """An export is a urlencoded POST with requestJobDescription and a sibling template."""
        app = App(text("export1.json"))
        client, _ = make_client(app)
        assert client.export_reports(REQUEST, TEMPLATE, today=TODAY) == "export1.json"
        (request,) = app.requests
        assert request.method == "POST"
        assert str(request.url) == DEFAULT_BASE_URL
        assert request.url.query == b""
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = app.form()
        assert set(form) == {"requestJobDescription", "template"}
        assert form["template"] == [TEMPLATE]
        job = app.job()
        assert "template" not in job
        assert list(job)[:2] == ["type", "credentials"]
        assert job["credentials"] == {
            "partnerUserID": CREDS.partner_user_id,
            "partnerUserSecret": SECRET,
        }

    def test_plus_survives_encoding(self):
        """A '+' in the template (and in the secret) is percent-encoded, not turned into a space."""
        app = App(text("export1.json"))
        client, _ = make_client(app)
        client.export_reports(REQUEST, TEMPLATE, today=TODAY)
        raw = app.requests[0].content.decode()
        encoded = raw.split("template=")[1].split("&")[0]
        assert encoded.count("%2B") == TEMPLATE.count("+") == 2
        assert parse_qs(raw)["template"] == [TEMPLATE]
        job = parse_qs(raw)["requestJobDescription"][0]
        assert json.loads(job)["credentials"]["partnerUserSecret"] == SECRET

    def test_job_equals_builder_plus_credentials(self):
        """What is sent is exactly the builder's job with credentials inserted."""
        app = App(text("export1.json"))
        client, _ = make_client(app)
        client.export_reports(MARKING, TEMPLATE, today=TODAY)
        from expensify_client import export_job

        expected = {"credentials": CREDS.to_wire(), **export_job(MARKING, today=TODAY)}
        assert app.job() == expected

    def test_getter_has_only_the_job_field(self):
        """A getter sends only requestJobDescription."""
        app = App(envelope(200, policyList=[]))
        client, _ = make_client(app)
        assert client.get_policy_list() == ()
        assert set(app.form()) == {"requestJobDescription"}
        assert app.job()["inputSettings"] == {"type": "policyList"}

    def test_today_comes_from_options(self):
        """Without an explicit today the options' clock drives the one-year rule."""
        app = App(text("export1.json"))
        client, _ = make_client(app)
        client = ExpensifyClient(
            credentials=CREDS,
            transport=httpx.MockTransport(app),
            options=ClientOptions(today=lambda: date(2030, 1, 1)),
        )
        old = ExportRequest(filters=ExportFilters(start_date=date(2028, 1, 1)))
        with pytest.raises(InvalidRequestError, match="endDate"):
            client.export_reports(old, TEMPLATE)
        assert app.requests == []

    def test_missing_default_template(self, monkeypatch):
        """Without a packaged template the caller must pass one; nothing is sent."""
        import importlib

        real = importlib.import_module

        def fake(name, package=None):
            if name == "._template":
                raise ImportError(name)
            return real(name, package)

        monkeypatch.setattr(importlib, "import_module", fake)
        app = App(text("export1.json"))
        client, _ = make_client(app)
        with pytest.raises(InvalidRequestError, match="template"):
            client.export_reports(REQUEST, today=TODAY)
        assert app.requests == []

    def test_empty_template_rejected(self):
        """A blank template is refused before sending."""
        app = App(text("export1.json"))
        client, _ = make_client(app)
        with pytest.raises(InvalidRequestError, match="template"):
            client.export_reports(REQUEST, "  ", today=TODAY)
        assert app.requests == []


class TestRetries:
    @pytest.mark.parametrize(
        "limited",
        [
            httpx.Response(429, content=b"Too Many Requests"),
            envelope(429, "You have been rate-limited. Please try again later."),
            envelope(429, "You have been rate-limited.", http=429),
        ],
        ids=["http-status", "body-code", "both"],
    )
    def test_rate_limit_retried_with_schedule(self, limited):
        """A 429 (HTTP status or body code) is retried with exponential backoff and jitter."""
        app = App(limited, limited, envelope(200, policyList=[]))
        client, clock = make_client(app, jitter=0.25)
        assert client.get_policy_list() == ()
        assert len(app.requests) == 3
        # initial 1 s doubled, plus jitter 1.0 * 0.25 each time.
        assert clock.sleeps == [1.25, 2.25]
        assert [r.headers["x-expensify-client-retry-count"] for r in app.requests] == [
            "0",
            "1",
            "2",
        ]

    def test_rate_limit_reraised_after_attempts(self):
        """When every attempt is rate-limited the caller sees RateLimitError, not RetryError."""
        app = App(envelope(429, "rate-limited"))
        client, clock = make_client(app)
        with pytest.raises(RateLimitError):
            client.get_policy_list()
        assert len(app.requests) == 3
        assert clock.sleeps == [1.0, 2.0]

    def test_retry_after_honoured_up_to_cap(self):
        """A Retry-After header lengthens the wait, capped by max_retry_after."""
        limited = httpx.Response(429, headers={"retry-after": "30"})
        app = App(limited, limited, envelope(200, policyList=[]))
        client, clock = make_client(
            app, retry=RetryPolicy(attempts=3, initial=1, jitter=0, max_retry_after=20)
        )
        client.get_policy_list()
        assert clock.sleeps == [20.0, 20.0]

    def test_rate_limited_write_is_retried(self):
        """Even a marking export is re-sent after a 429: the server did not run it."""
        app = App(envelope(429, "rate-limited"), text("export1.json"))
        client, _ = make_client(app)
        assert client.export_reports(MARKING, TEMPLATE, today=TODAY) == "export1.json"
        assert len(app.requests) == 2

    @pytest.mark.parametrize(
        ("error", "cls"),
        [
            (httpx.ConnectError("refused"), APIConnectionError),
            (httpx.ReadTimeout("slow"), APITimeoutError),
        ],
    )
    def test_transport_error_retried_for_reads(self, error, cls):
        """Getters are retried after a transport error and succeed on a later attempt."""
        app = App(error, envelope(200, policyList=[]))
        client, clock = make_client(app)
        assert client.get_policy_list() == ()
        assert len(app.requests) == 2
        assert clock.sleeps == [1.0]

    @pytest.mark.parametrize(
        "call",
        [
            lambda c: c.export_reports(MARKING, TEMPLATE, today=TODAY),
            lambda c: c.update_policy("P1", categories=[Category(name="Meals")]),
            lambda c: c.mark_reimbursed(["R1"]),
            lambda c: c.update_employees(
                [
                    EmployeeRecord(
                        employee_email="a@x.test",
                        manager_email="b@x.test",
                        employee_id="1",
                        policy_id="P1",
                    )
                ]
            ),
        ],
        ids=["marking-export", "policy-update", "reimburse", "employees"],
    )
    @pytest.mark.parametrize(
        "failure",
        [httpx.ReadTimeout("slow"), envelope(500, "Internal error")],
        ids=["timeout", "500"],
    )
    def test_writes_never_resent_after_failure(self, call, failure):
        """A write is sent once after a transport error or 500 (it may have been applied)."""
        app = App(failure, envelope(200))
        client, clock = make_client(app)
        with pytest.raises((APIConnectionError, ServerError)):
            call(client)
        assert len(app.requests) == 1
        assert clock.sleeps == []

    def test_plain_export_retried_after_timeout(self):
        """An export without onFinish is safe to repeat after a transport error."""
        app = App(httpx.ReadTimeout("slow"), text("export1.json"))
        client, _ = make_client(app)
        assert client.export_reports(REQUEST, TEMPLATE, today=TODAY) == "export1.json"
        assert len(app.requests) == 2

    def test_server_error_retried_for_reads(self):
        """A 500 answer to a getter is retried."""
        app = App(envelope(500, "oops"), envelope(200, policyList=[]))
        client, _ = make_client(app)
        assert client.get_policy_list() == ()
        assert len(app.requests) == 2

    @pytest.mark.parametrize(
        ("reply", "cls"),
        [
            (envelope(410, "Required parameter 'policyIDList' is missing"), ValidationError),
            (envelope(401, "Incorrect partnerUserID/partnerUserSecret"), AuthenticationError),
        ],
    )
    def test_client_errors_not_retried(self, reply, cls):
        """Validation and authentication errors are raised at once."""
        app = App(reply)
        client, _ = make_client(app)
        with pytest.raises(cls):
            client.get_policies(["P1"])
        assert len(app.requests) == 1

    def test_dry_run_employee_update_is_repeatable(self):
        """A dry run changes nothing, so it is retried after a transport error."""
        app = App(
            httpx.ConnectError("refused"),
            envelope(200, **{"dry-run": True, "updatedEmployeesCount": 0}),
        )
        client, _ = make_client(app)
        record = EmployeeRecord(
            employee_email="a@x.test", manager_email="b@x.test", employee_id="1", policy_id="P1"
        )
        assert client.update_employees([record], dry_run=True).dry_run is True
        assert len(app.requests) == 2


class TestDownload:
    def test_not_ready_then_ready(self):
        """Not-ready answers are polled with the injected sleep until the file arrives."""
        app = App(text(""), text('{"responseMessage":"File not found"}'), text(b"a,b\n1,2\n"))
        client, clock = make_client(app)
        assert client.download("export1.csv", max_polls=5, poll_interval=4.0) == b"a,b\n1,2\n"
        assert len(app.requests) == 3
        assert clock.sleeps == [4.0, 4.0]
        job = app.job()
        assert job == {
            "type": "download",
            "credentials": CREDS.to_wire(),
            "fileName": "export1.csv",
            "fileSystem": "integrationServer",
        }
        assert set(app.form()) == {"requestJobDescription"}

    def test_gives_up_after_max_polls(self):
        """After max_polls not-ready answers FileNotReadyError names the file and the count."""
        app = App(text(""))
        client, clock = make_client(app)
        with pytest.raises(FileNotReadyError) as info:
            client.download("export1.csv", max_polls=3, poll_interval=2.0)
        assert info.value.file_name == "export1.csv"
        assert info.value.polls == 3
        assert FileNotReadyError.retryable
        assert len(app.requests) == 3
        assert clock.sleeps == [2.0, 2.0]

    def test_polling_stays_inside_rate_windows(self):
        """Twenty-five polls without pause are spread by the limiter over both windows."""
        app = App(text(""))
        client, clock = make_client(app)
        sent: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(clock.now)
            return text("")

        app.replies = [record]
        with pytest.raises(FileNotReadyError):
            client.download("export1.csv", max_polls=25, poll_interval=0.0)
        assert len(sent) == 25
        assert all(sent[i] - sent[i - 5] >= 10.0 for i in range(5, 25))
        assert all(sent[i] - sent[i - 20] >= 60.0 for i in range(20, 25))

    def test_export_and_download_exports_once(self):
        """export_and_download sends one export and then polls only the download."""
        app = App(text("export1.json"), text(""), text(b"[]"))
        client, _ = make_client(app)
        assert client.export_and_download(MARKING, TEMPLATE, today=TODAY, poll_interval=1) == b"[]"
        kinds = [app.job(i)["type"] for i in range(3)]
        assert kinds == ["file", "download", "download"]

    def test_export_reports_refuses_several_files(self):
        """export_reports wants one file; export_files returns all of a pdf export's names."""
        app = App(text("a1.pdf,a2.pdf"))
        client, _ = make_client(app)
        request = ExportRequest(
            filters=ExportFilters(report_ids=("R1", "R2")), file_extension="pdf"
        )
        with pytest.raises(ResponseValidationError, match="export_files"):
            client.export_reports(request, TEMPLATE, today=TODAY)
        assert client.export_files(request, TEMPLATE, today=TODAY) == ("a1.pdf", "a2.pdf")


class TestPolicies:
    def test_get_policy_list(self):
        """The policy list is parsed into PolicySummary values."""
        app = App(
            envelope(
                200,
                policyList=[
                    {
                        "id": "0123ABCD",
                        "name": "Acme US",
                        "type": "corporate",
                        "role": "admin",
                        "owner": "owner@acme.test",
                        "outputCurrency": "USD",
                        "extra": "ignored",
                    }
                ],
            )
        )
        client, _ = make_client(app)
        (summary,) = client.get_policy_list(admin_only=True)
        assert summary.policy_id == "0123ABCD"
        assert summary.output_currency == "USD"
        assert app.job()["inputSettings"] == {"type": "policyList", "adminOnly": True}

    def test_get_policies_default_fields(self):
        """get_policies asks for categories, tags, reportFields and employees by default."""
        app = App(
            envelope(
                200,
                policyInfo={
                    "P1": {"categories": [{"name": "Meals", "enabled": True, "glCode": "6100"}]}
                },
            )
        )
        client, _ = make_client(app)
        policies = client.get_policies(["P1"])
        assert policies["P1"].categories == (Category(name="Meals", gl_code="6100"),)
        assert app.job()["inputSettings"] == {
            "type": "policy",
            "policyIDList": ["P1"],
            "fields": ["categories", "tags", "reportFields", "employees"],
        }

    def test_update_policy(self):
        """update_policy sends top-level sections and returns on responseCode 200."""
        app = App(envelope(200))
        client, _ = make_client(app)
        client.update_policy(
            "P1",
            categories=[Category(name="Meals")],
            tags=[TagLevel(name="Dept", tags=(Tag(name="Sales"),))],
        )
        job = app.job()
        assert set(job) == {"type", "credentials", "inputSettings", "categories", "tags"}
        assert job["categories"]["action"] == "merge"

    def test_update_policy_not_found(self):
        """A 404 answer to a policy update raises NotFoundError."""
        from expensify_client import NotFoundError

        app = App(envelope(404, "Policy not found"))
        client, _ = make_client(app)
        with pytest.raises(NotFoundError):
            client.update_policy("P1", categories=[])

    def test_json_job_with_text_answer(self):
        """A getter answered with plain text (not an envelope) is a contract error."""
        app = App(text("export1.csv"))
        client, _ = make_client(app)
        with pytest.raises(ResponseValidationError):
            client.get_policy_list()


class TestEmployeesAndReports:
    def test_update_employees_sends_data_field(self):
        """The feed is a JSON array in the separate data form field; the result is parsed."""
        reply = envelope(
            200,
            **{
                "dry-run": True,
                "updatedEmployeesCount": 1,
                "diff": {"diffToAdd": {"P1": ["new@acme.test"]}, "diffToRemove": {}},
                "securityGroupEmployeesMap": {},
                "skippedEmployees": [
                    {"email": "x@acme.test", "reason": "Invalid manager email address 'y@acme'"}
                ],
            },
        )
        app = App(reply)
        client, _ = make_client(app)
        record = EmployeeRecord(
            employee_email="new@acme.test",
            manager_email="boss@acme.test",
            employee_id="E9",
            policy_id="P1",
        )
        result = client.update_employees([record], dry_run=True, skip_notification_email=True)
        form = app.form()
        assert set(form) == {"requestJobDescription", "data"}
        assert json.loads(form["data"][0]) == [record.to_wire()]
        job = app.job()
        assert job["dry-run"] is True
        assert job["shouldSkipNotificationEmail"] is True
        assert "data" not in job
        assert result.dry_run is True
        assert result.updated_count == 1
        assert result.diff_to_add == {"P1": ("new@acme.test",)}
        assert result.skipped == (
            SkippedEmployee("x@acme.test", "Invalid manager email address 'y@acme'"),
        )

    @pytest.mark.parametrize("code", [200, 207])
    def test_mark_reimbursed_partial(self, code):
        """200-with-skips and 207 both return the lists instead of raising."""
        app = App(
            envelope(
                code,
                reportIDs=["R00A"],
                skippedReports=[{"reportID": "R00B", "reason": "Report is in status 'Open'"}],
                failedReports=[{"reportID": "R00C", "reason": "Internal error"}],
            )
        )
        client, _ = make_client(app)
        result = client.mark_reimbursed(["R00A", "R00B", "R00C"])
        assert result.response_code == code
        assert result.reimbursed == ("R00A",)
        assert result.skipped == (ReportIssue("R00B", "Report is in status 'Open'"),)
        assert result.failed == (ReportIssue("R00C", "Internal error"),)
        assert not result.complete
        assert app.job()["inputSettings"]["filters"] == {"reportIDList": "R00A,R00B,R00C"}

    def test_mark_reimbursed_unsupported_status(self):
        """A 410 answer raises ValidationError carrying the server's message."""
        app = App(envelope(410, "Status 'APPROVED' is not supported"))
        client, _ = make_client(app)
        with pytest.raises(ValidationError, match="not supported"):
            client.mark_reimbursed(["R1"])


class TestSecrets:
    def test_reprs_hide_secret(self):
        """Neither the client nor its credentials show the secret in repr or str."""
        client, _ = make_client(App(envelope(200)))
        for shown in (repr(client), str(client), repr(CREDS), str(CREDS), repr(client.options)):
            assert SECRET not in shown
        assert CREDS.partner_user_id in repr(CREDS)

    def test_logs_hide_secret_and_bodies(self, caplog):
        """DEBUG logs name the job, status, code and attempt but never the secret or bodies."""
        app = App(envelope(429, "rate-limited"), envelope(410, f"echo {SECRET}", echo=SECRET))
        client, _ = make_client(app)
        with (
            caplog.at_level(logging.DEBUG, logger="expensify_client"),
            pytest.raises(ValidationError),
        ):
            client.get_policies(["P1"])
        messages = [r.getMessage() for r in caplog.records]
        assert any(
            "job=get/policy" in m and "responseCode=410" in m and "attempt=2" in m for m in messages
        )
        assert any("responseCode=429" in m for m in messages)
        joined = "\n".join(messages)
        assert SECRET not in joined
        assert "echo" not in joined

    def test_exception_hides_echoed_secret(self):
        """An error whose body echoes the whole job keeps no trace of the secret."""

        def echo(request: httpx.Request) -> httpx.Response:
            job = parse_qs(request.content.decode())["requestJobDescription"][0]
            return envelope(410, f"Malformed job: {job}", job=json.loads(job))

        client, _ = make_client(App(echo))
        with pytest.raises(ValidationError) as info:
            client.get_policies(["P1"])
        exc = info.value
        assert "Malformed job" in str(exc)
        for shown in (str(exc), repr(exc), repr(exc.args), repr(exc.body), exc.message):
            assert SECRET not in shown
        assert not hasattr(exc, "request")
        assert not hasattr(exc, "response")

    def test_connection_error_hides_secret(self):
        """A transport error message that quotes the secret is redacted."""
        client, _ = make_client(App(httpx.ConnectError(f"failed sending {SECRET}")))
        with pytest.raises(APIConnectionError) as info:
            client.update_policy("P1", categories=[])
        assert SECRET not in str(info.value)


class TestLifecycle:
    def test_constructor_does_no_io(self):
        """Constructing a client creates no httpx client and sends nothing."""
        app = App(envelope(200))
        client = ExpensifyClient(credentials=CREDS, transport=httpx.MockTransport(app))
        assert client._connection._client is None
        assert app.requests == []

    def test_owned_client_closed_by_context_manager(self):
        """The pool the client created is closed on exit; using it afterwards fails."""
        app = App(envelope(200, policyList=[]))
        with ExpensifyClient(credentials=CREDS, transport=httpx.MockTransport(app)) as client:
            client.get_policy_list()
            inner = client._connection._client
        assert inner is not None
        assert inner.is_closed
        with pytest.raises(RuntimeError, match="closed"):
            client.get_policy_list()

    def test_user_http_client_not_closed(self):
        """A caller-supplied httpx.Client is used and left open."""
        app = App(envelope(200, policyList=[]))
        http = httpx.Client(transport=httpx.MockTransport(app))
        with ExpensifyClient(credentials=CREDS, http_client=http) as client:
            client.get_policy_list()
        assert not http.is_closed
        assert len(app.requests) == 1
        http.close()

    def test_http_client_and_transport_exclusive(self):
        """Passing both an httpx client and a transport is a usage error."""
        with httpx.Client() as http, pytest.raises(ValueError, match="either"):
            ExpensifyClient(
                credentials=CREDS, http_client=http, transport=httpx.MockTransport(App())
            )

    def test_with_options_shares_pool_and_limiter(self):
        """with_options changes options but keeps the pool and the rate limiter."""
        app = App(envelope(200, policyList=[]))
        client, _clock = make_client(app)
        other = client.with_options(timeout=1.0, base_url="https://emulator.test/x")
        assert other.options.timeout == 1.0
        assert other.options.limits is client.options.limits
        assert client.options.timeout == 5.0
        other.get_policy_list()
        client.get_policy_list()
        assert client._connection is other._connection
        assert [str(r.url) for r in app.requests] == ["https://emulator.test/x", DEFAULT_BASE_URL]

    def test_clients_sharing_a_limiter_share_the_budget(self):
        """Two clients with one limiter object stay together inside the windows."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        sent: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(clock.now)
            return envelope(200, policyList=[])

        options = ClientOptions(limits=limiter, sleep=clock.sleep)
        a = ExpensifyClient(
            credentials=CREDS, transport=httpx.MockTransport(App(record)), options=options
        )
        b = ExpensifyClient(
            credentials=CREDS, transport=httpx.MockTransport(App(record)), options=options
        )
        for _ in range(6):
            a.get_policy_list()
            b.get_policy_list()
        assert sent[5] - sent[0] >= 10.0


def test_calls_counts_every_request_including_retries() -> None:
    app = App(envelope(429, "Too many requests"), envelope(200, policyList=[]))
    client, _ = make_client(app)
    assert client.calls == 0
    assert client.get_policy_list() == ()
    assert client.calls == 2
    assert len(app.requests) == 2
