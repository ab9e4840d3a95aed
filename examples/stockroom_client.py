#!/usr/bin/env python3
"""A small command-line client for the Stockroom API: copy it, change it.

Needs Python 3.11+ and httpx (`pip install httpx`), nothing else; POSIX only (file modes, flock).

    export STOCKROOM_API=http://127.0.0.1:8000            # the default; or --api URL
    python stockroom_client.py login ada@example.com      # asks for the password
    STOCKROOM_PASSWORD=... python stockroom_client.py login ada@example.com --scope products:read
    python stockroom_client.py me
    python stockroom_client.py create "Desk lamp" 24.90 --description "Brass, 40 W"
    python stockroom_client.py list --limit 10 --offset 20
    python stockroom_client.py logout

The simplest credential for a script is a personal access token, made once in the web app or
with `POST /users/me/tokens`: `export STOCKROOM_TOKEN=stk_pat_...` and every command uses it,
with no login, no token file and no refresh (it cannot manage the account, only products).

Without it, tokens from `login` are kept in ~/.config/stockroom/tokens.json (mode 0600; move it with --token-file or
STOCKROOM_TOKEN_FILE). The access token is refreshed just before it expires, and once more if a
call answers 401. Every refresh returns a new refresh token and spends the old one (presenting a
spent one again ends the session), so the file is rewritten each time, under a lock.

Data commands print JSON. Every failure is one line on stderr and exit status 1 (2 for usage).
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict, cast

import httpx

PROG = Path(sys.argv[0]).name
DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_TOKEN_FILE = Path.home() / ".config" / "stockroom" / "tokens.json"


class Tokens(TypedDict):
    api: str  # the API these tokens belong to: never send them anywhere else
    access_token: str
    refresh_token: str
    expires_at: float  # Unix time at which the access token expires
    expires_in: int  # its lifetime in seconds


class CliError(Exception):
    """A one-line message for stderr."""


# --- responses ---------------------------------------------------------------------------------


def error_message(response: httpx.Response) -> str:
    """The API's own words: the token endpoint's `error_description` (RFC 6749), or a problem's
    `detail` (RFC 9457), for a request that is not valid each field of its `errors`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_description" in body:
        message = str(body["error_description"])
    elif isinstance(body, dict) and isinstance(body.get("errors"), list):
        problems = []
        for error in body["errors"]:
            field = ".".join(str(part) for part in error.get("loc", [])[1:]) or "request"
            problems.append(f"{field}: {error.get('msg')}")
        message = "; ".join(problems)
    elif isinstance(body, dict) and "detail" in body:
        message = str(body["detail"])
    else:
        message = response.reason_phrase or "unexpected response"
    if response.status_code == 429 and "Retry-After" in response.headers:
        message += f" (Retry-After: {response.headers['Retry-After']} s)"
    return f"HTTP {response.status_code}: {message}"


def json_body(response: httpx.Response) -> Any:
    """The decoded body of a successful response; CliError for anything else."""
    if response.is_error:
        raise CliError(error_message(response))
    try:
        return response.json()
    except ValueError as exc:
        raise CliError(f"HTTP {response.status_code}: the answer is not JSON") from exc


# --- the token file ----------------------------------------------------------------------------


def load_tokens(path: Path) -> Tokens | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the token file {path}: {exc}") from exc
    if not isinstance(data, dict) or not Tokens.__required_keys__ <= data.keys():
        raise CliError(f"{path} is not a Stockroom token file; delete it and run `login`")
    return cast(Tokens, data)


def save_tokens(path: Path, tokens: Tokens) -> None:
    """Atomically: a new 0600 file in the same directory, then renamed over the old one."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(tokens, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise CliError(f"cannot write the token file {path}: {exc}") from exc


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the token file, so that two runs never refresh at once."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def tokens_from(body: Any, api: str) -> Tokens:
    return {
        "api": api,
        "access_token": body["access_token"],
        "refresh_token": body["refresh_token"],
        "expires_at": time.time() + body["expires_in"],
        "expires_in": body["expires_in"],
    }


# --- authenticated calls -----------------------------------------------------------------------


class Api:
    def __init__(
        self, http: httpx.Client, api: str, token_file: Path, personal_token: str | None = None
    ) -> None:
        self.http = http
        self.api = api
        self.token_file = token_file
        self.personal_token = personal_token

    def tokens(self) -> Tokens:
        tokens = load_tokens(self.token_file)
        if tokens is None:
            raise CliError(f"not logged in: run `{PROG} login EMAIL` first")
        if tokens["api"] != self.api:
            raise CliError(f"logged in to {tokens['api']}, not {self.api}: run `login` first")
        return tokens

    def refresh(self, stale: Tokens) -> Tokens:
        with locked(self.token_file):
            current = self.tokens()
            if current["refresh_token"] != stale["refresh_token"]:
                return current  # another run refreshed while we waited for the lock
            form = {"grant_type": "refresh_token", "refresh_token": stale["refresh_token"]}
            response = self.http.post("/auth/token", data=form)
            if response.status_code == 400:  # logged out, expired, or the password was changed
                self.token_file.unlink(missing_ok=True)
                raise CliError(f"the session has ended ({error_message(response)}); run `login`")
            fresh = tokens_from(json_body(response), self.api)
            save_tokens(self.token_file, fresh)
            return fresh

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send with the personal token if there is one; else with the access token, refreshed
        when (nearly) expired, and once on a 401."""
        if self.personal_token:
            headers = {"Authorization": f"Bearer {self.personal_token}"}
            response = self.http.request(method, path, headers=headers, **kwargs)
            if response.status_code == 401:
                raise CliError(
                    f"STOCKROOM_TOKEN was refused ({error_message(response)}): revoked or "
                    "expired; make a new one"
                )
            return json_body(response)
        tokens = self.tokens()
        margin = min(30.0, tokens["expires_in"] / 10)
        if time.time() >= tokens["expires_at"] - margin:
            tokens = self.refresh(tokens)
        response = self.send(method, path, tokens, **kwargs)
        if response.status_code == 401:
            response = self.send(method, path, self.refresh(tokens), **kwargs)
        return json_body(response)

    def send(self, method: str, path: str, tokens: Tokens, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        return self.http.request(method, path, headers=headers, **kwargs)


# --- commands ----------------------------------------------------------------------------------


def login(args: argparse.Namespace, api: Api) -> str:
    password = (
        args.password
        or os.environ.get("STOCKROOM_PASSWORD")
        or getpass.getpass(f"Password for {args.email}: ")
    )
    form = {"grant_type": "password", "username": args.email, "password": password}
    if args.scope:
        form["scope"] = args.scope
    body = json_body(api.http.post("/auth/token", data=form))
    save_tokens(api.token_file, tokens_from(body, api.api))
    return f"Logged in as {args.email} (scope: {body['scope']})."


def logout(args: argparse.Namespace, api: Api) -> str:
    tokens = api.tokens()
    response = api.send("POST", "/auth/logout", tokens)  # an expired access token is accepted
    if response.status_code == 401:
        response = api.http.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    if response.is_error:
        raise CliError(error_message(response))
    api.token_file.unlink()
    return "Logged out."


def me(args: argparse.Namespace, api: Api) -> Any:
    return api.call("GET", "/users/me")


def list_products(args: argparse.Namespace, api: Api) -> Any:
    return api.call("GET", "/products", params={"limit": args.limit, "offset": args.offset})


def create(args: argparse.Namespace, api: Api) -> Any:
    product = {"name": args.name, "price": args.price}  # the price stays a string: no float
    if args.description is not None:
        product["description"] = args.description
    return api.call("POST", "/products", json=product)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description="Command-line client for Stockroom.")
    top.add_argument(
        "--api",
        default=os.environ.get("STOCKROOM_API", DEFAULT_API),
        help=f"API base URL (default: $STOCKROOM_API, else {DEFAULT_API})",
    )
    top.add_argument(
        "--token-file",
        type=Path,
        default=Path(os.environ.get("STOCKROOM_TOKEN_FILE", DEFAULT_TOKEN_FILE)),
        help="where the tokens are kept (default: $STOCKROOM_TOKEN_FILE, else %(default)s)",
    )
    commands = top.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[argparse.Namespace, Api], Any], summary: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=run)
        return sub

    sub = command("login", login, "log in and store the tokens")
    sub.add_argument("email")
    sub.add_argument("--password", help="default: $STOCKROOM_PASSWORD, else a prompt")
    sub.add_argument("--scope", help='e.g. "products:read products:write" (default: all)')
    command("logout", logout, "end the session and delete the tokens")
    command("me", me, "show the current user")
    sub = command("list", list_products, "list your products")
    sub.add_argument("--limit", type=int, default=20)
    sub.add_argument("--offset", type=int, default=0)
    sub = command("create", create, "create a product")
    sub.add_argument("name")
    sub.add_argument("price", help="a decimal with at most two places, e.g. 24.90")
    sub.add_argument("--description")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    url = args.api.rstrip("/")
    headers = {"User-Agent": "stockroom-client"}  # shown in GET /users/me/sessions
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=15) as http:
            personal_token = os.environ.get("STOCKROOM_TOKEN") or None
            result = args.run(args, Api(http, url, args.token_file, personal_token))
    except CliError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except httpx.ConnectError as exc:
        print(f"{PROG}: the API is unreachable at {url} ({exc})", file=sys.stderr)
        return 1
    except httpx.TimeoutException:
        print(f"{PROG}: the API at {url} did not answer in time", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"{PROG}: request to {url} failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
