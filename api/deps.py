from typing import Annotated

from fastapi import Depends, Request

from api.config import Settings
from models.deps import provided


async def get_settings(request: Request) -> Settings:
    return provided(request.app, Settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]
