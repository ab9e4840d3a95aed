"""`stockroom serve`, README command 1, as a user starts it: settings from the environment only."""

from pathlib import Path

import httpx

from api.config import Settings
from tests.helpers import PASSWORD, unique_email
from tests.services import StockroomServe

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
    assert (tmp_path / "stockroom.db").is_file()
    assert (tmp_path / ".stockroom-secret-key").is_file()


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
