"""A fleet for fault tests: `stockroom serve` instances behind HAProxy running
`deploy/haproxy.cfg` as it is, on one PostgreSQL and one Redis, and a load of reads and writes
sent through the balancer while instances are replaced."""

import itertools
import secrets
import subprocess
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import PASSWORD, bearer, unique_email
from tests.services import (
    REPO_ROOT,
    HaproxyServer,
    RedisServer,
    StockroomServe,
    free_port,
    wait_for,
)

HAPROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
BACKEND_NAME = "stockroom"
SERVERS = ("api1", "api2")
CLIENTS = 6


@dataclass
class Fleet:
    balancer: HaproxyServer
    instances: dict[str, StockroomServe]
    database_url: str
    env: dict[str, str]
    home: Path

    def states(self) -> dict[str, str]:
        return self.balancer.server_states(BACKEND_NAME)

    def is_up(self, name: str) -> bool:
        return self.states().get(name) == "UP"

    def replace(self, name: str, instance: StockroomServe) -> None:
        """Stop `name` (SIGTERM: it drains, then exits) and start `instance` in its place."""
        old = self.instances[name]
        old.stop(timeout=60)
        assert "Application shutdown complete" in old.log(), name
        old.close()
        self.instances[name] = instance
        instance.start()
        wait_for(lambda: self.is_up(name), f"{name} UP again", timeout=60)

    def new_instance(self, name: str, env: Mapping[str, str] | None = None) -> StockroomServe:
        """An instance to take `name`'s place (its port), with `env` on top of the fleet's."""
        port = self.instances[name].port
        return _instance({**self.env, **(env or {})}, self.home, name, port)


def _instance(env: dict[str, str], home: Path, name: str, port: int) -> StockroomServe:
    cwd = home / f"{name}-{secrets.token_hex(3)}"
    cwd.mkdir()
    return StockroomServe(env, port=port, cwd=cwd, ready_path="/ready")


@contextmanager
def running_fleet(
    database_url: str, home: Path, instance_env: Mapping[str, str] | None = None
) -> Iterator[Fleet]:
    """Two instances (with `instance_env` on top of the fleet's) behind the balancer."""
    with RedisServer() as redis:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PASSWORD_HASH_ROUNDS": "4",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        }
        first_env = {**env, **(instance_env or {})}
        instances = {name: _instance(first_env, home, name, free_port()) for name in SERVERS}
        addresses = {
            f"STOCKROOM_{name.upper()}": f"127.0.0.1:{server.port}"
            for name, server in instances.items()
        }
        try:
            for server in instances.values():
                server.start()
            with HaproxyServer(HAPROXY_CONFIG, addresses) as balancer:
                fleet = Fleet(balancer, instances, database_url, env, home)
                wait_for(lambda: set(fleet.states().values()) == {"UP"}, "both instances UP")
                yield fleet
        finally:
            for server in instances.values():
                server.close()


@dataclass
class Load:
    """Clients on kept-alive connections to the balancer, a mix of reads and writes, until
    stopped; what they were answered."""

    base_url: str
    headers: dict[str, str]
    product_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)

    @classmethod
    def for_new_user(cls, base_url: str) -> "Load":
        with httpx.Client(base_url=base_url, timeout=30) as http:
            email = unique_email()
            registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201
            token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
            headers = bearer(token.json()["access_token"])
            seed = http.post("/products", json={"name": "seed", "price": "1"}, headers=headers)
            assert seed.status_code == 201
        return cls(base_url, headers, seed.json()["id"])

    @property
    def sent(self) -> int:
        with self.lock:
            return sum(self.statuses.values()) + len(self.errors)

    def wait_for_more(self, requests: int, what: str) -> None:
        start = self.sent
        wait_for(lambda: self.sent >= start + requests, what)

    def client(self, number: int) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as http:
            for turn in itertools.count():
                if self.stop.is_set():
                    return
                try:
                    response = self.request(http, (number + turn) % 5)
                except httpx.TransportError as error:
                    with self.lock:
                        self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                with self.lock:
                    self.statuses[response.status_code] += 1
                    if response.request.method == "POST" and response.status_code == 201:
                        self.created.append(response.json()["id"])

    def request(self, http: httpx.Client, kind: int) -> httpx.Response:
        product = f"/products/{self.product_id}"
        if kind == 0:
            return http.post("/products", json={"name": "rolling", "price": "1.50"})
        if kind == 1:
            return http.get("/products?limit=20")
        if kind == 2:
            return http.get(product)
        if kind == 3:
            return http.patch(product, json={"price": "2.50"})
        return http.get("/users/me")

    def report(self, what: str, stored: set[int]) -> str:
        return (
            f"\n{what}: {self.sent} requests, statuses {dict(self.statuses)}, "
            f"{len(self.errors)} connection errors, {len(self.created)} creates acknowledged, "
            f"{len(set(self.created) & stored)} of them stored"
        )


def extract_release(commit: str, into: Path) -> Path | None:
    """The source tree of `commit` from this repository's history; None if the history lacks
    it (a shallow clone)."""
    archive = into / "release.tar"
    made = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", "-o", str(archive), commit],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        return None
    tree = into / f"release-{commit[:8]}"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree
