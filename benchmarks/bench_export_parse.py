"""Peak memory of parsing an export with ``iter_report_export`` (issue 14 goal).

Goal: parsing a 50,000-expense export stays within 64 MB above the process's baseline,
and the peak stays flat as the file grows (10k, 50k, 100k expenses).

For each size the export is rendered once with the project's template (the emulator's
byte-exact rendition; 10 expenses per report, realistic strings and amounts) into a
temporary file. A fresh child process then imports the library, records its resident set
size (baseline), streams the file through ``iter_report_export`` from a binary file object
(counting reports and expenses, keeping nothing), and reports its peak RSS (``VmHWM``,
the peak of its own image) minus the baseline, plus ``tracemalloc``'s peak of Python
allocations in a second pass. For contrast the same is measured for ``json.loads`` of the
whole file (what the parser did before streaming).

Run: ``.venv/bin/python benchmarks/bench_export_parse.py [sizes...]``. Prints figures beside
the goal; asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

GOAL_MB = 64.0
GOAL_SIZE = 50_000
PER_REPORT = 10
DEFAULT_SIZES = (10_000, 50_000, 100_000)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """Peak RSS of this process image (``VmHWM``). Not ``ru_maxrss``: Linux carries that
    across ``exec`` from the parent that spawned the child, so a large parent (e.g.
    ``bench_targets.py`` after its sync runs) would show as the child's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def _report(i: int) -> dict[str, Any]:
    expenses = [
        {
            "transactionID": str(4_000_000_000_000_000 + i * PER_REPORT + j),
            "amount": 1234 + j,
            "modifiedAmount": 0,
            "convertedAmount": 1350 + j,
            "currency": "EUR",
            "currencyConversionRate": Decimal("1.0940"),
            "merchant": f"Café de Flore n°{j} — Paris",
            "created": "2025-01-02",
            "inserted": "2025-01-02 08:00:00",
            "category": "Meals",
            "categoryGlCode": "6100",
            "tag": "Sales:Paris",
            "ntag1": "Sales",
            "ntag1GlCode": "200",
            "ntag2": "Paris",
            "ntag2GlCode": "210",
            "comment": "team lunch with the customer, receipts attached",
            "reimbursable": True,
            "billable": False,
            "receiptObject": {"url": f"https://receipts.test/r{i}-{j}.png"},
        }
        for j in range(PER_REPORT)
    ]
    return {
        "reportID": f"R{i:011d}",
        "reportName": f"January expenses {i}",
        "status": "Approved",
        "policyID": "0123456789ABCDEF",
        "policyName": "Acme EU",
        "currency": "USD",
        "total": sum(e["convertedAmount"] for e in expenses),
        "accountEmail": f"employee{i % 500}@acme.test",
        "managerEmail": "boss@acme.test",
        "created": "2025-01-03 10:11:12",
        "submitted": "2025-01-04 09:00:00",
        "approved": "2025-01-05 09:30:00",
        "submitter": {"firstName": "Ann", "lastName": "Lee", "fullName": "Ann Lee"},
        "transactionList": expenses,
    }


def write_export(path: Path, expenses: int) -> int:
    """Render an export of ``expenses`` expenses into ``path``; return its size in bytes."""
    from expensify_client import EXPORT_TEMPLATE
    from expensify_client.emulator._render import render_export

    with path.open("w", encoding="utf-8") as out:
        out.write('{"reports":[')
        for i in range(expenses // PER_REPORT):
            one = render_export(EXPORT_TEMPLATE, [_report(i)])
            out.write(("," if i else "") + one[len('{"reports":[') : -len("]}\n")])
        out.write("]}\n")
    return path.stat().st_size


def child(path: str, mode: str) -> None:
    """In a fresh process: parse ``path`` and print JSON figures."""
    from expensify_client import Report, iter_report_export

    def run() -> tuple[int, int, int]:
        reports = expenses = unparsed = 0
        with open(path, "rb") as stream:
            if mode == "stream":
                for item in iter_report_export(stream):
                    if isinstance(item, Report):
                        reports += 1
                        expenses += len(item.expenses)
                    else:
                        unparsed += 1
            else:
                document = json.load(stream, parse_float=Decimal)
                reports = len(document["reports"])
                expenses = sum(len(r["transactionList"]) for r in document["reports"])
                del document
        return reports, expenses, unparsed

    baseline = _rss_mb()
    started = time.perf_counter()
    reports, expenses, unparsed = run()
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    tracemalloc.start()
    run()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "reports": reports,
                "expenses": expenses,
                "unparsed": unparsed,
                "seconds": seconds,
                "rss_above_baseline_mb": peak - baseline,
                "traced_peak_mb": traced / 2**20,
            }
        )
    )


def measure(path: Path, mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(sizes: tuple[int, ...]) -> None:
    print(
        f"goal: {GOAL_SIZE:,} expenses within {GOAL_MB:.0f} MB above baseline, flat as the "
        "file grows"
    )
    print(
        f"{'expenses':>9} {'file MB':>8} {'mode':>7} {'RSS+ MB':>8} {'traced MB':>9} "
        f"{'seconds':>8} {'exp/s':>9}  verdict"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"export-{size}.json"
            file_mb = write_export(path, size) / 2**20
            for mode in ("stream", "loads"):
                r = measure(path, mode)
                assert r["expenses"] == size, r  # the benchmark itself must be sound
                rate = r["expenses"] / r["seconds"] if r["seconds"] else 0.0
                verdict = ""
                if mode == "stream":
                    ok = r["rss_above_baseline_mb"] <= GOAL_MB
                    verdict = f"{'within' if ok else 'OVER'} {GOAL_MB:.0f} MB"
                print(
                    f"{size:>9,} {file_mb:>8.1f} {mode:>7} {r['rss_above_baseline_mb']:>8.1f} "
                    f"{r['traced_peak_mb']:>9.1f} {r['seconds']:>8.2f} {rate:>9,.0f}  {verdict}"
                )
            path.unlink()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main(tuple(int(a) for a in sys.argv[1:]) or DEFAULT_SIZES)
