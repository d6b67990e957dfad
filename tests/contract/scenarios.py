"""Contract scenarios: the client calls recorded into cassettes and replayed in CI.

Each scenario runs real client code against a base URL. Recording (``python -m
tests.contract.record``) runs it against the emulators over loopback HTTP with vcrpy in
record mode ``all`` through :func:`expense_bridge.testing.make_vcr`, which scrubs every
credential before writing. CI replays the cassettes with record mode ``none``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

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
from acumatica_client.emulator import AcumaticaEmulator
from expensify_client.emulator import ExpensifyEmulator

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


def seed_acumatica(emulator: AcumaticaEmulator) -> None:
    """The reference data the Acumatica scenario expects."""
    seed = emulator.seed
    seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True}])
    seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active"}])


EXPENSIFY_PARTNER = "aa_contract_firm_test"
EXPENSIFY_SECRET = "rec-expensify-partner-secret-5e2a"
SYNC_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def seed_sync_world(acumatica: AcumaticaEmulator, expensify: ExpensifyEmulator) -> None:
    """Reference data and two approved reports (one held) for the sync scenario."""
    from expensify_client.emulator import ExpenseSpec, category, employee

    seed_acumatica(acumatica)
    seed = acumatica.seed
    seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                     "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
    seed("Account", [{"AccountCD": "21000", "Type": "Liability", "Active": True}])
    exp = expensify
    exp.add_account(EXPENSIFY_PARTNER, EXPENSIFY_SECRET, email="owner@firm.test")
    exp.add_policy(
        "POL1", "Firm", owner="owner@firm.test",
        categories=[category("Travel", "61000"), category("Mystery", None)],
        employees=[employee("ann@firm.test", submits_to="owner@firm.test")],
    )  # fmt: skip
    for rid, cat in (("R1001", "Travel"), ("R1002", "Mystery")):
        spec = ExpenseSpec(amount_cents=4210, currency="USD", created=date(2026, 11, 12),
                           merchant='Rail "Express" <Line>', category=cat)  # fmt: skip
        exp.add_report("POL1", submitter="ann@firm.test", name=f"Trip {rid}",
                       currency="USD", expenses=[spec], created=SYNC_NOW - timedelta(days=5),
                       report_id=rid)  # fmt: skip
        exp.submit(rid, SYNC_NOW - timedelta(days=4))
        exp.approve(rid, SYNC_NOW - timedelta(days=3))


def bridge_sync_flow(acumatica_url: str, expensify_url: str, state: Path) -> list[str]:
    """A full sync (and a second one) through both real clients."""
    from expense_bridge import BridgeConfig, PostingRules, SQLiteStore, sync
    from expense_bridge._config import AcumaticaSettings, ExpensifySettings
    from expensify_client import ClientOptions, Credentials, ExpensifyClient

    auth = OAuth2(base_url=acumatica_url, client_id=ACUMATICA_CLIENT_ID,
                  client_secret=ACUMATICA_CLIENT_SECRET, username="admin",
                  password=ACUMATICA_PASSWORD)  # fmt: skip
    config = BridgeConfig(
        acumatica=AcumaticaSettings(base_url=acumatica_url, endpoint_version=VERSION,
                                    username="admin", client_id=ACUMATICA_CLIENT_ID),
        expensify=ExpensifySettings(partner_user_id=EXPENSIFY_PARTNER, base_url=expensify_url),
        policies=("POL1",),
        rules=PostingRules(employee_liability_account="21000"),
    )  # fmt: skip
    store = SQLiteStore(state)
    seen: list[str] = []
    with (
        AcumaticaClient(base_url=acumatica_url, endpoint=Endpoint("Default", VERSION),
                        auth=auth) as acumatica,
        ExpensifyClient(
            credentials=Credentials(partner_user_id=EXPENSIFY_PARTNER,
                                    partner_user_secret=EXPENSIFY_SECRET),
            base_url=expensify_url,
            options=ClientOptions(today=lambda: SYNC_NOW.date()),
        ) as expensify,
    ):  # fmt: skip
        for _ in range(2):
            result = sync(config, acumatica=acumatica, expensify=expensify, store=store,
                          now=lambda: SYNC_NOW)  # fmt: skip
            seen.append(
                " ".join(f"{o.report_id}:{o.action.value}" for o in result.outcomes) or "none"
            )
    store.close()
    return seen
