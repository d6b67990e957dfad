"""Concurrent posting against the licence: documents per minute as a fraction of the ceiling.

Run: ``.venv/bin/python benchmarks/bench_concurrency.py [SCALE]`` (default scale 3;
about five minutes).
Prints, for 0.3 s and 1.5 s of simulated latency per Acumatica request and a licence of
1, 2 and 4 concurrent requests (300 requests per minute, paced at the configured
``Licence.rate_share``), the documents per minute one ``sync()`` posts, the *ceiling*
the licence allows, their ratio beside the goal (>= 0.95), Acumatica requests per
document and the 429s seen. Asserts nothing about speed.

The ceiling (requests per minute) is ``min(requests_per_minute * rate_share,
max_concurrent * 60 / latency)``: the paced per-minute share, or what that many requests
in flight can do when each takes ``latency``. Documents per minute are compared with it
directly, so the look-ups (one per page of 50) and every other request count against the
fraction: a perfect poster reaches about 0.98.

Clock. Everything runs on one *scaled* clock -- emulated time is ``SCALE`` times real
time -- shared by the Acumatica emulator (its licence window and the injected delay that
holds every request ``latency`` emulated seconds, holding its concurrency slot), the
client's licence limiter and retries, the Expensify side and the bridge. A purely
simulated clock would be instant, but it cannot be shared by several posting threads
(each sleeping thread would move it for the others); real time would take a quarter of
an hour. The price of scaling: the bridge's own time per report (store transactions,
mapping, the emulators) counts ``SCALE`` times in emulated seconds, so a concurrency-bound
figure is a *lower* bound of what the same machine reaches at scale 1 (pass ``1`` to see).

Window. A licence's per-minute ceiling is a sliding 60 s window, so a fresh client may
start a whole minute's share at once; a rate-bound run shorter than a few minutes would
exceed the ceiling. Where the per-minute share is the ceiling, documents are therefore
counted from one emulated minute after the first create (the window is full by then) over
whole minutes of the posting phase, and runs are sized for at least one whole minute of
that steady state (``steady`` is False when a run was too short and the whole posting
phase was counted instead). Where concurrency is the ceiling there is no burst, and the
whole posting phase (first to last create) is counted.

``measure_throughput(latency, concurrent, reports)`` is the importable measurement (used
by ``bench_targets.py``).
"""

from __future__ import annotations

import math
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, Licence, OAuth2
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import BridgeConfig, PostingRules, SQLiteStore, sync
from expense_bridge._config import AcumaticaSettings, ExpensifySettings
from expensify_client import ClientOptions as ExpensifyOptions
from expensify_client import Credentials, ExpensifyClient, RateLimiter
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OWNER = "controller@firm.test"
REQUESTS_PER_MINUTE = 300
GOAL = 0.95
DEFAULT_SCALE = 3.0
LATENCIES = (0.3, 1.5)
CONCURRENCIES = (1, 2, 4)


class ScaledClock:
    """Emulated time running ``scale`` times faster than real time (thread-safe)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._t0 = time.perf_counter()

    def monotonic(self) -> float:
        return (time.perf_counter() - self._t0) * self.scale

    def __call__(self) -> datetime:
        return START + timedelta(seconds=self.monotonic())

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)


class Recorder:
    """In front of the emulator: when each create completed, and every status."""

    def __init__(self, emu: AcumaticaEmulator, clock: ScaledClock) -> None:
        self.emu = emu
        self.clock = clock
        self.creates: list[float] = []
        self.requests = 0
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.emu(request)
        create = request.method == "PUT" and request.url.path.endswith(
            ("/Bill", "/JournalTransaction")
        )
        with self._lock:
            self.requests += 1
            self.refused += response.status_code == 429
            if create and response.is_success:
                self.creates.append(self.clock.monotonic())
        return response


def _world(
    reports: int,
    latency: float,
    concurrent: int,
    rate_share: float,
    clock: ScaledClock,
    threads: int | None = None,
) -> tuple[BridgeConfig, AcumaticaEmulator, Recorder, AcumaticaClient, ExpensifyClient]:
    acu = AcumaticaEmulator(
        version="24.200.001",
        clock=clock,
        sleep=clock.sleep,
        hold_on_entry=False,
        requests_per_minute=REQUESTS_PER_MINUTE,
        max_concurrent=concurrent,
    )
    acu.seed(
        "Account",
        [
            {"AccountCD": c, "Type": t, "Active": True}
            for c, t in (("61000", "Expense"), ("62000", "Expense"), ("21000", "Liability"))
        ],
    )
    people = [f"user{i:04d}@firm.test" for i in range(20)]
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
    for i in range(reports):
        spec = ExpenseSpec(
            amount_cents=10_000 + i,
            currency="USD",
            created=date(2026, 11, 10),
            merchant=f"Air {i}",
            category="Travel",
        )
        rid = exp.add_report(
            "POL1",
            submitter=people[i % len(people)],
            name=f"Trip {i}",
            currency="USD",
            expenses=[spec],
            created=START - timedelta(days=4),
        )
        exp.submit(rid, START - timedelta(days=3))
        exp.approve(rid, START - timedelta(days=1))
    recorder = Recorder(acu, clock)
    licence = Licence(
        requests_per_minute=REQUESTS_PER_MINUTE, max_concurrent=concurrent, rate_share=rate_share
    )
    auth = OAuth2(
        base_url="https://erp.test",
        client_id="expense-bridge@Company",
        client_secret="client-secret",
        username="admin",
        password="admin-password",
        clock=lambda: clock().timestamp(),
    )
    acu_client = AcumaticaClient(
        base_url="https://erp.test",
        endpoint=Endpoint("Default", "24.200.001"),
        auth=auth,
        transport=httpx.MockTransport(recorder),
        options=ClientOptions(
            sleep=clock.sleep, clock=clock.monotonic, licence=licence, timeout=600
        ),
    )
    exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id="aa_bench", partner_user_secret="bench-secret"),
        transport=exp.transport(),
        options=ExpensifyOptions(
            sleep=clock.sleep,
            today=lambda: clock().date(),
            limits=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        ),
    )
    config = BridgeConfig(
        acumatica=AcumaticaSettings(
            base_url="https://erp.test",
            endpoint_version="24.200.001",
            username="admin",
            client_id="expense-bridge@Company",
            requests_per_minute=REQUESTS_PER_MINUTE,
            max_concurrent=concurrent,
        ),
        expensify=ExpensifySettings(partner_user_id="aa_bench"),
        policies=("POL1",),
        # posting_concurrency None: as many threads as the licence's concurrent requests
        rules=PostingRules(employee_liability_account="21000", posting_concurrency=threads),
    )
    acu.inject(delay=latency, times=10**9)  # every request, for the whole run
    return config, acu, recorder, acu_client, exp_client


def ceiling_per_minute(latency: float, concurrent: int, rate_share: float | None = None) -> float:
    """Requests per minute the licence allows (see the module docstring)."""
    licence = Licence(
        requests_per_minute=REQUESTS_PER_MINUTE,
        max_concurrent=concurrent,
        **({} if rate_share is None else {"rate_share": rate_share}),
    )
    paced = licence.paced_per_minute
    assert paced is not None
    return min(float(paced), concurrent * 60.0 / latency)


def rate_bound(latency: float, concurrent: int, rate_share: float | None = None) -> bool:
    """Whether the paced per-minute share, not concurrency, is the ceiling."""
    return ceiling_per_minute(latency, concurrent, rate_share) < concurrent * 60.0 / latency


def reports_for(latency: float, concurrent: int, rate_share: float | None = None) -> int:
    """Reports for a measurable run: about 2.4 emulated minutes of posting when the rate
    is the ceiling (one minute of warm-up, at least one whole minute measured), about
    1.2 minutes when concurrency is."""
    minutes = 2.4 if rate_bound(latency, concurrent, rate_share) else 1.2
    return math.ceil(ceiling_per_minute(latency, concurrent, rate_share) * minutes) + 10


def measure_throughput(
    latency: float,
    concurrent: int,
    reports: int,
    *,
    scale: float = DEFAULT_SCALE,
    rate_share: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """One ``sync()`` of ``reports`` new reports; documents per minute vs the ceiling.

    ``latency``: emulated seconds every Acumatica request is held; ``concurrent``: the
    licence's ``max_concurrent`` (the bridge posts with as many threads); ``rate_share``:
    ``Licence.rate_share`` (None: the library default); ``threads``:
    ``rules.posting_concurrency`` (None: follow the licence; 1: the sequential poster
    this release replaces, for comparison). Returns ``docs_per_min``,
    ``ceiling_per_min``, ``fraction``, ``acumatica_429s``, ``requests_per_doc``,
    ``documents``, ``window_s`` (emulated seconds measured), ``steady`` and ``scale``.
    """
    share = Licence().rate_share if rate_share is None else rate_share
    clock = ScaledClock(scale)
    config, acu, recorder, acu_client, exp_client = _world(
        reports, latency, concurrent, share, clock, threads
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "state.sqlite3")
        try:
            result = sync(
                config, acumatica=acu_client, expensify=exp_client, store=store, now=clock
            )
        finally:
            store.close()
    creates = sorted(recorder.creates)
    ceiling = ceiling_per_minute(latency, concurrent, share)
    if not creates:
        return {"docs_per_min": 0.0, "ceiling_per_min": ceiling, "fraction": 0.0,
                "acumatica_429s": recorder.refused, "errors": list(result.errors)}  # fmt: skip
    first, last = creates[0], creates[-1]
    whole = math.floor((last - first - 60.0) / 60.0)
    if not rate_bound(latency, concurrent, share):  # no burst to skip
        start, end, steady = first, last, len(creates) > 1
        counted = len(creates) - 1
    elif whole >= 1:
        start, end, steady = first + 60.0, first + 60.0 + 60.0 * whole, True
        counted = sum(1 for t in creates if start < t <= end)
    else:  # too short for a steady window: the whole posting phase
        start, end, steady = first, last, False
        counted = len(creates) - 1
    window = max(end - start, 1e-9)
    docs_per_min = counted / window * 60.0
    return {
        "docs_per_min": docs_per_min,
        "ceiling_per_min": ceiling,
        "fraction": docs_per_min / ceiling,
        "acumatica_429s": recorder.refused,
        "requests_per_doc": recorder.requests / max(1, len(creates)),
        "documents": len(creates),
        "posted": result.posted,
        "errors": list(result.errors),
        "window_s": window,
        "steady": steady,
        "scale": scale,
        "rate_share": share,
        "licence_delayed": acu.licence_stats["delayed"],
    }


def main(scale: float) -> None:
    share = Licence().rate_share
    print(
        f"concurrent posting: licence {REQUESTS_PER_MINUTE} requests/min paced at rate_share "
        f"{share:g} ({int(REQUESTS_PER_MINUTE * share)}/min), clock x{scale:g}; goal: "
        f"documents/min >= {GOAL:.0%} of the ceiling"
    )
    header = ("latency", "licence", "reports", "docs/min", "ceiling", "fraction", "goal",
              "req/doc", "429s", "window")  # fmt: skip
    print("{:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>6} {:>8} {:>5} {:>8}".format(*header))
    for latency in LATENCIES:
        for concurrent in CONCURRENCIES:
            n = reports_for(latency, concurrent)
            r = measure_throughput(latency, concurrent, n, scale=scale)
            verdict = "ok" if r["fraction"] >= GOAL else "MISS"
            window = f"{r['window_s']:.0f}s" + ("" if r["steady"] else "*")
            print(
                f"{latency:>7g}s {concurrent:>8} {n:>8} {r['docs_per_min']:>9.1f} "
                f"{r['ceiling_per_min']:>8.1f} {r['fraction']:>9.3f} {verdict:>6} "
                f"{r['requests_per_doc']:>8.3f} {r['acumatica_429s']:>5} {window:>8}",
                flush=True,
            )
            if r["errors"]:
                print(f"  errors: {r['errors']}")
    # The poster this release replaces: one report at a time on the same licence.
    r = measure_throughput(1.5, 4, 60, scale=scale, threads=1)
    print(
        f"{'1.5s':>8} {'4, 1 thread':>8} {60:>8} {r['docs_per_min']:>9.1f} "
        f"{r['ceiling_per_min']:>8.1f} {r['fraction']:>9.3f} {'(was)':>6} "
        f"{r['requests_per_doc']:>8.3f} {r['acumatica_429s']:>5} {r['window_s']:>7.0f}s*",
        flush=True,
    )
    print("(licence = max_concurrent; ceiling = min(paced per-minute share, licence x 60 s /")
    print(" latency); window = emulated seconds counted, * = run too short for a steady window)")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SCALE)
