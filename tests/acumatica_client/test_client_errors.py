"""Errors classified by what Acumatica's body says (reference §4), end to end over the wire.

Bodies are the real shapes of ``../shared/reference/acumatica-api.md`` §4: the HttpError
object (with ``innerException``), the 422 entity echo, and plain text/HTML. Each case
is served by an ``httpx.MockTransport`` and goes through the client's whole send path
(limiter, retry policy, error mapping), so "never retried" is observed as one request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from acumatica_client import (
    AcumaticaClient,
    AuthenticationError,
    Bill,
    BillDetail,
    ClientOptions,
    CookieLogin,
    Endpoint,
    EntityHasErrorsError,
    InternalServerError,
    LoginLimitError,
    NotFoundError,
    OAuth2,
    OptimizationError,
    RateLimitError,
    RetryPolicy,
    SetupNotEnteredError,
    UnprocessableEntityError,
    ValidationError,
)
from acumatica_client._exceptions import status_error

BASE = "https://erp.example.test/AcumaticaDB"

NOT_FOUND = {
    "message": "An error has occurred.",
    "exceptionMessage": "No entity satisfies the condition.",
    "exceptionType": "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
    "stackTrace": None,
}
OUTCOME = {
    "message": "An error has occurred.",
    "exceptionMessage": (
        "Error: 'Vendor Ref.': The document with the same vendor reference number "
        "already exists for this vendor."
    ),
    "exceptionType": "PX.Api.ContractBased.OutcomeEntityHasErrorsException",
    "stackTrace": "   at PX.Api.ContractBased.EntityService.Put(...)",
    "innerException": {
        "message": "An error has occurred.",
        "exceptionMessage": "Inserting 'AP Transactions' record raised at least one error.",
        "exceptionType": "PX.Data.PXException",
        "stackTrace": None,
    },
}
ENTITY_ECHO = {
    "id": "b6410d82-9476-ef11-8c65-ac198e472cfe",
    "rowNumber": 1,
    "error": (
        "Inserting  'AP Transactions' record raised at least one error. Please review the errors."
    ),
    "note": {"value": ""},
    "ReferenceNbr": {"value": "<NEW>"},
    "Vendor": {"value": "EP9", "error": "Vendor 'EP9' cannot be found in the system."},
    "Details": [
        {
            "id": "b8410d82-9476-ef11-8c65-ac198e472cfe",
            "rowNumber": 1,
            "note": {"value": ""},
            "InventoryID": {},
            "Project": {"value": "X1", "error": "Project 'X1' cannot be found in the system."},
        }
    ],
}
OPTIMIZATION = {
    "message": "An error has occurred.",
    "exceptionMessage": (
        "Optimization cannot be performed.The following fields cause the error:\r\n"
        "Details.DiscountCode: View Transactions has BQL delegate\r\n"
        "Applications.AmountPaid: View Adjustments has BQL delegate"
    ),
    "stackTrace": None,
}
SETUP = {
    "message": "An error has occurred.",
    "exceptionMessage": (
        "The required configuration data is not entered on the Accounts Payable Preferences form."
    ),
    "exceptionType": "PX.Data.PXSetupNotEnteredException",
    "stackTrace": None,
}
LOGIN_LIMIT = {
    "message": "An error has occurred.",
    "exceptionMessage": "API Login Limit",
    "exceptionType": "PX.Data.PXException",
}
INVALID_CREDENTIALS = {
    "message": "An error has occurred.",
    "exceptionMessage": "Invalid credentials. Please try again.",
    "exceptionType": "PX.Data.PXException",
}


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())


class Recorder:
    """Answers every request with the next of ``answers`` (the last one repeats)."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


def _client(app: Recorder, slept: list[float] | None = None, **options: Any) -> AcumaticaClient:
    sink = slept if slept is not None else []
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        transport=httpx.MockTransport(app),
        options=ClientOptions(sleep=sink.append, jitter=lambda: 0.0, **options),
    )


def _bill() -> Bill:
    return Bill(
        type="Bill",
        vendor="EP9",
        vendor_ref="EXP-R1",
        details=(BillDetail(account="62000", qty=Decimal(1), unit_cost=Decimal("42.50")),),
    )


class TestMissingRecord:
    def test_500_no_entity_is_not_found_and_not_retried(self) -> None:
        """GET by keys of a missing bill: 500 NoEntitySatisfies → NotFoundError, one GET."""
        app = Recorder(_json(500, NOT_FOUND))
        with _client(app) as client, pytest.raises(NotFoundError) as caught:
            client.get(Bill, "Bill", "000999")
        assert len(app.requests) == 1
        assert caught.value.status_code == 500
        assert caught.value.messages == ("No entity satisfies the condition.",)
        assert not caught.value.retryable

    def test_404_stays_not_found(self) -> None:
        """A 404 with an HttpError body is NotFoundError too (after the endpoint was confirmed)."""
        app = Recorder(_json(404, {"message": "Entity not found"}))
        client = _client(app)
        client._endpoint_confirmed = True
        with pytest.raises(NotFoundError):
            client.get(Bill, "Bill", "000999")
        assert len(app.requests) == 1

    def test_other_500_is_still_retried_for_reads(self) -> None:
        """A 500 with another exceptionType stays transient: a GET is retried."""
        other = {"message": "An error has occurred.", "exceptionMessage": "Operation failed",
                 "exceptionType": "PX.Data.PXInvalidOperationException"}  # fmt: skip
        app = Recorder(_json(500, other), _json(200, {"ReferenceNbr": {"value": "000001"}}))
        with _client(app, retry=RetryPolicy(attempts=3)) as client:
            bill = client.get(Bill, "Bill", "000001")
        assert bill.reference_nbr == "000001"
        assert len(app.requests) == 2


class TestSaveTimeRejection:
    def test_500_outcome_on_put_is_unprocessable_with_messages(self) -> None:
        """500 OutcomeEntityHasErrors on a PUT → EntityHasErrorsError (UnprocessableEntity)."""
        app = Recorder(_json(500, OUTCOME))
        with _client(app) as client, pytest.raises(UnprocessableEntityError) as caught:
            client.put(_bill())
        error = caught.value
        assert isinstance(error, EntityHasErrorsError)
        assert not isinstance(error, InternalServerError)
        assert not error.retryable
        assert error.messages == (
            OUTCOME["exceptionMessage"],
            "Inserting 'AP Transactions' record raised at least one error.",
        )
        assert "vendor reference number" in str(error)
        assert len(app.requests) == 1

    def test_500_outcome_is_never_retried_even_for_a_repeatable_call(self) -> None:
        """Even the CompaniesStructure inquiry (retried like a read) is sent once."""
        app = Recorder(_json(500, OUTCOME))
        client = _client(app, retry=RetryPolicy(attempts=5))
        with pytest.raises(EntityHasErrorsError):
            client.branches()
        assert len(app.requests) == 1

    def test_422_entity_echo_is_unprocessable_with_every_message_in_order(self) -> None:
        """422 echo: top-level error, then field errors, then detail-line errors."""
        app = Recorder(_json(422, ENTITY_ECHO))
        with _client(app) as client, pytest.raises(UnprocessableEntityError) as caught:
            client.put(_bill())
        error = caught.value
        assert isinstance(error, ValidationError)
        assert error.messages == (
            ENTITY_ECHO["error"],
            "Vendor: Vendor 'EP9' cannot be found in the system.",
            "Details[0].Project: Project 'X1' cannot be found in the system.",
        )
        assert [f.path for f in error.errors] == ["Vendor", "Details[0].Project"]
        assert len(app.requests) == 1

    def test_422_without_field_errors_still_carries_the_summary(self) -> None:
        """A 422 whose echo has only the top-level error → UnprocessableEntityError."""
        body = {
            "id": "b6410d82-9476-ef11-8c65-ac198e472cfe",
            "error": "Document is out of balance.",
        }
        app = Recorder(_json(422, body))
        with _client(app) as client, pytest.raises(UnprocessableEntityError) as caught:
            client.put(_bill())
        assert caught.value.messages == ("Document is out of balance.",)


class TestOptimizationAndSetup:
    def test_optimization_failure_names_the_fields(self) -> None:
        """500 "Optimization cannot be performed" (no exceptionType) → OptimizationError, once."""
        app = Recorder(_json(500, OPTIMIZATION))
        client = _client(app, retry=RetryPolicy(attempts=5))
        with pytest.raises(OptimizationError) as caught:
            client.list(Bill, expand=["Details", "Applications"])
        assert caught.value.fields == ("Details.DiscountCode", "Applications.AmountPaid")
        assert "Details.DiscountCode" in str(caught.value)
        assert "$select/$expand" in str(caught.value)
        assert len(app.requests) == 1

    def test_setup_not_entered_names_the_form(self) -> None:
        """500 PXSetupNotEnteredException → SetupNotEnteredError naming the form, once."""
        app = Recorder(_json(500, SETUP))
        client = _client(app, retry=RetryPolicy(attempts=5))
        with pytest.raises(SetupNotEnteredError) as caught:
            client.list(Bill)
        assert caught.value.form == "Accounts Payable Preferences"
        assert "Accounts Payable Preferences form" in str(caught.value)
        assert not caught.value.retryable
        assert len(app.requests) == 1


class TestSignIn:
    @pytest.mark.parametrize("status", [429, 500, 400])
    def test_cookie_login_limit_is_one_request(self, status: int) -> None:
        """'API Login Limit' on sign-in → LoginLimitError after one request, whatever the status."""
        app = Recorder(_json(status, LOGIN_LIMIT))
        client = _client(app, retry=RetryPolicy(attempts=5))
        login = CookieLogin(name="api-user", password="s3cret-pw", tenant="Co")
        with pytest.raises(LoginLimitError) as caught, client.session(login):
            pass  # pragma: no cover - never reached
        assert len(app.requests) == 1
        message = str(caught.value)
        assert "signing" in message
        assert "10-minute" in message
        assert "s3cret-pw" not in message
        assert not isinstance(caught.value, RateLimitError)

    def test_login_limit_in_plain_text(self) -> None:
        """A plain-text body naming the limit is recognised too."""
        request = httpx.Request("POST", f"{BASE}/entity/auth/login")
        response = httpx.Response(429, text="API Login Limit", request=request)
        assert isinstance(status_error(request, response), LoginLimitError)

    @pytest.mark.parametrize("status", [401, 500, 400])
    def test_invalid_credentials_any_status(self, status: int) -> None:
        """'Invalid credentials' → AuthenticationError whatever the status; not retried."""
        app = Recorder(_json(status, INVALID_CREDENTIALS))
        client = _client(app, retry=RetryPolicy(attempts=5))
        login = CookieLogin(name="api-user", password="s3cret-pw")
        with pytest.raises(AuthenticationError), client.session(login):
            pass  # pragma: no cover - never reached
        assert len(app.requests) == 1

    def test_token_login_limit_is_one_request(self) -> None:
        """A token request refused with 'API Login Limit' raises LoginLimitError after one grant."""
        grants: list[httpx.Request] = []

        def app(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/identity/connect/token"):
                grants.append(request)
                return _json(
                    400, {"error": "invalid_grant", "error_description": "API Login Limit"}
                )
            return _json(200, [])  # pragma: no cover - no token, no data call

        auth = OAuth2(base_url=BASE, client_id="C@Co", client_secret="cs-secret",
                      username="u", password="pw-secret")  # fmt: skip
        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=auth,
            transport=httpx.MockTransport(app),
            options=ClientOptions(sleep=lambda s: None, jitter=lambda: 0.0),
        )
        with pytest.raises(LoginLimitError) as caught:
            client.list(Bill)
        assert len(grants) == 1
        assert "pw-secret" not in str(caught.value)
        assert "cs-secret" not in str(caught.value)


class TestThrottling:
    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(429, text="The custom error module does not recognize this error."),
            httpx.Response(
                429,
                html="<html><head><title>429</title></head><body><h1>Too Many Requests</h1>"
                "</body></html>",
            ),
        ],
    )
    def test_429_without_retry_after_backs_off_and_retries(self, answer: httpx.Response) -> None:
        """Plain-text / HTML 429 without Retry-After: exponential backoff, then success."""
        slept: list[float] = []
        ok = _json(200, [])
        app = Recorder(answer, answer, ok)
        with _client(app, slept, retry=RetryPolicy(attempts=5, initial=0.5, jitter=0)) as client:
            assert client.list(Bill) == []
        assert len(app.requests) == 3
        assert slept == [0.5, 1.0]
