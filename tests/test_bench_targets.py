"""``benchmarks/bench_targets.py`` imports and reports correctly (on made-up figures).

Nothing is measured here and no timing is asserted: the benchmark itself is run by hand.
These tests pin the table, the goal checks and the exit-code rule, and that the full
profile uses the sizes issue 14 names.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    name = "_bench_targets_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "bench_targets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = list(sys.path)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
        assert sys.path == before, "importing bench_targets must not change sys.path"
        yield module
    finally:
        del sys.modules[name]


def _sync_run(reports: int, history: int = 0, **overrides: Any) -> dict[str, Any]:
    run = {
        "reports": reports, "history": history, "cpu_ms_per_report": 0.8,
        "acumatica_calls_per_report": 1.01, "expensify_calls": 7, "expensify_429s": 0,
        "acumatica_429s": 0,
    }  # fmt: skip
    run.update(overrides)
    return run


class TestTable:
    def test_columns_line_up_and_verdicts_read(self, bench: ModuleType) -> None:
        rows = [
            bench.Row("SDK wire path PUT", "1.23x", "<= 1.5x", True),
            bench.Row("docs/min vs ceiling, 1.5 s", "0.941", ">= 0.95", False),
            bench.Row("info", "7 calls", "-", None),
        ]
        lines = bench.format_table(rows).splitlines()
        assert lines[0].split(" | ") == ["target".ljust(26), "figure".ljust(7), "goal".ljust(7),
                                         "met?"]  # fmt: skip
        assert set(lines[1]) <= {"-", "+"}
        assert [line.rsplit("|", 1)[1].strip() for line in lines[2:]] == ["yes", "NO", "-"]
        assert len({line.index("|") for line in lines if "|" in line}) == 1

    def test_exit_code_fails_only_under_strict_and_only_on_a_missed_goal(
        self, bench: ModuleType
    ) -> None:
        met = bench.Row("a", "1", "1", True)
        info = bench.Row("b", "2", "-", None)
        miss = bench.Row("c", "3", "1", False)
        assert bench.exit_code([met, info, miss], strict=False) == 0
        assert bench.exit_code([met, info, miss], strict=True) == 1
        assert bench.exit_code([met, info], strict=True) == 0


class TestGoalChecks:
    def test_calls_and_429s_from_the_sync_runs(self, bench: ModuleType) -> None:
        results = bench.Results()
        results.sync_runs = [_sync_run(1_000), _sync_run(5_000), _sync_run(1_000, 20_000)]
        results.throughput_429s = [0, 0]
        bench.calls_rows(results)
        acumatica, expensify, refused = results.rows
        assert "1,000/5,000 reports" in acumatica.target  # history runs are not counted
        assert (acumatica.met, expensify.met, refused.met) == (True, True, True)

    def test_growing_expensify_calls_a_429_and_too_many_acumatica_calls_miss(
        self, bench: ModuleType
    ) -> None:
        results = bench.Results()
        results.sync_runs = [
            _sync_run(1_000, expensify_calls=7),
            _sync_run(5_000, expensify_calls=9, acumatica_calls_per_report=1.2),
        ]
        results.throughput_429s = [1]
        bench.calls_rows(results)
        assert [row.met for row in results.rows] == [False, False, False]
        assert "throughput runs: Acumatica 1" in results.rows[2].figure

    def test_scaling_row_tells_linear_from_quadratic(self, bench: ModuleType) -> None:
        linear = bench.scaling_row("linear", 100, lambda n: n * 1e-6)
        quadratic = bench.scaling_row("quadratic", 100, lambda n: n * n * 1e-9)
        assert linear.met is True
        assert linear.figure.startswith("10.0x")
        assert quadratic.met is False
        assert quadratic.figure.startswith("100.0x")


class TestProfiles:
    def test_the_full_profile_uses_the_issue_sizes(self, bench: ModuleType) -> None:
        full = bench.FULL
        assert full.latencies == (0.3, 1.5)
        assert full.concurrencies == (1, 2, 4)
        assert full.cpu_runs == (1_000, 5_000, 20_000)
        assert full.cpu_histories == (0, 20_000, 100_000)
        assert full.export_sizes == (10_000, 50_000, 100_000)
        assert bench.EXPORT_GOAL_SIZE in full.export_sizes

    def test_quick_is_smaller_everywhere(self, bench: ModuleType) -> None:
        quick, full = bench.QUICK, bench.FULL
        assert max(quick.cpu_runs) < max(full.cpu_runs)
        assert max(quick.cpu_histories) < max(full.cpu_histories)
        assert max(quick.export_sizes) < max(full.export_sizes)
        assert quick.wire_n * quick.wire_rounds < full.wire_n * full.wire_rounds

    def test_an_unknown_section_is_refused(self, bench: ModuleType) -> None:
        with pytest.raises(SystemExit):
            bench.main(["--quick", "--only", "nonsense"])
