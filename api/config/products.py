from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.common import CONFIG


class ProductSettings(BaseSettings):
    """How products are edited by many hands: conditional writes and idempotent creates."""

    model_config = CONFIG

    # True: a PATCH or DELETE of a product without If-Match is refused (428).
    REQUIRE_IF_MATCH: bool = False
    # How long an Idempotency-Key is remembered: a retry within it gets the first answer.
    IDEMPOTENCY_KEY_HOURS: float = Field(default=24, gt=0, le=24 * 30)
