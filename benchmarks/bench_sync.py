"""sync() throughput, client CPU per report and call budget against the in-process emulators.

Run: ``.venv/bin/python benchmarks/bench_sync.py [N]`` (default 500 reports). Prints wall
time, CPU time per report, API calls per side and per report, and peak traced memory for
one full sync, then for a second sync (which must post nothing). A simulated clock drives
both emulators and both clients' rate limiters, so Expensify's 5-per-10-s window costs no
real waiting here (against the real service it adds about 2 s per call beyond the fifth).

Client CPU per report (issue 14): ``bench_sync.py --cpu [RUNS] [HISTORIES]`` -- e.g.
``--cpu 1000,5000,20000 0,20000,100000`` (the issue's sizes; the default is a quick
``200,1000`` and ``0,5000``). Each figure is one sync of RUNS new reports into a SQLite
state file on disk (WAL, as users run it) that already holds HISTORIES acknowledged
reports (inserted directly: report rows, documents and audit lines, as a sync leaves
them). It counts the process's CPU time during the sync minus the CPU time spent inside
the two emulators' transports (measured per call with the calling thread's CPU clock), so
it is the SDKs, the export parser, the mapping and the store -- not the emulators. Goals
printed beside each figure: at most 1 ms per report, and flat within 20 % (each figure
against the smallest run with no history). :func:`measure_cpu` gives one figure as a dict
(used by ``bench_targets.py``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

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


class MeteredTransport(httpx.BaseTransport):
    """An emulator's transport that counts the CPU time spent inside it (thread CPU clock,
    so concurrent callers are each counted once) and the answers per HTTP status."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.cpu = 0.0
        self.statuses: dict[int, int] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.thread_time()
        try:
            response = self.inner.handle_request(request)
            response.read()  # the emulator's body is produced inside the emulator's time
        finally:
            spent = time.thread_time() - start
            with self._lock:
                self.cpu += spent
        with self._lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def build(
    n: int, tmp: Path, *, wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None
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
        transport=wrap(acu.transport()) if wrap else acu.transport(),
        options=ClientOptions(sleep=clock.sleep),
    )
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id="aa_bench", partner_user_secret="bench-secret"),
        transport=wrap(exp.transport()) if wrap else exp.transport(),
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


# --------------------------------------------------------------------------- CPU per report

GOAL_MS = 1.0
FLAT = 0.20


def seed_history(path: Path, count: int, connection: str = "default") -> None:
    """Put ``count`` acknowledged reports in the state file, as syncs leave them: a report
    row with its snapshot, one bill, and the audit lines of a posting. Bulk inserts through
    the store's own tables (the schema is created by opening the store first)."""
    from expense_bridge._store._schema import AUDIT, DOCUMENTS, REPORTS

    if not count:
        return
    engine = sa.create_engine(f"sqlite:///{path}")
    snapshot = json.dumps({"report_id": "H", "expenses": [{"amount": "125.00"}] * 2})
    at = (START - timedelta(days=30)).isoformat()
    run_id = uuid.uuid4().hex[:12]
    try:
        with engine.begin() as conn:
            for start in range(0, count, 5_000):
                ids = [f"H{i:09d}" for i in range(start, min(count, start + 5_000))]
                conn.execute(
                    sa.insert(REPORTS),
                    [{"connection": connection, "report_id": rid, "status": "acknowledged",
                      "fingerprint": uuid.uuid4().hex, "snapshot": snapshot, "errors": "[]",
                      "updated_at": at} for rid in ids],
                )  # fmt: skip
                conn.execute(
                    sa.insert(DOCUMENTS),
                    [{"connection": connection, "report_id": rid, "key": f"EXB-{rid}",
                      "kind": "bill", "number": f"Bill H{rid[1:]}", "part": "reimbursable",
                      "created_at": at} for rid in ids],
                )  # fmt: skip
                conn.execute(
                    sa.insert(AUDIT),
                    [{"at": at, "connection": connection, "run_id": run_id, "report_id": rid,
                      "step": step, "outcome": outcome, "document": None, "error_code": None,
                      "detail": f"EXB-{rid}", "digest": None}
                     for rid in ids
                     for step, outcome in (("intent", "recorded"), ("create", "created"),
                                           ("post", "posted"),
                                           ("acknowledge", "marked exported"))],
                )  # fmt: skip
        with engine.connect() as conn:  # as a long-lived file is: its WAL checkpointed
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def measure_cpu(reports: int, history: int) -> dict[str, Any]:
    """Client CPU per report of one sync of ``reports`` new reports into a SQLite file on
    disk holding ``history`` earlier (acknowledged) reports; emulator CPU excluded.

    Keys: ``cpu_ms_per_report``, ``wall_s``, ``reports``, ``history``, ``posted``,
    ``acumatica_calls``, ``acumatica_calls_per_report``, ``expensify_calls``,
    ``expensify_429s``, ``acumatica_429s``, ``emulator_cpu_ms_per_report``.
    """
    meters: list[MeteredTransport] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        meters.append(MeteredTransport(inner))
        return meters[-1]

    with tempfile.TemporaryDirectory() as tmp_name:
        config, _, exp, acu_client, exp_client, store, clock = build(
            reports, Path(tmp_name), wrap=wrap
        )
        try:
            store.bookmark(config.connection)  # create the schema (not measured)
            seed_history(Path(tmp_name) / "state.sqlite3", history, config.connection)
            acu_meter, exp_meter = meters
            logged = len(exp.request_log)
            wall, cpu = time.perf_counter(), time.process_time()
            result = sync(
                config, acumatica=acu_client, expensify=exp_client, store=store, now=clock
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            emulated = acu_meter.cpu + exp_meter.cpu
            posted = result.posted
            return {
                "reports": reports,
                "history": history,
                "posted": posted,
                "cpu_ms_per_report": (cpu - emulated) * 1e3 / max(1, reports),
                "emulator_cpu_ms_per_report": emulated * 1e3 / max(1, reports),
                "wall_s": wall,
                "acumatica_calls": result.calls.acumatica,
                "acumatica_calls_per_report": result.calls.acumatica / max(1, reports),
                "expensify_calls": result.calls.expensify,
                "expensify_429s": expensify_429s(exp.request_log[logged:]),
                "acumatica_429s": acu_meter.statuses.get(429, 0),
            }
        finally:
            store.close()


def cpu_table(runs: list[int], histories: list[int]) -> None:
    """Print client CPU per report beside its goals (see the module docstring)."""
    print(f"client CPU per report (emulators excluded); goal <= {GOAL_MS:.1f} ms, flat within "
          f"{FLAT:.0%} of the first figure")  # fmt: skip
    base: float | None = None
    cases = [(n, 0) for n in runs] + [(runs[0], h) for h in histories if h]
    for n, h in cases:
        m = measure_cpu(n, h)
        ms = m["cpu_ms_per_report"]
        base = ms if base is None else base
        drift = ms / base - 1
        print(
            f"  {n:>6} reports, {h:>6} in history: {ms:6.2f} ms/report "
            f"[goal <= {GOAL_MS:.1f}: {'met' if ms <= GOAL_MS else 'NOT met'}; "
            f"vs first {drift:+.0%}, goal within {FLAT:.0%}: "
            f"{'met' if abs(drift) <= FLAT else 'NOT met'}]  "
            f"(emulators {m['emulator_cpu_ms_per_report']:.2f} ms/report excluded; "
            f"{m['posted']} posted; Acumatica {m['acumatica_calls_per_report']:.2f} calls/report; "
            f"Expensify {m['expensify_calls']} calls; 429s: Expensify {m['expensify_429s']}, "
            f"Acumatica {m['acumatica_429s']}; wall {m['wall_s']:.1f} s)"
        )


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


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--cpu":
        cpu_table(
            _sizes(sys.argv[2]) if len(sys.argv) > 2 else [200, 1000],
            _sizes(sys.argv[3]) if len(sys.argv) > 3 else [0, 5000],
        )
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
