"""What lives on `app.state`, and the data layer's FastAPI dependencies.

Each layer keeps its start-up objects in one registry on the app, keyed by their type, and
reads them back through `provided`; nothing else touches `app.state`.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request

from models.database import Connection, Database

T = TypeVar("T")


def provide(app: FastAPI, kind: type[T], value: T) -> None:
    if not hasattr(app.state, "provided"):
        app.state.provided = {}
    registry: dict[type[Any], Any] = app.state.provided
    registry[kind] = value


def provided(app: FastAPI, kind: type[T]) -> T:
    value: T = app.state.provided[kind]
    return value


async def get_database(request: Request) -> Database:
    return provided(request.app, Database)


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_connection(database: DatabaseDep) -> AsyncIterator[Connection]:
    async with database.connection() as conn:
        yield conn


# One connection per request, shared by the current-user check and the route; scope="function"
# gives it back before the response is sent, not after.
ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
