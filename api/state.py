"""Everything a request may use that lives as long as the app: built in the lifespan."""

from dataclasses import dataclass

from starlette.types import ASGIApp

from api.config import Settings
from api.cursors import CursorCodec
from api.drain import Drain
from api.throttling import Throttle
from auth.config import AuthConfig
from models.database import Database
from models.deps import STATE_ATTRIBUTE, app_state


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    database: Database
    auth: AuthConfig
    throttle: Throttle
    drain: Drain
    cursors: CursorCodec


def set_state(app: ASGIApp, state: AppState | None) -> None:
    setattr(app.state, STATE_ATTRIBUTE, state)  # type: ignore[attr-defined]


def state(app: ASGIApp) -> AppState:
    return app_state(app, AppState)
