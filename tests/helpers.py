"""A thin client that speaks the API the way a script would, for tests that read as specs."""

import asyncio
import itertools
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from fastapi.testclient import TestClient

from api.grants import BROWSER_HEADER
from tests.services import UvicornServer, wait_for

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
# What the React app sends to the token endpoint to get its refresh token as a cookie.
BROWSER_HEADERS = {BROWSER_HEADER: "stockroom-web"}

_counter = itertools.count()
_run = secrets.token_hex(3)  # servers outlive a test: addresses differ between runs too


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{_run}@example.com"


PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem of this status; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def assert_no_echo(body: Any) -> None:
    """A 422 problem names each value that is wrong and how; it never carries the value back."""
    assert body["type"] in ("/problems/validation", "/problems/idempotency-key-reused")
    for error in body["errors"]:
        assert set(error) <= {"type", "loc", "msg"}, error


def no_keep_alive(base_url: str) -> httpx.Client:
    # One connection per request, so consecutive requests land on different workers.
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, limits=limits, timeout=30)


def assert_every_worker_answers_401(
    server: UvicornServer, http: httpx.Client, headers: dict[str, str], *, at_least: int = 10
) -> None:
    """Send `GET /users/me`, one connection each, at least `at_least` times and until every
    worker has answered it; every answer must be 401.

    Which worker answered comes from the access log, written by the server processes, so it is
    read again after every request; only lines added from here on count.
    """
    workers = set(server.worker_pids())
    assert len(workers) >= 2, workers
    earlier = Counter(server.answered_by("GET", "/users/me", 401))
    sent = 0

    def every_worker_answered() -> bool:
        nonlocal sent
        response = http.get("/users/me", headers=headers)
        sent += 1
        assert response.status_code == 401, f"answer {sent}: {response.status_code}"
        answered = Counter(server.answered_by("GET", "/users/me", 401)) - earlier
        return sent >= at_least and workers <= set(answered)

    wait_for(every_worker_answered, f"a 401 from each of the workers {sorted(workers)}", timeout=60)


def link_token(message: Any, path: str, app_url: str = "https://app.example.test") -> str:
    """The token of the link to `path` in a mail's plain-text body."""
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(app_url)}{path}\?token=([A-Za-z0-9_-]+)", text)
    assert found, text
    return str(found.group(1))


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on an event loop of its own, in a thread of its own: the
    browser tests' Playwright keeps a loop running in the main thread for the whole session."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def new_server_user(base_url: str, password: str = PASSWORD) -> str:
    """Register and log in on a running server; the access token."""
    email = unique_email()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        created = http.post("/auth/register", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        token = http.post("/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


def race(
    base_url: str, clients: int, send: Callable[[httpx.Client, int], httpx.Response]
) -> Counter[int]:
    """`clients` requests released together from a barrier, each on a connection of its own
    (made before the barrier, so the requests race, not the connects); their statuses."""
    barrier = threading.Barrier(clients)

    def one(index: int) -> int:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get("/health")
            barrier.wait()
            return send(http, index).status_code

    with ThreadPoolExecutor(clients) as pool:
        return Counter(pool.map(one, range(clients)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ApiClient:
    def __init__(self, http: TestClient) -> None:
        self.http = http

    def register(self, email: str | None = None, password: str = PASSWORD) -> httpx.Response:
        body = {"email": email or unique_email(), "password": password}
        response: httpx.Response = self.http.post("/auth/register", json=body)
        return response

    def token(self, email: str, password: str = PASSWORD, **form: str) -> httpx.Response:
        form = {"username": email, "password": password, **form}
        response: httpx.Response = self.http.post("/auth/token", data=form)
        return response

    def login(self, email: str, password: str = PASSWORD, **form: str) -> dict[str, Any]:
        response = self.token(email, password, **form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def new_user(self, password: str = PASSWORD, **form: str) -> tuple[str, dict[str, Any]]:
        """Register and log in; the e-mail and the token response."""
        email = unique_email()
        assert self.register(email, password).status_code == 201
        return email, self.login(email, password, **form)

    def headers(self, password: str = PASSWORD, **form: str) -> dict[str, str]:
        return bearer(self.new_user(password, **form)[1]["access_token"])

    def refresh(self, refresh_token: str, **form: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **form}
        response: httpx.Response = self.http.post("/auth/token", data=form)
        return response

    def create_product(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"name": "Widget", "price": "9.99", **fields}
        response = self.http.post("/products", json=body, headers=headers)
        assert response.status_code == 201, response.text
        product: dict[str, Any] = response.json()
        return product
