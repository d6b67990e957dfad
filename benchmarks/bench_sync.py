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
them). Both emulators run in a spawned child process (:class:`RemoteEmulators`), reached
through a pipe that stands in for the network; the figure is this process's CPU time
during the sync minus the CPU time spent inside the pipe's transport (measured per call
with the calling thread's CPU clock), so it is the SDKs, the export parser, the mapping
and the store -- not the emulators, and not their side effects on this process either.
``--in-process`` keeps the emulators in this process and subtracts the time spent inside
their transports instead (the method before): it still charges the client for the garbage
collector walking the emulators' stored records, which grow with the run (see
docs/performance.md). A sync of :data:`WARM_UP` reports runs first and is not counted
(its figure is printed): a process's one-time costs are not per-report costs. Goals printed
beside each figure: at most 1 ms per report, and flat within 20 % (each figure against the
smallest run with no history). :func:`measure_cpu`
gives one figure as a dict (used by ``bench_targets.py``).
"""

from __future__ import annotations

import json
import multiprocessing
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


def build_emulators(n: int, clock: SimClock) -> tuple[AcumaticaEmulator, ExpensifyEmulator]:
    """Both emulators, seeded: an Acumatica tenant (accounts, 50 employee vendors) and an
    Expensify policy holding ``n`` approved two-expense reports."""
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
    return acu, exp


def build_clients(
    clock: SimClock, acu_transport: httpx.BaseTransport, exp_transport: httpx.BaseTransport
) -> tuple[BridgeConfig, AcumaticaClient, ExpensifyClient]:
    """The bridge's configuration and both SDK clients over the given transports."""
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
        transport=acu_transport,
        options=ClientOptions(sleep=clock.sleep),
    )
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id="aa_bench", partner_user_secret="bench-secret"),
        transport=exp_transport,
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
    return config, acu_client, exp_client


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
    """Emulators, clients and a SQLite state file in ``tmp``, all in this process."""
    clock = SimClock()
    acu, exp = build_emulators(n, clock)
    keep: Callable[[httpx.BaseTransport], httpx.BaseTransport] = lambda t: t  # noqa: E731
    outer = wrap or keep
    config, acu_client, exp_client = build_clients(
        clock, outer(acu.transport()), outer(exp.transport())
    )
    store = SQLiteStore(tmp / "state.sqlite3")
    return config, acu, exp, acu_client, exp_client, store, clock


# --------------------------------------------------------------------------- emulators apart


def _serve(conn: Any, n: int) -> None:
    """The child process of :class:`RemoteEmulators`: builds both emulators and answers
    each request sent down the pipe with its emulator's transport, following the parent's
    simulated clock (and handing back any time the emulator spent, e.g. Expensify's
    delays)."""
    clock = SimClock()
    acu, exp = build_emulators(n, clock)
    transports = {"acumatica": acu.transport(), "expensify": exp.transport()}
    cpu = 0.0
    conn.send("ready")
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        if message[0] == "stats":
            conn.send({"cpu": cpu, "expensify_429s": expensify_429s(exp.request_log)})
            continue
        _, side, method, url, headers, content, now = message
        start = time.process_time()
        clock.now = max(clock.now, now)
        try:
            request = httpx.Request(method, url, headers=headers, content=content)
            response = transports[side].handle_request(request)
            body = response.read()  # the emulators send no Content-Encoding
            answer: tuple[Any, ...] = (
                "ok",
                response.status_code,
                list(response.headers.raw),
                body,
                clock.now,
            )
        except Exception as exc:  # handed to the parent, which raises it
            answer = ("error", type(exc).__name__, str(exc))
        cpu += time.process_time() - start
        conn.send(answer)


class PipeTransport(httpx.BaseTransport):
    """Sends each request to :class:`RemoteEmulators`' child and builds the answer, as a
    network transport would from a socket (one request at a time on the pipe)."""

    def __init__(self, conn: Any, lock: threading.Lock, side: str, clock: SimClock) -> None:
        self._conn, self._lock, self._side, self._clock = conn, lock, side, clock
        self.statuses: dict[int, int] = {}
        self.cpu = 0.0  # this thread's CPU inside handle_request: the stand-in for the network

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.thread_time()
        try:
            return self._exchange(request)
        finally:
            spent = time.thread_time() - start
            with self._lock:
                self.cpu += spent

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        with self._lock:
            self._conn.send(
                ("call", self._side, request.method, str(request.url),
                 list(request.headers.raw), content, self._clock.now)
            )  # fmt: skip
            answer = self._conn.recv()
            if answer[0] != "ok":
                raise RuntimeError(f"emulator {self._side}: {answer[1]}: {answer[2]}")
            _, status, headers, body, now = answer
            self._clock.now = max(self._clock.now, now)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        response = httpx.Response(status, headers=headers, content=body, request=request)
        response.read()  # as the in-process emulators' answers arrive: already read
        return response


class RemoteEmulators:
    """Both emulators in a separate (spawned) process, so that this process holds only the
    client side: its CPU clock then counts the SDKs, parser, mapping and store and nothing
    of the emulators -- not their time, and not their side effects either (the garbage
    collector walking their records, caches they evict), which a per-call subtraction
    cannot remove. Use as a context manager; :meth:`transport` gives each side's."""

    def __init__(self, n: int, clock: SimClock) -> None:
        self._n, self._clock = n, clock
        self._lock = threading.Lock()
        self._conn: Any = None
        self._process: Any = None
        self.transports: dict[str, PipeTransport] = {}

    def __enter__(self) -> RemoteEmulators:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._n), daemon=True)
        self._process.start()
        child.close()
        if self._conn.recv() != "ready":
            raise RuntimeError("the emulator process did not start")
        return self

    def transport(self, side: str) -> PipeTransport:
        """The transport to ``"acumatica"`` or ``"expensify"``."""
        made = self.transports[side] = PipeTransport(self._conn, self._lock, side, self._clock)
        return made

    def stats(self) -> dict[str, Any]:
        """The child's CPU seconds spent answering, and Expensify's 429s so far."""
        with self._lock:
            self._conn.send(("stats",))
            return dict(self._conn.recv())

    def __exit__(self, *exc: object) -> None:
        try:
            with self._lock:
                self._conn.send(("stop",))
        except OSError:  # the child is gone already: nothing to stop
            pass
        self._process.join(timeout=30)
        if self._process.is_alive():  # pragma: no cover - a child that ignores "stop"
            self._process.terminate()
            self._process.join()
        self._conn.close()


# --------------------------------------------------------------------------- CPU per report

GOAL_MS = 1.0
FLAT = 0.20
#: Reports in the unmeasured sync run first in a process: imports, generated converters,
#: compiled statements and the like are paid once per process, not per report (about
#: 50 ms on the development machine: +0.25 ms/report on a first run of 200 reports).
WARM_UP = 100


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


def measure_cpu(reports: int, history: int, *, remote: bool = True) -> dict[str, Any]:
    """Client CPU per report of one sync of ``reports`` new reports into a SQLite file on
    disk holding ``history`` earlier (acknowledged) reports; emulator CPU excluded.

    ``remote=True`` (the default) runs both emulators in a child process
    (:class:`RemoteEmulators`) and counts this process's CPU time: the client side alone.
    ``remote=False`` runs them in this process and subtracts the CPU time spent inside
    their transports (the method before; it still charges the client for the garbage
    collector walking the emulators' records, see docs/performance.md).

    Keys: ``cpu_ms_per_report``, ``wall_s``, ``reports``, ``history``, ``posted``,
    ``acumatica_calls``, ``acumatica_calls_per_report``, ``expensify_calls``,
    ``expensify_429s``, ``acumatica_429s``, ``emulator_cpu_ms_per_report``, ``method``.
    """
    if not remote:
        return _measure_cpu_in_process(reports, history)
    with tempfile.TemporaryDirectory() as tmp_name:
        clock = SimClock()
        with RemoteEmulators(reports, clock) as emulators:
            config, acu_client, exp_client = build_clients(
                clock, emulators.transport("acumatica"), emulators.transport("expensify")
            )
            store = SQLiteStore(Path(tmp_name) / "state.sqlite3")
            try:
                store.bookmark(config.connection)  # create the schema (not measured)
                seed_history(Path(tmp_name) / "state.sqlite3", history, config.connection)
                before = emulators.stats()
                wall, cpu = time.perf_counter(), time.process_time()
                result = sync(
                    config, acumatica=acu_client, expensify=exp_client, store=store, now=clock
                )
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                after = emulators.stats()
            finally:
                store.close()
        emulated = after["cpu"] - before["cpu"]
        piped = sum(t.cpu for t in emulators.transports.values())
        figures = _cpu_figures(
            reports, history, result, cpu - piped, emulated, wall,
            expensify_429s=after["expensify_429s"] - before["expensify_429s"],
            acumatica_429s=emulators.transports["acumatica"].statuses.get(429, 0),
            method="emulators in a separate process",
        )  # fmt: skip
        figures["pipe_cpu_ms_per_report"] = piped * 1e3 / max(1, reports)
        return figures


def _cpu_figures(
    reports: int,
    history: int,
    result: Any,
    client_cpu: float,
    emulator_cpu: float,
    wall: float,
    *,
    expensify_429s: int,
    acumatica_429s: int,
    method: str,
) -> dict[str, Any]:
    return {
        "reports": reports,
        "history": history,
        "posted": result.posted,
        "cpu_ms_per_report": client_cpu * 1e3 / max(1, reports),
        "emulator_cpu_ms_per_report": emulator_cpu * 1e3 / max(1, reports),
        "wall_s": wall,
        "acumatica_calls": result.calls.acumatica,
        "acumatica_calls_per_report": result.calls.acumatica / max(1, reports),
        "expensify_calls": result.calls.expensify,
        "expensify_429s": expensify_429s,
        "acumatica_429s": acumatica_429s,
        "method": method,
    }


def _measure_cpu_in_process(reports: int, history: int) -> dict[str, Any]:
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
            return _cpu_figures(
                reports, history, result, cpu - emulated, emulated, wall,
                expensify_429s=expensify_429s(exp.request_log[logged:]),
                acumatica_429s=acu_meter.statuses.get(429, 0),
                method="emulators in this process, their transport time subtracted",
            )  # fmt: skip
        finally:
            store.close()


def cpu_table(runs: list[int], histories: list[int], *, remote: bool = True) -> None:
    """Print client CPU per report beside its goals (see the module docstring)."""
    how = "emulators in a separate process" if remote else "emulators in-process, subtracted"
    print(f"client CPU per report ({how}); goal <= {GOAL_MS:.1f} ms, flat within "
          f"{FLAT:.0%} of the first figure")  # fmt: skip
    warm = measure_cpu(WARM_UP, 0, remote=remote)
    ms = warm["cpu_ms_per_report"]
    print(f"  (warm-up: one sync of {WARM_UP} reports first, not counted: {ms:.2f} ms/report "
          "with this process's one-time costs)")  # fmt: skip
    base: float | None = None
    cases = [(n, 0) for n in runs] + [(runs[0], h) for h in histories if h]
    for n, h in cases:
        m = measure_cpu(n, h, remote=remote)
        ms = m["cpu_ms_per_report"]
        base = ms if base is None else base
        drift = ms / base - 1
        excluded = f"emulators {m['emulator_cpu_ms_per_report']:.2f} ms/report"
        if "pipe_cpu_ms_per_report" in m:
            excluded += f", pipe to them {m['pipe_cpu_ms_per_report']:.2f} ms/report"
        print(
            f"  {n:>6} reports, {h:>6} in history: {ms:6.2f} ms/report "
            f"[goal <= {GOAL_MS:.1f}: {'met' if ms <= GOAL_MS else 'NOT met'}; "
            f"vs first {drift:+.0%}, goal within {FLAT:.0%}: "
            f"{'met' if abs(drift) <= FLAT else 'NOT met'}]  ({excluded} excluded; "
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
        in_process = "--in-process" in sys.argv
        args = [a for a in sys.argv[2:] if a != "--in-process"]
        cpu_table(
            _sizes(args[0]) if args else [200, 1000],
            _sizes(args[1]) if len(args) > 1 else [0, 5000],
            remote=not in_process,
        )
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
