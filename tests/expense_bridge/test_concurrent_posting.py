"""Concurrent posting within one run (``rules.posting_concurrency``), on the emulator.

* Every report gets exactly one document per key, at 1, 2 and 4 posting threads, over
  several pages (the next page is claimed and looked up while one is posted); with more
  than one thread the creates really overlap (a barrier in the transport needs that many
  creates in flight at once, or the test fails).
* Concurrent posting raced against lost create answers (the emulator applies the create
  and drops its answer) and against a second run posting at the same time: after
  re-runs every report converges on exactly one document with the report's amount;
  none is lost, none is created twice.
* The licence limiter keeps requests in flight at or below ``max_concurrent`` (counted
  where the emulator receives them, OAuth token requests included) and starts no more
  than the paced per-minute figure in any 60 s of its clock.
* How the number of posting threads follows the licence and the option.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import httpx
import pytest

from acumatica_client import (
    Account,
    AcumaticaClient,
    ClientOptions,
    Endpoint,
    Licence,
    LicenceLimiter,
    OAuth2,
)
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge._config import AcumaticaSettings
from expense_bridge._ledger import AcumaticaLedger
from expense_bridge._posting import posting_concurrency
from expense_bridge._results import Action
from expense_bridge._store import ReportStatus, SQLiteStore
from expense_bridge._sync import _licensed_concurrency, _run

from .test_posting import Clock, FakeSource, config, expense, report, tenant


class Watch:
    """Counts the requests in flight where the emulator receives them."""

    def __init__(
        self, emu: AcumaticaEmulator, before: Callable[[httpx.Request], None] | None = None
    ) -> None:
        self.emu = emu
        self.before = before
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.seen = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.seen += 1
            self.most = max(self.most, self.in_flight)
        try:
            if self.before is not None:
                self.before(request)
            return self.emu(request)
        finally:
            with self._lock:
                self.in_flight -= 1


def _is_create(request: httpx.Request) -> bool:
    return request.method == "PUT" and request.url.path.endswith(("/Bill", "/JournalTransaction"))


class CreateBarrier:
    """The first ``parties`` creates wait for each other (all in flight at once): a
    poster sending fewer at once never gets past it (BrokenBarrierError after 30 s)."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self._count = 0
        self._lock = threading.Lock()
        self.parties = parties

    def __call__(self, request: httpx.Request) -> None:
        if not _is_create(request):
            return
        with self._lock:
            self._count += 1
            first = self._count <= self.parties
        if first:
            self.barrier.wait()


def _client(
    emu: AcumaticaEmulator,
    *,
    licence: Licence | None = None,
    before: Callable[[httpx.Request], None] | None = None,
    counter: Watch | None = None,
) -> AcumaticaClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(request)
        return (counter or emu)(request)

    auth = OAuth2(base_url="https://erp.test", client_id="expense-bridge@Company",
                  client_secret="client-secret", username="admin",
                  password="admin-password")  # fmt: skip
    return AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=httpx.MockTransport(handle),
        options=ClientOptions(sleep=lambda s: None, licence=licence or Licence()),
    )  # fmt: skip


def _bills(emu: AcumaticaEmulator) -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = {}
    for bill in emu.records("Bill"):
        out.setdefault(str(bill["VendorRef"]), []).append(Decimal(str(bill["Amount"])))
    return out


def _reports(n: int) -> list[object]:
    return [report(f"R{i:03d}", expense(f"R{i:03d}-1", 1000 + i)) for i in range(n)]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_one_document_per_key_at_every_concurrency(tmp_path: Path, threads: int) -> None:
    emu = tenant()
    watch = Watch(emu, before=CreateBarrier(threads) if threads > 1 else None)
    client = _client(emu, counter=watch)
    ledger = AcumaticaLedger(client, page_size=7)  # 23 reports: four pages
    reports = _reports(23)
    source = FakeSource(reports)  # type: ignore[arg-type]
    seen: list[int] = []
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        result = _run(config(posting_concurrency=threads), ledger, source, store,
                      dry_run=False, clock=Clock(), progress=lambda s, d, t: seen.append(d),
                      on_step=None)  # fmt: skip
        assert result.errors == ()
        assert result.posted == 23
        bills = _bills(emu)
        assert sorted(bills) == sorted(f"EXB-{r.report_id}" for r in reports)  # type: ignore[attr-defined]
        for i in range(23):
            assert bills[f"EXB-R{i:03d}"] == [Decimal(1000 + i) / 100]
            record = store.get("default", f"R{i:03d}")
            assert record is not None
            assert record.status is ReportStatus.ACKNOWLEDGED
            assert len(record.documents) == 1
        # Every lease given back; progress counted every report once, in order.
        assert sorted(seen) == seen == list(range(1, 24))
    if threads > 1:
        assert watch.most >= threads  # the creates really overlapped (barrier passed)


def test_threads_never_exceed_the_licence_in_flight(tmp_path: Path) -> None:
    """posting_concurrency 4 on a licence of 2: at most 2 requests reach the tenant."""
    emu = tenant()
    watch = Watch(emu, before=CreateBarrier(2))
    client = _client(emu, licence=Licence(max_concurrent=2), counter=watch)
    ledger = AcumaticaLedger(client, page_size=5)
    source = FakeSource(_reports(12))  # type: ignore[arg-type]
    cfg = config(posting_concurrency=4)
    assert posting_concurrency(4, _licensed_concurrency(cfg, ledger)) == 2
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        result = _run(cfg, ledger, source, store, dry_run=False, clock=Clock(), progress=None,
                      on_step=None)  # fmt: skip
    assert result.posted == 12
    assert result.errors == ()
    assert watch.most == 2
    bills = _bills(emu)
    assert len(bills) == 12
    assert all(len(v) == 1 for v in bills.values())


class DropEvery:
    """Loses the answer of every ``n``-th create after the emulator applied it."""

    def __init__(self, emu: AcumaticaEmulator, n: int, offset: int) -> None:
        self.emu, self.n, self.offset = emu, n, offset
        self._count = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def __call__(self, request: httpx.Request) -> None:
        if not _is_create(request):
            return
        with self._lock:
            self._count += 1
            drop = (self._count + self.offset) % self.n == 0
            if drop:
                self.dropped += 1
        if drop:
            self.emu.inject(method="PUT", path="/Bill$", drop_response=True)


@pytest.mark.parametrize(("every", "offset"), [(2, 0), (3, 1), (5, 2)])
def test_concurrent_posting_raced_against_lost_answers_converges(
    tmp_path: Path, every: int, offset: int
) -> None:
    """Two runs, four threads each, at the same time, while create answers get lost.

    The emulator applies a create and drops its answer (the client sees a timeout and,
    for a create, never re-sends it); the report stays POSTING and the next run finds
    the document by key and adopts it. After the races and clean re-runs: exactly one
    document per key with the report's amount, every report acknowledged.
    """
    emu = tenant()
    dropper = DropEvery(emu, every, offset)
    reports = _reports(30)
    source = FakeSource(reports)  # type: ignore[arg-type]
    clock = Clock()
    cfg = config(posting_concurrency=4)
    path = tmp_path / "s.sqlite3"
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            client = _client(emu, before=dropper)  # each run its own client and store
            with SQLiteStore(path) as store:
                ledger = AcumaticaLedger(client, page_size=8)
                results[name] = _run(cfg, ledger, source, store, dry_run=False, clock=clock,
                                     progress=None, on_step=None)  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    racers = [threading.Thread(target=run, args=(n,)) for n in ("A", "B")]
    for t in racers:
        t.start()
    for t in racers:
        t.join(timeout=300)
    assert not errors, errors
    assert dropper.dropped >= 1  # answers really were lost during the race
    pending = [o for r in results.values() for o in r.outcomes if o.action is Action.PENDING]  # type: ignore[attr-defined]
    assert pending  # a lost answer leaves its report for the next run
    for key, amounts in _bills(emu).items():
        assert len(amounts) == 1, f"{key} created {len(amounts)} times during the race"

    dropper.n = 10**9  # no more lost answers: re-run until nothing is left
    for name in ("C1", "C2"):
        clock.now += timedelta(hours=1)
        run(name)
    assert not errors, errors
    bills = _bills(emu)
    with SQLiteStore(path) as store:
        for r in reports:
            rid = r.report_id  # type: ignore[attr-defined]
            assert bills[f"EXB-{rid}"] == [Decimal(r.total_cents) / 100], rid  # type: ignore[attr-defined]
            record = store.get("default", rid)
            assert record is not None, f"{rid} lost"
            assert record.status is ReportStatus.ACKNOWLEDGED, (rid, record.status)
    assert len(bills) == 30
    assert source.labels.keys() == {r.report_id for r in reports}  # type: ignore[attr-defined]
    # Each lost answer left its report pending, and the document it had created was
    # adopted later (by the other racer or the next run), never created again.
    lost = [o.report_id for o in pending]
    assert len(lost) == len(set(lost)) == dropper.dropped
    adopted = {o.report_id for r in results.values() for o in r.outcomes  # type: ignore[attr-defined]
               if o.action is Action.ADOPTED}  # fmt: skip
    assert set(lost) <= adopted
    assert all(o.action is Action.ALREADY_POSTED for o in results["C2"].outcomes)  # type: ignore[attr-defined]


class SimClock:
    """A monotonic clock for the limiter that advances only when a thread sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


class RecordingLimiter(LicenceLimiter):
    """The real limiter, remembering every start time it reserved."""

    def __init__(self, licence: Licence, clock: SimClock) -> None:
        super().__init__(licence, clock=clock, sleep=clock.sleep)
        self.reserved: list[float] = []
        self._record = threading.Lock()

    def reserve(self) -> float:
        at = super().reserve()
        with self._record:
            self.reserved.append(at)
        return at


def test_limiter_keeps_concurrency_and_rate_token_request_included() -> None:
    """Eight threads through one client: never more than max_concurrent requests in
    flight where the emulator receives them (the OAuth token request included), every
    request paced, and no more than the paced figure started in any 60 s."""
    emu = tenant()
    watch = Watch(emu)
    full = threading.Condition()

    def counted(request: httpx.Request) -> httpx.Response:
        with watch._lock:
            watch.in_flight += 1
            watch.seen += 1
            watch.most = max(watch.most, watch.in_flight)
        try:
            with full:
                full.notify_all()
                full.wait_for(lambda: watch.in_flight >= 3, timeout=1.0)
            return emu(request)
        finally:
            with watch._lock:
                watch.in_flight -= 1
            with full:
                full.notify_all()

    clock = SimClock()
    licence = Licence(requests_per_minute=20, max_concurrent=3)  # paced: 10 per minute
    limiter = RecordingLimiter(licence, clock)
    auth = OAuth2(base_url="https://erp.test", client_id="expense-bridge@Company",
                  client_secret="client-secret", username="admin",
                  password="admin-password")  # fmt: skip
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=httpx.MockTransport(counted), limiter=limiter,
        options=ClientOptions(sleep=clock.sleep, clock=clock, licence=licence),
    )  # fmt: skip
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            for _ in range(4):
                client.list(Account)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert auth.token_requests == 1  # one grant for eight threads
    assert watch.seen == 33  # 32 listings + the token request
    assert len(limiter.reserved) == watch.seen  # every one of them paced
    assert watch.most == 3  # the licence's concurrency is used, never exceeded
    paced = licence.paced_per_minute
    assert paced == 10
    starts = sorted(limiter.reserved)
    for i in range(len(starts) - paced):
        assert starts[i + paced] - starts[i] >= 60.0, (i, starts[i], starts[i + paced])
    assert starts[-1] >= 60.0 * 3  # 33 starts at 10 a minute span more than 3 minutes


@pytest.mark.parametrize(
    ("requested", "licensed", "threads"),
    [(None, None, 1), (None, 4, 4), (2, 4, 2), (8, 4, 4), (3, None, 3), (1, 4, 1)],
)
def test_posting_concurrency_follows_the_licence_and_can_only_lower_it(
    requested: int | None, licensed: int | None, threads: int
) -> None:
    assert posting_concurrency(requested, licensed) == threads


def test_the_lower_of_configured_and_client_licence_counts() -> None:
    emu = tenant()
    settings = AcumaticaSettings(base_url="https://erp.test", endpoint_version="24.200.001",
                                 username="admin", client_id="expense-bridge@Company",
                                 max_concurrent=3)  # fmt: skip
    cfg = attrs.evolve(config(), acumatica=settings)
    assert _licensed_concurrency(cfg, AcumaticaLedger(_client(emu))) == 3
    low = AcumaticaLedger(_client(emu, licence=Licence(max_concurrent=2)))
    assert _licensed_concurrency(cfg, low) == 2
    assert _licensed_concurrency(config(), AcumaticaLedger(_client(emu))) is None


def test_rate_share_and_posting_concurrency_come_from_the_configuration(tmp_path: Path) -> None:
    import tomllib

    from expense_bridge._config import BridgeConfig

    from .test_config import MINIMAL

    data = tomllib.loads(MINIMAL)
    default = BridgeConfig.from_mapping(data)
    assert default.acumatica.licence.rate_share == Licence().rate_share == 0.5
    assert default.rules.posting_concurrency is None
    data["acumatica"].update(rate_share=1.0, max_concurrent=4, requests_per_minute=300)
    data.setdefault("rules", {})["posting_concurrency"] = 2
    chosen = BridgeConfig.from_mapping(data)
    assert chosen.acumatica.licence == Licence(
        requests_per_minute=300, max_concurrent=4, rate_share=1.0
    )
    assert chosen.acumatica.licence.paced_per_minute == 300
    assert chosen.rules.posting_concurrency == 2
    written = tmp_path / "config.toml"
    written.write_text(chosen.to_toml())
    assert BridgeConfig.from_toml(written, env={}).acumatica.licence.rate_share == 1.0
    env = {"EXPENSE_BRIDGE_ACUMATICA__RATE_SHARE": "0.8"}
    assert BridgeConfig.from_toml(written, env=env).acumatica.licence.rate_share == 0.8
