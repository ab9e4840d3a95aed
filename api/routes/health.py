from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from api.errors import DATABASE_RETRY_AFTER_S
from migrations import schema_revision
from models.deps import DatabaseDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is alive (for the load balancer's liveness check)."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable or not migrated"}},
)
async def ready(db: DatabaseDep, response: Response) -> Health:
    """The database answers and its schema is at the code's migration head."""
    try:
        current, head = await schema_revision(db)
    except Exception as exc:  # any database failure means "not ready", never a 500
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return Health(status="unavailable", detail=f"database unreachable ({type(exc).__name__})")
    if current != head:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", detail=f"schema at {current}, code expects {head}")
    return Health(status="ok")
