"""`python bench/run.py`: Stockroom against a bare-FastAPI baseline under wrk, in one table."""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from bench.load import LoadPlan, ensure_wrk, wrk_version
from bench.measure import Measurement, measure_hash_rate, measure_route
from bench.memory import MEMORY_STEPS, MemoryResult, run_memory
from bench.overload import OverloadResult, run_overload
from bench.report import (
    Row,
    machine_lines,
    render_failures,
    render_memory,
    render_table,
    results_markdown,
    summarise,
)
from bench.scenarios import (
    BASELINE_REQUESTS,
    BASELINE_ROWS,
    HASH_RATE,
    LARGE_ACCOUNT_PRODUCTS,
    PING_AUTH,
    SCENARIOS,
    Account,
    Scenario,
    baseline_token,
    create_account,
    create_large_account,
)
from bench.servers import (
    BASELINE_APP,
    STOCKROOM_APP,
    Databases,
    RunningApp,
    baseline_env,
    databases,
    serve,
    stockroom_env,
)

RESULTS_FILE = Path(__file__).with_name("RESULTS.md")
RESULTS_HEADER = (
    "# Stockroom benchmark results\n\n"
    "Appended by `python bench/run.py --write-results`. Ratios compare Stockroom with the "
    "baseline app measured in the same run on the same machine; see bench/README.md.\n\n"
)
SMOKE_MEMORY_STEPS = (300, 1_000)
SMOKE_LARGE_ACCOUNT_PRODUCTS = 200


@dataclass(frozen=True, slots=True)
class BenchConfig:
    database: str = "sqlite"
    duration_s: int = 10
    warmup_s: int = 2
    connections: int = 32
    login_connections: int = 4
    repeat: int = 2
    rounds: int = 12
    wrk_threads: int = 1
    memory_steps: tuple[int, ...] = ()  # empty: no memory run
    large_account_products: int = LARGE_ACCOUNT_PRODUCTS


@dataclass(frozen=True, slots=True)
class BenchReport:
    config: BenchConfig
    database_version: str
    measurements: tuple[Measurement, ...]
    rows: tuple[Row, ...]
    memory: MemoryResult | None

    @property
    def passed(self) -> bool:
        rows_pass = all(not row.problems for row in self.rows)
        return rows_pass and (self.memory is None or self.memory.passed)


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def log_measurement(m: Measurement) -> None:
    log(
        f"run {m.repeat} {m.route}: {m.rps:,.1f} req/s, p50 {m.p50_ms:.1f} ms, "
        f"p99 {m.p99_ms:.1f} ms, {m.cpu_us_per_request:,.0f} µs CPU/req, {m.failures} failures"
    )


# --- the runs --------------------------------------------------------------------------------


@dataclass(slots=True)
class LargeAccount:
    """The user with many products, made through the API by the first server of a run that
    needs it and reused by the later ones: the database outlives each server, and creating the
    products is the slowest part of the set-up."""

    products: int
    account: Account | None = None

    def on(self, app: RunningApp) -> Account:
        if self.account is None:
            started = time.monotonic()
            self.account = create_large_account(app.base_url, self.products)
            elapsed = time.monotonic() - started
            log(f"created a user with {self.products:,} products in {elapsed:.1f} s")
        return self.account


def run_baseline(
    config: BenchConfig, dbs: Databases, secret: str, repeat: int
) -> list[Measurement]:
    token = baseline_token(secret)
    results = []
    with serve(BASELINE_APP, baseline_env(dbs.baseline_url, secret), ready_path="/ping") as app:
        for route, request in BASELINE_REQUESTS.items():
            plan = LoadPlan(
                base_url=app.base_url,
                requests=(request,),
                connections=config.connections,
                duration_s=config.duration_s,
                token=token if route == PING_AUTH else None,
                ids=range(1, BASELINE_ROWS + 1),
                threads=config.wrk_threads,
            )
            results.append(
                measure_route(app, plan, route=route, repeat=repeat, warmup_s=config.warmup_s)
            )
            log_measurement(results[-1])
    return results


def run_hash_rate(config: BenchConfig, repeat: int) -> Measurement:
    result = measure_hash_rate(
        route=HASH_RATE,
        rounds=config.rounds,
        seconds=config.duration_s,
        threads=os.cpu_count() or 1,
        repeat=repeat,
    )
    log_measurement(result)
    return result


def run_scenario(
    app: RunningApp, scenario: Scenario, config: BenchConfig, repeat: int, large: LargeAccount
) -> Measurement:
    account = large.on(app) if scenario.large_account else create_account(app.base_url)
    plan = LoadPlan(
        base_url=app.base_url,
        requests=scenario.requests_for(account),
        connections=config.login_connections if scenario.login else config.connections,
        duration_s=config.duration_s,
        token=scenario.token_for(account),
        ids=account.product_ids,
        threads=config.wrk_threads,
    )
    result = measure_route(app, plan, route=scenario.route, repeat=repeat, warmup_s=config.warmup_s)
    log_measurement(result)
    return result


def stockroom(
    config: BenchConfig, dbs: Databases, secret: str
) -> AbstractContextManager[RunningApp]:
    return serve(
        STOCKROOM_APP, stockroom_env(dbs.stockroom_url, secret, config.rounds), ready_path="/docs"
    )


def run_stockroom(
    config: BenchConfig, dbs: Databases, secret: str, repeat: int, large: LargeAccount
) -> list[Measurement]:
    with stockroom(config, dbs, secret) as app:
        return [run_scenario(app, scenario, config, repeat, large) for scenario in SCENARIOS]


def run_memory_check(config: BenchConfig, dbs: Databases, secret: str) -> MemoryResult:
    with stockroom(config, dbs, secret) as app:
        result = run_memory(
            app,
            steps=config.memory_steps,
            connections=config.connections,
            threads=config.wrk_threads,
        )
    log(render_memory(result))
    return result


def run_bench(config: BenchConfig) -> BenchReport:
    """Every repeat: the baseline app, the hash rate, then Stockroom; then the memory run."""
    ensure_wrk()
    secret = secrets.token_urlsafe(36)  # 48 characters
    measurements: list[Measurement] = []
    with (
        tempfile.TemporaryDirectory(prefix="stockroom-bench-") as tmp,
        databases(config.database, Path(tmp)) as dbs,
    ):
        large = LargeAccount(config.large_account_products)
        for repeat in range(1, config.repeat + 1):
            measurements += run_baseline(config, dbs, secret, repeat)
            measurements.append(run_hash_rate(config, repeat))
            measurements += run_stockroom(config, dbs, secret, repeat, large)
        memory = run_memory_check(config, dbs, secret) if config.memory_steps else None
        version = dbs.version
    return BenchReport(config, version, tuple(measurements), tuple(summarise(measurements)), memory)


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="seconds per route and run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per route")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of every route (>= 2)")
    parser.add_argument("--rounds", type=int, default=12, help="PASSWORD_HASH_ROUNDS")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--memory", action="store_true", help="also RSS after 10 000 and 100 000 mixed requests"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 s per route, one run, rounds 4: checks that everything works",
    )
    parser.add_argument(
        "--write-results",
        nargs="?",
        type=Path,
        const=RESULTS_FILE,
        default=None,
        metavar="FILE",
        help=f"append the results as markdown (default {RESULTS_FILE.name})",
    )
    parser.add_argument(
        "--overload",
        action="store_true",
        help="only the overload scenario: 8 x --connections on GET /products/{id}",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig(
        database=args.database,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        login_connections=args.login_connections,
        repeat=args.repeat,
        rounds=args.rounds,
        wrk_threads=args.wrk_threads,
        memory_steps=MEMORY_STEPS if args.memory else (),
    )
    if args.smoke:
        steps = SMOKE_MEMORY_STEPS if args.memory else ()
        config = replace(
            config,
            duration_s=1,
            warmup_s=1,
            repeat=1,
            rounds=4,
            memory_steps=steps,
            large_account_products=SMOKE_LARGE_ACCOUNT_PRODUCTS,
        )
    return config


def render(report: BenchReport) -> list[str]:
    config = report.config
    title = (
        f"{config.database}, {config.duration_s} s x {config.repeat} runs per route, "
        f"{config.connections} connections ({config.login_connections} for login), "
        f"PASSWORD_HASH_ROUNDS={config.rounds}"
    )
    if config.large_account_products != LARGE_ACCOUNT_PRODUCTS:
        title += f"; the large account owns {config.large_account_products:,} products"
    parts = [title, render_table(report.rows)]
    if report.memory is not None:
        parts.append(render_memory(report.memory))
    parts.append(render_failures(report.rows))
    return [part for part in parts if part]


def write_results(path: Path, report: BenchReport, command: str) -> None:
    title, table, *extra = render(report)
    machine = machine_lines(os.cpu_count() or 1, wrk_version(), report.database_version)
    text = results_markdown(title=title, command=command, machine=machine, table=table, extra=extra)
    if not path.exists():
        path.write_text(RESULTS_HEADER)
    with path.open("a") as handle:
        handle.write(text)
    log(f"appended the results to {path}")


def run_overload_only(config: BenchConfig) -> OverloadResult:
    ensure_wrk()
    secret = secrets.token_urlsafe(36)
    with (
        tempfile.TemporaryDirectory(prefix="stockroom-bench-") as tmp,
        databases(config.database, Path(tmp)) as dbs,
        stockroom(config, dbs, secret) as app,
    ):
        return run_overload(
            app,
            saturating_connections=config.connections,
            duration_s=config.duration_s,
            threads=max(config.wrk_threads, 2),
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.overload:
        config = config_from_args(args)
        overload = run_overload_only(config)
        lines = [f"{config.database}, one worker, PASSWORD_HASH_ROUNDS={config.rounds}"]
        lines += overload.lines()
        print("\n".join(lines))
        if args.write_results is not None:
            with args.write_results.open("a") as handle:
                handle.write("\n## Overload\n\n" + "\n".join(lines) + "\n")
        return 1 if args.strict and not overload.passed else 0
    report = run_bench(config_from_args(args))
    print("\n\n".join(render(report)))
    if args.write_results is not None:
        words = sys.argv[1:] if argv is None else list(argv)
        write_results(args.write_results, report, shlex.join(["python", "bench/run.py", *words]))
    return 1 if args.strict and not report.passed else 0
