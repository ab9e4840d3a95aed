"""Overload: wrk at many times the connections that saturate one worker, and a probe client.

What it shows: whether the load generator saw any socket error or timeout (it must not: excess
load is shed, not queued), whether every non-2xx answer was a 503 (with Retry-After, from the
concurrency limit), and how long the requests that were served took. wrk's latency figures mix
the immediate 503s with the served requests, so a probe client, one request at a time beside
the load, measures the served ones on their own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from bench.load import LoadPlan, LoadResult, RequestSpec, run_load
from bench.measure import percentile
from bench.scenarios import create_account
from bench.servers import RunningApp

ROUTE = RequestSpec("GET", "/products/{id}")
TIMES_SATURATING = 8


@dataclass(frozen=True, slots=True)
class OverloadResult:
    connections: int
    load: LoadResult
    probe_served_ms: tuple[float, ...]
    probe_shed: int
    probe_other: int

    def lines(self) -> list[str]:
        load = self.load
        served = load.requests - load.non_2xx
        return [
            f"Overload: GET /products/{{id}}, {self.connections} connections "
            f"({TIMES_SATURATING} x the saturating count), {load.duration_s:.0f} s",
            f"- load generator: {load.requests:,} answers ({load.rps:,.0f}/s), "
            f"{served:,} served 2xx, {load.shed:,} shed with 503, "
            f"{load.non_2xx - load.shed} other non-2xx, {load.socket_errors} socket errors "
            f"({load.timeouts} timeouts); wrk latency over all answers p50 {load.p50_ms:.1f} ms, "
            f"p99 {load.p99_ms:.1f} ms",
            f"- probe (one request at a time beside the load): {len(self.probe_served_ms)} "
            f"served, p50 {percentile(self.probe_served_ms, 0.5):.1f} ms, "
            f"p99 {percentile(self.probe_served_ms, 0.99):.1f} ms; {self.probe_shed} shed, "
            f"{self.probe_other} other",
        ]

    @property
    def passed(self) -> bool:
        return (
            self.load.socket_errors == 0
            and self.load.non_2xx == self.load.shed
            and self.probe_other == 0
        )


def run_overload(
    app: RunningApp, *, saturating_connections: int, duration_s: int, threads: int
) -> OverloadResult:
    account = create_account(app.base_url)
    connections = TIMES_SATURATING * saturating_connections
    plan = LoadPlan(
        base_url=app.base_url,
        requests=(ROUTE,),
        connections=connections,
        duration_s=duration_s,
        token=account.token,
        ids=account.product_ids,
        threads=threads,
    )
    served: list[float] = []
    counts = {"shed": 0, "other": 0}
    stop = threading.Event()

    def probe() -> None:
        headers = {"Authorization": f"Bearer {account.token}"}
        with httpx.Client(base_url=app.base_url, headers=headers, timeout=30) as http:
            while not stop.is_set():
                started = time.monotonic()
                response = http.get(f"/products/{account.product_ids[0]}")
                if response.status_code == 200:
                    served.append((time.monotonic() - started) * 1e3)
                elif response.status_code == 503 and response.headers.get("retry-after"):
                    counts["shed"] += 1
                else:
                    counts["other"] += 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        result = run_load(plan)
    finally:
        stop.set()
        prober.join(timeout=60)
    return OverloadResult(connections, result, tuple(served), counts["shed"], counts["other"])
