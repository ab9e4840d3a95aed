"""The React app's session: refresh token in an HttpOnly cookie, CSRF-proof by a custom header."""

from http.cookies import SimpleCookie

import httpx

from api.grants import REFRESH_COOKIE
from tests.helpers import BROWSER_HEADERS, PASSWORD, ApiClient, unique_email

BROWSER = BROWSER_HEADERS
COOKIE = REFRESH_COOKIE


def browser_login(client: ApiClient) -> httpx.Response:
    email = unique_email()
    client.register(email)
    response: httpx.Response = client.http.post(
        "/auth/token", data={"username": email, "password": PASSWORD}, headers=BROWSER
    )
    return response


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


def cookie_refresh(client: ApiClient, headers: dict[str, str] | None = BROWSER) -> httpx.Response:
    response: httpx.Response = client.http.post(
        "/auth/token", data={"grant_type": "refresh_token"}, headers=headers or {}
    )
    return response


def test_browser_login_sets_an_httponly_secure_strict_cookie_scoped_to_auth(
    client: ApiClient,
) -> None:
    response = browser_login(client)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    morsel = set_cookie(response)[COOKIE]
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/auth"
    assert int(morsel["max-age"]) > 0


def test_cookie_refresh_with_the_header_rotates_the_cookie(client: ApiClient) -> None:
    first = set_cookie(browser_login(client))[COOKIE].value
    client.http.cookies.set(COOKIE, first, path="/auth")
    response = cookie_refresh(client)
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert set_cookie(response)[COOKIE].value != first


def test_cookie_without_the_custom_header_is_ignored(client: ApiClient) -> None:
    """A forged cross-site form post carries the cookie but cannot add the header."""
    token = set_cookie(browser_login(client))[COOKIE].value
    client.http.cookies.set(COOKIE, token, path="/auth")
    response = cookie_refresh(client, headers=None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert cookie_refresh(client).status_code == 200  # the cookie was not spent


def test_spent_cookie_is_refused_and_cleared(client: ApiClient) -> None:
    token = set_cookie(browser_login(client))[COOKIE].value
    client.http.cookies.set(COOKIE, token, path="/auth")
    first = cookie_refresh(client)
    assert first.status_code == 200
    # The cookie that replaced it is spent too: the first is now an older spent one, past any
    # grace for a concurrent refresh.
    client.http.cookies.clear()
    client.http.cookies.set(COOKIE, set_cookie(first)[COOKIE].value, path="/auth")
    assert cookie_refresh(client).status_code == 200
    client.http.cookies.clear()
    client.http.cookies.set(COOKIE, token, path="/auth")
    response = cookie_refresh(client)
    assert response.json()["error"] == "invalid_grant"
    assert set_cookie(response)[COOKIE]["max-age"] == "0"


def test_logout_clears_the_cookie_and_kills_it(client: ApiClient) -> None:
    login = browser_login(client)
    token = set_cookie(login)[COOKIE].value
    access = login.json()["access_token"]
    response = client.http.post(
        "/auth/logout", headers={**BROWSER, "Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 204
    assert set_cookie(response)[COOKIE]["max-age"] == "0"
    client.http.cookies.set(COOKIE, token, path="/auth")
    assert cookie_refresh(client).json()["error"] == "invalid_grant"
