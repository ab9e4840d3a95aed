"""The PostgreSQL connection pool: fair, bounded, and never reusing a doubtful connection."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from models.database import ConnectionPool, PostgresEngine, create_engine
from tests.conftest import BACKEND
from tests.services import PostgresServer

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")

Check = Callable[[PostgresServer], Coroutine[Any, Any, None]]


def run_with_postgres(postgres_server: PostgresServer | None, check: Check) -> None:
    assert postgres_server is not None
    asyncio.run(check(postgres_server))


def engine_for(server: PostgresServer, **options: float) -> PostgresEngine:
    engine = create_engine(server.url, **options)  # type: ignore[arg-type]
    assert isinstance(engine, PostgresEngine)
    return engine


def test_waiters_get_connections_in_arrival_order(postgres_server: PostgresServer | None) -> None:
    async def check(server: PostgresServer) -> None:
        pool = ConnectionPool(server.url, max_size=1, timeout=5, connect_timeout=5)
        held = await pool.acquire()
        served: list[int] = []

        async def wait_turn(number: int) -> None:
            conn = await pool.acquire()
            served.append(number)
            await asyncio.sleep(0)  # let a later arrival try to jump the queue
            pool.release(conn)

        waiters = [asyncio.create_task(wait_turn(n)) for n in range(5)]
        await asyncio.sleep(0.05)
        pool.release(held)
        await asyncio.gather(*waiters)
        await pool.close()
        assert served == [0, 1, 2, 3, 4]

    run_with_postgres(postgres_server, check)


def test_no_free_connection_in_time_is_a_timeout(postgres_server: PostgresServer | None) -> None:
    async def check(server: PostgresServer) -> None:
        engine = engine_for(server, pool_size=1, max_overflow=0, pool_timeout=0.2)
        async with engine.connect():
            with pytest.raises(SQLAlchemyTimeoutError):
                async with engine.connect():
                    pass
        async with engine.connect() as conn:  # and the pool still works afterwards
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        await engine.dispose()

    run_with_postgres(postgres_server, check)


def test_a_connection_cancelled_mid_query_is_closed_not_reused(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        engine = engine_for(server, pool_size=1, max_overflow=0)
        pids: list[int] = []

        async def slow_query() -> None:
            async with engine.connect() as conn:
                pids.append((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                await conn.execute(text("SELECT pg_sleep(5)"))

        task = asyncio.create_task(slow_query())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await engine.dispose()
        assert pid != pids[0]

    run_with_postgres(postgres_server, check)


def test_a_connection_the_server_closed_is_replaced(
    postgres_server: PostgresServer | None,
) -> None:
    async def check(server: PostgresServer) -> None:
        engine = engine_for(server, pool_size=1, max_overflow=0)
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        operator = await asyncpg.connect(server.url)
        await operator.execute("SELECT pg_terminate_backend($1)", first)
        await operator.close()
        await asyncio.sleep(0.2)  # the closed socket reaches the event loop
        async with engine.connect() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await engine.dispose()
        assert second != first

    run_with_postgres(postgres_server, check)
