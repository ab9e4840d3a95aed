"""The examples work against a real server: examples/stockroom_client.py, and the README's curl
session run verbatim."""

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import fresh_database_url
from tests.helpers import PASSWORD, unique_email
from tests.services import REPO_ROOT, PostgresServer, UvicornServer, free_port, wait_for

CLIENT = REPO_ROOT / "examples" / "stockroom_client.py"
README = REPO_ROOT / "README.md"
# Long enough that no test sees a token expire, however slow the machine; the one test that
# needs an expired token has a server of its own that issues short ones. Those still last 2 s
# (the server counts whole seconds, so at least that long) from a refresh to the request that
# uses the new token, which is a single step of the client.
ACCESS_TOKEN_SECONDS = 600
SHORT_ACCESS_TOKEN_SECONDS = 2
LIST_PATH = "/products?limit=20&offset=0"  # what `list` requests, as the access log shows it


def start_server(tmp: Path, access_token_seconds: int) -> UvicornServer:
    env = {
        "DATABASE_URL": fresh_database_url(tmp),
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "PASSWORD_HASH_ROUNDS": "4",
        "ACCESS_TOKEN_EXPIRE_MINUTES": str(access_token_seconds / 60),
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        # Low, so that one test can reach the 429; every test has an account of its own.
        "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "1/15 minutes",
    }
    return UvicornServer(env, cwd=tmp)


# Both request `postgres_server`, so that in the PostgreSQL pass it runs before they ask it for a
# database.
@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> Iterator[UvicornServer]:
    with start_server(tmp_path_factory.mktemp("examples"), ACCESS_TOKEN_SECONDS) as running:
        yield running


@pytest.fixture(scope="module")
def short_lived_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> Iterator[UvicornServer]:
    tmp = tmp_path_factory.mktemp("examples-short")
    with start_server(tmp, SHORT_ACCESS_TOKEN_SECONDS) as running:
        yield running


class Cli:
    """Runs the example client as a script author would, with its own token file."""

    def __init__(self, api: str, home: Path) -> None:
        self.api = api
        self.token_file = home / "config" / "stockroom" / "tokens.json"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKROOM_")}
        self.env.update(
            HOME=str(home), STOCKROOM_API=api, STOCKROOM_TOKEN_FILE=str(self.token_file)
        )

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(CLIENT), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def tokens(self) -> dict[str, Any]:
        tokens: dict[str, Any] = json.loads(self.token_file.read_text())
        return tokens


@pytest.fixture
def cli(server: UvicornServer, tmp_path: Path) -> Cli:
    return Cli(server.base_url, tmp_path)


def register(cli: Cli) -> str:
    email = unique_email("client")
    response = httpx.post(
        f"{cli.api}/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 201, response.text
    return email


def log_in(cli: Cli) -> Cli:
    cli.ok("login", register(cli), "--password", PASSWORD)
    return cli


@pytest.fixture
def logged_in(cli: Cli) -> Cli:
    return log_in(cli)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def answered(server: UvicornServer, method: str, path: str, status: int | None = None) -> int:
    """How many `method path` requests the server has answered (with `status`), per its log."""
    return len(server.answered_by(method, path, status))


def settle(server: UvicornServer) -> None:
    """Wait until the access log holds every request answered so far.

    One uvicorn process writes its access lines in the order it answers, so once a request
    sent now shows up, all earlier ones are there too.
    """
    path = f"/health?log-barrier={secrets.token_hex(8)}"
    httpx.get(server.base_url + path, timeout=30)
    wait_for(lambda: answered(server, "GET", path), f"GET {path} in the access log")


# --- the client --------------------------------------------------------------------------------


def test_login_names_the_user_and_the_granted_scope(cli: Cli) -> None:
    email = register(cli)
    output = cli("login", email, STOCKROOM_PASSWORD=PASSWORD)
    assert output.returncode == 0, output.stderr
    assert output.stdout == f"Logged in as {email} (scope: account products:read products:write).\n"


def test_login_keeps_tokens_in_a_private_file(cli: Cli) -> None:
    cli.ok("login", register(cli), "--password", PASSWORD)
    assert stat.S_IMODE(cli.token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.token_file.parent.stat().st_mode) == 0o700
    tokens = cli.tokens()
    assert tokens["access_token"] and tokens["refresh_token"]
    assert list(cli.token_file.parent.glob("*.tmp")) == []


def test_login_stores_when_the_access_token_expires(cli: Cli) -> None:
    email = register(cli)
    sent = time.time()
    cli.ok("login", email, "--password", PASSWORD)
    received = time.time()
    tokens = cli.tokens()
    assert tokens["expires_in"] == ACCESS_TOKEN_SECONDS
    # The client dates the token when the answer arrives, which is between these two readings
    # of the clock; however long that took, the expiry is the configured lifetime after it.
    assert sent + ACCESS_TOKEN_SECONDS <= tokens["expires_at"] <= received + ACCESS_TOKEN_SECONDS


def test_created_product_is_listed(logged_in: Cli) -> None:
    created = json.loads(logged_in.ok("create", "Desk lamp", "24.90", "--description", "Brass"))
    assert created["name"] == "Desk lamp" and created["price"] == "24.90"
    page = json.loads(logged_in.ok("list", "--limit", "5"))
    assert page["total"] == 1 and page["limit"] == 5
    assert page["items"] == [created]


def test_me_shows_the_logged_in_user(cli: Cli) -> None:
    email = register(cli)
    cli.ok("login", email, "--password", PASSWORD)
    assert json.loads(cli.ok("me"))["email"] == email


def test_a_fresh_access_token_is_used_as_it_is(logged_in: Cli) -> None:
    logged_in.ok("create", "Stapler", "7.50")
    before = logged_in.tokens()
    assert json.loads(logged_in.ok("list"))["total"] == 1
    assert logged_in.tokens() == before


def test_expired_access_token_is_refreshed_and_the_new_refresh_token_stored(
    short_lived_server: UvicornServer, tmp_path: Path
) -> None:
    cli = log_in(Cli(short_lived_server.base_url, tmp_path))
    cli.ok("create", "Stapler", "7.50")  # may already refresh on a slow machine: no matter
    before = cli.tokens()
    wait_for(
        lambda: time.time() > before["expires_at"],
        "the access token to expire",
        timeout=SHORT_ACCESS_TOKEN_SECONDS + 30,
    )
    assert json.loads(cli.ok("list"))["total"] == 1
    after = cli.tokens()
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert stat.S_IMODE(cli.token_file.stat().st_mode) == 0o600


def test_a_401_triggers_one_refresh_and_one_retry(server: UvicornServer, logged_in: Cli) -> None:
    tokens = logged_in.tokens()
    tokens["access_token"] = "revoked"  # refused with 401, though the client thinks it valid
    tokens["expires_at"] = time.time() + 3600
    logged_in.token_file.write_text(json.dumps(tokens))
    settle(server)
    refreshes = answered(server, "POST", "/auth/token", 200)
    refused = answered(server, "GET", LIST_PATH, 401)
    served = answered(server, "GET", LIST_PATH, 200)
    lists = answered(server, "GET", LIST_PATH)

    assert json.loads(logged_in.ok("list"))["total"] == 0
    assert logged_in.tokens()["refresh_token"] != tokens["refresh_token"]

    # The retry is answered last, so once its line is in the log, the others are too.
    wait_for(lambda: answered(server, "GET", LIST_PATH, 200) > served, "the retry's 200")
    assert answered(server, "POST", "/auth/token", 200) - refreshes == 1
    assert answered(server, "GET", LIST_PATH, 401) - refused == 1
    assert answered(server, "GET", LIST_PATH, 200) - served == 1
    assert answered(server, "GET", LIST_PATH) - lists == 2


# Runs the client (argv: ready flag, client, its arguments) once its imports are done, it has
# touched the ready flag and its stdin has closed: runs started one after another then reach the
# token file together, as runs started by cron at the same minute would.
STARTING_GUN = """
import pathlib, runpy, sys
import httpx
pathlib.Path(sys.argv[1]).touch()
sys.stdin.read()
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_concurrent_runs_refresh_once_and_keep_the_session(
    server: UvicornServer, logged_in: Cli, tmp_path: Path
) -> None:
    # Without the lock, two runs would present the same refresh token, and the API treats a
    # reused one as stolen: it ends the session.
    tokens = logged_in.tokens()
    tokens["expires_at"] = 0
    logged_in.token_file.write_text(json.dumps(tokens))
    settle(server)
    refreshes = answered(server, "POST", "/auth/token", 200)
    refused = answered(server, "POST", "/auth/token", 400)
    shown = answered(server, "GET", "/users/me", 200)

    ready = [tmp_path / f"ready-{n}" for n in range(4)]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", STARTING_GUN, str(flag), str(CLIENT), "list"],
            env=logged_in.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # a line or two: it cannot fill the pipe
            text=True,
        )
        for flag in ready
    ]
    wait_for(lambda: all(flag.exists() for flag in ready), "the four runs to be ready")
    for run in runs:
        assert run.stdin is not None
        run.stdin.close()  # go
    for run in runs:
        assert run.stderr is not None
        assert run.wait(timeout=30) == 0, run.stderr.read()
    logged_in.ok("me")

    # `me` is answered after every run's requests, so once its line is in the log, theirs are too.
    wait_for(lambda: answered(server, "GET", "/users/me", 200) > shown, "the 200 for `me`")
    assert answered(server, "POST", "/auth/token", 200) - refreshes == 1
    assert answered(server, "POST", "/auth/token", 400) - refused == 0


def test_after_logout_commands_say_to_log_in(logged_in: Cli) -> None:
    assert logged_in.ok("logout") == "Logged out.\n"
    assert not logged_in.token_file.exists()
    error = one_line_error(logged_in("list"))
    assert "not logged in" in error and "login" in error


def test_logout_ends_the_session_on_the_server(logged_in: Cli) -> None:
    access_token = logged_in.tokens()["access_token"]
    logged_in.ok("logout")
    headers = {"Authorization": f"Bearer {access_token}"}
    response = httpx.get(f"{logged_in.api}/products", headers=headers, timeout=30)
    assert response.status_code == 401


def test_a_session_ended_elsewhere_asks_for_a_new_login(logged_in: Cli) -> None:
    body = {"refresh_token": logged_in.tokens()["refresh_token"]}
    response = httpx.post(f"{logged_in.api}/auth/logout", json=body, timeout=30)
    assert response.status_code == 204
    error = one_line_error(logged_in("list"))
    assert "session has ended" in error and "login" in error


def test_wrong_password_is_refused_with_the_api_message(cli: Cli) -> None:
    error = one_line_error(cli("login", register(cli), "--password", "not the password"))
    assert "Incorrect e-mail or password" in error
    assert not cli.token_file.exists()


def test_throttled_login_shows_the_wait(cli: Cli) -> None:
    email = register(cli)
    cli("login", email, "--password", "not the password")
    error = one_line_error(cli("login", email, "--password", PASSWORD))
    assert "429" in error and re.search(r"Retry-After: \d+ s", error)


def test_validation_errors_name_the_field(logged_in: Cli) -> None:
    error = one_line_error(logged_in("create", "Lamp", "12.345"))
    assert "422" in error and "price:" in error


def test_unreachable_api_is_named(cli: Cli) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    error = one_line_error(cli("--api", down, "login", "a@example.com", "--password", "x"))
    assert f"unreachable at {down}" in error


def personal_token(cli: Cli) -> tuple[str, int, dict[str, str]]:
    """A new user's personal access token (and its id), made the way the web app makes one."""
    email = register(cli)
    with httpx.Client(base_url=cli.api, timeout=30) as http:
        login = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {"name": "cli", "scopes": ["products:read", "products:write"], "expires_in_days": 1}
        created = http.post("/users/me/tokens", json=body, headers=headers).json()
        return created["token"], created["id"], headers


def test_a_personal_token_in_the_environment_needs_no_login(cli: Cli) -> None:
    token, _, _ = personal_token(cli)
    created = cli("create", "Scripted lamp", "3.10", STOCKROOM_TOKEN=token)
    assert created.returncode == 0, created.stderr
    listed = cli("list", STOCKROOM_TOKEN=token)
    assert json.loads(listed.stdout)["items"][0]["name"] == "Scripted lamp"
    assert not cli.token_file.exists()


def test_a_revoked_personal_token_is_named_in_one_line(cli: Cli) -> None:
    token, token_id, headers = personal_token(cli)
    revoked = httpx.delete(f"{cli.api}/users/me/tokens/{token_id}", headers=headers, timeout=30)
    assert revoked.status_code == 204
    error = one_line_error(cli("list", STOCKROOM_TOKEN=token))
    assert "STOCKROOM_TOKEN was refused" in error


# --- the README's curl session, verbatim -------------------------------------------------------


def readme_curl_session() -> str:
    text = README.read_text()
    section = text.split("## A script user's session with curl", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "no ```bash block under the curl heading"
    return match.group(1)


def test_readme_curl_session_runs(server: UvicornServer) -> None:
    script = readme_curl_session()
    name = re.search(r'"name":\s*"([^"]+)"', script)
    assert name, "the session no longer creates a named product"
    result = subprocess.run(
        ["bash", "-euo", "pipefail"],
        input=script,
        env={**os.environ, "API": server.base_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f'"name":"{name.group(1)}"') == 2  # created, then listed
    assert '"total":' in result.stdout
