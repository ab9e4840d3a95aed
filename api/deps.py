from typing import Annotated

from fastapi import Depends, Request

from api.config import Settings
from auth.config import AuthConfig, get_auth_config


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
