"""``AcumaticaClient`` operations against small scripted apps (``httpx.MockTransport``).

Entity bodies the client sends are also validated against Acumatica's published schema
of the pinned version (``tests.reference.validate_entity``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from acumatica_client import (
    Account,
    ActionTimeoutError,
    AcumaticaClient,
    AcumaticaError,
    Bill,
    BillDetail,
    ClientOptions,
    Employee,
    Endpoint,
    EndpointVersionError,
    Field,
    FieldNotInVersionError,
    JournalTransaction,
    JournalTransactionDetail,
    NotFoundError,
    OAuth2,
    ProjectTask,
    ValidationError,
    Vendor,
    key_values,
)
from tests.reference import validate_entity

BASE = "https://erp.example.test/AcumaticaDB"
VERSIONS = ("23.200.001", "24.200.001")
Route = Callable[[httpx.Request], httpx.Response]


class App:
    """Routes ``(method, path suffix)`` to handlers; records every request."""

    def __init__(self, routes: dict[tuple[str, str], Route | list[httpx.Response]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.decode().split("?")[0]  # still percent-encoded
        for (method, suffix), handler in self.routes.items():
            if request.method == method and path.endswith(suffix):
                if isinstance(handler, list):
                    return handler.pop(0)
                return handler(request)
        return httpx.Response(404, text="<html><body>Not Found</body></html>")

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path.removeprefix('/AcumaticaDB')}" for r in self.requests]


def make_client(
    app: Route, version: str = "24.200.001", slept: list[float] | None = None, **options: Any
) -> AcumaticaClient:
    sink = slept if slept is not None else []
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", version),
        transport=httpx.MockTransport(app),
        options=ClientOptions(sleep=sink.append, jitter=lambda: 0.0, **options),
    )


def discovery(*versions: str, name: str = "Default") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "version": {"acumaticaBuildVersion": "24.212.0034", "databaseVersion": "24.212.0034"},
            "endpoints": [
                {"name": name, "version": v, "href": f"/entity/{name}/{v}/"} for v in versions
            ]
            + [{"name": "MANUFACTURING", "version": "25.100.001", "href": "/x/"}],
        },
    )


def json_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def bill(ref: str = "EXB-1", **changes: Any) -> Bill:
    fields: dict[str, Any] = {
        "type": "Bill",
        "vendor": "EMP0001",
        "vendor_ref": ref,
        "date": date(2026, 11, 1),
        "description": "Trip to Acme",
        "hold": False,
        "branch_id": "HQ",
        "details": (
            BillDetail(
                account="61000",
                subaccount="000000",
                branch="HQ",
                qty=Decimal(1),
                unit_cost=Decimal("123.45"),
                amount=Decimal("123.45"),
                transaction_description="Flight",
                project="ACME01",
                project_task="01",
            ),
            BillDetail(account="62000", amount=Decimal("0.10"), description=None),
        ),
    }
    fields.update(changes)
    return Bill(**fields)


def saved_bill(request: httpx.Request) -> httpx.Response:
    """Echo the PUT body as the saved record, numbered and with server fields."""
    body = json_of(request)
    body.update(
        {
            "id": "8f9e0c1a-0000-4000-8000-000000000001",
            "rowNumber": 1,
            "ReferenceNbr": {"value": "000123"},
            "Status": {"value": "Balanced"},
            "Amount": {"value": 123.55},
            "LastModifiedDateTime": {"value": "2026-11-02T09:00:00+00:00"},
        }
    )
    for i, line in enumerate(body.get("Details", [])):
        line.update({"id": f"8f9e0c1a-0000-4000-8000-00000000010{i}", "rowNumber": i + 1})
    return httpx.Response(200, json=body)


class TestConstruction:
    def test_constructor_does_no_io(self) -> None:
        """Building a client (even with OAuth) sends nothing."""
        app = App({})
        auth = OAuth2(
            base_url=BASE,
            client_id="id@Co",
            client_secret="s3cret-VALUE",
            username="u",
            password="pw-VALUE",
        )
        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=auth,
            transport=httpx.MockTransport(app),
        )
        assert app.requests == []
        assert client.calls == 0
        assert repr(client) == (
            "AcumaticaClient(base_url='https://erp.example.test/AcumaticaDB', "
            "endpoint='Default/24.200.001')"
        )
        assert "VALUE" not in repr(client) + repr(auth)

    def test_bad_arguments(self) -> None:
        """A bad base URL, a non-Endpoint pin or two connections are refused up front."""
        with pytest.raises(ValueError, match="http"):
            AcumaticaClient(base_url="erp.example.test", endpoint=Endpoint("Default", "24.200.001"))
        with pytest.raises(TypeError, match="Endpoint"):
            AcumaticaClient(base_url=BASE, endpoint="Default/24.200.001")  # type: ignore[arg-type]
        with (
            httpx.Client() as http,
            pytest.raises(ValueError, match="not both"),
        ):
            AcumaticaClient(
                base_url=BASE,
                endpoint=Endpoint("Default", "24.200.001"),
                http_client=http,
                transport=httpx.MockTransport(App({})),
            )

    @pytest.mark.parametrize(
        "changes",
        [{"timeout": 0}, {"poll_interval": -1}, {"max_action_polls": 0}, {"page_size": 0}],
    )
    def test_options_are_validated(self, changes: dict[str, float]) -> None:
        """Nonsensical option values fail when the options are built."""
        with pytest.raises(ValueError, match=next(iter(changes))):
            ClientOptions(**changes)  # type: ignore[arg-type]

    def test_context_manager_closes_only_what_it_owns(self) -> None:
        """A passed-in http_client stays open; the client's own pool is closed."""
        app = App({("GET", "/Account"): lambda r: httpx.Response(200, json=[])})
        with httpx.Client(transport=httpx.MockTransport(app)) as http:
            with AcumaticaClient(
                base_url=BASE, endpoint=Endpoint("Default", "24.200.001"), http_client=http
            ) as client:
                client.list(Account)
            assert not http.is_closed
        owned = make_client(app)
        with owned:
            owned.list(Account)
        with pytest.raises(RuntimeError, match="closed"):
            owned.list(Account)

    def test_with_options_shares_pool_and_counter(self) -> None:
        """A derived client changes options but counts calls on the same budget."""
        app = App({("GET", "/Account"): lambda r: httpx.Response(200, json=[])})
        client = make_client(app)
        quick = client.with_options(timeout=5.0)
        quick.list(Account)
        client.list(Account)
        assert quick.options.timeout == 5.0
        assert client.options.timeout == 60.0
        assert client.calls == quick.calls == 2


class TestEndpointVersion:
    def test_check_endpoint_accepts_a_served_version(self) -> None:
        """The pinned version is in the discovery list: no error."""
        app = App({("GET", "/entity"): lambda r: discovery("23.200.001", "24.200.001")})
        make_client(app).check_endpoint()
        assert app.paths() == ["GET /entity"]

    def test_check_endpoint_names_pinned_and_offered(self) -> None:
        """Not served: EndpointVersionError naming the pin and what is offered (same name)."""
        app = App({("GET", "/entity"): lambda r: discovery("23.200.001", "25.200.001")})
        with pytest.raises(EndpointVersionError) as info:
            make_client(app, "24.200.001").check_endpoint()
        error = info.value
        assert error.endpoint_name == "Default"
        assert error.pinned_version == "24.200.001"
        assert error.offered == ("23.200.001", "25.200.001")
        assert "24.200.001" in str(error)
        assert "25.200.001" in str(error)

    @pytest.mark.parametrize(
        "body",
        [[], {"version": {}}, {"endpoints": "Default"}, {"endpoints": [{"name": "Default"}]}],
    )
    def test_malformed_discovery_is_an_error(self, body: Any) -> None:
        """A discovery answer without name/version pairs is not silently 'nothing served'."""
        app = App({("GET", "/entity"): lambda r: httpx.Response(200, json=body)})
        with pytest.raises(AcumaticaError, match="discovery") as info:
            make_client(app).check_endpoint()
        assert not isinstance(info.value, EndpointVersionError)

    def test_404_on_an_entity_url_asks_discovery_once(self) -> None:
        """Unknown version: the 404 page leads to one discovery call and the version error."""
        app = App({("GET", "/entity"): lambda r: discovery("23.200.001")})
        client = make_client(app, "24.200.001")
        with pytest.raises(EndpointVersionError) as info:
            client.list(Account)
        assert info.value.offered == ("23.200.001",)
        assert app.paths() == ["GET /entity/Default/24.200.001/Account", "GET /entity"]

    def test_404_for_a_missing_record_is_not_found(self) -> None:
        """Served version: the 404 is a missing record; discovery is not asked again later."""
        app = App(
            {
                ("GET", "/Account/99999"): lambda r: httpx.Response(
                    404, json={"message": "No entity satisfies the condition."}
                ),
                ("GET", "/entity"): lambda r: discovery("24.200.001"),
            }
        )
        client = make_client(app)
        with pytest.raises(NotFoundError, match="No entity satisfies"):
            client.get(Account, "99999")
        with pytest.raises(NotFoundError):
            client.get(Account, "99999")
        assert app.paths() == [
            "GET /entity/Default/24.200.001/Account/99999",
            "GET /entity",
            "GET /entity/Default/24.200.001/Account/99999",
        ]

    def test_404_when_discovery_itself_fails_is_not_found(self) -> None:
        """If discovery cannot tell, the original NotFoundError is raised."""
        app = App({("GET", "/entity"): lambda r: httpx.Response(403)})
        with pytest.raises(NotFoundError):
            make_client(app).get(Account, "1")

    def test_the_client_never_switches_version(self) -> None:
        """Every entity URL carries the pinned version, whatever the server offers."""
        app = App(
            {
                ("GET", "/entity"): lambda r: discovery("23.200.001", "24.200.001", "25.200.001"),
                ("GET", "/Account"): lambda r: httpx.Response(200, json=[]),
            }
        )
        client = make_client(app, "23.200.001")
        client.check_endpoint()
        client.list(Account)
        assert app.paths()[-1] == "GET /entity/Default/23.200.001/Account"


class TestReads:
    def test_get_by_keys_with_expand_and_select(self) -> None:
        """Keys in order as path segments; $expand/$select as checked lists."""
        app = App(
            {
                ("GET", "/Bill/Bill/000%2F123"): lambda r: httpx.Response(
                    200,
                    json={
                        "id": "8f9e0c1a-0000-4000-8000-000000000001",
                        "Type": {"value": "Bill"},
                        "ReferenceNbr": {"value": "000/123"},
                        "Amount": {"value": 10.5},
                        "Details": [{"Amount": {"value": 10.5}}],
                        "_links": {"self": "/x"},
                    },
                )
            }
        )
        found = make_client(app).get(
            Bill, "Bill", "000/123", expand=("Details",), select=("Amount", "Details/Amount")
        )
        assert isinstance(found, Bill)
        assert found.reference_nbr == "000/123"
        assert found.amount == Decimal("10.5")
        assert isinstance(found.details, tuple)
        assert found.details[0].amount == Decimal("10.5")
        sent = app.requests[0]
        assert sent.url.raw_path.decode().startswith(
            "/AcumaticaDB/entity/Default/24.200.001/Bill/Bill/000%2F123?"
        )
        assert dict(sent.url.params) == {"$expand": "Details", "$select": "Amount,Details/Amount"}
        assert sent.headers["Accept"] == "application/json"
        assert key_values(found) == ("Bill", "000/123")

    def test_get_by_id_needs_a_guid(self) -> None:
        """An id is a GUID segment; a key value passed as id is refused before sending."""
        guid = str(uuid.UUID(int=7))
        app = App({("GET", f"/Account/{guid}"): lambda r: httpx.Response(200, json={"id": guid})})
        client = make_client(app)
        assert client.get_by_id(Account, guid.upper()).id == guid
        with pytest.raises(ValueError, match="GUID"):
            client.get_by_id(Account, "61000")
        with pytest.raises(ValueError, match="key values"):
            client.get(Account)
        assert len(app.requests) == 1

    def test_list_query_parameters(self) -> None:
        """Filter, select, expand, custom, top and skip become the OData parameters."""
        app = App({("GET", "/Vendor"): lambda r: httpx.Response(200, json=[])})
        make_client(app).list(
            Vendor,
            filter=Field("Status").eq("Active") & Field("VendorName").startswith("O'N"),
            select=("VendorID", "MainContact/Email"),
            expand=("MainContact",),
            custom=("Document.AttrCOLOR", "Document.AttrCOLOR"),
            top=10,
            skip=20,
        )
        assert dict(app.requests[0].url.params) == {
            "$filter": "Status eq 'Active' and startswith(VendorName,'O''N')",
            "$select": "VendorID,MainContact/Email",
            "$expand": "MainContact",
            "$custom": "Document.AttrCOLOR",
            "$top": "10",
            "$skip": "20",
        }

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"top": -1},
            {"skip": True},
            {"select": ("Bad Name",)},
            {"expand": ("Details;drop",)},
            {"custom": ("NoDot",)},
            {"filter": "  "},
        ],
    )
    def test_bad_query_arguments_fail_before_sending(self, kwargs: dict[str, Any]) -> None:
        """Malformed OData arguments never reach the server."""
        app = App({})
        with pytest.raises(ValueError):
            make_client(app).list(Vendor, **kwargs)
        assert app.requests == []

    def test_list_rejects_a_non_array_answer(self) -> None:
        """A list answer that is not an array of objects is an error, not an empty list."""
        app = App({("GET", "/Account"): lambda r: httpx.Response(200, json={"value": []})})
        with pytest.raises(AcumaticaError, match="array"):
            make_client(app).list(Account)

    def test_detail_type_cannot_be_listed(self) -> None:
        """Only top-level entities have URLs."""
        with pytest.raises(TypeError, match="top-level"):
            make_client(App({})).list(BillDetail)

    def test_iterate_across_three_pages(self) -> None:
        """$top/$skip pages until a short page: 100 + 100 + 37 records, three requests."""
        rows = [{"AccountCD": {"value": f"{60000 + i}"}} for i in range(237)]

        def page(request: httpx.Request) -> httpx.Response:
            top = int(request.url.params["$top"])
            skip = int(request.url.params["$skip"])
            return httpx.Response(200, json=rows[skip : skip + top])

        app = App({("GET", "/Account"): page})
        client = make_client(app)
        found = list(client.iterate(Account, filter=Field("Active").eq(True), page_size=100))
        assert [a.account_cd for a in found] == [f"{60000 + i}" for i in range(237)]
        assert [(r.url.params["$top"], r.url.params["$skip"]) for r in app.requests] == [
            ("100", "0"),
            ("100", "100"),
            ("100", "200"),
        ]
        assert all(r.url.params["$filter"] == "Active eq true" for r in app.requests)
        assert client.calls == 3

    def test_iterate_full_last_page_needs_one_empty_page(self) -> None:
        """Exactly two full pages: a third (empty) request confirms the end."""
        rows = [{"AccountCD": {"value": str(i)}} for i in range(4)]
        app = App(
            {
                ("GET", "/Account"): lambda r: httpx.Response(
                    200,
                    json=rows[int(r.url.params["$skip"]) :][: int(r.url.params["$top"])],
                )
            }
        )
        assert len(list(make_client(app, page_size=2).iterate(Account))) == 4
        assert [r.url.params["$skip"] for r in app.requests] == ["0", "2", "4"]

    def test_iterate_is_lazy(self) -> None:
        """Pages are fetched as they are consumed."""
        app = App(
            {
                ("GET", "/Account"): lambda r: httpx.Response(
                    200, json=[{"AccountCD": {"value": "1"}}, {"AccountCD": {"value": "2"}}]
                )
            }
        )
        pages = make_client(app).iterate(Account, page_size=2)
        assert app.requests == []
        next(pages)
        next(pages)
        assert len(app.requests) == 1
        next(pages)
        assert len(app.requests) == 2

    def test_modified_since(self) -> None:
        """A LastModifiedDateTime gt filter with the zone kept, combined with any filter."""
        app = App({("GET", "/Employee"): lambda r: httpx.Response(200, json=[])})
        since = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=2)))
        client = make_client(app)
        list(client.modified_since(Employee, since, filter=Field("Status").eq("Active")))
        sent = app.requests[0].url.params
        assert sent["$filter"] == (
            "LastModifiedDateTime gt datetimeoffset'2026-11-02T09:30:00.000+02:00'"
            " and Status eq 'Active'"
        )
        raw = app.requests[0].url.query.decode()
        assert "09%3A30%3A00.000%2B02%3A00" in raw  # encoded exactly once on the wire
        assert "%25" not in raw
        assert sent["$top"] == "100"
        with pytest.raises(ValueError, match="tz-aware"):
            list(client.modified_since(Employee, datetime(2026, 11, 2)))
        assert len(app.requests) == 1


class TestPut:
    @pytest.mark.parametrize("version", VERSIONS)
    def test_put_sends_a_schema_valid_body_and_returns_the_saved_entity(self, version: str) -> None:
        """Wrapped values, UNSET omitted, None as null; the answer is read back typed."""
        app = App({("PUT", "/Bill"): saved_bill})
        saved = make_client(app, version).put(bill(), expand=("Details",))
        sent = app.requests[0]
        assert sent.url.path == f"/AcumaticaDB/entity/Default/{version}/Bill"
        assert dict(sent.url.params) == {"$expand": "Details"}
        assert sent.headers["Content-Type"] == "application/json"
        body = json_of(sent)
        validate_entity(version, "Bill", body)
        assert body["VendorRef"] == {"value": "EXB-1"}
        assert body["Details"][0]["UnitCost"] == {"value": 123.45}
        assert body["Details"][1]["Description"] == {"value": None}
        assert "Terms" not in body
        assert b"123.45" in sent.content  # exact decimal literal, never a float repr
        assert saved.reference_nbr == "000123"
        assert saved.amount == Decimal("123.55")
        assert saved.last_modified_date_time == datetime(2026, 11, 2, 9, tzinfo=UTC)
        assert isinstance(saved.details, tuple)
        assert [d.row_number for d in saved.details] == [1, 2]

    @pytest.mark.parametrize("version", VERSIONS)
    def test_put_journal_transaction_body_is_schema_valid(self, version: str) -> None:
        """A GL batch body is valid for both pinned versions."""

        def saved(request: httpx.Request) -> httpx.Response:
            body = json_of(request)
            body["BatchNbr"] = {"value": "GL000001"}
            return httpx.Response(200, json=body)

        app = App({("PUT", "/JournalTransaction"): saved})
        batch = JournalTransaction(
            module="GL",
            transaction_date=date(2026, 11, 1),
            description="[EXB-1] Trip",
            hold=False,
            details=(
                JournalTransactionDetail(
                    account="61000", subaccount="000000", branch_id="HQ", debit_amount=Decimal("5")
                ),
                JournalTransactionDetail(
                    account="21000", subaccount="000000", branch_id="HQ", credit_amount=Decimal("5")
                ),
            ),
        )
        result = make_client(app, version).put(batch)
        validate_entity(version, "JournalTransaction", json_of(app.requests[0]))
        assert result.batch_nbr == "GL000001"

    def test_field_missing_from_the_pinned_version_fails_before_any_request(self) -> None:
        """LCType exists on bill lines from 24.200.001 only: refused for 23.200.001."""
        app = App({("PUT", "/Bill"): saved_bill})
        with_lc = bill(details=(BillDetail(account="61000", amount=Decimal(1), lc_type="X"),))
        with pytest.raises(FieldNotInVersionError) as info:
            make_client(app, "23.200.001").put(with_lc)
        assert info.value.version == "23.200.001"
        assert app.requests == []
        make_client(app, "24.200.001").put(with_lc)
        validate_entity("24.200.001", "Bill", json_of(app.requests[0]))

    def test_validation_error_lists_every_field(self) -> None:
        """A 422 echoing the entity with errors: header, linked and detail fields all listed."""

        def reject(request: httpx.Request) -> httpx.Response:
            body = json_of(request)
            body["error"] = "Inserting 'Bill' record raised at least one error."
            body["Vendor"]["error"] = "'Vendor' cannot be found in the system."
            body["Details"][0]["Account"]["error"] = "Account '61000' is inactive."
            body["Details"][1]["error"] = "The line is invalid."
            body["Details"][1]["Amount"]["error"] = "Amount must be greater than 0."
            return httpx.Response(422, json=body)

        app = App({("PUT", "/Bill"): reject})
        with pytest.raises(ValidationError) as info:
            make_client(app).put(bill())
        error = info.value
        assert error.status_code == 422
        assert [(e.path, e.message) for e in error.errors] == [
            ("Vendor", "'Vendor' cannot be found in the system."),
            ("Details[0].Account", "Account '61000' is inactive."),
            ("Details[1]", "The line is invalid."),
            ("Details[1].Amount", "Amount must be greater than 0."),
        ]
        assert error.entity_error == "Inserting 'Bill' record raised at least one error."
        for part in ("Vendor", "Details[0].Account", "Details[1].Amount"):
            assert part in str(error)
        assert len(app.requests) == 1  # a validation failure is never retried

    def test_put_of_a_detail_type_is_refused(self) -> None:
        """A detail line has no URL of its own."""
        with pytest.raises(TypeError, match="top-level"):
            make_client(App({})).put(BillDetail(account="1"))


class TestDelete:
    def test_delete_by_keys_and_by_id(self) -> None:
        """DELETE on the key path or the id path; 204 is success."""
        guid = str(uuid.UUID(int=5))
        app = App({("DELETE", ""): lambda r: httpx.Response(204)})
        client = make_client(app)
        client.delete(ProjectTask, "ACME01", "01")
        client.delete_by_id(Bill, guid)
        assert app.paths() == [
            "DELETE /entity/Default/24.200.001/ProjectTask/ACME01/01",
            f"DELETE /entity/Default/24.200.001/Bill/{guid}",
        ]
        with pytest.raises(ValueError, match="GUID"):
            client.delete_by_id(Bill, "000123")
        with pytest.raises(ValueError, match="key"):
            client.delete(Bill)


class TestActions:
    def test_204_means_done(self) -> None:
        """The action body carries the keys only; 204 needs no polling."""
        app = App({("POST", "/Bill/ReleaseBill"): lambda r: httpx.Response(204)})
        slept: list[float] = []
        make_client(app, slept=slept).invoke_action(
            Bill, "ReleaseBill", bill(reference_nbr="000123")
        )
        assert json_of(app.requests[0]) == {
            "entity": {"Type": {"value": "Bill"}, "ReferenceNbr": {"value": "000123"}}
        }
        assert slept == []

    def test_202_is_polled_until_204(self) -> None:
        """202 + Location: GET the (site-absolute) Location every poll_interval until 204."""
        location = "/AcumaticaDB/entity/Default/24.200.001/Bill/ReleaseBill/status/abc-123"
        app = App(
            {
                ("POST", "/Bill/ReleaseBill"): lambda r: httpx.Response(
                    202, headers={"Location": location}
                ),
                ("GET", "/status/abc-123"): [
                    httpx.Response(202),
                    httpx.Response(202),
                    httpx.Response(204),
                ],
            }
        )
        slept: list[float] = []
        client = make_client(app, slept=slept, poll_interval=2.5)
        client.invoke_action(Bill, "ReleaseBill", Bill(type="Bill", reference_nbr="000123"))
        assert app.paths() == [
            "POST /entity/Default/24.200.001/Bill/ReleaseBill",
            *["GET /entity/Default/24.200.001/Bill/ReleaseBill/status/abc-123"] * 3,
        ]
        assert str(app.requests[1].url) == f"https://erp.example.test{location}"
        assert slept == [2.5, 2.5, 2.5]
        assert client.calls == 4

    def test_action_that_never_finishes_times_out(self) -> None:
        """After max_action_polls polls still 202: ActionTimeoutError."""
        app = App(
            {
                ("POST", "/ReleaseJournalTransaction"): lambda r: httpx.Response(
                    202, headers={"Location": "/AcumaticaDB/entity/x/status/1"}
                ),
                ("GET", "/status/1"): lambda r: httpx.Response(202),
            }
        )
        slept: list[float] = []
        with pytest.raises(ActionTimeoutError) as info:
            make_client(app, slept=slept, max_action_polls=4).invoke_action(
                JournalTransaction,
                "ReleaseJournalTransaction",
                JournalTransaction(module="GL", batch_nbr="GL000001"),
            )
        assert info.value.polls == 4
        assert len(app.requests) == 5
        assert slept == [1.0] * 4

    def test_poll_failure_surfaces(self) -> None:
        """A failed action shows up while polling as the mapped status error."""
        app = App(
            {
                ("POST", "/ReleaseBill"): lambda r: httpx.Response(
                    202, headers={"Location": "/AcumaticaDB/entity/x/status/1"}
                ),
                ("GET", "/status/1"): [
                    httpx.Response(202),
                    httpx.Response(422, json={"error": "The document is on hold."}),
                ],
            }
        )
        with pytest.raises(AcumaticaError, match="on hold"):
            make_client(app).invoke_action(
                Bill, "ReleaseBill", Bill(type="Bill", reference_nbr="1")
            )

    @pytest.mark.parametrize("headers", [{}, {"Location": "https://evil.example/status/1"}])
    def test_202_without_a_usable_location(self, headers: dict[str, str]) -> None:
        """Nothing (safe) to poll: an error telling to look the record up."""
        app = App({("POST", "/ReleaseBill"): lambda r: httpx.Response(202, headers=headers)})
        with pytest.raises(AcumaticaError):
            make_client(app).invoke_action(
                Bill, "ReleaseBill", Bill(type="Bill", reference_nbr="1")
            )
        assert len(app.requests) == 1

    def test_parameters_are_wrapped(self) -> None:
        """Action parameters travel as {"value": …}; dates as ISO text."""
        app = App({("POST", "/Bill/ReverseBill"): lambda r: httpx.Response(204)})
        make_client(app).invoke_action(
            Bill,
            "ReverseBill",
            Bill(id=str(uuid.UUID(int=3))),
            parameters={"Date": date(2026, 11, 30), "Amount": Decimal("1.50")},
        )
        assert json_of(app.requests[0]) == {
            "entity": {"id": str(uuid.UUID(int=3))},
            "parameters": {"Date": {"value": "2026-11-30T00:00:00"}, "Amount": {"value": 1.5}},
        }

    @pytest.mark.parametrize("version", VERSIONS)
    def test_unknown_action_fails_before_sending(self, version: str) -> None:
        """Actions are checked against the pinned version's schema."""
        app = App({})
        client = make_client(app, version)
        with pytest.raises(ValueError, match="ReleaseBill"):
            client.invoke_action(Bill, "Release", Bill(type="Bill", reference_nbr="1"))
        with pytest.raises(ValueError, match="no action"):
            client.invoke_action(Account, "ReleaseBill", Account(account_cd="1"))
        with pytest.raises(ValueError, match="id or key"):
            client.invoke_action(Bill, "ReleaseBill", Bill(description="no keys"))
        with pytest.raises(TypeError, match="Bill entity"):
            client.invoke_action(Bill, "ReleaseBill", Account(account_cd="1"))
        assert app.requests == []


class TestAccountingAndLogging:
    def test_logs_method_path_and_status_only(self, caplog: pytest.LogCaptureFixture) -> None:
        """No query string, no body in the log records."""
        app = App({("PUT", "/Bill"): saved_bill})
        with caplog.at_level(logging.DEBUG, logger="acumatica_client"):
            make_client(app).put(bill("SECRET-REF"), expand=("Details",))
        messages = [r.getMessage() for r in caplog.records]
        assert any(
            m.startswith("acumatica PUT /AcumaticaDB/entity/Default/24.200.001/Bill -> 200")
            for m in messages
        )
        assert all("SECRET-REF" not in m and "$expand" not in m for m in messages)
