"""sync() throughput and call budget against the in-process emulators.

Run: ``.venv/bin/python benchmarks/bench_sync.py [N]`` (default 500 reports). Prints wall
time, CPU time per report, API calls per side and per report, and peak traced memory for
one full sync, then for a second sync (which must post nothing). A simulated clock drives
both emulators and both clients' rate limiters, so Expensify's 5-per-10-s window costs no
real waiting here (against the real service it adds about 2 s per call beyond the fifth).
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, OAuth2
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import BridgeConfig, PostingRules, SQLiteStore, sync
from expense_bridge._config import AcumaticaSettings, ExpensifySettings
from expense_bridge.demo._run import expensify_429s
from expensify_client import ClientOptions as ExpensifyOptions
from expensify_client import Credentials, ExpensifyClient, RateLimiter
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OWNER = "controller@firm.test"


class SimClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - START).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def build(
    n: int, tmp: Path
) -> tuple[
    BridgeConfig,
    AcumaticaEmulator,
    ExpensifyEmulator,
    AcumaticaClient,
    ExpensifyClient,
    SQLiteStore,
    SimClock,
]:
    clock = SimClock()
    acu = AcumaticaEmulator(version="24.200.001", clock=clock, hold_on_entry=False)
    acu.seed(
        "Account",
        [
            {"AccountCD": c, "Type": t, "Active": True}
            for c, t in (("61000", "Expense"), ("62000", "Expense"), ("21000", "Liability"))
        ],
    )
    people = [f"user{i:04d}@firm.test" for i in range(50)]
    acu.seed(
        "Vendor",
        [
            {"VendorID": f"EMP{i:04d}", "Status": "Active", "MainContact": {"Email": email}}
            for i, email in enumerate(people)
        ],
    )
    exp = ExpensifyEmulator(clock=clock, sleep=clock.sleep)
    exp.add_account("aa_bench", "bench-secret", email=OWNER)
    exp.add_policy(
        "POL1",
        "Bench",
        owner=OWNER,
        categories=[category("Travel", "61000"), category("Meals", "62000")],
        employees=[employee(p, submits_to=OWNER) for p in people],
    )
    for i in range(n):
        specs = [
            ExpenseSpec(
                amount_cents=10_000 + i,
                currency="USD",
                created=date(2026, 11, 10),
                merchant=f"Air {i}",
                category="Travel",
            ),
            ExpenseSpec(
                amount_cents=2_500 + i,
                currency="USD",
                created=date(2026, 11, 11),
                merchant=f"Cafe {i}",
                category="Meals",
            ),
        ]
        rid = exp.add_report(
            "POL1",
            submitter=people[i % len(people)],
            name=f"Trip {i}",
            currency="USD",
            expenses=specs,
            created=START - timedelta(days=4),
        )
        exp.submit(rid, START - timedelta(days=3))
        exp.approve(rid, START - timedelta(days=1))
    auth = OAuth2(
        base_url="https://erp.test",
        client_id="expense-bridge@Company",
        client_secret="client-secret",
        username="admin",
        password="admin-password",
    )
    acu_client = AcumaticaClient(
        base_url="https://erp.test",
        endpoint=Endpoint("Default", "24.200.001"),
        auth=auth,
        transport=acu.transport(),
        options=ClientOptions(sleep=clock.sleep),
    )
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id="aa_bench", partner_user_secret="bench-secret"),
        transport=exp.transport(),
        options=ExpensifyOptions(
            sleep=clock.sleep,
            today=lambda: clock.now.date(),
            limits=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        ),
    )
    config = BridgeConfig(
        acumatica=AcumaticaSettings(
            base_url="https://erp.test",
            endpoint_version="24.200.001",
            username="admin",
            client_id="expense-bridge@Company",
        ),
        expensify=ExpensifySettings(partner_user_id="aa_bench"),
        policies=("POL1",),
        rules=PostingRules(employee_liability_account="21000"),
    )
    store = SQLiteStore(tmp / "state.sqlite3")
    return config, acu, exp, acu_client, exp_client, store, clock


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        config, acu, exp, acu_client, exp_client, store, clock = build(n, Path(tmp_name))
        for label in ("first sync", "second sync"):
            logged = len(exp.request_log)
            tracemalloc.start()
            wall, cpu = time.perf_counter(), time.process_time()
            result = sync(
                config, acumatica=acu_client, expensify=exp_client, store=store, now=clock
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{label}: {n} reports seeded, {result.pulled} pulled, {result.posted} posted")
            if result.pulled:
                per = result.pulled
                print(f"  wall {wall:.2f} s; cpu {cpu * 1e3 / per:.2f} ms per pulled report")
                print(
                    f"  calls: Acumatica {result.calls.acumatica} "
                    f"({result.calls.acumatica / per:.2f} per report), "
                    f"Expensify {result.calls.expensify}"
                )
            else:
                print(f"  wall {wall:.3f} s; cpu {cpu * 1e3:.1f} ms")
                print(
                    f"  calls: Acumatica {result.calls.acumatica}, "
                    f"Expensify {result.calls.expensify}"
                )
            refused = expensify_429s(exp.request_log[logged:])
            print(f"  Expensify 429s {refused} (goal 0)")
            print(f"  peak traced memory {peak / 1e6:.1f} MB")
            clock.now += timedelta(hours=1)
        bills = len(acu.records("Bill"))
        print(f"documents in the ledger: {bills} (expected {n})")
        store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
