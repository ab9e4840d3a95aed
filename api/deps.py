"""The API layer's dependencies: what a route takes from the app's state."""

from typing import Annotated

from fastapi import Depends, Request

from api.config import Settings
from api.state import state
from api.throttling import Throttle


async def get_settings(request: Request) -> Settings:
    return state(request.app).settings


async def get_throttle(request: Request) -> Throttle:
    return state(request.app).throttle


SettingsDep = Annotated[Settings, Depends(get_settings)]
ThrottleDep = Annotated[Throttle, Depends(get_throttle)]
