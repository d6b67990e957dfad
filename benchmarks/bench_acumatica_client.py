"""Acumatica client throughput: wire conversion and in-process round trips.

Run: ``.venv/bin/python benchmarks/bench_acumatica_client.py [N]``. Prints figures; asserts
nothing about speed (targets are read off these numbers, never checked in tests).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from datetime import date
from decimal import Decimal

import httpx

from acumatica_client import (
    AcumaticaClient,
    Bill,
    BillDetail,
    ClientOptions,
    Endpoint,
    OAuth2,
    dumps,
    from_wire,
    loads,
    to_wire,
)
from acumatica_client.emulator import AcumaticaEmulator


def sample_bill(i: int) -> Bill:
    lines = tuple(
        BillDetail(
            account="61000",
            subaccount="000000",
            qty=Decimal(1),
            unit_cost=Decimal(f"{i % 997}.{j:02d}"),
            transaction_description=f"Expense {i}-{j}",
        )
        for j in range(8)
    )
    return Bill(
        type="Bill", vendor="EMP0001", vendor_ref=f"EXB-R{i:08d}", date=date(2026, 11, 1),
        description=f"Report {i}", hold=False, details=lines,
    )  # fmt: skip


def bench_conversion(n: int) -> None:
    bills = [sample_bill(i) for i in range(n)]
    tracemalloc.start()
    started = time.perf_counter()
    blobs = [dumps(to_wire(b, version="24.200.001")) for b in bills]
    encoded = time.perf_counter() - started
    started = time.perf_counter()
    back = [from_wire(Bill, loads(blob)) for blob in blobs]
    decoded = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if back != bills:
        raise SystemExit("round trip changed the bills")
    print(f"conversion: {n} bills x 8 lines")
    print(f"  to_wire+dumps   {encoded * 1e6 / n:8.1f} us/bill")
    print(f"  loads+from_wire {decoded * 1e6 / n:8.1f} us/bill")
    print(f"  peak traced memory {peak / 1e6:.1f} MB")


def bench_round_trips(n: int) -> None:
    emu = AcumaticaEmulator(version="24.200.001")
    emu.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True}])
    emu.seed("Subaccount", [{"SubaccountCD": "000000", "Active": True}])
    emu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active"}])
    auth = OAuth2(
        base_url="https://erp.test", client_id="expense-bridge@Company",
        client_secret="client-secret", username="admin", password="admin-password",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=httpx.MockTransport(emu), options=ClientOptions(sleep=lambda s: None),
    )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        client.put(sample_bill(i))
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"in-process PUT Bill: {n} creates")
    print(f"  wall {wall * 1e3 / n:.2f} ms/create, cpu {used * 1e3 / n:.2f} ms/create")
    print(f"  client calls {client.calls} ({client.calls / n:.2f} per create)")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    bench_conversion(count)
    bench_round_trips(min(count, 500))
