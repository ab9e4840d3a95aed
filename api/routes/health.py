from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from api.drain import Drain
from api.errors import DATABASE_RETRY_AFTER_S
from api.state import state
from migrations import schema_problem, schema_revision
from models.deps import DatabaseDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is alive (for the load balancer's liveness check)."""
    return Health(status="ok")


async def get_drain(request: Request) -> Drain:
    return state(request.app).drain


@router.get(
    "/ready",
    response_model=Health,
    responses={
        503: {"model": Health, "description": "Shutting down, or database unreachable or behind"}
    },
)
async def ready(
    db: DatabaseDep, drain: Annotated[Drain, Depends(get_drain)], response: Response
) -> Health:
    """Send traffic here: the worker is not shutting down, the database answers, and its schema
    is one this code can serve (at its migration head, or ahead of it by a later release's
    expand-only migrations)."""
    if drain.active:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="draining", detail="shutting down; finishing the requests in flight")
    try:
        current, head = await schema_revision(db)
    except Exception as exc:  # any database failure means "not ready", never a 500
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return Health(status="unavailable", detail=f"database unreachable ({type(exc).__name__})")
    problem = schema_problem(current)
    if problem is not None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", detail=problem)
    if current != head:
        return Health(status="ok", detail=f"schema at {current}, ahead of this code's {head}")
    return Health(status="ok")
