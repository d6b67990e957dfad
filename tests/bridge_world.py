"""Both emulators, real clients on one simulated clock and a real state store: a "world".

Shared by the bridge's end-to-end tests (tests/integration/test_bridge_end_to_end.py and
test_accounting_end_to_end.py) and the accounting-depth tests
(tests/expense_bridge/test_accounting_*.py); the ``bridge_world`` fixture in
tests/conftest.py builds one and closes it afterwards.

A simulated clock drives both emulators and both clients' limiters and sleeps, so the
Integration Server's 5-per-10 s / 20-per-60 s windows are enforced without waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, OAuth2
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import BridgeConfig, PostingRules, SQLiteStore, SyncResult, sync
from expense_bridge._config import AcumaticaSettings, ExpensifySettings
from expensify_client import Category, Credentials, ExpensifyClient, RateLimiter
from expensify_client import ClientOptions as ExpensifyOptions
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PARTNER, PARTNER_SECRET = "aa_bridge_firm_test", "e2e-partner-secret-4f1a"
CLIENT_SECRET, PASSWORD = "client-secret-9d2c7e", "admin-password-77b1"
OWNER = "controller@firm.test"
VERSION = "24.200.001"


@dataclass
class SimClock:
    """One simulated time for emulators, limiters and sleeps."""

    now: datetime = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - START).total_seconds() + 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """One tenant pair. ``schema`` is the body checker when built with ``schema_checked``."""

    clock: SimClock
    acumatica: AcumaticaEmulator
    expensify: ExpensifyEmulator
    acu_client: AcumaticaClient
    exp_client: ExpensifyClient
    config: BridgeConfig
    store: SQLiteStore
    schema: Any = None

    def sync(self, **kw: Any) -> SyncResult:
        return sync(
            self.config,
            acumatica=self.acu_client,
            expensify=self.exp_client,
            store=self.store,
            now=self.clock,
            **kw,
        )

    def run(self, **rules: Any) -> SyncResult:
        """One sync with ``rules`` (:class:`PostingRules` fields) changed for this run only."""
        config = attrs.evolve(self.config, rules=attrs.evolve(self.config.rules, **rules))
        return sync(config, acumatica=self.acu_client, expensify=self.exp_client,
                    store=self.store, now=self.clock)  # fmt: skip

    def seed_claimants(self) -> None:
        """What expense claims need: ann@firm.test as employee EMP0001 and the expense
        items TRAVEL and MEALS (non-stock items of type Expense)."""
        self.acumatica.seed("Employee", [{"EmployeeID": "EMP0001", "Status": "Active",
                                          "ContactInfo": {"Email": "ann@firm.test"}}])  # fmt: skip
        self.acumatica.seed("NonStockItem", [
            {"InventoryID": "TRAVEL", "ItemType": "Expense", "ItemStatus": "Active"},
            {"InventoryID": "MEALS", "ItemType": "Expense", "ItemStatus": "Active"},
        ])  # fmt: skip

    def seed_periods(self, *closed_ap: str, gl_closed: Sequence[str] = ()) -> None:
        """The 2026 financial calendar (see :func:`financial_periods`)."""
        self.acumatica.seed("FinancialPeriod", financial_periods(*closed_ap, gl_closed=gl_closed))

    def add_approved(self, n: int, *, email: str = "ann@firm.test", **spec: Any) -> str:
        """A one-expense report (10,000 + n cents, Travel unless given), approved an hour ago."""
        values: dict[str, Any] = {
            "amount_cents": 10_000 + n,
            "currency": "USD",
            "created": date(2026, 11, 10),
            "merchant": f"Merchant {n}",
            "category": "Travel",
        }
        values.update(spec)
        rid = self.expensify.add_report(
            "POL1",
            submitter=email,
            name=f"Trip {n}",
            currency="USD",
            expenses=[ExpenseSpec(**values)],
            created=self.clock.now - timedelta(days=3),
        )
        self.expensify.submit(rid, self.clock.now - timedelta(days=2))
        self.expensify.approve(rid, self.clock.now - timedelta(hours=1))
        return rid


def financial_periods(*closed_ap: str, gl_closed: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The 2026 calendar (periods ``MMYYYY``, one a month): ``closed_ap`` periods closed
    for AP only, ``gl_closed`` ones closed entirely; the others open."""
    rows = []
    for month in range(1, 13):
        pid = f"{month:02d}2026"
        end = date(2027, 1, 1) if month == 12 else date(2026, month + 1, 1)
        rows.append({
            "FinancialPeriodID": pid, "StartDate": f"{date(2026, month, 1)}T00:00:00",
            "EndDate": f"{end}T00:00:00", "Status": "Closed" if pid in gl_closed else "Open",
            "ClosedInAP": pid in closed_ap or pid in gl_closed,
        })  # fmt: skip
    return [{"FinancialYear": "2026", "Details": rows}]


def make_world(
    tmp_path: Path,
    *,
    category_gl_codes: bool = True,
    schema_checked: bool = False,
    extra_categories: Sequence[Category] = (),
    **config_changes: Any,
) -> World:
    """A world in ``tmp_path``; close it with :func:`close_world`.

    ``category_gl_codes``: the Expensify emulator's policy getter carries each category's
    GL code (False: the documented getter shape, codes only in the export).
    ``schema_checked``: every Acumatica entity body is validated against the published
    schema (:class:`tests.integration.schema_check.SchemaChecked`, kept as ``schema``).
    ``extra_categories``: added to POL1's Travel (61000), Meals (62000) and Mystery (none).
    ``config_changes``: :func:`attrs.evolve` changes to the :class:`BridgeConfig`.
    """
    clock = SimClock()
    acu = AcumaticaEmulator(
        version=VERSION, clock=clock, hold_on_entry=False, users={"admin": PASSWORD},
        oauth_clients={"expense-bridge@Company": CLIENT_SECRET}, sleep=clock.sleep,
    )  # fmt: skip
    acu.seed("Account", [
        {"AccountCD": "61000", "Type": "Expense", "Active": True, "Description": "Travel"},
        {"AccountCD": "62000", "Type": "Expense", "Active": True, "Description": "Meals"},
        {"AccountCD": "21000", "Type": "Liability", "Active": True},
    ])  # fmt: skip
    acu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                         "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
    exp = ExpensifyEmulator(clock=clock, sleep=clock.sleep, category_gl_codes=category_gl_codes)
    exp.add_account(PARTNER, PARTNER_SECRET, email=OWNER)
    exp.add_policy(
        "POL1", "Firm", owner=OWNER,
        categories=[category("Travel", "61000"), category("Meals", "62000"),
                    category("Mystery", None), *extra_categories],
        employees=[employee("ann@firm.test", submits_to=OWNER),
                   employee("ghost@firm.test", submits_to=OWNER)],
    )  # fmt: skip
    schema = None
    transport: httpx.BaseTransport = acu.transport()
    if schema_checked:
        from tests.integration.schema_check import SchemaChecked

        schema = SchemaChecked(acu, VERSION)
        transport = httpx.MockTransport(schema)
    auth = OAuth2(base_url="https://erp.test", client_id="expense-bridge@Company",
                  client_secret=CLIENT_SECRET, username="admin", password=PASSWORD)  # fmt: skip
    acu_client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", VERSION), auth=auth,
        transport=transport, options=ClientOptions(sleep=clock.sleep, jitter=lambda: 0.0),
    )  # fmt: skip
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id=PARTNER, partner_user_secret=PARTNER_SECRET),
        transport=exp.transport(),
        options=ExpensifyOptions(
            sleep=clock.sleep, jitter=lambda: 0.0, today=lambda: clock.now.date(),
            limits=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        ),
    )  # fmt: skip
    config = BridgeConfig(
        acumatica=AcumaticaSettings(base_url="https://erp.test", endpoint_version=VERSION,
                                    username="admin", client_id="expense-bridge@Company",
                                    tenant="Company"),
        expensify=ExpensifySettings(partner_user_id=PARTNER),
        policies=("POL1",),
        rules=PostingRules(employee_liability_account="21000"),
        vault_path=tmp_path / "no-vault.fernet",
    )  # fmt: skip
    if config_changes:
        config = attrs.evolve(config, **config_changes)
    store = SQLiteStore(tmp_path / "state.sqlite3")
    return World(clock, acu, exp, acu_client, exp_client, config, store, schema)


def close_world(world: World) -> None:
    world.store.close()
    world.acu_client.close()
    world.exp_client.close()
