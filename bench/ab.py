"""`python bench/ab.py DIR_A DIR_B [...]`: which checkout spends less CPU per request.

wrk's req/s on a shared machine swings by a quarter between runs, which hides a 5 % change. Here
each checkout runs in a process of its own that calls its app in process (ASGI messages, no HTTP;
the database is real), and the processes take turns with short bursts of the same request, so
both meet the same machine. Per route it prints each checkout's median CPU µs per request and the
median of the paired ratios to the first checkout (three copies of one checkout read within
0.95-1.06 at 100 rounds). Use it to choose between two designs; `bench/run.py` measures the targets.

    python bench/ab.py /tmp/before . --database postgres --rounds 150
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROUTES = ("/users/me", "/products/{id}", "/products?limit=20")
BURST = 100
WARMUP = 300
PRODUCTS = 25
EMAIL = "ab@example.com"
PASSWORD = "correct horse battery staple"  # noqa: S105 (a throwaway account)


class InProcessClient:
    """Calls an ASGI app the way a server would, one request at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = []

    async def call(
        self, method: str, target: str, body: bytes = b"", content_type: str = ""
    ) -> Any:
        path, _, query = target.partition("?")
        headers = list(self.headers)
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        messages: list[dict[str, Any]] = [
            {"type": "http.disconnect"},
            {"type": "http.request", "body": body},
        ]
        status: list[int] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if len(messages) > 1 else messages[0]

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status[0] >= 400:
            raise RuntimeError(f"{method} {target}: {status[0]} {b''.join(chunks)!r}")
        return json.loads(b"".join(chunks) or b"null")


async def _serve_commands(checkout: Path) -> None:
    """Worker: set up a user with products, then answer `ROUTE N` with the CPU µs per request."""
    sys.path.insert(0, str(checkout))
    from api.config import load_settings  # type: ignore[import-not-found, unused-ignore]
    from api.main import create_app  # type: ignore[import-not-found, unused-ignore]

    app = create_app(load_settings())
    client = InProcessClient(app)
    async with app.router.lifespan_context(app):
        account = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
        await client.call("POST", "/auth/register", account, "application/json")
        form = urlencode({"username": EMAIL, "password": PASSWORD}).encode()
        tokens = await client.call("POST", "/auth/token", form, "application/x-www-form-urlencoded")
        client.headers = [(b"authorization", f"Bearer {tokens['access_token']}".encode())]
        product = b'{"name": "ab", "price": "1.00"}'
        for _ in range(PRODUCTS):
            created = await client.call("POST", "/products", product, "application/json")
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            route, count = line.split()
            target = route.replace("{id}", str(created["id"]))
            started = time.process_time()
            for _ in range(int(count)):
                await client.call("GET", target)
            spent = time.process_time() - started
            print(f"{spent / int(count) * 1e6:.1f}", flush=True)


class Worker:
    def __init__(self, checkout: Path, env: dict[str, str], workdir: Path) -> None:
        self.checkout = checkout
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--worker", str(checkout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=workdir,
        )
        if self._line() != "ready":
            raise RuntimeError(f"{checkout}: the worker did not start")

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.checkout}: the worker exited")
        return line.strip()

    def cpu_per_request(self, route: str, count: int) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{route} {count}\n")
        self.process.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@contextmanager
def database_urls(kind: str, count: int, workdir: Path) -> Iterator[list[str]]:
    if kind == "sqlite":
        yield [f"sqlite:///{workdir / f'ab{n}.db'}" for n in range(count)]
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.services import PostgresServer

    with PostgresServer() as server:
        yield [server.create_database(f"ab{n}") for n in range(count)]


def compare(checkouts: list[Path], kind: str, rounds: int) -> None:
    shuffler = random.Random(0)  # noqa: S311 (an order, not a secret)
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_urls(kind, len(checkouts), Path(tmp)) as urls,
    ):
        workers = []
        for n, (checkout, url) in enumerate(zip(checkouts, urls, strict=True)):
            workdir = Path(tmp, f"worker{n}")
            workdir.mkdir()
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_urlsafe(48),
                "PASSWORD_HASH_ROUNDS": "4",
                "MAIL_DIR": str(workdir / "mail"),
            }
            workers.append(Worker(checkout, env, workdir))
        try:
            for route in ROUTES:
                for worker in workers:
                    worker.cpu_per_request(route, WARMUP)
                spent: list[list[float]] = [[] for _ in workers]
                order = list(range(len(workers)))
                for _ in range(rounds):
                    # A fixed order favours some places in it (an A/A/A run showed 0.88 for
                    # the middle one): a new random order each round.
                    shuffler.shuffle(order)
                    for n in order:
                        spent[n].append(workers[n].cpu_per_request(route, BURST))
                line = f"{route:<20} {checkouts[0]}: {statistics.median(spent[0]):.0f} µs"
                for n in range(1, len(workers)):
                    ratio = statistics.median(
                        b / a for a, b in zip(spent[0], spent[n], strict=True)
                    )
                    line += f" | {checkouts[n]}: {statistics.median(spent[n]):.0f} µs, x{ratio:.3f}"
                print(line, flush=True)
        finally:
            for worker in workers:
                worker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_serve_commands(args.worker.resolve()))
        return
    if len(args.checkouts) < 2:
        parser.error("give at least two checkouts to compare")
    compare([path.resolve() for path in args.checkouts], args.database, args.rounds)


if __name__ == "__main__":
    main()
