"""Outcome from the body: responseCode mapping, plain-text envelopes, export and download bodies."""

from __future__ import annotations

import httpx
import pytest

from expensify_client import (
    APIStatusError,
    AuthenticationError,
    ExpensifyError,
    FileNotFoundOnServerError,
    FileNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from expensify_client._envelope import check_envelope, download_body, export_file_names, redact

from ._app import SECRET, envelope, text


class TestCheckEnvelope:
    @pytest.mark.parametrize("code", [200, 207])
    def test_success_codes_return_body(self, code):
        """200 and 207 bodies are returned as parsed objects."""
        body = check_envelope(envelope(code, policyList=[]), job="get/policyList")
        assert body == {"responseCode": code, "policyList": []}

    @pytest.mark.parametrize(
        ("code", "message", "cls"),
        [
            (410, "Required parameter 'policyIDList' is missing", ValidationError),
            (404, "Policy not found", NotFoundError),
            (403, "Invalid permissions", PermissionDeniedError),
            (429, "You have been rate-limited. Please try again later.", RateLimitError),
            (500, "Error encountered while trying to write reconcilation report", ServerError),
            (401, "Incorrect partnerUserID/partnerUserSecret", AuthenticationError),
            (407, "Authentication required", AuthenticationError),
            (500, "Not authorized to authenticate as user a@b.test", PermissionDeniedError),
            (500, "Incorrect partnerUserID or partnerUserSecret", AuthenticationError),
            (502, "Bad gateway", ServerError),
            (418, "Teapot", APIStatusError),
        ],
    )
    def test_error_codes_in_http_200(self, code, message, cls):
        """An error code inside an HTTP 200 body raises the mapped class with code and message."""
        with pytest.raises(APIStatusError) as info:
            check_envelope(envelope(code, message), job="get/policy")
        assert type(info.value) is cls
        assert info.value.response_code == code
        assert info.value.message == message
        assert info.value.http_status == 200
        assert info.value.job == "get/policy"
        assert str(code) in str(info.value)
        assert message in str(info.value)

    def test_rate_limit_message_with_other_code(self):
        """The documented rate-limit text is a RateLimitError whatever the code."""
        with pytest.raises(RateLimitError):
            check_envelope(envelope(500, "You have been rate-limited."), job="get/policy")

    def test_http_429_without_body(self):
        """HTTP 429 with no envelope is a RateLimitError carrying Retry-After."""
        response = httpx.Response(429, content=b"", headers={"retry-after": "7"})
        with pytest.raises(RateLimitError) as info:
            check_envelope(response, job="get/policy")
        assert info.value.http_status == 429
        assert info.value.retry_after == 7.0

    def test_http_429_beats_success_code(self):
        """HTTP 429 is a rate limit even when the body claims 200."""
        with pytest.raises(RateLimitError):
            check_envelope(envelope(200, http=429), job="get/policy")

    def test_body_code_wins_over_http_status(self):
        """An HTTP 500 whose body says 200 is a success: the body decides."""
        assert check_envelope(envelope(200, http=500), job="get/policy") == {"responseCode": 200}

    @pytest.mark.parametrize(
        ("status", "page", "cls"),
        [
            (401, "<html>401 Unauthorized</html>", AuthenticationError),
            (403, "HTTP Status 403 - Invalid Credentials", AuthenticationError),
            (500, "HTTP Status 500 - JSONObject text must begin with '{'", ServerError),
            (404, "Not Found", NotFoundError),
        ],
    )
    def test_servlet_error_pages(self, status, page, cls):
        """A non-JSON body with an HTTP error status maps from the HTTP status and text."""
        with pytest.raises(cls) as info:
            check_envelope(text(page, http=status), job="get/policy")
        assert info.value.response_code == status

    def test_application_json_and_text_plain_alike(self):
        """The content type never changes the outcome."""
        as_json = httpx.Response(200, json={"responseCode": 410, "responseMessage": "bad"})
        with pytest.raises(ValidationError):
            check_envelope(as_json, job="x")
        with pytest.raises(ValidationError):
            check_envelope(envelope(410, "bad"), job="x")

    def test_string_response_code(self):
        """A numeric string code is read as its integer."""
        with pytest.raises(ValidationError):
            check_envelope(text('{"responseCode":"410","responseMessage":"bad"}'), job="x")

    def test_non_integer_code_is_response_validation_error(self):
        """A responseCode that is not an integer is a contract violation, not a success."""
        with pytest.raises(ResponseValidationError) as info:
            check_envelope(text('{"responseCode": true}'), job="x")
        assert info.value.field == "responseCode"

    def test_non_json_success_is_none(self):
        """A plain-text 200 body is not an envelope (export file names, downloads)."""
        assert check_envelope(text("export1.csv"), job="file") is None

    def test_secret_echo_is_redacted(self):
        """A body echoing the job keeps neither the credentials object nor the secret."""
        response = envelope(
            410,
            f"bad job: partnerUserSecret={SECRET}",
            credentials={"partnerUserID": "aa", "partnerUserSecret": SECRET},
            echo=f"secret {SECRET}",
        )
        with pytest.raises(APIStatusError) as info:
            check_envelope(response, job="x", secrets=(SECRET,))
        exc = info.value
        for shown in (str(exc), repr(exc), exc.message, repr(exc.body)):
            assert SECRET not in shown
        assert exc.body["credentials"] == "***"


class TestRedact:
    def test_nested_structures(self):
        """Secrets are masked in nested strings, keys and lists; other values are untouched."""
        value = {"a": [f"x{SECRET}y", 1, None], SECRET: {"credentials": {"k": "v"}}}
        assert redact(value, [SECRET]) == {"a": ["x***y", 1, None], "***": {"credentials": "***"}}

    def test_no_secrets_is_identity(self):
        """With no secrets the value is returned as is."""
        value = {"credentials": 1}
        assert redact(value, []) is value


class TestExportFileNames:
    def test_single_name(self):
        """A plain-text file name (with trailing newline) is the export's answer."""
        assert export_file_names(text("export0fd99e06-aaaa-3ceb12163386.csv\n")) == (
            "export0fd99e06-aaaa-3ceb12163386.csv",
        )

    def test_several_pdf_names(self):
        """PDF exports answer several comma-separated names."""
        assert export_file_names(text("acme1.pdf,acme2.pdf")) == ("acme1.pdf", "acme2.pdf")

    def test_error_envelope_raises(self):
        """An export answered with an error envelope raises the mapped error."""
        with pytest.raises(ValidationError):
            export_file_names(envelope(410, "Invalid filters"))

    @pytest.mark.parametrize("body", ["", "<html>oops</html>", '{"filename": "x.csv"}'])
    def test_garbage_is_response_validation_error(self, body):
        """Anything that is not a file name list is refused, not returned as a name."""
        with pytest.raises(ResponseValidationError):
            export_file_names(text(body))


class TestDownloadBody:
    def test_bytes_returned_unparsed(self):
        """A rendered file comes back byte for byte, even when it is JSON."""
        payload = b'[{"reportID":"R1","total":12345}]'
        assert download_body(text(payload)) == payload

    def test_a_large_file_is_not_decoded_to_look_for_an_envelope(self, monkeypatch):
        """A body past an envelope's size is the file: returned without json.loads (a
        whole export decoded here would defeat the streaming reader)."""
        from expensify_client import _envelope

        payload = b'{"reports":[' + b",".join([b'{"reportID":"R1"}'] * 5_000) + b"]}"
        assert len(payload) > 64 * 1024

        def refuse(data: object, *args: object, **kwargs: object) -> object:
            raise AssertionError("the file was decoded")

        monkeypatch.setattr(_envelope.json, "loads", refuse)
        assert download_body(text(payload)) == payload
        with pytest.raises(AssertionError, match="decoded"):  # what the check would cost
            download_body(text(b'{"responseCode":200}'))

    def test_binary_file(self):
        """Binary content is returned as is."""
        payload = bytes(range(256))
        assert download_body(text(payload)) == payload

    @pytest.mark.parametrize(
        "body",
        ["", "  \n", '{"responseMessage":"File not ready"}', '{"responseCode":200}'],
    )
    def test_not_ready(self, body):
        """An empty body or a bare not-ready envelope means the file is not rendered yet."""
        assert download_body(text(body)) is None

    @pytest.mark.parametrize(
        "body", ['{"responseMessage":"File not found"}', '{"responseMessage":"File expired"}']
    )
    def test_file_not_found_is_its_own_error(self, body):
        """The live "File not found" (200, no responseCode) is not "not ready"."""
        with pytest.raises(FileNotFoundOnServerError, match=r"exportX\.json") as info:
            download_body(text(body), file_name="exportX.json")
        assert not isinstance(info.value, FileNotReadyError)
        assert isinstance(info.value, ExpensifyError)
        assert not info.value.retryable

    def test_error_envelope_raises(self):
        """A download answered with an error code raises it."""
        with pytest.raises(ValidationError):
            download_body(envelope(410, "Argument 'fileName' is missing"))

    def test_unknown_message_without_code(self):
        """An envelope without code and with an unrecognised message is a contract error."""
        with pytest.raises(ResponseValidationError):
            download_body(text('{"responseMessage":"Something else"}'))
