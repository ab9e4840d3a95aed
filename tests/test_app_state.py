"""The app's state is built in its lifespan and read through one accessor; a database given to
`create_app` serves every request, the login and the current-user check included."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from migrations import upgrade_to_head
from models.connect import open_database
from models.database import Connection, Database, Row
from models.deps import StateNotSet
from tests.helpers import PASSWORD, ApiClient, bearer, run_async, unique_email


class RecordingDatabase(Database):
    """The pass's real database, noting each statement the app sends outside a transaction and
    each transaction it opens, so a test can see which database served a request."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.url = inner.url
        self.dialect = inner.dialect
        self.statements: list[str] = []

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self.statements.append(sql)
        return await self.inner.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self.statements.append(sql)
        return await self.inner.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        self.statements.append(sql)
        await self.inner.execute(sql, *args)

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        @asynccontextmanager
        async def recorded() -> AsyncIterator[Connection]:
            self.statements.append("a connection of its own (a transaction)")
            async with self.inner.connection() as conn:
                yield conn

        return recorded()

    async def close(self) -> None:
        await self.inner.close()


def test_a_database_given_to_the_app_serves_the_login_and_every_request(
    settings: Settings,
) -> None:
    run_async(upgrade_to_head(settings.DATABASE_URL))
    recording = RecordingDatabase(open_database(settings.DATABASE_URL))
    with TestClient(create_app(settings, database=recording)) as http:
        try:
            client = ApiClient(http)
            email = unique_email()
            assert client.register(email).status_code == 201
            recording.statements.clear()
            token = client.login(email, PASSWORD)
            login = list(recording.statements)
            recording.statements.clear()
            assert http.get("/users/me", headers=bearer(token["access_token"])).status_code == 200
            current_user = list(recording.statements)
        finally:  # on the loop that opened it
            assert http.portal is not None
            http.portal.call(recording.close)
    assert any("FROM users WHERE email" in sql for sql in login)
    assert "a connection of its own (a transaction)" in login  # the session it opened
    assert any("FROM auth_sessions s JOIN users u" in sql for sql in current_user)


def test_a_request_before_the_lifespan_names_what_is_missing(settings: Settings) -> None:
    http = TestClient(create_app(settings))  # not entered: the lifespan has not run
    with pytest.raises(StateNotSet, match="lifespan"):
        http.get("/users/me", headers=bearer("any"))
