"""The exception tree and the mapping of Acumatica error responses onto it."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client._exceptions import (
    ActionTimeoutError,
    AcumaticaError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EndpointVersionError,
    EntityHasErrorsError,
    FieldError,
    FieldNotInVersionError,
    InternalServerError,
    LoginLimitError,
    NotFoundError,
    OptimizationError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    SetupNotEnteredError,
    UnprocessableEntityError,
    ValidationError,
    parse_retry_after,
    status_error,
)

BILL_URL = "https://erp.example.com/AcumaticaERP/entity/Default/24.200.001/Bill"


def _request(method: str = "PUT", url: str = BILL_URL, **kwargs: Any) -> httpx.Request:
    return httpx.Request(method, url, **kwargs)


def _error(status: int, body: Any = None, *, raw: bytes | None = None, **kw: Any) -> APIStatusError:
    request = kw.pop("request", None) or _request()
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    response = httpx.Response(status, content=content, request=request, **kw)
    return status_error(request, response)


HTTP_ERROR = {
    "message": "An error has occurred.",
    "exceptionMessage": "Vendor 'EP9' cannot be found in the system.",
    "exceptionType": "PX.Data.PXException",
    "stackTrace": "   at PX.Api...",
    "innerException": None,
}


class TestStatusMapping:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, BadRequestError),
            (401, AuthenticationError),
            (403, PermissionDeniedError),
            (404, NotFoundError),
            (409, ConflictError),
            (412, PreconditionFailedError),
            (422, UnprocessableEntityError),
            (429, RateLimitError),
            (500, InternalServerError),
            (502, InternalServerError),
            (503, InternalServerError),
            (418, APIStatusError),
        ],
    )
    def test_class_by_status(self, status: int, cls: type[APIStatusError]) -> None:
        """Each status maps to its class; the error carries request, response and status."""
        request = _request()
        response = httpx.Response(status, json=HTTP_ERROR, request=request)
        error = status_error(request, response)
        assert type(error) is cls
        assert error.status_code == status
        assert error.request is request
        assert error.response is response
        assert error.body == HTTP_ERROR
        assert isinstance(error, AcumaticaError)

    def test_message_names_call_and_cause(self) -> None:
        """str() names method, path, status, the exception message and type."""
        error = _error(500, HTTP_ERROR)
        text = str(error)
        assert "PUT /AcumaticaERP/entity/Default/24.200.001/Bill" in text
        assert "(500)" in text
        assert "Vendor 'EP9' cannot be found in the system." in text
        assert "PX.Data.PXException" in text
        assert "stackTrace" not in text

    def test_innermost_cause_is_reported(self) -> None:
        """The deepest innerException message is added as the cause."""
        body = {
            **HTTP_ERROR,
            "exceptionMessage": "Outer",
            "innerException": {
                "message": "x",
                "innerException": {
                    "exceptionMessage": "Deadlock on AP invoice",
                    "innerException": None,
                },
            },
        }
        assert "caused by: Deadlock on AP invoice" in str(_error(500, body))

    def test_query_string_never_in_message(self) -> None:
        """The message shows the path, never the $filter (which may carry IDs)."""
        request = _request("GET", BILL_URL + "?$filter=VendorRef%20eq%20'secret-ish'")
        error = _error(404, None, request=request)
        assert "secret-ish" not in str(error)
        assert "$filter" not in str(error)

    def test_empty_body_uses_reason(self) -> None:
        """An empty body gives the reason phrase and body None."""
        error = _error(404)
        assert error.body is None
        assert "Not Found" in str(error)

    def test_html_body_is_stripped(self) -> None:
        """An HTML error page becomes its visible text (scripts, tags and entities removed)."""
        page = (
            b"<html><head><title>404 - Not Found</title><script>var x = 'boom';</script>"
            b"<style>p{}</style></head><body><h1>Endpoint Default/22.200.001 &amp; co"
            b"</h1></body></html>"
        )
        error = _error(404, raw=page, headers={"Content-Type": "text/html"})
        text = str(error)
        assert "Endpoint Default/22.200.001 & co" in text
        assert "<" not in text.split(": ", 1)[1]
        assert "boom" not in text
        assert error.body == page.decode()

    def test_json_numbers_in_body_are_decimal(self) -> None:
        """The parsed body keeps numbers exact (Decimal)."""
        error = _error(422, raw=b'{"error":"bad","Amount":{"value":1.10}}')
        assert error.body["Amount"]["value"] == Decimal("1.10")

    def test_oauth_error_body(self) -> None:
        """A token-endpoint error reports error_description."""
        body = {"error": "invalid_grant", "error_description": "invalid_username_or_password"}
        error = _error(400, body)
        assert type(error) is BadRequestError
        assert "invalid_username_or_password" in str(error)


class TestValidation:
    ENTITY_ECHO: ClassVar[dict[str, Any]] = {
        "id": "3f1c0b8e-0000-4000-8000-000000000001",
        "error": "Inserting 'Bill' record raised at least one error. Please review the errors.",
        "VendorRef": {"value": "EXB-1", "error": "A bill with this vendor reference exists."},
        "Vendor": {"value": "EP001"},
        "custom": {
            "Document": {
                "UsrKey": {"type": "CustomStringField", "value": "k", "error": "Too long."}
            }
        },
        "Details": [
            {"rowNumber": 1, "Account": {"value": "6100"}},
            {
                "rowNumber": 2,
                "error": "The line has errors.",
                "Account": {"value": "9999", "error": "'Account' cannot be found in the system."},
                "Subaccount": {"value": "X", "error": "Subaccount is inactive."},
            },
        ],
        "ContactInfo": {"Email": {"value": "x", "error": "Invalid e-mail."}},
    }

    @pytest.mark.parametrize("status", [400, 422])
    def test_entity_echo_lists_every_field(self, status: int) -> None:
        """400/422 with field errors is a ValidationError listing every path and message."""
        error = _error(status, self.ENTITY_ECHO)
        assert type(error) is ValidationError
        assert isinstance(error, BadRequestError)
        assert error.status_code == status
        assert set(error.errors) == {
            FieldError("VendorRef", "A bill with this vendor reference exists."),
            FieldError("custom.Document.UsrKey", "Too long."),
            FieldError("Details[1]", "The line has errors."),
            FieldError("Details[1].Account", "'Account' cannot be found in the system."),
            FieldError("Details[1].Subaccount", "Subaccount is inactive."),
            FieldError("ContactInfo.Email", "Invalid e-mail."),
        }
        assert error.entity_error == self.ENTITY_ECHO["error"]
        text = str(error)
        for field_error in error.errors:
            assert field_error.path in text
            assert field_error.message in text
        assert "raised at least one error" in text

    def test_model_state(self) -> None:
        """HttpError.modelState (field -> messages) becomes field errors too."""
        body = {
            "message": "The request is invalid.",
            "modelState": {"Bill.Amount": ["Unknown field.", "Bad type."], "Hold": "Not bool."},
        }
        error = _error(400, body)
        assert type(error) is ValidationError
        assert error.errors == (
            FieldError("Bill.Amount", "Unknown field."),
            FieldError("Bill.Amount", "Bad type."),
            FieldError("Hold", "Not bool."),
        )
        assert "The request is invalid." in str(error)

    def test_422_without_field_errors(self) -> None:
        """422 with only an entity-level error is UnprocessableEntityError carrying it."""
        body = {"id": "x", "error": "The document is on hold.", "Vendor": {"value": "EP001"}}
        error = _error(422, body)
        assert type(error) is UnprocessableEntityError
        assert "The document is on hold." in str(error)

    def test_500_entity_echo_is_server_error(self) -> None:
        """A 5xx stays InternalServerError even when its body is entity-shaped."""
        error = _error(500, self.ENTITY_ECHO)
        assert type(error) is InternalServerError
        assert "raised at least one error" in str(error)

    def test_null_and_empty_errors_are_not_errors(self) -> None:
        """ "error": null or "" on a field is not a field error."""
        body = {"error": "x", "A": {"value": 1, "error": None}, "B": {"value": 2, "error": ""}}
        error = _error(422, body)
        assert type(error) is UnprocessableEntityError

    def test_field_error_str(self) -> None:
        """FieldError prints as 'path: message'."""
        assert str(FieldError("Details[0].Account", "Missing.")) == "Details[0].Account: Missing."


class TestRateLimit:
    def test_retry_after_seconds(self) -> None:
        """Retry-After in seconds is exposed as a float."""
        error = _error(429, headers={"Retry-After": "7"})
        assert isinstance(error, RateLimitError)
        assert error.retry_after == 7.0

    def test_retry_after_absent(self) -> None:
        """No Retry-After header means retry_after is None."""
        error = _error(429, raw=b"The custom error module does not recognize this error.")
        assert isinstance(error, RateLimitError)
        assert error.retry_after is None
        assert error.messages == ("The custom error module does not recognize this error.",)

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("12", 12.0),
            (" 1.5 ", 1.5),
            ("-3", 0.0),
            ("soon", None),
            ("nan", None),
            ("inf", None),
            ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
            ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
            (None, None),
        ],
    )
    def test_parse_retry_after(self, header: str | None, expected: float | None) -> None:
        """Delta-seconds and HTTP dates (against an injected now) are understood."""
        now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
        assert parse_retry_after(header, now=now) == expected


class TestSecrets:
    TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"

    def test_authorization_and_cookie_never_in_message(self) -> None:
        """A server echoing the bearer token or session cookie does not leak it into str()."""
        request = _request(
            headers={
                "Authorization": f"Bearer {self.TOKEN}",
                "Cookie": ".ASPXAUTH=C00KIEVALUE123; ASP.NET_SessionId=sess10n42",
            }
        )
        body = {
            "message": "Denied",
            "exceptionMessage": (
                f"Header was Bearer {self.TOKEN}; cookie .ASPXAUTH=C00KIEVALUE123 and sess10n42"
            ),
        }
        error = _error(403, body, request=request)
        for text in (str(error), repr(error)):
            assert self.TOKEN not in text
            assert "C00KIEVALUE123" not in text
            assert "sess10n42" not in text
        assert "[redacted]" in str(error)

    def test_token_request_secrets_never_in_message(self) -> None:
        """Password, client secret and refresh token of a token request are redacted."""
        form = {
            "grant_type": "password",
            "username": "admin",
            "password": "Hunter2-P@ss",
            "client_id": "88358B02@Tenant",
            "client_secret": "cl1ent-s3cret",
            "refresh_token": "r3fresh-t0ken",
        }
        request = _request("POST", "https://erp.example.com/identity/connect/token", data=form)
        body = {
            "error": "invalid_grant",
            "error_description": (
                "user admin: bad password Hunter2-P@ss for cl1ent-s3cret / r3fresh-t0ken"
            ),
        }
        text = str(_error(400, body, request=request))
        for secret in ("Hunter2-P@ss", "cl1ent-s3cret", "r3fresh-t0ken"):
            assert secret not in text
        assert "admin" in text  # non-secret context is kept

    def test_login_body_password_is_redacted(self) -> None:
        """The JSON login body's password is redacted when the server echoes it."""
        request = _request(
            "POST",
            "https://erp.example.com/entity/auth/login",
            json={"name": "admin", "password": "s3cr3t-pw", "tenant": "Co"},
        )
        text = str(_error(401, {"message": "Invalid credentials: s3cr3t-pw"}, request=request))
        assert "s3cr3t-pw" not in text

    @given(
        secret=st.text(
            alphabet=st.sampled_from(string.ascii_letters + string.digits + "-_.~+/"),
            min_size=8,
            max_size=40,
        )
    )
    def test_any_bearer_token_is_redacted(self, secret: str) -> None:
        """Whatever the token, an echo of it never reaches the message."""
        request = _request(headers={"Authorization": f"Bearer {secret}"})
        body = {"exceptionMessage": f"token {secret} rejected", "message": "x"}
        error = _error(401, body, request=request)
        assert secret not in str(error)

    @pytest.mark.parametrize(
        "leak",
        [
            'access_token": "abcdef123456',
            "password=abcdef123456",
            "Authorization: Bearer abcdef123456",
            "refresh_token=abcdef123456",
        ],
    )
    def test_secret_shapes_are_redacted_without_request_context(self, leak: str) -> None:
        """Token- and password-shaped pairs are redacted even if the request lacks them."""
        assert "abcdef123456" not in str(_error(500, {"exceptionMessage": f"dump: {leak}"}))


class TestOtherErrors:
    def test_endpoint_version_message(self) -> None:
        """EndpointVersionError says what is pinned, what is offered and what to do."""
        error = EndpointVersionError("Default", "22.200.001", ["23.200.001", "24.200.001"])
        assert str(error) == (
            "Acumatica endpoint Default/22.200.001 is not served by this instance; it offers "
            "Default/23.200.001, Default/24.200.001. Pin one of those in the connection settings."
        )
        assert (error.endpoint_name, error.pinned_version, error.offered) == (
            "Default",
            "22.200.001",
            ("23.200.001", "24.200.001"),
        )

    def test_endpoint_version_nothing_offered(self) -> None:
        """With nothing offered the message says so."""
        assert "offers no Default" in str(EndpointVersionError("Default", "24.200.001", []))

    def test_field_not_in_version(self) -> None:
        """FieldNotInVersionError is also a ValueError and names entity, field and version."""
        error = FieldNotInVersionError("BillDetail", "LCType", "23.200.001")
        assert isinstance(error, ValueError)
        assert isinstance(error, AcumaticaError)
        assert "BillDetail.LCType" in str(error)
        assert "23.200.001" in str(error)

    def test_action_timeout(self) -> None:
        """ActionTimeoutError names the action and the number of polls."""
        error = ActionTimeoutError("ReleaseBill", 30)
        assert str(error) == "action ReleaseBill still running after 30 status polls"

    def test_connection_errors(self) -> None:
        """Transport errors carry the request; a timeout is a connection error."""
        request = _request()
        error = APITimeoutError("PUT Bill: timed out", request=request)
        assert isinstance(error, APIConnectionError)
        assert error.request is request

    @pytest.mark.parametrize(
        ("cls", "retryable"),
        [
            (APIConnectionError, True),
            (APITimeoutError, True),
            (RateLimitError, True),
            (InternalServerError, True),
            (BadRequestError, False),
            (ValidationError, False),
            (AuthenticationError, False),
            (NotFoundError, False),
            (PreconditionFailedError, False),
            (EndpointVersionError, False),
            (FieldNotInVersionError, False),
            (ActionTimeoutError, False),
        ],
    )
    def test_recovery_intent(self, cls: type[AcumaticaError], retryable: bool) -> None:
        """Each class states whether repeating the call later may succeed."""
        assert cls.retryable is retryable


def _http_error(kind: str | None, text: str, inner: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": "An error has occurred.", "exceptionMessage": text}
    if kind is not None:
        body["exceptionType"] = kind
    body["stackTrace"] = None
    if inner is not None:
        body["innerException"] = inner
    return body


class TestClassifiedByBody:
    """The body decides the class before the status does (reference §4.2)."""

    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            (500, _http_error("PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
                              "No entity satisfies the condition."), NotFoundError),
            (500, _http_error("PX.Api.ContractBased.OutcomeEntityHasErrorsException",
                              "Error: 'Vendor Ref.': duplicate."), EntityHasErrorsError),
            (500, _http_error(None, "Optimization cannot be performed.The following fields "
                              "cause the error:\r\nDetails.X: View has BQL delegate"),
             OptimizationError),
            (500, _http_error("PX.Data.PXSetupNotEnteredException", "The required "
                              "configuration data is not entered on the GL Preferences form."),
             SetupNotEnteredError),
            (429, _http_error("PX.Data.PXException", "API Login Limit"), LoginLimitError),
            (500, _http_error("PX.Data.PXException", "API Login Limit"), LoginLimitError),
            (500, _http_error("PX.Data.PXException", "Invalid credentials"), AuthenticationError),
            (400, _http_error(None, "Invalid credentials"), AuthenticationError),
            (500, _http_error("PX.Data.PXException", "Operation failed"), InternalServerError),
            (500, _http_error("System.Exception", "outer",
                              _http_error("PX.Api.ContractBased.OutcomeEntityHasErrorsException",
                                          "inner save failure")), EntityHasErrorsError),
        ],
    )  # fmt: skip
    def test_class(self, status: int, body: dict[str, Any], expected: type) -> None:
        """Each §4 body maps to its class; only transient ones are retryable."""
        error = _error(status, body)
        assert type(error) is expected
        assert error.retryable is (expected is InternalServerError)

    def test_messages_follow_the_innerexception_chain(self) -> None:
        """message (generic dropped), exceptionMessage, then each innerException's."""
        body = _http_error(
            "PX.Api.ContractBased.OutcomeEntityHasErrorsException",
            "Outer text",
            _http_error("PX.Data.PXException", "Inner text", _http_error(None, "Deepest")),
        )
        error = _error(500, body)
        assert error.messages == ("Outer text", "Inner text", "Deepest")

    def test_unprocessable_tree(self) -> None:
        """422 field errors are both a ValidationError and an UnprocessableEntityError."""
        assert issubclass(ValidationError, UnprocessableEntityError)
        assert issubclass(EntityHasErrorsError, UnprocessableEntityError)
        assert not issubclass(EntityHasErrorsError, InternalServerError)
        assert not issubclass(LoginLimitError, RateLimitError)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("Optimization cannot be performed.The following fields cause the error:\r\n"
         "Details.DiscountCode: View Transactions has BQL delegate\r\n"
         "Attributes.Value: View Answers has BQL delegate",
         ("Details.DiscountCode", "Attributes.Value")),
        ("Optimization cannot be performed. The following fields cause the error: "
         "Attributes.AttributeID, Attributes.Value",
         ("Attributes.AttributeID", "Attributes.Value")),
        ("Optimization cannot be performed.", ()),
    ],
)  # fmt: skip
def test_optimization_fields(text: str, fields: tuple[str, ...]) -> None:
    """The fields to leave out of $select/$expand are read off the server's list."""
    error = _error(500, {"message": "An error has occurred.", "exceptionMessage": text})
    assert isinstance(error, OptimizationError)
    assert error.fields == fields


_KINDS = {
    "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException": NotFoundError,
    "PX.Api.ContractBased.OutcomeEntityHasErrorsException": EntityHasErrorsError,
    "PX.Data.PXSetupNotEnteredException": SetupNotEnteredError,
}
_plain_text = st.text(alphabet=string.ascii_letters + " .,'", min_size=1, max_size=40).filter(
    lambda t: t.strip() and "api login limit" not in t.lower()
    and "invalid credentials" not in t.lower() and "Optimization" not in t
)  # fmt: skip


@given(
    status=st.sampled_from([400, 404, 422, 429, 500, 502, 503]),
    kind=st.sampled_from(sorted(_KINDS)),
    depth=st.integers(min_value=0, max_value=3),
    texts=st.lists(_plain_text, min_size=4, max_size=4),
)
def test_exception_type_anywhere_in_the_chain_decides(
    status: int, kind: str, depth: int, texts: list[str]
) -> None:
    """Whatever the status and however deep the typed exception is nested, the body's
    exceptionType decides the class, never retryable, and every message is kept in
    outer-to-inner order."""
    body = _http_error(kind, texts[depth])
    for level in range(depth - 1, -1, -1):
        body = _http_error("System.Exception", texts[level], body)
    error = _error(status, body)
    assert type(error) is _KINDS[kind]
    assert not error.retryable
    expected = [t.strip() for t in texts[: depth + 1]]
    assert list(error.messages) == list(dict.fromkeys(expected))
