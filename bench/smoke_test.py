"""Smoke test of the benchmark: every route and a small memory run work end to end (~40 s).

Call it from pytest (the repository root must be importable, as it is for `tests/`):

    from bench.smoke_test import run_smoke

    def test_benchmark_smoke() -> None:
        run_smoke()

It checks the machinery only: every route answered 2xx under load, CPU and latency were read,
the table renders. It never checks the targets: 1-second runs on a shared machine are too noisy.
"""

from __future__ import annotations

from bench.cli import BenchReport, config_from_args, parse_args, render, run_bench
from bench.measure import Measurement
from bench.scenarios import BASELINE_ROUTES, SCENARIOS


def _measurement_problems(m: Measurement) -> list[str]:
    problems = []
    if m.requests == 0:
        problems.append(f"{m.route}: no request completed")
    if m.failures:
        problems.append(f"{m.route}: {m.failures} non-2xx/errors, first: {m.sample_failure!r}")
    if m.cpu_us_per_request <= 0 or m.p50_ms <= 0 or m.p99_ms < m.p50_ms:
        problems.append(f"{m.route}: implausible reading {m}")
    return problems


def smoke_problems(report: BenchReport) -> list[str]:
    """Everything that shows the benchmark itself did not work; [] when it did."""
    expected = [scenario.route for scenario in SCENARIOS] + list(BASELINE_ROUTES)
    measured = {m.route for m in report.measurements}
    problems = [f"{route}: not measured" for route in expected if route not in measured]
    for measurement in report.measurements:
        problems += _measurement_problems(measurement)
    memory = report.memory
    if memory is None or len(memory.points) != len(report.config.memory_steps):
        problems.append("the memory run did not report every step")
    elif memory.failures or min(point.rss_bytes for point in memory.points) <= 0:
        problems.append(f"memory run: {memory.failures} failures, first {memory.sample_failure!r}")
    table = "\n".join(render(report))
    problems += [f"{route}: missing from the table" for route in expected if route not in table]
    return problems


def run_smoke(database: str = "sqlite") -> BenchReport:
    """Run `bench/run.py --smoke --memory` in-process; AssertionError listing what broke."""
    report = run_bench(
        config_from_args(parse_args(["--smoke", "--memory", "--database", database]))
    )
    problems = smoke_problems(report)
    assert not problems, "benchmark smoke test failed:\n" + "\n".join(problems)
    return report
