"""Slow and oversized requests, as an attacker sends them to `stockroom serve` and through HAProxy
running `deploy/haproxy.cfg`: a request takes one of the worker's concurrency slots only once it
has fully arrived."""

import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Self

import httpx
import pytest

from tests.databases import BACKEND
from tests.helpers import PASSWORD, bearer, unique_email
from tests.services import REPO_ROOT, HaproxyServer, StockroomServe, wait_for

# Timing-bound and independent of the database: once is enough.
pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="runs in the SQLite pass")

SLOTS = 20
ATTACKERS = 2 * SLOTS
BODY_TIMEOUT = 2.0
HEADER_LIMIT = 16 * 1024
# Long enough for every attacker to be refused and come back at least once.
ATTACK_SECONDS = 2.5 * BODY_TIMEOUT
ORIGIN = "http://app.example.test:5173"
# A body that would take 100 s to arrive at one byte a second.
SLOW_POST = (
    b"POST /products HTTP/1.1\r\nHost: stockroom\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StockroomServe]:
    home = tmp_path_factory.mktemp("slow-clients")
    env = {
        "DATABASE_URL": f"sqlite:///{home / 'stockroom.db'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "MAIL_DIR": str(home / "mail"),
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "CORS_ORIGINS": ORIGIN,
        "MAX_CONCURRENT_REQUESTS": str(SLOTS),
        "REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "MAX_HEADER_BYTES": str(HEADER_LIMIT),
    }
    with StockroomServe(env, cwd=home, ready_path="/ready") as served:
        yield served


@pytest.fixture(scope="module")
def auth(server: StockroomServe) -> dict[str, str]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = unique_email()
        registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        return bearer(token.json()["access_token"])


@pytest.fixture(scope="module")
def balancer(server: StockroomServe) -> Iterator[HaproxyServer]:
    address = f"127.0.0.1:{server.port}"
    env = {"STOCKROOM_API1": address, "STOCKROOM_API2": address}
    with HaproxyServer(REPO_ROOT / "deploy" / "haproxy.cfg", env) as proxy:
        wait_for(lambda: set(proxy.server_states("stockroom").values()) == {"UP"}, "instances UP")
        yield proxy


class SlowBodies:
    """`count` connections that each send a POST's headers, then its body one byte a second.
    One the server answers or closes is opened again, until the block ends."""

    def __init__(self, port: int, count: int = ATTACKERS) -> None:
        self.port = port
        self.count = count
        self.answers: Counter[str] = Counter()  # status lines the attackers were given
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True, name="slow-bodies")

    def __enter__(self) -> Self:
        self._sockets = [self._open() for _ in range(self.count)]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self._sockets:
            sock.close()

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(SLOW_POST + b"{")
        sock.setblocking(False)
        return sock

    def _trickle(self) -> None:
        while not self._stop.wait(1):
            for number, sock in enumerate(self._sockets):
                answer = self._answer(sock)
                if answer is not None:
                    self.answers[answer] += 1
                    sock.close()
                    self._sockets[number] = self._open()

    @staticmethod
    def _answer(sock: socket.socket) -> str | None:
        """The status line the server answered on `sock`; None (and one more byte sent) while
        it still waits for the body."""
        try:
            received = sock.recv(65536)
        except BlockingIOError:
            try:
                sock.send(b" ")
            except OSError:
                return "(reset)"
            return None
        except OSError:
            return "(reset)"
        return received.split(b"\r\n", 1)[0].decode(errors="replace") or "(closed)"


def real_requests(base_url: str, auth: dict[str, str], seconds: float) -> Counter[str]:
    """Product reads and registrations, one after the other for `seconds`: how each answered."""
    answered: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            read = http.get("/products", headers=auth)
            answered[f"GET /products {read.status_code}"] += 1
            body = {"email": unique_email(), "password": PASSWORD}
            registered = http.post("/auth/register", json=body)
            answered[f"POST /auth/register {registered.status_code}"] += 1
    return answered


def only_served(answered: Counter[str]) -> bool:
    return set(answered) == {"GET /products 200", "POST /auth/register 201"}


def read_until_closed(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the one answer on `sock`, which the server then closes."""
    sock.settimeout(5)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def padded(http: httpx.Client, headers: dict[str, str], total: int) -> httpx.Request:
    """`GET /products` whose headers, names and values, add up to exactly `total` bytes."""
    request = http.build_request("GET", "/products", headers={**headers, "X-Padding": ""})
    size = sum(len(name) + len(value) for name, value in request.headers.raw)
    request.headers["X-Padding"] = "p" * (total - size)
    return request


def test_bodies_trickling_in_on_more_connections_than_slots_do_not_make_requests_busy(
    server: StockroomServe, auth: dict[str, str]
) -> None:
    with SlowBodies(server.port) as attack:
        answered = real_requests(server.base_url, auth, ATTACK_SECONDS)
    assert only_served(answered), f"{answered}; the attackers got {attack.answers}"


def test_a_body_still_arriving_at_the_deadline_gets_408_json_and_the_connection_closes(
    server: StockroomServe,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        sock.sendall(SLOW_POST + b"{")
        # Faster than any idle timeout would notice: only a deadline for the whole body does.
        sock.settimeout(0.25)
        while True:
            try:
                first = sock.recv(1, socket.MSG_PEEK)
                break
            except TimeoutError:
                assert time.monotonic() - started < BODY_TIMEOUT + 5, "no answer"
                sock.send(b" ")
        waited = time.monotonic() - started
        assert first
        status, headers, body = read_until_closed(sock)
    assert status == 408
    assert BODY_TIMEOUT <= waited < BODY_TIMEOUT + 1.5
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["detail"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"X-Big": "b" * 20 * 1024}, id="one-20-KiB-header"),
        pytest.param({f"X-Small-{n}": "s" * 500 for n in range(40)}, id="many-small-headers"),
    ],
)
def test_headers_over_the_limit_in_total_get_431_json_and_the_connection_closes(
    server: StockroomServe, auth: dict[str, str], extra: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        response = http.get("/products", headers={**auth, **extra})
    assert response.status_code == 431
    assert str(HEADER_LIMIT) in response.json()["detail"]
    assert response.headers["connection"] == "close"


def test_headers_one_byte_over_the_limit_get_431(
    server: StockroomServe, auth: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        response = http.send(padded(http, auth, HEADER_LIMIT + 1))
    assert response.status_code == 431


def test_headers_exactly_at_the_limit_are_served(
    server: StockroomServe, auth: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        response = http.send(padded(http, auth, HEADER_LIMIT))
    assert response.status_code == 200


def test_an_early_answer_carries_cors_and_security_headers(server: StockroomServe) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        response = http.get("/products", headers={"Origin": ORIGIN, "X-Big": "b" * 20 * 1024})
    assert response.status_code == 431
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_bodies_trickling_in_through_the_balancer_do_not_make_requests_busy(
    balancer: HaproxyServer, auth: dict[str, str]
) -> None:
    with SlowBodies(balancer.port) as attack:
        answered = real_requests(balancer.base_url, auth, ATTACK_SECONDS)
    assert only_served(answered), f"{answered}; the attackers got {attack.answers}"


def test_the_balancer_keeps_bodies_still_arriving_from_the_instances(
    balancer: HaproxyServer, server: StockroomServe
) -> None:
    before = server.log().count('"POST /products')
    with SlowBodies(balancer.port):
        time.sleep(ATTACK_SECONDS)  # past the instance's own body deadline
    seen = server.log().count('"POST /products') - before
    assert seen == 0, f"the instance answered {seen} of the attackers' requests"
