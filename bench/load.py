"""wrk: install it when missing, run it with `wrk.lua`, read the one result line it prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WRK_LUA = Path(__file__).with_name("wrk.lua")
RESULT_MARK = "BENCH_RESULT "
# A request slower than this is a socket error in wrk's count: far above any target.
WRK_TIMEOUT_S = 30


class BenchError(RuntimeError):
    """The benchmark could not run (a tool is missing, a server failed, set-up failed)."""


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request shape. `{id}` cycles through the plan's ids, `{n}` is a counter.

    `expect`: the one status that counts as a success (None: any 2xx). `headers` are sent
    besides the plan's Authorization and the content type.
    """

    method: str
    path: str
    content_type: str | None = None
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    expect: int | None = None

    def line(self) -> str:
        """wrk.lua's tab-separated line; without headers or `expect`, the four fields only."""
        fields = [self.method, self.path, self.content_type or "-", self.body or "-"]
        if self.headers or self.expect is not None:
            fields.append("-" if self.expect is None else str(self.expect))
            for name, value in self.headers:
                if not name or ":" in name or name != name.strip():
                    raise ValueError(f"not a header name: {name!r}")
                fields.append(f"{name}: {value}")
        for field in fields:
            if "\t" in field or "\n" in field or "\r" in field:
                raise ValueError(f"tabs and newlines cannot be sent through wrk.lua: {field!r}")
        return "\t".join(fields)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    base_url: str
    requests: Sequence[RequestSpec]
    connections: int
    duration_s: int
    token: str | None = None
    ids: Sequence[int] = ()
    threads: int = 1
    max_requests: int = 0  # in all; 0 = as many as fit in duration_s


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int  # connect, read and write errors and timeouts
    sample_failure: str
    shed: int = 0  # non-2xx that were 503
    timeouts: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def failures(self) -> int:
        return self.non_2xx + self.socket_errors


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise BenchError("wrk is not installed: run `apt-get install wrk` as root")
    print("wrk not found: installing the Debian package 'wrk'", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


def wrk_version() -> str:
    completed = subprocess.run(  # noqa: S603
        [ensure_wrk(), "--version"], capture_output=True, text=True, check=False
    )
    first_line = (completed.stdout or completed.stderr).splitlines()[:1]
    return first_line[0].split("Copyright")[0].strip() if first_line else "unknown"


def wrk_argv(plan: LoadPlan, spec_file: Path) -> list[str]:
    threads = max(1, min(plan.threads, plan.connections))
    per_thread = -(-plan.max_requests // threads) if plan.max_requests else 0
    return [
        ensure_wrk(),
        "--threads",
        str(threads),
        "--connections",
        str(plan.connections),
        "--duration",
        f"{plan.duration_s}s",
        "--timeout",
        f"{WRK_TIMEOUT_S}s",
        "--script",
        str(WRK_LUA),
        plan.base_url,
        "--",
        str(spec_file),
        plan.token or "-",
        ",".join(map(str, plan.ids)) or "-",
        str(per_thread),
    ]


def parse_result(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line.removeprefix(RESULT_MARK))
            return LoadResult(
                requests=int(data["requests"]),
                duration_s=int(data["duration_us"]) / 1e6,
                p50_ms=int(data["p50_us"]) / 1e3,
                p99_ms=int(data["p99_us"]) / 1e3,
                non_2xx=int(data["non2xx"]),
                socket_errors=int(data["socket_errors"]),
                sample_failure=str(data["sample"]),
                shed=int(data["shed"]),
                timeouts=int(data["timeouts"]),
            )
    raise BenchError(f"wrk printed no result line:\n{output[-2000:]}")


def run_load(plan: LoadPlan) -> LoadResult:
    """Run wrk once with `plan` and return what it measured."""
    if len({spec.expect for spec in plan.requests}) > 1:
        # wrk does not tell which request a response answers, so one expectation per run.
        raise ValueError("the requests of one plan must expect the same status")
    with tempfile.TemporaryDirectory(prefix="stockroom-wrk-") as tmp:
        spec_file = Path(tmp) / "requests.tsv"
        spec_file.write_text("".join(spec.line() + "\n" for spec in plan.requests))
        completed = subprocess.run(  # noqa: S603
            wrk_argv(plan, spec_file),
            capture_output=True,
            text=True,
            timeout=plan.duration_s + 2 * WRK_TIMEOUT_S + 30,
            check=False,
        )
    if completed.returncode != 0:
        raise BenchError(f"wrk exited with {completed.returncode}:\n{completed.stderr[-2000:]}")
    return parse_result(completed.stdout)
