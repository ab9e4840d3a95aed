from tests.helpers import ApiClient, bearer


def test_sessions_lists_live_sessions_and_marks_the_current_one(client: ApiClient) -> None:
    email, mine = client.new_user()
    client.http.post(
        "/auth/token",
        data={"username": email, "password": "correct horse battery staple"},
        headers={"User-Agent": "phone-app/1.0"},
    )
    response = client.http.get("/users/me/sessions", headers=bearer(mine["access_token"]))
    assert response.status_code == 200
    sessions = response.json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    assert "phone-app/1.0" in [s["user_agent"] for s in sessions]
    assert {"id", "created_at", "last_used_at", "expires_at", "user_agent", "scope"} <= set(
        sessions[0]
    )


def test_ending_a_session_revokes_its_tokens(client: ApiClient) -> None:
    email, mine = client.new_user()
    other = client.login(email)
    headers = bearer(mine["access_token"])
    sessions = client.http.get("/users/me/sessions", headers=headers).json()
    other_id = next(s["id"] for s in sessions if not s["current"])
    assert client.http.delete(f"/users/me/sessions/{other_id}", headers=headers).status_code == 204
    assert client.http.get("/users/me", headers=bearer(other["access_token"])).status_code == 401
    assert len(client.http.get("/users/me/sessions", headers=headers).json()) == 1


def test_someone_elses_session_is_404(client: ApiClient) -> None:
    _, victim = client.new_user()
    victim_sessions = client.http.get(
        "/users/me/sessions", headers=bearer(victim["access_token"])
    ).json()
    intruder = client.headers()
    response = client.http.delete(
        f"/users/me/sessions/{victim_sessions[0]['id']}", headers=intruder
    )
    assert response.status_code == 404
    assert client.http.get("/users/me", headers=bearer(victim["access_token"])).status_code == 200


def test_unknown_session_is_404(client: ApiClient) -> None:
    response = client.http.delete("/users/me/sessions/nope", headers=client.headers())
    assert response.status_code == 404
