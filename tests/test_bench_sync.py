"""``benchmarks/bench_sync.py``'s client-CPU harness measures the sync it claims to.

No timing is asserted (figures are the benchmark's job). These tests pin that the
out-of-process harness (both emulators in a spawned child, reached through a pipe) runs
the same sync as the in-process one: every report posted, the same calls on each side,
no 429s, and the child gone afterwards; and that a failure inside the child reaches the
caller instead of hanging it.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from types import ModuleType

import httpx
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench_sync(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The spawned child imports the module by name, so it must be on sys.path then.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_sync

    return bench_sync


def test_the_separate_process_harness_runs_the_same_sync_as_the_in_process_one(
    bench_sync: ModuleType,
) -> None:
    remote = bench_sync.measure_cpu(12, 30, remote=True)
    local = bench_sync.measure_cpu(12, 30, remote=False)
    for figures in (remote, local):
        assert figures["posted"] == 12
        assert figures["expensify_429s"] == 0
        assert figures["acumatica_429s"] == 0
        assert figures["cpu_ms_per_report"] > 0
        assert figures["emulator_cpu_ms_per_report"] > 0
    assert remote["acumatica_calls"] == local["acumatica_calls"]
    assert remote["expensify_calls"] == local["expensify_calls"]
    assert remote["method"] != local["method"]
    assert remote["pipe_cpu_ms_per_report"] > 0
    assert "pipe_cpu_ms_per_report" not in local
    assert multiprocessing.active_children() == []


def test_an_error_inside_the_child_is_raised_in_the_caller(bench_sync: ModuleType) -> None:
    clock = bench_sync.SimClock()
    with bench_sync.RemoteEmulators(1, clock) as emulators:
        transport = emulators.transport("acumatica")
        # An unknown side makes the child's lookup fail; the pipe must not hang.
        transport._side = "nowhere"
        with pytest.raises(RuntimeError, match="emulator nowhere: KeyError"):
            transport.handle_request(httpx.Request("GET", "https://erp.test/entity"))
        answered = emulators.transport("acumatica").handle_request(
            httpx.Request("GET", "https://erp.test/entity")
        )
        assert answered.status_code in {200, 401}
    assert multiprocessing.active_children() == []


def test_a_child_that_died_is_cleaned_up_without_an_error(bench_sync: ModuleType) -> None:
    with bench_sync.RemoteEmulators(1, bench_sync.SimClock()) as emulators:
        emulators._process.kill()
        emulators._process.join()
        with pytest.raises((EOFError, OSError)):  # the pipe says so; it does not hang
            emulators.stats()
    assert multiprocessing.active_children() == []
