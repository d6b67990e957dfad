"""Typed usage examples of acumatica_client and expense_bridge: checked by mypy, never run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal

import httpx

from acumatica_client import (
    UNSET,
    AcumaticaClient,
    AcumaticaError,
    Bill,
    BillDetail,
    ClientOptions,
    CookieLogin,
    Endpoint,
    EndpointVersionError,
    EntityHasErrorsError,
    Field,
    Licence,
    LoginLimitError,
    NotFoundError,
    OAuth2,
    OptimizationError,
    SetupNotEnteredError,
    UnprocessableEntityError,
    ValidationError,
    from_wire,
    to_wire,
)
from acumatica_client.emulator import AcumaticaEmulator


def make_client(url: str, secret: str, password: str) -> AcumaticaClient:
    auth = OAuth2(
        base_url=url,
        client_id="app@Tenant",
        client_secret=secret,
        username="api",
        password=password,
    )
    options = ClientOptions(licence=Licence(requests_per_minute=90, max_concurrent=4))
    return AcumaticaClient(
        base_url=url, endpoint=Endpoint("Default", "24.200.001"), auth=auth, options=options
    )


def open_bills(client: AcumaticaClient) -> Iterator[Bill]:
    wanted = Field("VendorRef").startswith("EXB-") & ~Field("Status").eq("Closed")
    return client.iterate(Bill, filter=wanted, expand=("Details",), page_size=50)


def post(client: AcumaticaClient) -> str | None:
    bill = Bill(
        vendor="EMP0001",
        vendor_ref="EXB-R1",
        description=None,  # clear it
        details=(BillDetail(account="61000", qty=Decimal(1), unit_cost=Decimal("12.50")),),
    )
    assert bill.hold is UNSET
    try:
        saved = client.put(bill)
    except ValidationError as exc:
        return "; ".join(f"{e.path}: {e.message}" for e in exc.errors)
    except EndpointVersionError as exc:
        return f"pin one of {', '.join(exc.offered)}"
    except AcumaticaError:
        return None
    client.invoke_action(Bill, "ReleaseBill", saved)
    ref: str | None = saved.reference_nbr if isinstance(saved.reference_nbr, str) else None
    return ref


def round_trip(bill: Bill) -> Bill:
    return from_wire(Bill, to_wire(bill, version="23.200.001"))


def with_emulator() -> AcumaticaClient:
    emulator = AcumaticaEmulator(version="23.200.001")
    transport: httpx.BaseTransport = emulator.transport()
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "23.200.001"), transport=transport
    )
    with client.session(CookieLogin(name="admin", password="admin-password", tenant="Company")):
        client.list(Bill, top=1)
    return client


def post_once(client: AcumaticaClient, bill: Bill) -> tuple[str, tuple[str, ...]]:
    """Look up (archived included), then create; digest of the exact bytes sent."""
    ref = bill.vendor_ref if isinstance(bill.vendor_ref, str) else ""
    found = client.list(Bill, filter=Field("VendorRef").eq(ref), include_archived=True)
    if found:
        return ("adopted", ())
    digests: list[str] = []
    try:
        client.put(bill, on_body=lambda body: digests.append(hashlib.sha256(body).hexdigest()))
    except EntityHasErrorsError as exc:  # 500 OutcomeEntityHasErrorsException
        return ("rejected when saved", exc.messages)
    except UnprocessableEntityError as exc:  # 422 entity echo (ValidationError too)
        return ("rejected", exc.messages)
    return (digests[0], ())


def diagnose(client: AcumaticaClient) -> str:
    try:
        client.get(Bill, "Bill", "000123", include_archived=True)
    except NotFoundError:
        return "missing"
    except OptimizationError as exc:
        return "narrow $select/$expand: " + ", ".join(exc.fields)
    except SetupNotEnteredError as exc:
        return f"fill in the {exc.form or 'setup'} form"
    except LoginLimitError:
        return "no API seat free"
    return "ok"


def full_licence() -> ClientOptions:
    return ClientOptions(
        timeout=180.0, licence=Licence(requests_per_minute=300, max_concurrent=4, rate_share=1.0)
    )
