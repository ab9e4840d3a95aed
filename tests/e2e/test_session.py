"""The browser session: in-memory access token, HttpOnly refresh cookie, silent refresh, logout."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, Response, expect

from api.grants import REFRESH_COOKIE
from tests.e2e import pages
from tests.e2e.conftest import SHORT_TOKEN_SECONDS, WebApp
from tests.helpers import BROWSER_HEADERS, unique_email


def refresh_cookie(context: BrowserContext) -> dict[str, object]:
    found = [c for c in context.cookies() if c["name"] == REFRESH_COOKIE]
    assert len(found) == 1, f"expected one {REFRESH_COOKIE} cookie, got {context.cookies()}"
    return dict(found[0])


def assert_no_token_in_storage(page: Page) -> None:
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.length") == 0
    assert REFRESH_COOKIE not in page.evaluate("document.cookie")


def test_reload_keeps_session_and_expired_access_token_is_refreshed(short_webapp: WebApp) -> None:
    app = short_webapp
    page = app.open()
    context = page.context

    with app.step("login"):
        pages.register_and_login(page, unique_email("reload"))
        pages.create_product(page, "Before reload", "1.00")
        expect(pages.row(page, "Before reload")).to_be_visible()

    with app.step("cookie-is-httponly-and-token-not-stored"):
        cookie = refresh_cookie(context)
        assert cookie["httpOnly"] is True
        assert cookie["path"] == "/auth"
        assert cookie["sameSite"] == "Strict"
        assert_no_token_in_storage(page)

    with app.step("reload-restores-session"):
        page.reload()
        expect(pages.products_screen(page)).to_be_visible()
        expect(pages.row(page, "Before reload")).to_be_visible()
        expect(pages.login_screen(page)).to_have_count(0)

    with app.step("expired-access-token-is-refreshed-silently"):
        statuses: list[tuple[str, int]] = []
        page.on("response", lambda r: statuses.append((f"{r.request.method} {r.url}", r.status)))
        # Reasoned exception: the access token must really expire on the server, and nothing
        # signals that moment but the clock (its lifetime plus a margin for `exp` rounding).
        time.sleep(SHORT_TOKEN_SECONDS + 1.5)
        pages.create_product(page, "After expiry", "2.00")
        expect(pages.row(page, "After expiry")).to_be_visible()
        expect(pages.row(page, "Before reload")).to_be_visible()
        expect(pages.login_screen(page)).to_have_count(0)
        # The first POST /products was refused with 401, refreshed, and retried once.
        posts = [s for u, s in statuses if u.startswith("POST ") and u.endswith("/products")]
        assert posts[:2] == [401, 201], statuses
        assert any(u.endswith("/auth/token") and s == 200 for u, s in statuses), statuses
        assert_no_token_in_storage(page)


def test_logout_ends_the_session_and_kills_the_refresh_cookie(webapp: WebApp) -> None:
    page = webapp.open()

    with webapp.step("login"):
        pages.register_and_login(page, unique_email("logout"))
        page.reload()  # rotate once, so the cookie in the jar is not the first one
        expect(pages.products_screen(page)).to_be_visible()
        old_cookie = str(refresh_cookie(page.context)["value"])

    with webapp.step("logout"):
        pages.logout(page)
        expect(page.get_by_role("status")).to_contain_text("logged out")
        assert not [c for c in page.context.cookies() if c["name"] == REFRESH_COOKIE]

    with webapp.step("reload-lands-on-login"):
        page.reload()
        expect(pages.login_screen(page)).to_be_visible()
        expect(pages.products_screen(page)).to_have_count(0)

    with webapp.step("old-refresh-cookie-is-dead"):
        response = httpx.post(
            f"{webapp.api_url}/auth/token",
            data={"grant_type": "refresh_token"},
            headers={**BROWSER_HEADERS, "Cookie": f"{REFRESH_COOKIE}={old_cookie}"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"


def token_status_recorder(statuses: list[int]) -> Callable[[Response], None]:
    def record(response: Response) -> None:
        if response.url.endswith("/auth/token"):
            statuses.append(response.status)

    return record


def test_two_tabs_reloading_at_once_both_stay_logged_in(webapp: WebApp) -> None:
    context = webapp.new_context()
    first = webapp.open(context)

    with webapp.step("login-in-first-tab"):
        pages.register_and_login(first, unique_email("tabs"))
        pages.create_product(first, "Shared", "1.00")
        expect(pages.row(first, "Shared")).to_be_visible()

    with webapp.step("second-tab-restores-session"):
        second = webapp.open(context)
        expect(pages.row(second, "Shared")).to_be_visible()

    refreshes: dict[int, list[int]] = {0: [], 1: []}
    for index, tab in enumerate((first, second)):
        tab.on("response", token_status_recorder(refreshes[index]))

    for round_ in range(3):
        with webapp.step(f"reload-both-at-once-{round_}"):
            for tab in (first, second):
                tab.evaluate("window.__beforeReload = true")
            # Start both reloads before waiting for either, so their refresh calls race.
            for tab in (first, second):
                tab.evaluate("setTimeout(() => location.reload(), 0)")
            for index, tab in enumerate((first, second)):
                tab.wait_for_function("window.__beforeReload === undefined")
                expect(pages.row(tab, "Shared")).to_be_visible()
                expect(pages.login_screen(tab)).to_have_count(0)
                assert refreshes[index][-1:] == [200], refreshes
    assert refreshes == {0: [200] * 3, 1: [200] * 3}, refreshes

    with webapp.step("both-tabs-still-work"):
        pages.create_product(first, "From first", "2.00")
        expect(pages.row(first, "From first")).to_be_visible()
        pages.create_product(second, "From second", "3.00")
        expect(pages.row(second, "From second")).to_be_visible()
        expect(pages.row(second, "From first")).to_be_visible()
        second.reload()
        expect(pages.row(second, "From second")).to_be_visible()

    with webapp.step("logout-in-one-tab-ends-the-other"):
        pages.logout(first)
        expect(pages.login_screen(second)).to_be_visible()
        expect(second.get_by_role("status")).to_contain_text("logged out in another tab")
