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

from tests.helpers import PASSWORD, unique_email
from tests.services import REPO_ROOT, UvicornServer, free_port

CLIENT = REPO_ROOT / "examples" / "stockroom_client.py"
README = REPO_ROOT / "README.md"
ACCESS_TOKEN_SECONDS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    tmp = tmp_path_factory.mktemp("examples")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "PASSWORD_HASH_ROUNDS": "4",
        "ACCESS_TOKEN_EXPIRE_MINUTES": str(ACCESS_TOKEN_SECONDS / 60),
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        # Low, so that one test can reach the 429; every test has an account of its own.
        "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "1/15 minutes",
    }
    with UvicornServer(env, cwd=tmp) as running:
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


@pytest.fixture
def logged_in(cli: Cli) -> Cli:
    cli.ok("login", register(cli), "--password", PASSWORD)
    return cli


def wait_past_expiry(cli: Cli) -> None:
    time.sleep(max(0.0, cli.tokens()["expires_at"] - time.time()) + 1.1)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


# --- the client --------------------------------------------------------------------------------


def test_login_keeps_tokens_in_a_private_file(cli: Cli) -> None:
    email = register(cli)
    output = cli("login", email, STOCKROOM_PASSWORD=PASSWORD)
    assert output.returncode == 0, output.stderr
    assert output.stdout == f"Logged in as {email} (scope: account products:read products:write).\n"
    assert stat.S_IMODE(cli.token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.token_file.parent.stat().st_mode) == 0o700
    tokens = cli.tokens()
    assert tokens["access_token"] and tokens["refresh_token"]
    assert 0 < tokens["expires_at"] - time.time() <= ACCESS_TOKEN_SECONDS
    assert list(cli.token_file.parent.glob("*.tmp")) == []


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


def test_expired_access_token_is_refreshed_and_the_new_refresh_token_stored(
    logged_in: Cli,
) -> None:
    logged_in.ok("create", "Stapler", "7.50")
    before = logged_in.tokens()  # a fresh access token is used as it is
    logged_in.ok("list")
    assert logged_in.tokens() == before

    wait_past_expiry(logged_in)
    assert json.loads(logged_in.ok("list"))["total"] == 1
    after = logged_in.tokens()
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert stat.S_IMODE(logged_in.token_file.stat().st_mode) == 0o600


def test_a_401_triggers_one_refresh_and_one_retry(logged_in: Cli) -> None:
    tokens = logged_in.tokens()
    tokens["access_token"] = "revoked"  # refused with 401, though the client thinks it valid
    tokens["expires_at"] = time.time() + 3600
    logged_in.token_file.write_text(json.dumps(tokens))

    assert json.loads(logged_in.ok("list"))["total"] == 0
    assert logged_in.tokens()["refresh_token"] != tokens["refresh_token"]


def test_concurrent_runs_refresh_once_and_keep_the_session(logged_in: Cli) -> None:
    # Without the lock, two runs would present the same refresh token, and the API treats a
    # reused one as stolen: it ends the session.
    tokens = logged_in.tokens()
    tokens["expires_at"] = 0
    logged_in.token_file.write_text(json.dumps(tokens))
    runs = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), "list"],
            env=logged_in.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=30)
        assert run.returncode == 0, stderr
    logged_in.ok("me")


def test_after_logout_commands_say_to_log_in(logged_in: Cli) -> None:
    assert logged_in.ok("logout") == "Logged out.\n"
    assert not logged_in.token_file.exists()
    error = one_line_error(logged_in("list"))
    assert "not logged in" in error and "login" in error


def test_logout_ends_the_session_on_the_server(logged_in: Cli) -> None:
    access_token = logged_in.tokens()["access_token"]
    logged_in.ok("logout")
    headers = {"Authorization": f"Bearer {access_token}"}
    assert httpx.get(f"{logged_in.api}/products", headers=headers).status_code == 401


def test_a_session_ended_elsewhere_asks_for_a_new_login(logged_in: Cli) -> None:
    body = {"refresh_token": logged_in.tokens()["refresh_token"]}
    assert httpx.post(f"{logged_in.api}/auth/logout", json=body).status_code == 204
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
