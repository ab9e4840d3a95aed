import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.databases import execute_sql, make_settings
from tests.helpers import ApiClient, bearer


def test_password_grant_also_returns_a_refresh_token_and_scope(client: ApiClient) -> None:
    _, token = client.new_user()
    assert len(token["refresh_token"]) >= 43  # 256 bits, base64url
    assert token["scope"] == "account products:read products:write"


def test_refresh_returns_new_access_and_refresh_tokens(client: ApiClient) -> None:
    _, token = client.new_user()
    response = client.refresh(token["refresh_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != token["refresh_token"]
    assert body["access_token"] != token["access_token"]
    assert response.headers["cache-control"] == "no-store"
    assert client.http.get("/users/me", headers=bearer(body["access_token"])).status_code == 200


def test_reusing_an_older_spent_refresh_token_revokes_the_whole_session(client: ApiClient) -> None:
    _, first = client.new_user()
    second = client.refresh(first["refresh_token"]).json()  # first is now spent
    third = client.refresh(second["refresh_token"]).json()  # and second, after it
    reuse = client.refresh(first["refresh_token"])  # not the latest spent: no grace
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # The descendants issued in between are dead too, and so are the access tokens.
    assert client.refresh(third["refresh_token"]).json()["error"] == "invalid_grant"
    for access in (first["access_token"], second["access_token"], third["access_token"]):
        assert client.http.get("/users/me", headers=bearer(access)).status_code == 401


def test_reusing_a_spent_refresh_token_revokes_the_session_when_the_grace_is_off(
    tmp_path: Path,
) -> None:
    with TestClient(create_app(make_settings(tmp_path, REFRESH_REUSE_GRACE_SECONDS=0))) as http:
        client = ApiClient(http)
        _, first = client.new_user()
        second = client.refresh(first["refresh_token"]).json()
        reuse = client.refresh(first["refresh_token"])
        assert reuse.status_code == 400
        assert client.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"


def live_refresh_tokens(settings: Settings) -> int:
    rows = execute_sql(settings, "SELECT count(*) FROM refresh_tokens WHERE spent_at IS NULL")
    return int(rows[0][0])


def test_the_latest_spent_token_again_within_the_grace_keeps_the_session(
    client: ApiClient, settings: Settings
) -> None:
    _, first = client.new_user()
    second = client.refresh(first["refresh_token"]).json()
    again = client.refresh(first["refresh_token"])  # a retry whose answer was lost
    assert again.status_code == 200
    third = again.json()
    for token in (second, third):
        assert (
            client.http.get("/users/me", headers=bearer(token["access_token"])).status_code == 200
        )
    assert client.refresh(third["refresh_token"]).status_code == 200


def test_a_replay_within_the_grace_replaces_the_live_token_instead_of_forking(
    client: ApiClient, settings: Settings
) -> None:
    _, first = client.new_user()
    client.refresh(first["refresh_token"])
    client.refresh(first["refresh_token"])
    assert live_refresh_tokens(settings) == 1


def test_replaying_one_spent_token_again_and_again_ends_the_session(client: ApiClient) -> None:
    _, first = client.new_user()
    second = client.refresh(first["refresh_token"]).json()  # the user moves on
    replays = [client.refresh(first["refresh_token"]) for _ in range(5)]  # a thief, within grace
    assert [replay.status_code for replay in replays] == [200, 400, 400, 400, 400]
    for token in (second, replays[0].json()):
        assert client.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_the_latest_spent_token_after_the_grace_ends_the_session(
    client: ApiClient, settings: Settings
) -> None:
    _, first = client.new_user()
    second = client.refresh(first["refresh_token"]).json()
    execute_sql(
        settings,
        "UPDATE refresh_tokens SET spent_at = :long_ago WHERE spent_at IS NOT NULL",
        long_ago=datetime.now(UTC) - timedelta(minutes=1),
    )
    reuse = client.refresh(first["refresh_token"])
    assert reuse.status_code == 400
    assert client.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"


def test_two_truly_concurrent_refreshes_with_one_token_both_succeed_on_one_chain(
    client: ApiClient, settings: Settings
) -> None:
    _, first = client.new_user()
    barrier = threading.Barrier(2)

    def refresh() -> httpx.Response:
        barrier.wait()
        return client.refresh(first["refresh_token"])

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: refresh(), range(2)))
    assert [answer.status_code for answer in answers] == [200, 200]
    assert live_refresh_tokens(settings) == 1


def test_reuse_does_not_touch_other_sessions_of_the_user(client: ApiClient) -> None:
    email, first = client.new_user()
    other = client.login(email)
    second = client.refresh(first["refresh_token"]).json()
    client.refresh(second["refresh_token"])
    assert client.refresh(first["refresh_token"]).status_code == 400  # reuse: session ended
    assert client.http.get("/users/me", headers=bearer(other["access_token"])).status_code == 200


def test_unknown_refresh_token_is_invalid_grant(client: ApiClient) -> None:
    response = client.refresh("not-a-token")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_without_a_token_is_invalid_request(client: ApiClient) -> None:
    response = client.http.post("/auth/token", data={"grant_type": "refresh_token"})
    assert response.json()["error"] == "invalid_request"


def test_access_token_is_not_a_refresh_token(client: ApiClient) -> None:
    _, token = client.new_user()
    assert client.refresh(token["access_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_is_not_an_access_token(client: ApiClient) -> None:
    _, token = client.new_user()
    response = client.http.get("/users/me", headers=bearer(token["refresh_token"]))
    assert response.status_code == 401


def test_refresh_may_narrow_the_scope(client: ApiClient) -> None:
    _, token = client.new_user()
    response = client.refresh(token["refresh_token"], scope="products:read")
    assert response.json()["scope"] == "products:read"
    headers = bearer(response.json()["access_token"])
    assert client.http.get("/products", headers=headers).status_code == 200
    assert (
        client.http.post("/products", json={"name": "x", "price": 1}, headers=headers).status_code
        == 403
    )


def test_refresh_never_widens_the_scope(client: ApiClient) -> None:
    _, token = client.new_user(scope="products:read")
    response = client.refresh(token["refresh_token"], scope="products:read products:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    # A refused request does not cost the client its refresh token.
    assert client.refresh(token["refresh_token"]).status_code == 200


def test_refresh_without_scope_keeps_the_original_grant(client: ApiClient) -> None:
    _, token = client.new_user(scope="products:read")
    narrowed = client.refresh(token["refresh_token"], scope="products:read").json()
    assert client.refresh(narrowed["refresh_token"]).json()["scope"] == "products:read"


def test_session_past_its_absolute_lifetime_cannot_refresh(
    client: ApiClient, settings: Settings
) -> None:
    _, token = client.new_user()
    past = datetime.now(UTC) - timedelta(seconds=1)
    execute_sql(settings, "UPDATE auth_sessions SET expires_at = :past", past=past)
    assert client.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_idle_session_cannot_refresh(client: ApiClient, settings: Settings) -> None:
    _, token = client.new_user()
    long_ago = datetime.now(UTC) - timedelta(days=8)
    execute_sql(settings, "UPDATE auth_sessions SET last_used_at = :t", t=long_ago)
    response = client.refresh(token["refresh_token"])
    assert response.json()["error"] == "invalid_grant"
    assert "idle" in response.json()["error_description"]


def test_refresh_tokens_are_stored_only_as_their_sha256(
    client: ApiClient, settings: Settings
) -> None:
    _, token = client.new_user()
    rotated = client.refresh(token["refresh_token"]).json()
    presented = [token["refresh_token"], rotated["refresh_token"]]
    stored = execute_sql(settings, "SELECT token_hash FROM refresh_tokens")
    assert sorted(row[0] for row in stored) == sorted(
        hashlib.sha256(value.encode()).hexdigest() for value in presented
    )
    everything = str(execute_sql(settings, "SELECT * FROM refresh_tokens"))
    everything += str(execute_sql(settings, "SELECT * FROM auth_sessions"))
    assert not any(value in everything for value in presented)
