"""One measurement: a warmed-up wrk run with the server's CPU time around it, or the hash rate."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import anyio

from auth.passwords import PasswordHasher
from bench.load import LoadPlan, run_load
from bench.servers import RunningApp, cpu_seconds


@dataclass(frozen=True, slots=True)
class Measurement:
    route: str
    repeat: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    failures: int  # non-2xx responses and socket errors
    sample_failure: str = ""


def measure_route(
    app: RunningApp, plan: LoadPlan, *, route: str, repeat: int, warmup_s: int
) -> Measurement:
    """Warm up, then load `plan` once, reading the worker's CPU time before and after."""
    if warmup_s > 0:
        run_load(replace(plan, duration_s=warmup_s))
    before = cpu_seconds(app.pid)
    result = run_load(plan)
    used = cpu_seconds(app.pid) - before
    return Measurement(
        route=route,
        repeat=repeat,
        requests=result.requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_us_per_request=used * 1e6 / max(result.requests, 1),
        failures=result.failures,
        sample_failure=result.sample_failure,
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def _verify_until(
    hasher: PasswordHasher, password: str, hashed: str, deadline: float, times: list[float]
) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        valid, _ = await hasher.verify(password, hashed)
        if not valid:
            raise AssertionError("the benchmark's own password did not verify")
        times.append(time.perf_counter() - start)


async def _verify_in_threads(
    hasher: PasswordHasher,
    hashed: str,
    password: str,
    *,
    seconds: float,
    threads: int,
    times: list[float],
) -> None:
    deadline = time.perf_counter() + seconds
    async with anyio.create_task_group() as group:
        for _ in range(threads):
            group.start_soon(_verify_until, hasher, password, hashed, deadline, times)


def measure_hash_rate(
    *, route: str, rounds: int, seconds: float, threads: int, repeat: int
) -> Measurement:
    """Password verifications per second with `threads` threads verifying at once.

    The same `PasswordHasher.verify` the login route awaits (each call runs in a worker thread).
    """
    hasher = PasswordHasher(rounds=rounds)
    password = secrets.token_urlsafe(24)
    hashed = hasher.hash_sync(password)
    times: list[float] = []
    cpu_before, start = time.process_time(), time.perf_counter()
    run = partial(
        _verify_in_threads, hasher, hashed, password, seconds=seconds, threads=threads, times=times
    )
    anyio.run(run)
    elapsed = time.perf_counter() - start
    cpu_used = time.process_time() - cpu_before
    return Measurement(
        route=route,
        repeat=repeat,
        requests=len(times),
        rps=len(times) / elapsed,
        p50_ms=percentile(times, 0.50) * 1e3,
        p99_ms=percentile(times, 0.99) * 1e3,
        cpu_us_per_request=cpu_used * 1e6 / max(len(times), 1),
        failures=0,
    )
