"""Two `stockroom serve` instances behind HAProxy running `deploy/haproxy.cfg` as it is, on one
PostgreSQL and one Redis: restarting them one at a time under load loses no request."""

import itertools
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.databases import BACKEND, execute_sql, fresh_database_url, make_settings
from tests.helpers import PASSWORD, bearer, unique_email
from tests.services import (
    REPO_ROOT,
    HaproxyServer,
    PostgresServer,
    RedisServer,
    StockroomServe,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")

HAPROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
BACKEND_NAME = "stockroom"
SERVERS = ("api1", "api2")
CLIENTS = 6


@dataclass
class Fleet:
    balancer: HaproxyServer
    instances: dict[str, StockroomServe]
    database_url: str

    def states(self) -> dict[str, str]:
        return self.balancer.server_states(BACKEND_NAME)

    def is_up(self, name: str) -> bool:
        return self.states().get(name) == "UP"


@pytest.fixture
def fleet(postgres_server: PostgresServer | None, tmp_path: Path) -> Iterator[Fleet]:
    database_url = fresh_database_url(tmp_path)
    with RedisServer() as redis:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PASSWORD_HASH_ROUNDS": "4",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        }
        instances = {}
        for name in SERVERS:
            home = tmp_path / name
            home.mkdir()
            instances[name] = StockroomServe(env, port=free_port(), cwd=home, ready_path="/ready")
        addresses = {
            f"STOCKROOM_{name.upper()}": f"127.0.0.1:{server.port}"
            for name, server in instances.items()
        }
        try:
            for server in instances.values():
                server.start()
            with HaproxyServer(HAPROXY_CONFIG, addresses) as balancer:
                fleet = Fleet(balancer, instances, database_url)
                wait_for(lambda: set(fleet.states().values()) == {"UP"}, "both instances UP")
                yield fleet
        finally:
            for server in instances.values():
                server.close()


@dataclass
class Load:
    """Clients on kept-alive connections to HAProxy, a mix of reads and writes, until stopped."""

    base_url: str
    headers: dict[str, str]
    product_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)

    @property
    def sent(self) -> int:
        with self.lock:
            return sum(self.statuses.values()) + len(self.errors)

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


def test_a_rolling_restart_under_load_loses_no_request_and_no_create(
    fleet: Fleet, tmp_path: Path
) -> None:
    with httpx.Client(base_url=fleet.balancer.base_url, timeout=30) as http:
        email = unique_email()
        registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = bearer(token["access_token"])
        seed = http.post("/products", json={"name": "seed", "price": "1"}, headers=headers)
        assert seed.status_code == 201
    load = Load(fleet.balancer.base_url, headers, seed.json()["id"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(load.client, n) for n in range(CLIENTS)]
        try:
            wait_for(lambda: load.sent >= 200, "a steady load before the first restart")
            for name, instance in fleet.instances.items():
                instance.stop(timeout=60)  # SIGTERM, then wait for the process to exit
                assert "Application shutdown complete" in instance.log(), name
                instance.start()
                wait_for(partial(fleet.is_up, name), f"{name} UP again")
            sent_after_restarts = load.sent
            wait_for(lambda: load.sent >= sent_after_restarts + 200, "load after the restarts")
        finally:
            load.stop.set()
            for future in clients:
                future.result(timeout=60)

    settings = make_settings(tmp_path, DATABASE_URL=fleet.database_url)
    stored = {row[0] for row in execute_sql(settings, "SELECT id FROM products")}
    print(
        f"\nrolling restart: {load.sent} requests, statuses {dict(load.statuses)}, "
        f"{len(load.errors)} connection errors, {len(load.created)} creates acknowledged, "
        f"{len(set(load.created) & stored)} of them stored"
    )
    assert load.errors == []
    assert all(status < 500 for status in load.statuses), load.statuses
    assert set(load.created) <= stored
