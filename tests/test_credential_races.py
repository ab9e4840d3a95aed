"""A new password wins every race, against a real server on the pass's database.

Logins with the old password keep arriving from several clients while a reset or a password
change lands: afterwards only the new password works, and no session that a login with the
old password opened can be used. Both for an account whose stored hash a login upgrades (a
plain bcrypt hash, as older releases stored) and for one whose hash is current.
"""

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import httpx
import pytest

from api.config import Settings
from tests.databases import execute_sql, fresh_database_url, make_settings
from tests.helpers import PASSWORD, bearer, link_token, unique_email
from tests.services import SmtpServer, UvicornServer, wait_for

NEW_PASSWORD = "a brand new passphrase"
LOGIN_CLIENTS = 6
_addresses = itertools.count(1)


@dataclass
class Server:
    uvicorn: UvicornServer
    smtp: SmtpServer
    settings: Settings  # the same database, for what an operator would look at

    def client(self, **headers: str) -> httpx.Client:
        number = next(_addresses)
        forwarded = {"X-Forwarded-For": f"10.9.{number // 256 % 256}.{number % 256}"}
        return httpx.Client(
            base_url=self.uvicorn.base_url, headers={**forwarded, **headers}, timeout=60
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("races")
    database_url = fresh_database_url(home)
    with SmtpServer() as smtp:
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            # About 20 ms a hash, so logins are in flight when the new password lands.
            "PASSWORD_HASH_ROUNDS": "8",
            "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "100000/hour",
            "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
            "SMTP_URL": smtp.url,
            "MAIL_POLL_SECONDS": "0.05",
            "PUBLIC_APP_URL": "https://app.example.test",
            "REFRESH_COOKIE_SECURE": "false",
        }
        args = ["--forwarded-allow-ips", "127.0.0.1"]
        with UvicornServer(env, cwd=home, extra_args=args) as uvicorn:
            settings = make_settings(home, DATABASE_URL=database_url)
            yield Server(uvicorn, smtp, settings)


def new_account(server: Server, *, hash_needs_upgrade: bool) -> tuple[str, dict[str, Any]]:
    email = unique_email()
    with server.client() as http:
        assert http.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        if hash_needs_upgrade:
            # As an older release stored it: plain bcrypt, at a cost that makes a login's check
            # of it outlast the change it races (a reset's hash is much cheaper here).
            legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(11)).decode()
            execute_sql(
                server.settings,
                "UPDATE users SET hashed_password = :hash WHERE email = :email",
                hash=legacy,
                email=email,
            )
    return email, token.json()


@dataclass
class RacingLogins:
    """Logins with one password from several clients, back to back, the first of them
    released together with the change they race."""

    server: Server
    email: str
    password: str
    opened: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _start: threading.Barrier = field(default_factory=lambda: threading.Barrier(LOGIN_CLIENTS + 1))

    def run(self, change: Callable[[], None]) -> None:
        threads = [threading.Thread(target=self._log_in) for _ in range(LOGIN_CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            self._start.wait()
            time.sleep(0.05)  # reasoned: the first logins have read the hash and are checking it
            change()
            after = self.sent
            wait_for(lambda: self.sent >= after + LOGIN_CLIENTS, "logins after the change")
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()

    def _log_in(self) -> None:
        form = {"username": self.email, "password": self.password}
        with self.server.client() as http:
            http.get("/health")  # connected before the start, so the first logins race
            self._start.wait()
            while not self._stop.is_set():
                response = http.post("/auth/token", data=form)
                self.sent += 1
                if response.status_code == 200:
                    self.opened.append(response.json())


def assert_only_the_new_password_works(server: Server, email: str) -> None:
    with server.client() as http:
        for password, status in ((NEW_PASSWORD, 200), (PASSWORD, 400)):
            form = {"username": email, "password": password}
            assert http.post("/auth/token", data=form).status_code == status, password


def assert_unusable(server: Server, sessions: list[dict[str, Any]]) -> None:
    with server.client() as http:
        for token in sessions:
            assert http.get("/users/me", headers=bearer(token["access_token"])).status_code == 401
            refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
            assert http.post("/auth/token", data=refresh).status_code == 400


def reset_link(server: Server, email: str) -> str:
    with server.client() as http:
        response = http.post("/auth/password-reset/request", json={"email": email})
        assert response.status_code == 202
    return link_token(server.smtp.wait_for_mail(email, "Reset"), "/reset-password")


@pytest.mark.parametrize("hash_needs_upgrade", [True, False], ids=["legacy hash", "current hash"])
def test_a_reset_wins_over_logins_with_the_old_password_in_flight(
    server: Server, hash_needs_upgrade: bool
) -> None:
    email, _ = new_account(server, hash_needs_upgrade=hash_needs_upgrade)
    token = reset_link(server, email)
    logins = RacingLogins(server, email, PASSWORD)

    def reset() -> None:
        with server.client() as http:
            body = {"token": token, "new_password": NEW_PASSWORD}
            assert http.post("/auth/password-reset/confirm", json=body).status_code == 204

    logins.run(reset)
    assert_only_the_new_password_works(server, email)
    assert_unusable(server, logins.opened)


@pytest.mark.parametrize("hash_needs_upgrade", [True, False], ids=["legacy hash", "current hash"])
def test_a_password_change_wins_over_logins_with_the_old_password_in_flight(
    server: Server, hash_needs_upgrade: bool
) -> None:
    email, mine = new_account(server, hash_needs_upgrade=hash_needs_upgrade)
    logins = RacingLogins(server, email, PASSWORD)

    def change() -> None:
        with server.client() as http:
            body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            headers = bearer(mine["access_token"])
            assert http.post("/users/me/password", json=body, headers=headers).status_code == 204

    logins.run(change)
    assert_only_the_new_password_works(server, email)
    assert_unusable(server, logins.opened)
    with server.client() as http:  # the session that changed it stays
        assert http.get("/users/me", headers=bearer(mine["access_token"])).status_code == 200


def test_a_reset_link_dies_with_an_address_change_and_stays_dead_when_it_comes_back(
    server: Server,
) -> None:
    email, mine = new_account(server, hash_needs_upgrade=False)
    token = reset_link(server, email)
    with server.client() as http:
        for address in (unique_email("elsewhere"), email):
            body = {"email": address, "current_password": PASSWORD}
            headers = bearer(mine["access_token"])
            assert http.patch("/users/me", json=body, headers=headers).status_code == 200
        confirm = {"token": token, "new_password": NEW_PASSWORD}
        assert http.post("/auth/password-reset/confirm", json=confirm).status_code == 400
        form = {"username": email, "password": PASSWORD}
        assert http.post("/auth/token", data=form).status_code == 200


def test_logout_with_the_refresh_cookie_alone_is_refused(server: Server) -> None:
    """A forged cross-site (or sibling-subdomain) post carries the cookie but not the header."""
    email, _ = new_account(server, hash_needs_upgrade=False)
    browser = {"X-Requested-With": "stockroom-web"}
    with server.client(**browser) as http:
        login = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        cookie = login.cookies["stockroom_refresh"]
    forged = {"Cookie": f"stockroom_refresh={cookie}", "Origin": "https://evil.example"}
    with server.client() as http:
        refused = http.post("/auth/logout", headers=forged)
        assert refused.status_code == 401
        assert "set-cookie" not in refused.headers
    with server.client(**browser) as http:
        http.cookies.set("stockroom_refresh", cookie, path="/auth")
        assert http.post("/auth/token", data={"grant_type": "refresh_token"}).status_code == 200
