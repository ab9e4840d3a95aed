"""The pages that problem types (`type: /problems/...`) point at, for the people reading one."""

from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import HTMLResponse

from api.problems import PROBLEM_TYPES

router = APIRouter(prefix="/problems", tags=["problems"])


@router.get(
    "/{slug}", response_class=HTMLResponse, responses={404: {"description": "No such type"}}
)
async def problem_type(slug: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    """What a problem type means and what to do about it."""
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such problem type.")
    page = (
        f"<!doctype html><html><head><title>{escape(kind.title)}</title></head><body>"
        f"<h1>{escape(kind.title)}</h1><p>{escape(kind.description)}</p></body></html>"
    )
    # Public and unchanging between releases: any cache may keep it.
    return HTMLResponse(page, headers={"Cache-Control": "public, max-age=86400"})
