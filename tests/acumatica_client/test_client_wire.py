"""What the client puts on the wire: archive header, date-only values, logout, discovery,
exactly-once PUT bodies and the ``on_body`` hook, bounded OAuth grants.

Every case runs over ``httpx.MockTransport`` with bodies in the shapes of
``../shared/reference/acumatica-api.md`` (§1.3 discovery, §2 auth, §3 wire, §4 errors).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acumatica_client import (
    AcumaticaClient,
    AcumaticaError,
    APIConnectionError,
    APITimeoutError,
    Bill,
    BillDetail,
    ClientOptions,
    CookieLogin,
    Endpoint,
    EndpointVersionError,
    Field,
    InternalServerError,
    JournalTransaction,
    OAuth2,
    RetryPolicy,
    UnprocessableEntityError,
    dumps,
    to_wire,
)
from acumatica_client._converters import _dumps_plain, _encode

BASE = "https://erp.example.test/AcumaticaDB"
SAVED_BILL = {
    "id": "b6410d82-9476-ef11-8c65-ac198e472cfe",
    "rowNumber": 1,
    "note": {"value": ""},
    "Type": {"value": "Bill"},
    "ReferenceNbr": {"value": "000123"},
    "Vendor": {"value": "EMP0001"},
    "VendorRef": {"value": "EXP-R1"},
    "Date": {"value": "2026-11-20T00:00:00+00:00"},
    "DueDate": {},
    "Status": {"value": "On Hold"},
    "_links": {"self": "/AcumaticaDB/entity/Default/24.200.001/Bill/b6410d82"},
}


class Recorder:
    """Answers with ``answer(request)``; records every request as sent."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def _client(app: Recorder, **options: Any) -> AcumaticaClient:
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        transport=httpx.MockTransport(app),
        options=ClientOptions(sleep=lambda s: None, jitter=lambda: 0.0, **options),
    )


def _bill() -> Bill:
    return Bill(
        type="Bill",
        vendor="EMP0001",
        vendor_ref="EXP-R1",
        date=date(2026, 11, 20),
        due_date=date(2026, 12, 20),
        details=(BillDetail(account="62000", qty=Decimal(1), unit_cost=Decimal("42.50")),),
    )


class TestArchivedRecords:
    """``PX-ApiArchive: SHOW`` only when asked (reference §2.3)."""

    def test_list_sends_the_header_only_when_asked(self) -> None:
        app = Recorder(lambda r: httpx.Response(200, json=[SAVED_BILL]))
        client = _client(app)
        by_ref = Field("Vendor").eq("EMP0001") & Field("VendorRef").eq("EXP-R1")
        found = client.list(Bill, filter=by_ref, include_archived=True)
        client.list(Bill, filter=by_ref)
        assert [b.reference_nbr for b in found] == ["000123"]
        assert app.requests[0].headers["PX-ApiArchive"] == "SHOW"
        assert "PX-ApiArchive" not in app.requests[1].headers

    def test_get_and_get_by_id(self) -> None:
        app = Recorder(lambda r: httpx.Response(200, json=SAVED_BILL))
        client = _client(app)
        client.get(Bill, "Bill", "000123", include_archived=True)
        client.get_by_id(Bill, SAVED_BILL["id"], include_archived=True)
        client.get(Bill, "Bill", "000123")
        assert [r.headers.get("PX-ApiArchive") for r in app.requests] == ["SHOW", "SHOW", None]

    def test_every_page_of_iterate_and_modified_since(self) -> None:
        pages = [[SAVED_BILL, SAVED_BILL], [SAVED_BILL], [SAVED_BILL, SAVED_BILL], []]
        app = Recorder(lambda r: httpx.Response(200, json=pages.pop(0)))
        client = _client(app)
        assert len(list(client.iterate(Bill, page_size=2, include_archived=True))) == 3
        since = datetime(2026, 11, 1, tzinfo=UTC)
        assert (
            len(list(client.modified_since(Bill, since, page_size=2, include_archived=True))) == 2
        )
        assert len(app.requests) == 4
        assert all(r.headers["PX-ApiArchive"] == "SHOW" for r in app.requests)

    def test_the_option_is_a_bool(self) -> None:
        client = _client(Recorder(lambda r: httpx.Response(200, json=[])))
        with pytest.raises(TypeError, match="include_archived"):
            client.list(Bill, include_archived="SHOW")  # type: ignore[arg-type]


class TestDateOnlyOnTheWire:
    def test_put_sends_document_dates_without_offset(self) -> None:
        """Bill Date/DueDate and JournalTransaction TransactionDate: ``YYYY-MM-DDT00:00:00``."""
        saved_batch = {"Module": {"value": "GL"}, "BatchNbr": {"value": "000009"}}
        app = Recorder(
            lambda r: httpx.Response(
                200, json=SAVED_BILL if r.url.path.endswith("/Bill") else saved_batch
            )
        )
        client = _client(app)
        client.put(_bill())
        client.put(JournalTransaction(module="GL", transaction_date=date(2026, 11, 20)))
        sent = [json.loads(r.content) for r in app.requests]
        assert sent[0]["Date"] == {"value": "2026-11-20T00:00:00"}
        assert sent[0]["DueDate"] == {"value": "2026-12-20T00:00:00"}
        assert sent[1]["TransactionDate"] == {"value": "2026-11-20T00:00:00"}


class TestLogoutAndDiscovery:
    def test_logout_carries_content_length_zero(self) -> None:
        """IIS answers 411 to a bodiless POST without it (reference §2.3)."""
        app = Recorder(lambda r: httpx.Response(204))
        client = _client(app)
        with client.session(CookieLogin(name="api-user", password="pw", tenant="Co")):
            pass
        login, logout = app.requests
        assert logout.url.path == "/AcumaticaDB/entity/auth/logout"
        assert logout.headers["Content-Length"] == "0"
        assert logout.content == b""
        assert "Content-Type" not in logout.headers
        assert json.loads(login.content)["name"] == "api-user"

    def test_discovery_accepts_the_bare_array(self) -> None:
        """Older builds answer a bare array of endpoint rows (reference §1.3)."""
        rows = [
            {"name": "Default", "version": "23.200.001",
             "href": "/AcumaticaDB/entity/Default/23.200.001/"},
            {"name": "Default", "version": "24.200.001",
             "href": "https://erp.example.test/AcumaticaDB/entity/Default/24.200.001/"},
        ]  # fmt: skip
        client = _client(Recorder(lambda r: httpx.Response(200, json=rows)))
        assert client.served_endpoints() == (("Default", "23.200.001"), ("Default", "24.200.001"))
        client.check_endpoint()

    def test_bare_array_without_the_pinned_version(self) -> None:
        rows = [{"name": "Default", "version": "23.200.001"}]
        client = _client(Recorder(lambda r: httpx.Response(200, json=rows)))
        with pytest.raises(EndpointVersionError, match=r"23\.200\.001"):
            client.check_endpoint()

    def test_object_form_still_accepted(self) -> None:
        body = {
            "version": {"acumaticaBuildVersion": "25.201.0117", "databaseVersion": "25.201.0117"},
            "endpoints": [{"name": "Default", "version": "24.200.001", "href": "/x/"}],
        }
        client = _client(Recorder(lambda r: httpx.Response(200, json=body)))
        assert client.served_endpoints() == (("Default", "24.200.001"),)


class TestBodyBytes:
    def test_on_body_gets_exactly_the_bytes_sent(self) -> None:
        """The bridge hashes what was sent without encoding the document again."""
        app = Recorder(lambda r: httpx.Response(200, json=SAVED_BILL))
        seen: list[bytes] = []
        saved = _client(app).put(_bill(), on_body=seen.append)
        assert saved.reference_nbr == "000123"
        assert seen == [app.requests[0].content]
        assert (
            hashlib.sha256(seen[0]).hexdigest()
            == hashlib.sha256(dumps(to_wire(_bill(), version="24.200.001"))).hexdigest()
        )

    def test_on_body_is_called_before_a_failure(self) -> None:
        """A rejected PUT still reports its body (for the audit of the attempt)."""
        app = Recorder(lambda r: httpx.Response(422, json={"error": "Document is out of balance."}))
        seen: list[bytes] = []
        with pytest.raises(UnprocessableEntityError):
            _client(app).put(_bill(), on_body=seen.append)
        assert seen == [app.requests[0].content]

    def test_429_resends_the_same_bytes(self) -> None:
        answers = [httpx.Response(429, text="busy"), httpx.Response(200, json=SAVED_BILL)]
        app = Recorder(lambda r: answers.pop(0))
        seen: list[bytes] = []
        _client(app).put(_bill(), on_body=seen.append)
        assert len(seen) == 1
        assert [r.content for r in app.requests] == [seen[0], seen[0]]

    @settings(max_examples=60, deadline=None)
    @given(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.text()
            | st.decimals(allow_nan=False, allow_infinity=False),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        )
    )
    def test_fast_encoder_matches_the_reference_encoder(self, body: Any) -> None:
        """The C-encoder path gives byte-for-byte the reference encoder's output."""
        reference: list[str] = []
        _encode(body, reference)
        expected = "".join(reference).encode("utf-8")
        assert dumps(body) == expected
        assert _dumps_plain(body) == expected

    def test_data_that_looks_like_the_marker_is_still_exact(self) -> None:
        """A string beginning with NUL cannot be confused with a number placeholder."""
        body = {"a": "\x00" + "0" * 16, "b": Decimal("1.50"), "c": ["\x00", Decimal("-0")]}
        reference: list[str] = []
        _encode(body, reference)
        assert dumps(body) == "".join(reference).encode("utf-8")


def _raise(exc: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc("dropped", request=request)  # type: ignore[call-arg]

    return answer


FAILURES = {
    "timeout": _raise(httpx.ReadTimeout),
    "reset": _raise(httpx.RemoteProtocolError),
    "502": lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"),
    "503": lambda r: httpx.Response(503),
    "500": lambda r: httpx.Response(500, json={"message": "An error has occurred."}),
}


class TestHeadersAreBuiltOncePerCall:
    """The fixed headers are shared between calls; nothing a call adds may leak."""

    def test_retry_count_and_extra_headers_stay_with_their_call(self) -> None:
        answers = [
            httpx.Response(429, text="busy"),
            httpx.Response(200, json=SAVED_BILL),
            httpx.Response(200, json=[SAVED_BILL]),
            httpx.Response(200, json=SAVED_BILL),
        ]
        app = Recorder(lambda r: answers.pop(0))
        client = _client(app)
        client.put(_bill())
        client.list(Bill, include_archived=True)
        client.get(Bill, "Bill", "000123")
        retry = [r.headers.get("x-acumatica-client-retry-count") for r in app.requests]
        assert retry == [None, "1", None, None]
        assert [r.headers.get("PX-ApiArchive") for r in app.requests] == [None, None, "SHOW", None]
        assert [r.headers.get("Content-Type") for r in app.requests] == [
            "application/json", "application/json", None, None,
        ]  # fmt: skip
        assert all(r.headers["Accept"] == "application/json" for r in app.requests)

    def test_an_extra_header_replaces_a_fixed_one(self) -> None:
        """Whatever its case, an extra header replaces the fixed one (one value sent)."""
        app = Recorder(lambda r: httpx.Response(204))
        client = _client(app)
        client._request(  # the path attach_file-like calls take
            "PUT", client._url("Bill"), content=b"%PDF", repeatable=True,
            extra_headers={"content-type": "application/pdf"},
        )  # fmt: skip
        assert app.requests[0].headers.get_list("Content-Type") == ["application/pdf"]

    def test_each_clone_sends_its_own_user_agent(self) -> None:
        app = Recorder(lambda r: httpx.Response(200, json=SAVED_BILL))
        client = _client(app)
        other = client.with_options(user_agent="bridge-worker/2")
        for c in (client, other, client):
            c.get(Bill, "Bill", "000123")
        assert [r.headers["User-Agent"] for r in app.requests] == [
            "acumatica-client (expense-bridge)", "bridge-worker/2",
            "acumatica-client (expense-bridge)",
        ]  # fmt: skip


class TestCreateIsNeverResent:
    @settings(max_examples=40, deadline=None)
    @given(
        failure=st.sampled_from(sorted(FAILURES)),
        attempts=st.integers(min_value=1, max_value=6),
    )
    def test_put_without_keys_is_sent_once(self, failure: str, attempts: int) -> None:
        """Whatever the transient failure and the retry policy, a create goes out once."""
        app = Recorder(FAILURES[failure])
        client = _client(app, retry=RetryPolicy(attempts=attempts))
        with pytest.raises((APIConnectionError, InternalServerError)) as caught:
            client.put(_bill())
        assert len(app.requests) == 1
        assert app.requests[0].method == "PUT"
        if failure == "timeout":
            assert isinstance(caught.value, APITimeoutError)


class TestOAuthGrantsAreBounded:
    def _oauth(self, **kwargs: Any) -> OAuth2:
        return OAuth2(base_url=BASE, client_id="C@Co", client_secret="cs", username="u",
                      password="pw", **kwargs)  # fmt: skip

    def test_grant_carries_the_client_timeout_and_is_retried_on_timeout(self) -> None:
        """A token request that times out is retried by the client's policy, bounded."""
        seen: list[tuple[str, Any]] = []
        grants = iter([_raise(httpx.ReadTimeout), None])

        def app(request: httpx.Request) -> httpx.Response:
            seen.append((request.url.path.rsplit("/", 1)[-1], request.extensions.get("timeout")))
            if request.url.path.endswith("/token"):
                step = next(grants)
                if step is not None:
                    return step(request)
                return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
            return httpx.Response(200, json=[])

        slept: list[float] = []
        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=self._oauth(),
            transport=httpx.MockTransport(app),
            options=ClientOptions(
                timeout=12.0, sleep=slept.append, jitter=lambda: 0.0,
                retry=RetryPolicy(attempts=3, initial=0.5),
            ),
        )  # fmt: skip
        assert client.list(Bill) == []
        bound = httpx.Timeout(12.0).as_dict()
        assert seen == [("token", bound), ("token", bound), ("Bill", bound)]
        assert slept == [0.5]

    def test_grant_that_never_answers_gives_up_after_the_policy(self) -> None:
        """Every grant times out: APITimeoutError after the policy's attempts, no hang."""
        tries: list[httpx.Request] = []

        def app(request: httpx.Request) -> httpx.Response:
            tries.append(request)
            raise httpx.ConnectTimeout("no answer", request=request)

        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=self._oauth(),
            transport=httpx.MockTransport(app),
            options=ClientOptions(sleep=lambda s: None, retry=RetryPolicy(attempts=4)),
        )
        with pytest.raises(APITimeoutError):
            client.list(Bill)
        assert len(tries) == 4  # the grant's own retries; no retries of retries
        assert all(r.url.path.endswith("/identity/connect/token") for r in tries)

    def test_plain_httpx_flow_bounds_grants_too(self) -> None:
        """Used outside the client, a grant request carries OAuth2(timeout=…)."""
        seen: list[Any] = []

        def app(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/token"):
                seen.append(request.extensions.get("timeout"))
                return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
            return httpx.Response(200, json=[])

        with httpx.Client(transport=httpx.MockTransport(app), timeout=None) as raw:  # noqa: S113
            raw.get(f"{BASE}/entity/Default/24.200.001/Bill", auth=self._oauth(timeout=9.0))
        assert seen == [httpx.Timeout(9.0).as_dict()]

    def test_timeout_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="timeout"):
            self._oauth(timeout=0)


def test_non_json_discovery_is_an_error() -> None:
    client = _client(Recorder(lambda r: httpx.Response(200, text="<html></html>")))
    with pytest.raises(AcumaticaError, match="discovery"):
        client.served_endpoints()
