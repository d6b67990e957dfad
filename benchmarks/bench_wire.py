"""SDK wire path against a raw httpx + ``json`` floor (issue 14 target: ratio <= 1.5).

One operation = serialise one Bill + send it + receive the recorded answer + parse it:

* **floor**: ``json.dumps`` of the same wire dict, ``httpx.Client.put`` with the bytes,
  ``json.loads`` of the answer (no typed entities, no error mapping, no limiter);
* **SDK**: ``AcumaticaClient.put(bill)`` (to_wire + exact-Decimal encoder + limiter +
  retry policy + status mapping + from_wire of the answer).

Both sides make the *same HTTP exchange*, checked before anything is timed: same method,
URL, header list (Accept, Content-Type, User-Agent and httpx's own), extensions (timeout)
and body bytes. The floor encodes with one prebuilt compact ``json.JSONEncoder`` (what
``json.dumps`` does with its default encoder, at the same speed) and the sample amounts
are ones whose float repr is their exact literal, so the floor's float dict gives the
SDK's exact-Decimal bytes. Both go through the same replaying ``httpx.MockTransport``
that returns a recorded Bill answer (the real shape: every top-level field, ``{}`` for
unset ones, ``note``, ``_links``, GUID ids on lines), so the emulator's cost is
excluded. Reads (``get``) are measured the same way. The figure is CPU time
(``process_time``) in interleaved rounds (floor, SDK, floor, SDK…) so load from other
processes hits both sides alike.

Earlier versions of this benchmark were unfair in both directions: the floor sent other
bytes (``json.dumps`` defaults: spaces after separators, floats such as ``5.0`` for
``5.00``; 10 % more bytes) and no User-Agent.

Run: ``.venv/bin/python benchmarks/bench_wire.py [N]``. Prints figures beside the goal;
asserts nothing about speed. :func:`measure_wire` gives the figures as a dict (used by
``bench_targets.py``).
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
#: ``json.dumps`` with compact separators, built once (as the default ``json.dumps`` is):
#: the same bytes as the SDK's body, at the stdlib's best speed.
FLOOR_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def sample_bill(i: int, lines: int = 8) -> Bill:
    details = tuple(
        BillDetail(
            account="61000",
            subaccount="000000",
            branch="HQ",
            qty=Decimal(1),
            # .01-.08: each float repr is the exact literal (floor bytes = SDK bytes)
            unit_cost=Decimal(f"{i % 997}.{j + 1:02d}"),
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


def replaying(answer: bytes, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    headers = {"Content-Type": "application/json; charset=utf-8"}

    def reply(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, content=answer, headers=headers)

    return httpx.MockTransport(reply)


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


class _Sides:
    """The floor and SDK operations over one replaying transport each."""

    def __init__(self, n: int, seen: list[httpx.Request] | None = None) -> None:
        self.bills = [sample_bill(i) for i in range(n)]
        # The floor's input: the same wire dict, numbers as JSON gives them (float/int).
        self.dicts = [json.loads(dumps(to_wire(b))) for b in self.bills]
        answer = recorded_answer(self.bills[0])
        self.raw = httpx.Client(transport=replaying(answer, seen))
        options = ClientOptions()
        self.headers = {  # the SDK's fixed headers, in its order
            "Accept": "application/json",
            "User-Agent": options.user_agent,
            "Content-Type": "application/json",
        }
        self.get_headers = {k: v for k, v in self.headers.items() if k != "Content-Type"}
        self.client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            transport=replaying(answer, seen),
            options=options,
        )

    def floor_put(self, i: int) -> object:
        body = FLOOR_ENCODER.encode(self.dicts[i]).encode()
        response = self.raw.put(URL, content=body, headers=self.headers, timeout=60)
        return json.loads(response.content)

    def sdk_put(self, i: int) -> object:
        return self.client.put(self.bills[i])

    def floor_get(self, i: int) -> object:
        response = self.raw.get(f"{URL}/Bill/000123", headers=self.get_headers, timeout=60)
        return json.loads(response.content)

    def sdk_get(self, i: int) -> object:
        return self.client.get(Bill, "Bill", "000123")

    def close(self) -> None:
        self.raw.close()
        self.client.close()


def check_same_exchange(n: int) -> None:
    """Raise ``AssertionError`` unless floor and SDK send the same requests."""
    seen: list[httpx.Request] = []
    sides = _Sides(n, seen)
    try:
        for i in range(n):
            for op in (sides.floor_put, sides.sdk_put, sides.floor_get, sides.sdk_get):
                op(i)
    finally:
        sides.close()
    for floor, sdk in zip(seen[0::2], seen[1::2], strict=True):
        assert floor.method == sdk.method, (floor.method, sdk.method)
        assert floor.url == sdk.url, (floor.url, sdk.url)
        assert floor.headers.multi_items() == sdk.headers.multi_items(), (
            floor.headers.multi_items(), sdk.headers.multi_items(),
        )  # fmt: skip
        assert floor.content == sdk.content, "the floor sends other body bytes"
        assert floor.extensions == sdk.extensions, (floor.extensions, sdk.extensions)


def measure_wire(n: int = 500, rounds: int = 15) -> dict[str, dict[str, float]]:
    """Floor and SDK CPU time per operation for PUT and GET, their ratio and median.

    Keys ``put`` and ``get``, each ``{"floor_us", "sdk_us", "ratio", "median"}``:
    ``ratio`` is best SDK batch / best floor batch over ``rounds`` interleaved rounds of
    ``n`` operations; ``median`` the median of the rounds' ratios. The exchange is
    checked to be the same on both sides first (:func:`check_same_exchange`).
    """
    check_same_exchange(min(n, 20))
    sides = _Sides(n)
    try:
        pairs = {"put": (sides.floor_put, sides.sdk_put), "get": (sides.floor_get, sides.sdk_get)}
        for floor, sdk in pairs.values():  # warm-up
            for i in range(min(n, 50)):
                floor(i)
                sdk(i)
        figures: dict[str, dict[str, float]] = {}
        for name, (floor, sdk) in pairs.items():
            best_floor, best_sdk, median = paired(floor, sdk, n, rounds)
            figures[name] = {
                "floor_us": best_floor * 1e6,
                "sdk_us": best_sdk * 1e6,
                "ratio": best_sdk / best_floor,
                "median": median,
            }
        return figures
    finally:
        sides.close()


def main(n: int, rounds: int = 15) -> None:
    figures = measure_wire(n, rounds)
    print(f"SDK wire path, Bill with 8 lines: {rounds} interleaved rounds of {n} operations")
    print("  same exchange on both sides (method, URL, headers, body bytes): checked")
    print(f"  {'':26}{'floor µs':>9}{'SDK µs':>9}{'ratio':>7}{'goal':>9}{'median':>8}")
    labels = {"put": "PUT serialise+send+parse", "get": "GET send+parse (extra)"}
    for name, label in labels.items():
        f = figures[name]
        verdict = "ok" if f["ratio"] <= GOAL else "OVER"
        print(f"  {label:26}{f['floor_us']:9.1f}{f['sdk_us']:9.1f}{f['ratio']:7.2f}"
              f"{f'<= {GOAL}':>9}{f['median']:8.2f}  {verdict}")  # fmt: skip
    print("  CPU time per operation (process_time); ratio = best SDK batch / best floor batch;")
    print("  median = median of the paired rounds' ratios")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
