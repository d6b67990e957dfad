"""The Acumatica client against the emulator, end to end (in-process and over loopback).

Every body the client sends and every entity the emulator returns here is also checked
against Acumatica's published OpenAPI schema for the pinned version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from acumatica_client import (
    Account,
    AcumaticaClient,
    APITimeoutError,
    AuthenticationError,
    Bill,
    BillDetail,
    ClientOptions,
    CookieLogin,
    Endpoint,
    EndpointVersionError,
    Field,
    JournalTransaction,
    JournalTransactionDetail,
    Licence,
    OAuth2,
    RateLimitError,
    RetryPolicy,
    UnprocessableEntityError,
    ValidationError,
)
from acumatica_client.emulator import AcumaticaEmulator
from tests.reference import validate_entity

VERSIONS = ("23.200.001", "24.200.001")
BASE = "https://erp.example.test"
CLIENT_ID = "expense-bridge@Company"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def seeded(version: str, clock: Clock | None = None, **kw: object) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version=version, clock=clock, **kw)  # type: ignore[arg-type]
    emu.seed(
        "Account",
        [
            {"AccountCD": "61000", "Description": "Travel", "Type": "Expense", "Active": True},
            {"AccountCD": "62000", "Description": "Meals", "Type": "Expense", "Active": True},
            {"AccountCD": "69000", "Description": "Old", "Type": "Expense", "Active": False},
            {"AccountCD": "21000", "Description": "Emp liab", "Type": "Liability", "Active": True},
        ],
    )
    emu.seed("Subaccount", [{"SubaccountCD": "000000", "Active": True}])
    emu.seed("Vendor", [{"VendorID": "EMP0001", "VendorName": "Ann O'Neil", "Status": "Active"}])
    emu.seed("Project", [{"ProjectID": "ACME01", "Status": "Active", "Description": "Acme"}])
    emu.seed("ProjectTask", [{"ProjectID": "ACME01", "ProjectTaskID": "01", "Status": "Active"}])
    emu.seed_branches([{"BranchID": "HQ", "BranchName": "Head office"}])
    return emu


class Recorder:
    """Wraps the emulator to keep every request body and JSON response for schema checks."""

    def __init__(self, emu: AcumaticaEmulator) -> None:
        self.emu = emu
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.emu(request)
        self.exchanges.append((request, response))
        return response

    def check_schema(self, version: str) -> int:
        checked = 0
        for request, response in self.exchanges:
            parts = request.url.path.split("/")
            if "entity" not in parts or len(parts) < parts.index("entity") + 4:
                continue
            entity = parts[parts.index("entity") + 3]
            if request.method == "PUT" and request.content:
                validate_entity(version, entity, json.loads(request.content))
                checked += 1
            if response.status_code == 200 and response.content and entity != "CompaniesStructure":
                body = json.loads(response.content)
                for row in body if isinstance(body, list) else [body]:
                    validate_entity(version, entity, row)
                    checked += 1
        return checked


def client_for(emu: object, version: str, **options: object) -> AcumaticaClient:
    auth = OAuth2(
        base_url=BASE,
        client_id=CLIENT_ID,
        client_secret="client-secret",
        username="admin",
        password="admin-password",
    )
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", version),
        auth=auth,
        transport=httpx.MockTransport(emu),  # type: ignore[arg-type]
        options=ClientOptions(**{"sleep": lambda s: None, "jitter": lambda: 0.0, **options}),  # type: ignore[arg-type]
    )


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def bill(ref: str = "EXB-R1", *, account: str = "61000") -> Bill:
    return Bill(
        type="Bill",
        vendor="EMP0001",
        vendor_ref=ref,
        date=date(2026, 11, 1),
        description="Trip to Acme",
        hold=False,
        details=(
            BillDetail(
                account=account,
                subaccount="000000",
                branch="HQ",
                qty=Decimal(1),
                unit_cost=Decimal("123.45"),
                transaction_description="Flight",
                project="ACME01",
                project_task="01",
            ),
            BillDetail(account="62000", qty=Decimal(1), unit_cost=Decimal("-3.40")),
        ),
    )


def test_create_find_release_a_bill_and_bodies_match_the_schema(version: str) -> None:
    emu = seeded(version)
    rec = Recorder(emu)
    with client_for(rec, version) as client:
        client.check_endpoint()
        saved = client.put(bill(), expand=("Details",))
        assert saved.reference_nbr == "000001"
        assert saved.amount == Decimal("120.05")
        assert saved.status == "Balanced"
        assert isinstance(saved.details, tuple)
        assert len(saved.details) == 2
        found = client.list(Bill, filter=Field("VendorRef").in_(["EXB-R1", "EXB-R2"]))
        assert [b.reference_nbr for b in found] == ["000001"]
        client.invoke_action(Bill, "ReleaseBill", saved)
        again = client.get(Bill, "Bill", "000001")
        assert again.status == "Open"
    assert rec.check_schema(version) >= 4


def test_validation_error_lists_every_field(version: str) -> None:
    emu = seeded(version)
    bad = Bill(
        vendor="NOPE",
        vendor_ref="EXB-R9",
        details=(
            BillDetail(account="99999", unit_cost=Decimal(1)),
            BillDetail(account="69000", project="GHOST", unit_cost=Decimal(1)),
        ),
    )
    with client_for(emu, version) as client, pytest.raises(ValidationError) as info:
        client.put(bad)
    paths = {e.path for e in info.value.errors}
    assert paths == {"Vendor", "Details[0].Account", "Details[1].Account", "Details[1].Project"}
    assert "cannot be found" in str(info.value)
    assert emu.records("Bill") == []


def test_unbalanced_journal_is_rejected_and_balanced_one_posts(version: str) -> None:
    emu = seeded(version)
    lines = (
        JournalTransactionDetail(account="61000", debit_amount=Decimal("10.00"), reference_nbr="K"),
        JournalTransactionDetail(account="21000", credit_amount=Decimal("9.99"), reference_nbr="K"),
    )
    with client_for(emu, version) as client:
        with pytest.raises(UnprocessableEntityError, match="out of balance"):
            client.put(JournalTransaction(description="[EXB-R1] x", details=lines))
        fixed = (
            lines[0],
            JournalTransactionDetail(account="21000", credit_amount=Decimal("10.00")),
        )
        saved = client.put(JournalTransaction(description="[EXB-R1] x", hold=False, details=fixed))
        assert saved.batch_nbr == "000001"
        hits = client.list(JournalTransaction, filter=Field("Description").startswith("[EXB-R1]"))
        assert len(hits) == 1


def test_version_mismatch_is_actionable_on_both_paths() -> None:
    emu = seeded("23.200.001")
    with client_for(emu, "24.200.001") as client:
        with pytest.raises(EndpointVersionError) as info:
            client.check_endpoint()
        assert info.value.offered == ("23.200.001",)
        assert "24.200.001" in str(info.value)
        assert "23.200.001" in str(info.value)
        with pytest.raises(EndpointVersionError):
            client.list(Account)


def test_pagination_filter_escaping_and_select() -> None:
    emu = seeded("24.200.001")
    emu.seed(
        "Vendor",
        [
            {"VendorID": f"V{i:03d}", "VendorName": f"Vendor {i}", "Status": "Active"}
            for i in range(23)
        ],
    )
    with client_for(emu, "24.200.001") as client:
        from acumatica_client import Vendor

        everyone = list(client.iterate(Vendor, page_size=10))
        assert len(everyone) == 24
        assert len({v.vendor_id for v in everyone}) == 24
        quoted = client.list(Vendor, filter=Field("VendorName").eq("Ann O'Neil"))
        assert [v.vendor_id for v in quoted] == ["EMP0001"]
        injected = client.list(Vendor, filter=Field("VendorName").eq("x' or 1 eq 1 or 'a"))
        assert injected == []
    gets = [p for m, p, s in emu.request_log if m == "GET" and p.endswith("/Vendor")]
    assert len(gets) == 3 + 2  # three pages, then the two filtered queries


def test_token_expiry_refreshes_once_and_replays() -> None:
    clock = Clock()
    emu = seeded("24.200.001", clock=clock, token_lifetime=600)
    client = client_for(emu, "24.200.001")
    client.list(Account)
    assert isinstance(client._auth, OAuth2)
    first = client._auth.token_requests
    clock.now += timedelta(minutes=11)  # the server-side token expired; the client's may not
    client.list(Account)
    assert client._auth.token_requests == first + 1  # exactly one refresh
    statuses = [s for _, p, s in emu.request_log if p.endswith("/Account")]
    assert statuses == [200, 401, 200]  # the 401, then the replay


def test_bad_password_raises_authentication_error() -> None:
    emu = seeded("24.200.001")
    auth = OAuth2(
        base_url=BASE, client_id=CLIENT_ID, client_secret="client-secret",
        username="admin", password="wrong-password-123",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url=BASE, endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=emu.transport(),
    )  # fmt: skip
    with pytest.raises(AuthenticationError) as info:
        client.list(Account)
    assert "wrong-password-123" not in str(info.value)
    assert "wrong-password-123" not in repr(auth)


def test_dropped_create_is_not_retried_and_the_document_exists() -> None:
    emu = seeded("24.200.001")
    emu.inject(method="PUT", path="/Bill$", drop_response=True)
    with client_for(emu, "24.200.001") as client:
        with pytest.raises(APITimeoutError):
            client.put(bill())
        puts = [p for m, p, _ in emu.request_log if m == "PUT"]
        assert len(puts) == 1
        assert len(client.list(Bill, filter=Field("VendorRef").eq("EXB-R1"))) == 1


def test_429_with_retry_after_is_honoured_with_the_exact_schedule() -> None:
    emu = seeded("24.200.001")
    emu.inject(method="GET", path="/Account$", status=429, retry_after=7, times=2)
    slept: list[float] = []
    auth = OAuth2(
        base_url=BASE, client_id=CLIENT_ID, client_secret="client-secret",
        username="admin", password="admin-password",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        auth=auth,
        transport=emu.transport(),
        options=ClientOptions(sleep=slept.append, jitter=lambda: 0.0),
    )
    assert len(client.list(Account)) == 4
    assert slept == [7.0, 7.0]
    emu.inject(method="GET", path="/Account$", status=429, times=9)
    short = client.__class__(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        auth=auth,
        transport=emu.transport(),
        options=ClientOptions(
            sleep=slept.append, jitter=lambda: 0.0, retry=RetryPolicy(attempts=3, initial=1.0)
        ),
    )
    slept.clear()
    with pytest.raises(RateLimitError):
        short.list(Account)
    assert slept == [1.0, 2.0]


def test_the_client_limiter_keeps_under_the_point_where_the_licence_delays() -> None:
    """One fake time for both sides: the client paces at half the licence, so the
    emulator (which delays past half, §2.4) never has to delay or decline it."""
    seconds = [0.0]
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def sleep(wait: float) -> None:
        seconds[0] += wait

    emu = seeded(
        "24.200.001",
        clock=lambda: start + timedelta(seconds=seconds[0]),  # type: ignore[arg-type]
        requests_per_minute=10,
        sleep=sleep,
    )
    client = client_for(emu, "24.200.001", clock=lambda: seconds[0], sleep=sleep,
                        licence=Licence(requests_per_minute=10))  # fmt: skip
    for _ in range(12):
        assert len(client.list(Account)) == 4
    assert seconds[0] >= 60  # the client paced itself over more than a minute
    assert emu.licence_stats == {"delayed": 0, "declined": 0}
    raw = httpx.Client(transport=emu.transport())
    header = {"Authorization": f"Bearer {client._auth.token_store.load().access_token}"}  # type: ignore[union-attr]
    url = f"{BASE}/entity/Default/24.200.001/Account"
    codes = [raw.get(url, headers=header).status_code for _ in range(12)]  # unpaced traffic
    assert codes == [200] * 12  # delayed, not refused
    assert emu.licence_stats["delayed"] > 0
    assert emu.licence_stats["declined"] == 0


def test_cookie_session_logs_out_even_when_the_body_raises() -> None:
    emu = seeded("24.200.001", api_seats=1)
    client = AcumaticaClient(
        base_url=BASE, endpoint=Endpoint("Default", "24.200.001"), transport=emu.transport()
    )
    login = CookieLogin(name="admin", password="admin-password", tenant="Company")
    seen: list[int] = []

    def work() -> None:
        with client.session(login):
            seen.append(len(client.list(Account)))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        work()
    assert seen == [4]
    assert emu.backend.sessions == {}
    with client.session(login):  # the seat was released: a second login works
        client.list(Account)
    assert "admin-password" not in repr(login)


@pytest.fixture
def served() -> Iterator[tuple[AcumaticaEmulator, str]]:
    emu = seeded("24.200.001")
    with emu.serve() as server:
        yield emu, server.base_url


@pytest.mark.loopback
def test_over_real_http(served: tuple[AcumaticaEmulator, str]) -> None:
    emu, base_url = served
    auth = OAuth2(
        base_url=base_url, client_id=CLIENT_ID, client_secret="client-secret",
        username="admin", password="admin-password",
    )  # fmt: skip
    with AcumaticaClient(
        base_url=base_url, endpoint=Endpoint("Default", "24.200.001"), auth=auth
    ) as client:
        client.check_endpoint()
        saved = client.put(bill("EXB-LOOP"))
        assert saved.reference_nbr
        emu.inject(method="PUT", path="/Bill$", drop_response=True)
        with pytest.raises(Exception) as info:
            client.put(bill("EXB-LOOP2"))
        assert "EXB" not in type(info.value).__name__
        refs = sorted(str(b.vendor_ref) for b in client.list(Bill))
        assert refs == ["EXB-LOOP", "EXB-LOOP2"]


def test_modified_since_round_trips_the_date_literal_through_the_emulator() -> None:
    clock = Clock()
    emu = seeded("24.200.001", clock=clock)
    clock.now += timedelta(hours=2)
    emu.seed("Account", [{"AccountCD": "63000", "Type": "Expense", "Active": True}])
    since = clock.now - timedelta(hours=1)
    with client_for(emu, "24.200.001") as client:
        changed = list(client.modified_since(Account, since))
    assert [a.account_cd for a in changed] == ["63000"]


def test_branches_come_from_the_companies_structure_inquiry(version: str) -> None:
    emu = seeded(version)
    with client_for(emu, version) as client:
        branches = client.branches()
    assert [(b.branch_id, b.branch_name) for b in branches] == [("HQ", "Head office")]
    assert emu.records("Bill") == []  # the inquiry's PUT writes nothing


# --------------------------------------------------------------------------- realistic tenant
# The client over the emulator in its realistic (default) mode: the answers of the revised
# reference (issue 8), every body checked against the published schema.


def test_a_missing_record_is_not_found_after_one_request(version: str) -> None:
    from acumatica_client import NotFoundError

    emu = seeded(version)
    rec = Recorder(emu)
    with client_for(rec, version) as client:
        before = len(emu.request_log)
        with pytest.raises(NotFoundError):
            client.get(Bill, "Bill", "000404")
        gets = [e for e in emu.request_log[before:] if e[0] == "GET"]
        assert gets == [("GET", f"/entity/Default/{version}/Bill/Bill/000404", 500)]  # no retry
    rec.check_schema(version)


def test_a_save_time_rejection_is_a_write_failure_after_one_put(version: str) -> None:
    emu = seeded(version, reject_duplicate_vendor_ref=True)
    with client_for(emu, version) as client:
        client.put(bill("EXB-DUP"))
        before = len(emu.request_log)
        with pytest.raises(UnprocessableEntityError) as caught:
            client.put(bill("EXB-DUP"))
        puts = [e for e in emu.request_log[before:] if e[0] == "PUT"]
        assert [status for _, _, status in puts] == [500]  # never retried
        assert "Vendor Ref." in str(caught.value)
    assert len(emu.records("Bill")) == 1


def test_an_archived_bill_is_found_only_with_include_archived(version: str) -> None:
    emu = seeded(version)
    rec = Recorder(emu)
    with client_for(rec, version) as client:
        saved = client.put(bill("EXB-ARCH"))
        emu.archive("Bill", "Bill", str(saved.reference_nbr))
        probe = Field("VendorRef").eq("EXB-ARCH")
        assert client.list(Bill, filter=probe) == []
        found = client.list(Bill, filter=probe, include_archived=True)
        assert [b.reference_nbr for b in found] == [saved.reference_nbr]
    rec.check_schema(version)


def test_a_release_completes_on_its_own_and_the_client_reads_it(version: str) -> None:
    emu = seeded(version, action_polls=3)
    with client_for(emu, version) as client:
        saved = client.put(bill("EXB-REL"))
        client.invoke_action(Bill, "ReleaseBill", saved)
        assert client.get(Bill, "Bill", str(saved.reference_nbr)).status == "Open"


def test_full_renderings_parse_into_models(version: str) -> None:
    """Every field present, never-set ones as ``{}``: the client reads them as unset."""
    emu = seeded(version)
    with client_for(emu, version) as client:
        saved = client.put(bill("EXB-FULL"), expand=("Details",))
        again = client.get(Bill, "Bill", str(saved.reference_nbr), expand=("Details",))
    assert again.due_date is None  # rendered as {} by the emulator
    assert again.vendor_ref == "EXB-FULL"
    assert again.amount == Decimal("120.05")


@pytest.mark.parametrize(("shape", "href"), [("array", "relative"), ("object", "absolute")])
def test_check_endpoint_reads_every_discovery_form(shape: str, href: str) -> None:
    emu = seeded("24.200.001", discovery_shape=shape, discovery_href=href)
    with client_for(emu, "24.200.001") as client:
        client.check_endpoint()  # older builds' bare array, live 26.1's absolute hrefs
