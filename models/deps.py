"""The application's state, and the data layer's FastAPI dependency.

The app's lifespan builds one state object (`api/state.py`: the database, the auth settings,
the throttle, ...) and sets it on the app; every layer reads it through `app_state`, typed by
a protocol of what that layer uses, so nothing below `api` imports `api`. A test or a tool that
wants another database (or anything else in it) for the whole request path gives it to
`create_app`, and every route, dependency and handler sees it.

Routes take the `Database` and hand it to the repositories, which run each statement on a
pooled connection (see `Executor`); a route that writes several rows together opens
`db.transaction()`.
"""

from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from starlette.types import ASGIApp

from models.database import Database

S = TypeVar("S")
STATE_ATTRIBUTE = "stockroom"


class DataState(Protocol):
    """What the data layer reads of the state."""

    @property
    def database(self) -> Database: ...


class StateNotSet(RuntimeError):
    """The app is used before its lifespan built its state."""


def app_state(app: ASGIApp, kind: type[S]) -> S:
    """The app's state, as `kind` (a protocol of what the caller reads)."""
    state: Any = getattr(getattr(app, "state", None), STATE_ATTRIBUTE, None)
    if state is None:
        raise StateNotSet(
            "Stockroom's state (database, keys, throttle) is not set on this app: its lifespan "
            "builds it, so serve the app (uvicorn, `stockroom serve`) or enter "
            "`TestClient(app)` as a context manager before sending requests."
        )
    result: S = state
    return result


async def get_database(request: Request) -> Database:
    return app_state(request.app, DataState).database


DatabaseDep = Annotated[Database, Depends(get_database)]
