"""`stockroom serve`, README command 1, as a user starts it: settings from the environment only."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from api.config import Settings
from tests.helpers import PASSWORD, unique_email
from tests.services import StockroomServe, wait_for

ADDRESS_LIMIT = 3


def serve(tmp_path: Path, **env: str) -> StockroomServe:
    return StockroomServe(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'stockroom.db'}",
            "SECRET_KEY": "k" * 48,
            "PASSWORD_HASH_ROUNDS": "4",
            "LOGIN_FAILURE_LIMIT_PER_ADDRESS": f"{ADDRESS_LIMIT}/15 minutes",
            **env,
        },
        cwd=tmp_path,
        unset=Settings.model_fields,
    )


def failed_login(http: httpx.Client, forwarded_for: str) -> int:
    form = {"username": unique_email(), "password": "wrong password!"}
    headers = {"X-Forwarded-For": forwarded_for}
    return http.post("/auth/token", data=form, headers=headers).status_code


def test_with_no_settings_it_serves_sqlite_and_a_development_key_from_the_working_directory(
    tmp_path: Path,
) -> None:
    with (
        StockroomServe({}, cwd=tmp_path, unset=Settings.model_fields) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        assert http.get("/docs").status_code == 200
        body = {"email": unique_email(), "password": PASSWORD}
        assert http.post("/auth/register", json=body).status_code == 201
        form = {"username": body["email"], "password": PASSWORD}
        assert http.post("/auth/token", data=form).status_code == 200
        # The verification mail, as a file in ./mail, and one log line that says which.
        wait_for(lambda: "written to" in server.log(), "the log line naming the mail file")
        log = server.log()
    assert (tmp_path / "stockroom.db").is_file()
    assert (tmp_path / ".stockroom-secret-key").is_file()
    (mail,) = (tmp_path / "mail").glob("*.eml")
    assert f"written to {mail}" in log


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(tmp_path: Path) -> None:
    with serve(tmp_path) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        statuses = [failed_login(http, f"203.0.113.{i}") for i in range(ADDRESS_LIMIT + 1)]
    # Every spoofed address is the one peer, 127.0.0.1: its limit is reached.
    assert statuses == [400] * ADDRESS_LIMIT + [429]


def test_forwarded_for_from_a_trusted_proxy_gives_the_client_address(tmp_path: Path) -> None:
    with (
        serve(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        same_client = [failed_login(http, "203.0.113.7") for _ in range(ADDRESS_LIMIT + 1)]
        other_client = failed_login(http, "198.51.100.9")
    assert same_client == [400] * ADDRESS_LIMIT + [429]
    assert other_client == 400


def test_sigterm_drains_then_stops_accepting_and_exits(tmp_path: Path) -> None:
    server = serve(tmp_path, SHUTDOWN_DRAIN_SECONDS="3").start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            assert http.get("/ready").status_code == 200
            assert server.pid is not None
            os.kill(server.pid, signal.SIGTERM)
            wait_for(lambda: http.get("/ready").status_code == 503, "/ready to turn 503")
            draining = http.get("/health")
            registered = http.post(
                "/auth/register", json={"email": unique_email(), "password": PASSWORD}
            )
        wait_for(lambda: not server.running, "the server to exit after its drain")
        log = server.log()
    finally:
        server.close()
    assert draining.status_code == 200
    assert draining.headers["connection"] == "close"
    assert registered.status_code == 201
    assert "serving 3.0 s more" in log
    assert "Application shutdown complete" in log


def test_requests_beyond_the_concurrency_limit_get_503_after_a_short_wait(tmp_path: Path) -> None:
    # One request at a time, and a login that takes a while: its password hash runs in a
    # thread, so the worker is free to turn others away meanwhile.
    slow = serve(tmp_path, MAX_CONCURRENT_REQUESTS="1", PASSWORD_HASH_ROUNDS="13")
    with slow as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        email = unique_email()
        body = {"email": email, "password": PASSWORD}
        assert http.post("/auth/register", json=body).status_code == 201
        with ThreadPoolExecutor(1) as pool:
            login = pool.submit(
                http.post, "/auth/token", data={"username": email, "password": PASSWORD}
            )
            shed = wait_for(
                lambda: (r := http.get("/users/me")).status_code == 503 and r,
                "a request turned away while the login runs",
            )
            health = http.get("/health")
            assert login.result(timeout=60).status_code == 200
    assert isinstance(shed, httpx.Response)
    assert shed.headers["retry-after"] == "1"
    assert "busy" in shed.json()["detail"]
    assert health.status_code == 200
