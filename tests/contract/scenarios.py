"""Contract scenarios: the client calls recorded into cassettes and replayed in CI.

Each scenario runs real client code against a base URL. Recording (``python -m
tests.contract.record``) runs it against the emulators over loopback HTTP with vcrpy in
record mode ``all`` through :func:`expense_bridge.testing.make_vcr`, which scrubs every
credential before writing. CI replays the cassettes with record mode ``none``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from acumatica_client import (
    Account,
    AcumaticaClient,
    Bill,
    BillDetail,
    Endpoint,
    Field,
    OAuth2,
    ValidationError,
)

VERSION = "24.200.001"
#: Credentials of the emulators used while recording (never real ones). The cassette scan
#: asserts none of them, nor any token, survives in a cassette.
ACUMATICA_PASSWORD = "rec-acumatica-Pa55word-7d1f"
ACUMATICA_CLIENT_SECRET = "rec-client-secret-93b0c4e1"
ACUMATICA_CLIENT_ID = "expense-bridge@Company"


def acumatica_bill_flow(base_url: str) -> list[str]:
    """OAuth, endpoint check, a rejected bill, a created bill, a look-up by key."""
    auth = OAuth2(
        base_url=base_url,
        client_id=ACUMATICA_CLIENT_ID,
        client_secret=ACUMATICA_CLIENT_SECRET,
        username="admin",
        password=ACUMATICA_PASSWORD,
    )
    seen: list[str] = []
    with AcumaticaClient(
        base_url=base_url, endpoint=Endpoint("Default", VERSION), auth=auth
    ) as client:
        client.check_endpoint()
        seen.append(f"accounts={len(client.list(Account))}")
        try:
            line = BillDetail(account="99999", unit_cost=Decimal(1))
            client.put(Bill(vendor="NOPE", vendor_ref="EXB-BAD", details=(line,)))
        except ValidationError as exc:
            seen.append("rejected:" + ",".join(sorted(e.path for e in exc.errors)))
        saved = client.put(
            Bill(
                vendor="EMP0001",
                vendor_ref="EXB-R42",
                date=date(2026, 11, 2),
                hold=False,
                details=(BillDetail(account="61000", qty=Decimal(1), unit_cost=Decimal("42.10")),),
            )
        )
        seen.append(f"created={saved.reference_nbr} amount={saved.amount}")
        found = client.list(Bill, filter=Field("VendorRef").eq("EXB-R42"))
        seen.append(f"found={[b.reference_nbr for b in found]}")
    return seen


def seed_acumatica(emulator: object) -> None:
    """The reference data the Acumatica scenario expects."""
    seed = emulator.seed  # type: ignore[attr-defined]
    seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True}])
    seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active"}])
