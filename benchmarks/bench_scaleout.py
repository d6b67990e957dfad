"""Scale-out: tenants x worker processes against the emulators, each tenant with its own
Acumatica licence ceiling, state and shared limits in PostgreSQL.

Run: ``.venv/bin/python benchmarks/bench_scaleout.py [TENANTS] [REPORTS] [RPM] [LATENCY]``
(defaults 4 tenants, 40 reports each, 600 requests/minute per licence, 0.1 s per
Acumatica request) with PostgreSQL on 127.0.0.1. Every Acumatica request is held
``LATENCY`` seconds by the emulator (an injected delay, holding its concurrency slot, as a
real server's think time and network would), so a worker spends most of its time waiting
and more workers mean more documents per minute -- on a small machine too -- until the
licence ceilings bind. For 1, 2 and 4 worker processes it prints documents per minute,
Acumatica requests per minute, and that rate as a fraction of the summed licence ceilings
(``TENANTS * RPM``; the client paces at half of each licence by default, so 50 % is the
most the bridge will use). The worker processes run the same code as the Celery task
(``expense_bridge.celery.run_sync``) without a broker, so the figures are the bridge's,
not Celery's. A sync runs one tenant at a time (the tenant's run lease), so more workers
than tenants add nothing. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _worker(registry: str, names: Any, key: str, done: Any) -> None:
    os.environ["EXPENSE_BRIDGE_KEY"] = key
    from expense_bridge._store import LeaseBusyError
    from expense_bridge.celery import run_sync
    from expense_bridge.tenants import open_registry

    reg = open_registry(registry)
    while True:
        try:
            name = names.get_nowait()
        except Exception:
            return
        try:
            summary = run_sync(reg.get(name), owner=f"bench-{os.getpid()}", wait=0)
        except LeaseBusyError:
            names.put(name)
            time.sleep(0.2)
            continue
        done.put(summary)


def run(tenants: int, reports: int, rpm: int, latency: float, workers: int) -> dict[str, float]:
    """One timed run: ``workers`` processes sync ``tenants`` fresh tenants."""
    from cryptography.fernet import Fernet
    from tests.scaleout import test_workers
    from tests.scaleout.services import postgres_database

    from expensify_client.emulator import ExpensifyEmulator

    key = Fernet.generate_key().decode()
    with postgres_database() as url, ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        cluster = SimpleNamespace(state_url=url, env={**os.environ, "EXPENSE_BRIDGE_KEY": key})
        exp = ExpensifyEmulator(category_gl_codes=True)
        exp_server = stack.enter_context(exp.serve())
        counts = {f"t{i}": reports for i in range(tenants)}
        made = test_workers.make_tenants(
            stack, cluster, Path(tmp), exp, exp_server.url, counts, rpm=rpm
        )
        if latency > 0:
            for tenant in made.values():  # every request, for the whole run
                tenant.acu.inject(delay=latency, times=10**9)
        context = multiprocessing.get_context("spawn")
        names = context.Queue()
        done = context.Queue()
        for name in counts:
            names.put(name)
        started = time.perf_counter()
        procs = [
            context.Process(target=_worker, args=(tmp, names, key, done)) for _ in range(workers)
        ]
        for p in procs:
            p.start()
        summaries = [done.get(timeout=3600) for _ in counts]
        elapsed = time.perf_counter() - started
        for p in procs:
            p.join(timeout=60)
        documents = sum(sum(t.bill_keys().values()) for t in made.values())
        requests = sum(s["calls"]["acumatica"] for s in summaries)
        minutes = elapsed / 60
        return {
            "documents": documents,
            "seconds": elapsed,
            "docs_per_min": documents / minutes,
            "requests_per_min": requests / minutes,
            "ceiling_used": requests / minutes / (rpm * tenants),
            "errors": sum(len(s["errors"]) for s in summaries),
            "exp_429": sum(1 for r in exp.request_log if r.http_status == 429),
        }


def main() -> None:
    tenants = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    reports = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rpm = int(sys.argv[3]) if len(sys.argv) > 3 else 600
    latency = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
    print(
        f"scale-out: {tenants} tenants x {reports} reports, licence {rpm} requests/min each "
        f"(summed ceilings {rpm * tenants}/min), {latency:g} s per Acumatica request"
    )
    header = (
        "workers",
        "docs",
        "seconds",
        "docs/min",
        "acu req/min",
        "of ceilings",
        "errors",
        "429s",
    )
    print("{:>8} {:>6} {:>8} {:>9} {:>12} {:>12} {:>7} {:>5}".format(*header))
    for workers in (1, 2, 4):
        r = run(tenants, reports, rpm, latency, workers)
        print(
            f"{workers:>8} {r['documents']:>6.0f} {r['seconds']:>8.1f} {r['docs_per_min']:>9.1f} "
            f"{r['requests_per_min']:>12.1f} {r['ceiling_used']:>11.1%} {r['errors']:>7.0f} "
            f"{r['exp_429']:>5.0f}",
            flush=True,
        )
    print("(a run shorter than a minute can exceed the paced half of a licence: its sliding")
    print(" 60-second window lets a burst through at once; size runs to last several minutes)")


if __name__ == "__main__":
    main()
