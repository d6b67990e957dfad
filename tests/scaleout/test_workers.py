"""Real Celery workers racing over the emulators: exactly once, acknowledged, no 429.

Eight worker processes (``celery worker --pool=solo``, a real RabbitMQ broker in a fresh
vhost, results in Redis) share one fresh PostgreSQL state database. The emulators run in
this process, served over loopback HTTP, and their state is checked directly: one
Acumatica bill per report (by its key), every report labelled exported in Expensify, no
429 answered by the Expensify emulator (whose 5/10 s and 20/60 s windows are on).

The Expensify emulator's clock runs ``SPEEDUP`` times faster than real time and the
workers' shared Expensify windows are shortened in the same proportion (see
``celery_app.py``): the shared limiter is exercised for real -- every send booked in
PostgreSQL, real-time safety margins unchanged -- without minutes of waiting. Celery
retries of the fault tests start after 1 s (``backoff``) instead of 10 s.

The tests share the worker pool and run in file order; the SIGKILL test is last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    ENV_KEY,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

from .services import (
    REDIS_URL,
    need,
    postgres_database,
    rabbitmq_vhost,
    terminate_connections,
)

pytestmark = [
    pytest.mark.loopback,
    # Eight worker processes and 600 reports take minutes on a shared machine: they run
    # under CI=true (where .ci/run starts the services) or when asked for explicitly.
    pytest.mark.skipif(
        os.environ.get("CI", "").lower() != "true"
        and os.environ.get("EXPENSE_BRIDGE_SCALEOUT_TESTS") != "1",
        reason="real-worker scale-out tests run under CI=true or EXPENSE_BRIDGE_SCALEOUT_TESTS=1",
    ),
    # kombu's broadcast (ping/inspect) connections are closed by the garbage collector.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

WORKERS = 8
#: How many times faster than real time the Expensify emulator's clock runs.
SPEEDUP = 10.0
PASSWORD = "workers-acumatica-pw-2c1e"
CLIENT_SECRET = "workers-client-secret-9f0d"
PARTNER_SECRET = "workers-partner-secret-41ab"
OWNER = "owner@firm.test"
ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    """The broker, state database and worker processes shared by the tests."""

    def __init__(self, broker: str, state_url: str, env: dict[str, str]) -> None:
        self.broker = broker
        self.state_url = state_url
        self.env = env
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        from .celery_app import app

        app.conf.broker_url = broker
        app.conf.result_backend = REDIS_URL + "/0"
        self.app = app

    def start(self, logs: Path) -> None:
        for i in range(WORKERS):
            name = f"w{i}-{uuid.uuid4().hex[:6]}@eb"
            with (logs / f"{name}.log").open("wb") as log:
                self.workers[name] = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "tests.scaleout.celery_app", "worker",
                     "--pool=solo", "-n", name, "--without-gossip", "--without-mingle",
                     "-l", "warning"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            replies = self.app.control.ping(timeout=1.0) or []
            if len(replies) >= WORKERS:
                return
            dead = [n for n, p in self.workers.items() if p.poll() is not None]
            assert not dead, f"workers exited at start: {dead}"
        pytest.fail("the Celery workers did not all answer a ping within 120 s")

    def stop(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
        for process in self.workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def sync(self, tenant: str, registry: Path, **kwargs: Any) -> Any:
        return self.app.send_task(
            "expense_bridge.sync_tenant",
            args=(tenant,),
            kwargs={"registry": str(registry), **kwargs},
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    need("Redis", "127.0.0.1", 6379)
    with postgres_database() as state_url, rabbitmq_vhost() as broker:
        env = {
            **os.environ,
            ENV_KEY: Fernet.generate_key().decode(),
            "EB_TEST_BROKER": broker,
            "EB_TEST_BACKEND": REDIS_URL + "/0",
            "EB_TEST_EXPENSIFY_SPEEDUP": str(SPEEDUP),
            "PYTHONPATH": str(ROOT),
        }
        cluster = Cluster(broker, state_url, env)
        cluster.start(tmp_path_factory.mktemp("worker-logs"))
        try:
            yield cluster
        finally:
            cluster.stop()
            cluster.app.close()


def fast_clock() -> Callable[[], datetime]:
    """A UTC clock that starts now and runs ``SPEEDUP`` times faster than real time."""
    start, origin = datetime.now(UTC), time.monotonic()
    return lambda: start + timedelta(seconds=(time.monotonic() - origin) * SPEEDUP)


def expensify() -> ExpensifyEmulator:
    """The Expensify emulator of one test: rate windows on, over the fast clock."""
    return ExpensifyEmulator(category_gl_codes=True, clock=fast_clock())


class Tenant:
    """One tenant over its own Acumatica emulator (own licence) and a shared Expensify."""

    def __init__(self, name: str, acu: AcumaticaEmulator, policy: str, reports: list[str]):
        self.name = name
        self.acu = acu
        self.policy = policy
        self.reports = reports

    def bill_keys(self) -> Counter[str]:
        return Counter(b["VendorRef"] for b in self.acu.records("Bill"))


def make_tenants(
    stack: ExitStack,
    cluster: Cluster,
    registry: Path,
    exp: ExpensifyEmulator,
    exp_url: str,
    counts: dict[str, int],
    *,
    partner: str | None = None,
    rpm: int = 20000,
) -> dict[str, Tenant]:
    """Tenants with ``counts[name]`` approved reports each; their TOML files and vaults."""
    registry.mkdir(parents=True, exist_ok=True)
    tenants = {}
    now = datetime.now(UTC)
    for name, count in counts.items():
        acu = AcumaticaEmulator(
            users={"bridge": PASSWORD},
            oauth_clients={"bridge@Company": CLIENT_SECRET},
            hold_on_entry=False,
            requests_per_minute=rpm,
            max_concurrent=8,
            api_seats=WORKERS * 2,
        )
        acu.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True},
                             {"AccountCD": "21000", "Type": "Liability"}])  # fmt: skip
        acu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                             "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
        acu.seed("Employee", [{"EmployeeID": "EMP0001", "Status": "Active",
                               "ContactInfo": {"Email": "ann@firm.test", "FirstName": "Ann"},
                               "EmployeeSettings": {"DepartmentID": "CONSULT"}}])  # fmt: skip
        server = stack.enter_context(acu.serve())
        user = partner or f"aa_{name}"
        if user not in exp._backend.accounts:
            exp.add_account(user, PARTNER_SECRET, email=OWNER)
        policy = f"POL-{name}"
        exp.add_policy(policy, f"Firm {name}", owner=OWNER,
                       categories=[category("Travel", "61000")],
                       employees=[employee("ann@firm.test", submits_to=OWNER)])  # fmt: skip
        ids = []
        for n in range(count):
            spec = ExpenseSpec(amount_cents=1000 + n, currency="USD", created=now.date(),
                               merchant="Air", category="Travel")  # fmt: skip
            rid = exp.add_report(policy, submitter="ann@firm.test", name=f"Trip {n}",
                                 currency="USD", expenses=[spec],
                                 created=now - timedelta(days=3))  # fmt: skip
            exp.submit(rid, now - timedelta(days=2))
            exp.approve(rid, now - timedelta(days=1))
            ids.append(rid)
        document = f"""
policies = ["{policy}"]
[state]
url = "{cluster.state_url}"
[acumatica]
base_url = "{server.base_url}"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "bridge@Company"
requests_per_minute = {rpm}
max_concurrent = 8
[expensify]
partner_user_id = "{user}"
base_url = "{exp_url}"
[rules]
employee_liability_account = "21000"
"""
        (registry / f"{name}.toml").write_text(document, encoding="utf-8")
        CredentialVault(registry / f"{name}.vault", env=cluster.env).set_many(
            {ACUMATICA_PASSWORD: PASSWORD, ACUMATICA_CLIENT_SECRET: CLIENT_SECRET,
             EXPENSIFY_PARTNER_SECRET: PARTNER_SECRET}
        )  # fmt: skip
        tenants[name] = Tenant(name, acu, policy, ids)
    return tenants


def assert_exactly_once(exp: ExpensifyEmulator, tenant: Tenant) -> None:
    keys = tenant.bill_keys()
    duplicates = {k: n for k, n in keys.items() if n > 1}
    assert duplicates == {}, f"{tenant.name}: duplicate documents {duplicates}"
    assert set(keys) == {f"EXB-{rid}" for rid in tenant.reports}, f"{tenant.name}: missing"
    unlabelled = [
        rid for rid in tenant.reports if "Acumatica" not in exp._backend.reports[rid].labels
    ]
    assert unlabelled == [], f"{tenant.name}: not acknowledged {unlabelled[:5]}…"


def no_429(exp: ExpensifyEmulator) -> list[Any]:
    return [r for r in exp.request_log if r.http_status == 429 or r.response_code == 429]


def results(pending: list[Any], timeout: float) -> list[dict[str, Any]]:
    return [r.get(timeout=timeout, propagate=True) for r in pending]


def test_eight_workers_race_on_one_tenant(cluster: Cluster, tmp_path: Path) -> None:
    """200 reports, 8 concurrent syncs without the run lease (per-report claims only)."""
    exp = expensify()
    with ExitStack() as stack:
        exp_server = stack.enter_context(exp.serve())
        tenants = make_tenants(stack, cluster, tmp_path, exp, exp_server.url, {"solo": 200})
        pending = [cluster.sync("solo", tmp_path, exclusive=False) for _ in range(WORKERS)]
        done = results(pending, timeout=600)
        assert all(d["tenant"] == "solo" and not d["errors"] for d in done), done
        # Whoever claimed each report posted it (or adopted what a racer had created).
        assert sum(d["counts"].get("posted", 0) for d in done) <= 200
        assert_exactly_once(exp, tenants["solo"])
        assert no_429(exp) == []
        served_by = {r.partner_user_id for r in exp.request_log}
        assert served_by == {"aa_solo"}  # 8 workers, one partner user, no 429
        # More requests than the emulator's longer window admits: without the shared
        # windows, the eight workers' opening calls alone would have drawn a 429.
        assert len(exp.request_log) > 20


def test_four_tenants_fifty_reports_each(cluster: Cluster, tmp_path: Path) -> None:
    """Two syncs per tenant sent at once; the run lease makes the second wait and find
    nothing left to do."""
    exp = expensify()
    with ExitStack() as stack:
        exp_server = stack.enter_context(exp.serve())
        counts = {f"t{i}": 50 for i in range(4)}
        tenants = make_tenants(stack, cluster, tmp_path, exp, exp_server.url, counts)
        pending = [cluster.sync(name, tmp_path, wait=300) for name in counts for _ in range(2)]
        done = results(pending, timeout=600)
        for name in counts:
            runs = [d for d in done if d["tenant"] == name]
            assert len(runs) == 2
            assert sorted(d["counts"].get("posted", 0) for d in runs) == [0, 50]
            assert_exactly_once(exp, tenants[name])
        assert no_429(exp) == []


def test_connection_cut_mid_run_then_converges(cluster: Cluster, tmp_path: Path) -> None:
    exp = expensify()
    with ExitStack() as stack:
        exp_server = stack.enter_context(exp.serve())
        tenants = make_tenants(stack, cluster, tmp_path, exp, exp_server.url, {"cut": 60})
        tenant = tenants["cut"]
        # Each create takes 0.1 s, so the run lasts long enough to be cut while it posts
        # (however fast the machine), whatever moment a cut finds a live connection.
        tenant.acu.inject(method="PUT", path="/Bill$", delay=0.1, times=10_000)
        pending = cluster.sync("cut", tmp_path, wait=120, lease_seconds=5, backoff=1.0)
        cuts = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and cuts < 3 and not pending.ready():
            if sum(tenant.bill_keys().values()) >= 10 * (cuts + 1):
                cuts += 1 if terminate_connections(cluster.state_url) else 0
            time.sleep(0.05)
        assert cuts >= 1, "the run finished before a connection could be cut"
        first = pending.get(timeout=300)  # retried by Celery after a clean failure
        assert first["tenant"] == "cut", first
        # A second sync converges: whatever the cut run left is finished without error.
        again = cluster.sync("cut", tmp_path, wait=120, backoff=1.0).get(timeout=300)
        assert not again["errors"], again
        assert_exactly_once(exp, tenant)


def test_worker_killed_mid_posting_successor_finishes(cluster: Cluster, tmp_path: Path) -> None:
    exp = expensify()
    with ExitStack() as stack:
        exp_server = stack.enter_context(exp.serve())
        tenants = make_tenants(stack, cluster, tmp_path, exp, exp_server.url, {"kill": 80})
        tenant = tenants["kill"]
        # Each create takes 1 s: with reports posted 8 at a time (the licence's concurrent
        # requests) the run still lasts about 10 s, so the kill below lands mid-posting.
        tenant.acu.inject(method="PUT", path="/Bill$", delay=1.0, times=10_000)
        pending = cluster.sync("kill", tmp_path, wait=120, lease_seconds=4, backoff=1.0)
        deadline = time.monotonic() + 120
        while sum(tenant.bill_keys().values()) < 15:
            assert time.monotonic() < deadline, "posting never started"
            time.sleep(0.02)
        # A solo-pool worker busy with a task does not answer broadcasts: the one alive
        # and silent is the one running the sync.
        answered = {name for reply in cluster.app.control.ping(timeout=2.0) for name in reply}
        running = [n for n, p in cluster.workers.items() if p.poll() is None and n not in answered]
        assert len(running) == 1, (answered, running)
        victim = cluster.workers[running[0]]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        posted_at_kill = sum(tenant.bill_keys().values())
        assert posted_at_kill < 80, "the run finished before the kill"
        # The broker redelivers the unacknowledged task; another worker waits for the
        # killed worker's run lease and claims to lapse, then finishes the run.
        done = pending.get(timeout=300)
        assert not done["errors"], done
        assert_exactly_once(exp, tenant)
        assert no_429(exp) == []


def test_heartbeat_thread_does_not_leak(cluster: Cluster) -> None:
    """The pool is still healthy after the faults: every surviving worker answers."""
    alive = [n for n, p in cluster.workers.items() if p.poll() is None]
    # A solo-pool worker still finishing a redelivered task from the faults above does not
    # answer a broadcast until it is done: give busy workers time, then every one must answer.
    deadline = time.monotonic() + 120
    replies = cluster.app.control.ping(timeout=2.0) or []
    while len(replies) < len(alive) and time.monotonic() < deadline:
        time.sleep(1.0)
        replies = cluster.app.control.ping(timeout=2.0) or []
    assert len(replies) == len(alive) >= WORKERS - 1
    assert threading.active_count() >= 1
