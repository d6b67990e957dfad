"""SDK wire path against a raw httpx + ``json`` floor (issue 14 target: ratio <= 1.5).

One operation = serialise one Bill + send it + receive the recorded answer + parse it:

* **floor**: ``json.dumps`` of the same wire dict, ``httpx.Client.put`` with the bytes,
  ``json.loads`` of the answer (no typed entities, no error mapping, no limiter);
* **SDK**: ``AcumaticaClient.put(bill)`` (to_wire + exact-Decimal encoder + limiter +
  retry policy + status mapping + from_wire of the answer).

Both go through the same replaying ``httpx.MockTransport`` that returns a recorded
Bill answer (the real shape: every top-level field, ``{}`` for unset ones, ``note``,
``_links``, GUID ids on lines), so the emulator's cost is excluded. Reads (``get``) are
measured the same way. Run: ``.venv/bin/python benchmarks/bench_wire.py [N]``. Prints
figures beside the goal; asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from acumatica_client import (
    AcumaticaClient,
    Bill,
    BillDetail,
    ClientOptions,
    Endpoint,
    dumps,
    loads,
    to_wire,
)

BASE = "https://erp.example.test/AcumaticaDB"
URL = f"{BASE}/entity/Default/24.200.001/Bill"
GOAL = 1.5


def sample_bill(i: int, lines: int = 8) -> Bill:
    details = tuple(
        BillDetail(
            account="61000",
            subaccount="000000",
            branch="HQ",
            qty=Decimal(1),
            unit_cost=Decimal(f"{i % 997}.{j:02d}"),
            transaction_description=f"Expense {i}-{j}",
        )
        for j in range(lines)
    )
    return Bill(
        type="Bill", vendor="EMP0001", vendor_ref=f"EXB-R{i:08d}", date=date(2026, 11, 1),
        description=f"Report {i}", hold=False, details=details,
    )  # fmt: skip


def recorded_answer(bill: Bill) -> bytes:
    """The tenant's answer to the PUT, in the real rendering (reference §3.1)."""
    sent = loads(dumps(to_wire(bill)))  # numbers stay JSON numbers, exactly
    note_id = str(uuid.UUID(int=7))
    body: dict[str, Any] = {
        "id": note_id,
        "rowNumber": 1,
        "note": {"value": ""},
        "Amount": {"value": Decimal("1234.56")},
        "ApprovedForPayment": {"value": False},
        "Balance": {"value": Decimal("1234.56")},
        "BranchID": {"value": "HQ"},
        "CashAccount": {},
        "CurrencyID": {"value": "USD"},
        "Date": {"value": "2026-11-01T00:00:00+00:00"},
        "Description": sent["Description"],
        "DueDate": {"value": "2026-12-01T00:00:00+00:00"},
        "Hold": {"value": False},
        "IsTaxValid": {},
        "LastModifiedDateTime": {"value": "2026-11-25T17:07:45.433+00:00"},
        "LocationID": {"value": "MAIN"},
        "PostPeriod": {"value": "112026"},
        "Project": {"value": "X"},
        "ReferenceNbr": {"value": "000123"},
        "Status": {"value": "Balanced"},
        "TaxTotal": {"value": Decimal("0.0")},
        "Terms": {"value": "30D"},
        "Type": {"value": "Bill"},
        "Vendor": sent["Vendor"],
        "VendorRef": sent["VendorRef"],
        "Details": [
            {
                "id": str(uuid.UUID(int=100 + n)),
                "rowNumber": n + 1,
                "note": {"value": ""},
                **line,
                "Amount": line["UnitCost"],
                "ExtendedCost": line["UnitCost"],
                "Description": {"value": "Travel expenses"},
                "InventoryID": {},
                "UOM": {},
                "_links": {"files:put": f"/AcumaticaDB/entity/Default/24.200.001/files/x/{n}"},
            }
            for n, line in enumerate(sent["Details"])
        ],
        "custom": {},
        "_links": {
            "self": f"/AcumaticaDB/entity/Default/24.200.001/Bill/{note_id}",
            "files:put": "/AcumaticaDB/entity/Default/24.200.001/files/"
            "PX.Objects.AP.APInvoiceEntry/Document/x/{filename}",
        },
    }
    return dumps(body)


def replaying(answer: bytes) -> httpx.MockTransport:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    return httpx.MockTransport(lambda request: httpx.Response(200, content=answer, headers=headers))


def paired(
    floor: Callable[[int], object], sdk: Callable[[int], object], n: int, rounds: int
) -> tuple[float, float, float]:
    """Interleaved batches (floor, SDK, floor, SDK…) so machine load hits both alike.

    Returns the best seconds per operation of each side (the least disturbed batch: the
    headline ratio is best SDK / best floor) and the median of the per-round ratios.
    """
    floors: list[float] = []
    sdks: list[float] = []
    for _ in range(rounds):
        for op, sink in ((floor, floors), (sdk, sdks)):
            started = time.process_time()  # CPU time: less disturbed by other processes
            for i in range(n):
                op(i)
            sink.append((time.process_time() - started) / n)
    ratios = [s / f for f, s in zip(floors, sdks, strict=True)]
    return min(floors), min(sdks), statistics.median(ratios)


def main(n: int) -> None:
    bills = [sample_bill(i) for i in range(n)]
    dicts = [json.loads(dumps(to_wire(b))) for b in bills]  # floor input: the same body
    answer = recorded_answer(bills[0])

    raw = httpx.Client(transport=replaying(answer))
    headers = {"Accept": "application/json", "Content-Type": "application/json"}

    def floor_put(i: int) -> object:
        response = raw.put(URL, content=json.dumps(dicts[i]).encode(), headers=headers, timeout=60)
        return json.loads(response.content)

    def floor_get(i: int) -> object:
        response = raw.get(f"{URL}/Bill/000123", headers=headers, timeout=60)
        return json.loads(response.content)

    client = AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        transport=replaying(answer),
        options=ClientOptions(),
    )

    def sdk_put(i: int) -> object:
        return client.put(bills[i])

    def sdk_get(i: int) -> object:
        return client.get(Bill, "Bill", "000123")

    for op in (floor_put, sdk_put, floor_get, sdk_get):  # warm-up
        for i in range(min(n, 50)):
            op(i)
    rounds = 15
    print(f"SDK wire path, Bill with 8 lines: {rounds} interleaved rounds of {n} operations")
    print(f"  {'':26}{'floor µs':>9}{'SDK µs':>9}{'ratio':>7}{'goal':>9}{'median':>8}")
    for label, floor, sdk in (("PUT serialise+send+parse", floor_put, sdk_put),
                              ("GET send+parse (extra)", floor_get, sdk_get)):  # fmt: skip
        best_floor, best_sdk, median = paired(floor, sdk, n, rounds)
        ratio = best_sdk / best_floor
        verdict = "ok" if ratio <= GOAL else "OVER"
        print(f"  {label:26}{best_floor * 1e6:9.1f}{best_sdk * 1e6:9.1f}{ratio:7.2f}"
              f"{f'<= {GOAL}':>9}{median:8.2f}  {verdict}")  # fmt: skip
    print("  CPU time per operation (process_time); ratio = best SDK batch / best floor batch;")
    print("  median = median of the paired rounds' ratios")
    raw.close()
    client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
