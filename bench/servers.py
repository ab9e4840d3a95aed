"""What a run serves: the database, Stockroom and the baseline under uvicorn; /proc readings.

The processes themselves are `tests/services/`'s (PostgresServer, UvicornServer): one uvicorn
worker each, the same flags for both apps.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psycopg

from bench.load import BenchError

REPO_ROOT = Path(__file__).resolve().parent.parent
# What `stockroom serve` runs with (api/cli.py says why asyncio rather than uvloop).
UVICORN_FLAGS = ("--no-access-log", "--loop", "asyncio", "--http", "httptools")
STOCKROOM_APP = "api.main:app"
BASELINE_APP = "bench.baseline:app"
BASELINE_DATABASE = "bench_baseline"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def services() -> ModuleType:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import tests.services

    return tests.services


@dataclass(frozen=True, slots=True)
class Databases:
    kind: str
    stockroom_url: str
    baseline_url: str
    version: str


@contextmanager
def databases(kind: str, workdir: Path) -> Iterator[Databases]:
    """Empty databases for Stockroom and the baseline, of the kind asked for."""
    if kind == "sqlite":
        yield Databases(
            kind=kind,
            stockroom_url=f"sqlite:///{workdir / 'stockroom.db'}",
            baseline_url=f"sqlite:///{workdir / 'baseline.db'}",
            version=f"SQLite {sqlite3.sqlite_version}",
        )
        return
    server = services().PostgresServer()
    try:
        server.start()
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{BASELINE_DATABASE}"'.encode())
            row = conn.execute(b"SHOW server_version").fetchone()
        yield Databases(
            kind=kind,
            stockroom_url=server.url,
            baseline_url=server.url_for(BASELINE_DATABASE),
            version=f"PostgreSQL {row[0] if row else '?'}",
        )
    finally:
        server.close()


@dataclass(frozen=True, slots=True)
class RunningApp:
    base_url: str
    pid: int  # the uvicorn worker process


def stockroom_env(database_url: str, secret: str, rounds: int) -> dict[str, str]:
    return {
        "SECRET_KEY": secret,
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_ROUNDS": str(rounds),
        "ACCESS_TOKEN_EXPIRE_MINUTES": "1440",  # tokens outlive the run
        # Throttles: the benchmark registers a user per scenario from one address. Logins use
        # the right password, so the login-failure throttles stay as configured and never fire.
        "REGISTRATION_LIMIT_PER_ADDRESS": "10000/hour",
        "ENVIRONMENT": "development",
    }


def baseline_env(database_url: str, secret: str) -> dict[str, str]:
    return {"SECRET_KEY": secret, "DATABASE_URL": database_url}


@contextmanager
def serve(app: str, env: Mapping[str, str], *, ready_path: str) -> Iterator[RunningApp]:
    """Run `app` under one uvicorn worker until the block ends."""
    svc = services()
    server = svc.UvicornServer(
        env, app=app, workers=1, ready_path=ready_path, extra_args=UVICORN_FLAGS
    )
    try:
        try:
            server.start()
        except svc.ServiceError as exc:
            raise BenchError(f"{app} did not start: {exc}") from exc
        workers: list[int] = server.worker_pids()
        yield RunningApp(base_url=server.base_url, pid=workers[0] if workers else server.pid)
    finally:
        server.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")
