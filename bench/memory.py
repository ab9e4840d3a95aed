"""The memory run: the worker's RSS after each step of mixed requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.load import BenchError, LoadPlan, LoadResult, run_load
from bench.scenarios import MEMORY_MIX, Account, create_account
from bench.servers import RunningApp, rss_bytes

MEMORY_STEPS = (10_000, 100_000)
MEMORY_TARGET = 1.10  # RSS at the last step <= this x RSS at the first
MAX_CHUNK_S = 30


@dataclass(frozen=True, slots=True)
class Sent:
    requests: int = 0
    failures: int = 0
    sample_failure: str = ""

    def add(self, result: LoadResult) -> Sent:
        return self.merge(Sent(result.requests, result.failures, result.sample_failure))

    def merge(self, other: Sent) -> Sent:
        return Sent(
            self.requests + other.requests,
            self.failures + other.failures,
            self.sample_failure or other.sample_failure,
        )


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    requests: int  # sent so far
    rss_bytes: int


@dataclass(frozen=True, slots=True)
class MemoryResult:
    points: tuple[MemoryPoint, ...]
    failures: int
    sample_failure: str

    @property
    def ratio(self) -> float:
        return self.points[-1].rss_bytes / self.points[0].rss_bytes

    @property
    def passed(self) -> bool:
        return self.ratio <= MEMORY_TARGET and self.failures == 0


def _next_duration(remaining: int, rate: float | None) -> int:
    """Seconds that `remaining` requests take at `rate`, rounded down: a run seldom idles."""
    if not rate:
        return 1
    return max(1, min(MAX_CHUNK_S, int(remaining / rate)))


def _send(app: RunningApp, account: Account, count: int, connections: int, threads: int) -> Sent:
    """Send about `count` mixed requests in wrk runs that each stop at what is left.

    wrk runs for its whole `--duration` even after every thread has stopped at its request
    limit, so each run is sized from the rate of the one before.
    """
    sent, rate = Sent(), None
    while sent.requests < count:
        remaining = count - sent.requests
        plan = LoadPlan(
            base_url=app.base_url,
            requests=MEMORY_MIX,
            connections=connections,
            duration_s=_next_duration(remaining, rate),
            token=account.token,
            ids=account.product_ids,
            threads=threads,
            max_requests=remaining,
        )
        result = run_load(plan)
        if result.requests == 0:
            raise BenchError(f"no response in {plan.duration_s} s of the memory run")
        sent, rate = sent.add(result), result.rps
    return sent


def run_memory(
    app: RunningApp, *, steps: Sequence[int], connections: int, threads: int
) -> MemoryResult:
    """Send the mix until the counts in `steps` (cumulative) and read RSS after each."""
    account = create_account(app.base_url)
    total = Sent()
    points: list[MemoryPoint] = []
    for step in steps:
        total = total.merge(_send(app, account, step - total.requests, connections, threads))
        points.append(MemoryPoint(requests=total.requests, rss_bytes=rss_bytes(app.pid)))
    return MemoryResult(
        points=tuple(points), failures=total.failures, sample_failure=total.sample_failure
    )
