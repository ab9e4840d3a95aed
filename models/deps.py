"""What lives on `app.state`, and the data layer's FastAPI dependency.

Routes take the `Database` and hand it to the repositories, which run each statement on a
pooled connection (see `Executor`); a route that writes several rows together opens
`db.transaction()`. A connection per request as a generator dependency was the other way:
its exit stack cost each request more CPU than the statement it served (bench/README.md).

Each layer keeps its start-up objects in one registry on the app, keyed by their type, and
reads them back through `provided`; nothing else touches `app.state`.
"""

from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request

from models.database import Database

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
