"""The PostgreSQL connection pool: fair, bounded, and never reusing a doubtful connection."""

import asyncio
import inspect
import secrets
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest

from api.errors import DATABASE_RETRY_AFTER_S
from models.connect import open_database
from models.database import DatabaseOptions
from models.errors import DatabaseUnavailable
from models.pool import ConnectionPool
from models.postgres import PostgresConnection, PostgresDatabase
from tests.databases import BACKEND, fresh_database_url
from tests.helpers import PASSWORD, bearer, unique_email
from tests.services import PostgresServer, UvicornServer, wait_for

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")

Check = Callable[[PostgresServer], Coroutine[Any, Any, None]]


def run_with_postgres(postgres_server: PostgresServer | None, check: Check) -> None:
    assert postgres_server is not None
    asyncio.run(check(postgres_server))


async def eventually(condition: Callable[[], Any], what: str) -> None:
    """Let the event loop run until `condition()` (or the awaitable it returns) holds; fail
    after a generous deadline. It polls: what it waits for (a socket, the server's view) has
    no event to await."""

    async def holds() -> bool:
        value = condition()
        return bool(await value if inspect.isawaitable(value) else value)

    try:
        async with asyncio.timeout(30):
            while not await holds():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def database_for(server: PostgresServer, **options: Any) -> PostgresDatabase:
    database = open_database(server.url, DatabaseOptions(pool_size=1, **options))
    assert isinstance(database, PostgresDatabase)
    return database


async def backend_pid(database: PostgresDatabase) -> int:
    async with database.connection() as conn:
        pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid


def test_waiters_get_connections_in_arrival_order(postgres_server: PostgresServer | None) -> None:
    async def check(server: PostgresServer) -> None:
        pool = ConnectionPool(lambda: asyncpg.connect(server.url), max_size=1, timeout=5)
        held = await pool.acquire()
        served: list[int] = []

        async def wait_turn(number: int) -> None:
            conn = await pool.acquire()
            served.append(number)
            await asyncio.sleep(0)  # let a later arrival try to jump the queue
            pool.release(conn)

        waiters = [asyncio.create_task(wait_turn(n)) for n in range(5)]
        await eventually(lambda: pool.waiting == 5, "five queued waiters")
        pool.release(held)
        await asyncio.gather(*waiters)
        await pool.close()
        assert served == [0, 1, 2, 3, 4]

    run_with_postgres(postgres_server, check)


def test_a_task_that_asks_again_before_yielding_keeps_its_connection(
    postgres_server: PostgresServer | None,
) -> None:
    """A request reads its session, then runs its own statement: it keeps the connection it just
    gave back, and the waiter gets it as soon as that request yields."""

    async def check(server: PostgresServer) -> None:
        pool = ConnectionPool(lambda: asyncpg.connect(server.url), max_size=1, timeout=5)
        first = await pool.acquire()
        served: list[str] = []

        async def waiter() -> None:
            conn = await pool.acquire()
            served.append("waiter")
            pool.release(conn)

        waiting = asyncio.create_task(waiter())
        await eventually(lambda: pool.waiting == 1, "a queued waiter")
        pool.release(first)
        again = await pool.acquire()  # no yield in between: the same connection, at once
        assert again is first and served == []
        pool.release(again)
        await waiting  # and the waiter had it next
        assert served == ["waiter"]
        await pool.close()

    run_with_postgres(postgres_server, check)


def test_no_free_connection_in_time_is_an_outage(postgres_server: PostgresServer | None) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server, pool_timeout=0.2)
        async with database.connection():
            with pytest.raises(DatabaseUnavailable):
                async with database.connection():
                    pass
        assert await backend_pid(database) > 0  # and the pool still works afterwards
        await database.close()

    run_with_postgres(postgres_server, check)


SLEEP = "SELECT pg_sleep(30)"  # longer than any test waits: it ends by timeout or cancellation


async def sleep_on_a_connection(database: PostgresDatabase) -> None:
    async with database.connection() as conn:
        await conn.execute(SLEEP)


async def sleep_on_the_database(database: PostgresDatabase) -> None:
    await database.execute(SLEEP)


SlowQuery = Callable[[PostgresDatabase], Coroutine[Any, Any, None]]
ON_A_CONNECTION_OR_THE_DATABASE = pytest.mark.parametrize(
    "slow_query", [sleep_on_a_connection, sleep_on_the_database]
)


@ON_A_CONNECTION_OR_THE_DATABASE
def test_a_statement_past_its_timeout_is_an_outage_and_its_connection_is_dropped(
    postgres_server: PostgresServer | None, slow_query: SlowQuery
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server, statement_timeout=0.2)
        first = await backend_pid(database)  # the pool's one connection, which the query takes
        with pytest.raises(DatabaseUnavailable):
            await slow_query(database)
        assert await backend_pid(database) != first
        await database.close()

    run_with_postgres(postgres_server, check)


def test_a_statement_on_the_database_gives_its_connection_back(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server, pool_timeout=0.2)
        first = await database.fetchval("SELECT pg_backend_pid()")
        assert await database.fetchval("SELECT pg_backend_pid()") == first
        async with database.connection() as conn:  # the one pooled connection is free
            assert await conn.fetchval("SELECT pg_backend_pid()") == first
        await database.close()

    run_with_postgres(postgres_server, check)


def test_a_connection_past_its_lifetime_is_replaced_without_an_error(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server, max_lifetime=0.3)
        first = await backend_pid(database)
        seen = {first}
        async with asyncio.timeout(30):  # a connection in steady use is replaced all the same
            while seen == {first}:
                seen.add(await backend_pid(database))
        await database.close()

    run_with_postgres(postgres_server, check)


def test_a_connection_idle_too_long_is_replaced_without_an_error(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server, max_idle=0.2)
        first = await backend_pid(database)
        # Reasoned exception: the connection must lie unused past its idle time, and any
        # check that it has would use it.
        await asyncio.sleep(0.4)
        assert await backend_pid(database) != first
        await database.close()

    run_with_postgres(postgres_server, check)


@ON_A_CONNECTION_OR_THE_DATABASE
def test_a_connection_cancelled_mid_query_is_closed_not_reused(
    postgres_server: PostgresServer | None, slow_query: SlowQuery
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server)
        first = await backend_pid(database)  # the pool's one connection, which the query takes
        operator = await asyncpg.connect(server.url)

        async def sleeping() -> bool:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%'"
            return bool(await operator.fetchval(sql, first) == 1)

        task = asyncio.create_task(slow_query(database))
        await eventually(sleeping, "the slow query to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        second = await backend_pid(database)
        await database.close()
        await operator.close()
        assert second != first

    run_with_postgres(postgres_server, check)


def test_a_connection_the_server_closed_is_replaced(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        database = database_for(server)
        async with database.connection() as conn:
            assert isinstance(conn, PostgresConnection)
            first = await conn.fetchval("SELECT pg_backend_pid()")
            pooled = conn.raw
        operator = await asyncpg.connect(server.url)
        await operator.execute("SELECT pg_terminate_backend($1)", first)
        await operator.close()
        await eventually(pooled.is_closed, "the closed socket to reach the event loop")
        second = await backend_pid(database)
        await database.close()
        assert second != first

    run_with_postgres(postgres_server, check)


def test_no_free_connection_answers_503_with_retry_after_over_http(
    postgres_server: PostgresServer | None, tmp_path: Path
) -> None:
    url = fresh_database_url(tmp_path)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
        "DB_POOL_SIZE": "1",
        "DB_MAX_OVERFLOW": "0",
        "DB_POOL_TIMEOUT_SECONDS": "1",
        "DB_STATEMENT_TIMEOUT_SECONDS": "60",  # the create waits on the lock on purpose
    }
    with (
        UvicornServer(env, cwd=tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
        httpx.Client(base_url=server.base_url, timeout=60) as other,
        psycopg.connect(url) as operator,
        psycopg.connect(url, autocommit=True) as observer,
    ):
        email = unique_email()
        registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = bearer(token["access_token"])
        # The operator's lock makes a create wait inside the database, holding the only
        # pooled connection.
        operator.execute("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            create = pool.submit(
                other.post, "/products", json={"name": "held", "price": "1"}, headers=headers
            )
            waiting_insert = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO products%'"
            )
            wait_for(
                lambda: observer.execute(waiting_insert).fetchone() == (1,),
                "the create to wait for the lock",
            )
            response = http.get("/users/me", headers=headers)
            operator.rollback()
            assert create.result(timeout=60).status_code == 201
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)
    assert "database" in response.json()["detail"]
