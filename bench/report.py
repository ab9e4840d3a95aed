"""From measurements to the table: medians over repeats, ratios to the same run's baseline."""

from __future__ import annotations

import platform
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.measure import Measurement
from bench.memory import MEMORY_TARGET, MemoryResult
from bench.scenarios import BASELINE_ROUTES, SCENARIOS, Scenario

MAX_P99_OVER_P50 = 3.0
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "asyncpg",
    "psycopg",
    "python-jose",
    "libpass",
    "bcrypt",
)
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Row:
    route: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    failures: int
    ratios: tuple[float, ...]  # one per repeat; empty for baseline rows
    target: float | None
    problems: tuple[str, ...]
    sample_failure: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "baseline"
        return "PASS" if not self.problems else "FAIL: " + "; ".join(self.problems)


def _median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else 0.0


def _of(measurements: Sequence[Measurement], route: str) -> list[Measurement]:
    return sorted((m for m in measurements if m.route == route), key=lambda m: m.repeat)


def _row(
    route: str, runs: Sequence[Measurement], ratios: tuple[float, ...], target: float | None
) -> Row:
    p50, p99 = _median(m.p50_ms for m in runs), _median(m.p99_ms for m in runs)
    failures = sum(m.failures for m in runs)
    problems: list[str] = []
    if target is not None:
        if _median(ratios) < target:
            problems.append(f"ratio < {target:.2f}")
        if p99 > MAX_P99_OVER_P50 * p50:
            problems.append(f"p99 > {MAX_P99_OVER_P50:g} x p50")
        if failures:
            problems.append(f"{failures} non-2xx/errors")
    return Row(
        route=route,
        rps=_median(m.rps for m in runs),
        p50_ms=p50,
        p99_ms=p99,
        cpu_us=_median(m.cpu_us_per_request for m in runs),
        failures=failures,
        ratios=ratios,
        target=target,
        problems=tuple(problems),
        sample_failure=next((m.sample_failure for m in runs if m.sample_failure), ""),
    )


def scenario_row(scenario: Scenario, measurements: Sequence[Measurement]) -> Row:
    runs = _of(measurements, scenario.route)
    baseline = {m.repeat: m.rps for m in _of(measurements, scenario.baseline)}
    ratios = tuple(m.rps / baseline[m.repeat] for m in runs if baseline.get(m.repeat))
    return _row(scenario.route, runs, ratios, scenario.target)


def summarise(measurements: Sequence[Measurement]) -> list[Row]:
    rows = [scenario_row(scenario, measurements) for scenario in SCENARIOS]
    baselines = [_row(route, _of(measurements, route), (), None) for route in BASELINE_ROUTES]
    return rows + [row for row in baselines if row.rps > 0]


def _ratio_cell(row: Row) -> str:
    if row.target is None:
        return "—"
    runs = ", ".join(f"{ratio:.2f}" for ratio in row.ratios)
    return f"**{_median(row.ratios):.2f}** ({runs}) ≥ {row.target:.2f}"


def render_table(rows: Sequence[Row]) -> str:
    header = (
        "| route | req/s | p50 ms | p99 ms | server CPU µs/req | non-2xx | ratio to baseline "
        "(per run) | result |\n|---|---:|---:|---:|---:|---:|---|---|"
    )
    lines = [
        f"| {row.route} | {row.rps:,.1f} | {row.p50_ms:.1f} | {row.p99_ms:.1f} | "
        f"{row.cpu_us:,.0f} | {row.failures} | {_ratio_cell(row)} | {row.verdict} |"
        for row in rows
    ]
    return "\n".join([header, *lines])


def render_failures(rows: Sequence[Row]) -> str:
    samples = [
        f"- {row.route}: first failure `{row.sample_failure[:200]}`"
        for row in rows
        if row.sample_failure
    ]
    return "\n".join(samples)


def render_memory(memory: MemoryResult) -> str:
    points = ", ".join(
        f"{point.rss_bytes / 2**20:.1f} MiB after {point.requests:,} requests"
        for point in memory.points
    )
    verdict = "PASS" if memory.passed else "FAIL"
    return (
        f"Memory (mixed requests, worker RSS): {points}; ratio **{memory.ratio:.3f}** "
        f"(target ≤ {MEMORY_TARGET:.2f}, {memory.failures} non-2xx/errors): {verdict}"
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> str:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(versions)


def git_revision() -> str:
    def git(*args: str) -> str:
        completed = subprocess.run(  # noqa: S603
            ["git", "-C", str(REPO_ROOT), *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" + uncommitted changes" if git("status", "--porcelain") else "")


def machine_lines(cores: int, wrk: str, database: str) -> list[str]:
    return [
        f"- Machine: {cores} cores, {cpu_model()}, Linux {platform.release()}",
        f"- Python {platform.python_version()}; {wrk}; {database}",
        f"- Packages: {package_versions()}",
        f"- Code: {git_revision()}",
    ]


def results_markdown(
    *, title: str, command: str, machine: Sequence[str], table: str, extra: Sequence[str]
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"## {when}: {title}", "", f"`{command}`", "", *machine, "", table]
    for line in extra:
        if line:
            parts += ["", line]
    return "\n".join(parts) + "\n\n"
