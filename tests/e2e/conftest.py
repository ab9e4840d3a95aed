"""Real-browser fixtures: the API under uvicorn, the built web app on another origin, Chromium.

The web app is built once per session (`npm ci` when node_modules is missing or stale, then
`npm run build`, which type-checks) into a temp dir and served by a small static server that, like
any single-page-app host, answers `index.html` for paths it has no file for (the links the API
mails, `/reset-password?token=…`). Each test points the page at the API it wants by answering the
app's run-time `config.js` (a Playwright route), so one build serves every API server. The API
servers mail through one real SMTP server in this process (`smtp`), with links to the web origin.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.helpers import PASSWORD, unique_email
from tests.services import SmtpServer, UvicornServer, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB = REPO_ROOT / "web"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# The one on PATH, as `.ci/install-system-deps` accepts it; Debian's place otherwise.
CHROMIUM = os.environ.get("STOCKROOM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHORT_TOKEN_SECONDS = 4
LOGIN_FAILURES_ALLOWED = 3
VERIFICATION_MAILS_PER_HOUR = 5


def _missing(reason: str) -> None:
    # On CI a missing tool is a broken setup, not a reason to skip quietly.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


# --- the web app -------------------------------------------------------------------------------


def _npm_ci_needed() -> bool:
    marker = WEB / "node_modules" / ".package-lock.json"
    lock = WEB / "package-lock.json"
    return not marker.is_file() or marker.stat().st_mtime < lock.stat().st_mtime


@pytest.fixture(scope="session")
def web_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The production build of web/ in a temp dir (web/dist is left alone)."""
    if shutil.which("npm") is None:
        _missing("npm is not installed")
    out = tmp_path_factory.mktemp("web-dist")
    env = {**os.environ, "CI": "1"}
    env.pop("VITE_API_URL", None)
    steps = [["npm", "ci", "--no-audit", "--no-fund"]] if _npm_ci_needed() else []
    steps.append(["npm", "run", "build", "--", "--outDir", str(out), "--emptyOutDir"])
    for argv in steps:
        result = subprocess.run(
            argv, cwd=WEB, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            pytest.fail(
                f"{' '.join(argv)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
    assert (out / "index.html").is_file()
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class _AppHandler(_QuietHandler):
    """SPA fallback: a path with no file and no extension (an app route) gets `index.html`; a
    missing asset (`/assets/x.js`) stays a 404."""

    def send_head(self) -> Any:
        route = self.path.split("?", 1)[0].split("#", 1)[0]
        if not PurePosixPath(route).suffix and not os.path.exists(self.translate_path(self.path)):
            self.path = "/index.html"
        return super().send_head()


@pytest.fixture(scope="session")
def web_origin(web_dist: Path) -> Iterator[str]:
    """Serves the built app on its own origin, http://127.0.0.1:<port>."""
    handler = functools.partial(_AppHandler, directory=str(web_dist))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    """The mail server every API server of the session sends to (test users' addresses differ)."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def _start_api(tmp: Path, web_origin: str, smtp: SmtpServer, **env: str) -> UvicornServer:
    server = UvicornServer(
        {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": f"sqlite:///{tmp / 'stockroom.db'}",
            "PASSWORD_HASH_ROUNDS": "4",
            "CORS_ORIGINS": web_origin,
            # Mail goes out at once, to the test's SMTP server; its links open the built app.
            "SMTP_URL": smtp.url,
            "PUBLIC_APP_URL": web_origin,
            "MAIL_POLL_SECONDS": "0.1",
            # Chromium keeps Secure cookies from http://127.0.0.1 (a secure context), so the
            # production cookie flags are tested as they are.
            "LOG_LEVEL": "WARNING",
            # Every test user comes from 127.0.0.1; a person's per-account limit stays low.
            "REGISTRATION_LIMIT_PER_ADDRESS": "1000/hour",
            "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "1000/15 minutes",
            "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": f"{LOGIN_FAILURES_ALLOWED}/15 minutes",
            "PASSWORD_RESET_LIMIT_PER_ADDRESS": "1000/hour",
            "VERIFICATION_MAIL_LIMIT_PER_ACCOUNT": f"{VERIFICATION_MAILS_PER_HOUR}/hour",
            **env,
        },
        ready_path="/openapi.json",
    )
    return server.start()


@pytest.fixture(scope="session")
def api(
    tmp_path_factory: pytest.TempPathFactory, web_origin: str, smtp: SmtpServer
) -> Iterator[UvicornServer]:
    """The API with the default 15-minute access tokens."""
    server = _start_api(tmp_path_factory.mktemp("api"), web_origin, smtp)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def short_api(
    tmp_path_factory: pytest.TempPathFactory, web_origin: str, smtp: SmtpServer
) -> Iterator[UvicornServer]:
    """The API with access tokens that expire after SHORT_TOKEN_SECONDS."""
    server = _start_api(
        tmp_path_factory.mktemp("short-api"),
        web_origin,
        smtp,
        ACCESS_TOKEN_EXPIRE_MINUTES=str(SHORT_TOKEN_SECONDS / 60),
    )
    try:
        yield server
    finally:
        server.close()


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class WebApp:
    """One browser profile (cookie jar) using the app at `origin` against the API at `api_url`."""

    browser: Browser
    origin: str
    api_url: str
    artifacts: Path
    contexts: list[BrowserContext] = field(default_factory=list)
    _step: int = 0

    def new_context(self) -> BrowserContext:
        context = self.browser.new_context(viewport={"width": 1000, "height": 800})
        config = f"window.STOCKROOM_API_URL = {self.api_url!r};\n"
        context.route(
            re.compile(r".*/config\.js(\?.*)?$"),
            lambda route: route.fulfill(status=200, content_type="text/javascript", body=config),
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return context

    def open(self, context: BrowserContext | None = None) -> Page:
        page = (context or self.new_context()).new_page()
        page.goto(self.origin + "/")
        return page

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A named step: on failure, a screenshot of every open page is saved for it (and after
        every step when STOCKROOM_E2E_SCREENSHOTS=all)."""
        self._step += 1
        try:
            yield
        except BaseException:
            self.screenshot(f"{self._step:02d}-{name}-FAILED")
            raise
        if os.environ.get("STOCKROOM_E2E_SCREENSHOTS") == "all":
            self.screenshot(f"{self._step:02d}-{name}")

    def screenshot(self, name: str) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        index = 0
        for context in self.contexts:
            for page in context.pages:
                index += 1
                with contextlib.suppress(Exception):
                    page.screenshot(path=self.artifacts / f"{slug}-tab{index}.png", full_page=True)

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


def _artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(path, ignore_errors=True)  # only this run's screenshots
    return path


@pytest.fixture
def webapp(
    browser: Browser, web_origin: str, api: UvicornServer, request: pytest.FixtureRequest
) -> Iterator[WebApp]:
    app = WebApp(browser, web_origin, api.base_url, _artifacts_dir(request))
    yield app
    app.close()


@pytest.fixture
def short_webapp(
    browser: Browser, web_origin: str, short_api: UvicornServer, request: pytest.FixtureRequest
) -> Iterator[WebApp]:
    app = WebApp(browser, web_origin, short_api.base_url, _artifacts_dir(request))
    yield app
    app.close()


# --- talking to the API directly ---------------------------------------------------------------


@dataclass
class Account:
    email: str
    password: str = PASSWORD
    access_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def api_account(base_url: str, prefix: str = "user") -> Account:
    """Registers and logs in over plain HTTP (script mode)."""
    account = Account(unique_email(prefix))
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.post("/auth/register", json={"email": account.email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        response = http.post("/auth/token", data={"username": account.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        account.access_token = response.json()["access_token"]
    return account
