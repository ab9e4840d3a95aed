"""The baseline that bench/run.py measures Stockroom against: bare FastAPI, nothing more.

Each route does the least a Stockroom route has to do, written the plainest way:
- `GET /ping`: an `async def` returning a small dict;
- `GET /ping-auth`: verifies a python-jose HS256 bearer token, nothing else;
- `GET /ping-db?item_id=N`: reads one row by primary key the SQLModel-tutorial way
  (`def` route, a `Session(engine)` dependency, `session.get`).

Settings from the environment: SECRET_KEY (the HS256 key) and DATABASE_URL (`sqlite:///...` or
`postgresql://...`). Run with `uvicorn bench.baseline:app` from the repository root.
"""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, status
from jose import JOSEError, jwt
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, func, select

from tests.services import sync_url

ROWS = 50


class PingItem(SQLModel, table=True):
    __tablename__ = "bench_ping_items"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    price_cents: int


def make_engine(database_url: str) -> Engine:
    url = sync_url(database_url)
    connect_args = {"check_same_thread": False} if url.get_backend_name() == "sqlite" else {}
    return create_engine(url, connect_args=connect_args)


SECRET_KEY = os.environ["SECRET_KEY"]
engine = make_engine(os.environ["DATABASE_URL"])


def seed() -> None:
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(PingItem)).one()
        if count < ROWS:
            session.add_all(
                PingItem(name=f"item {n}", price_cents=n * 100) for n in range(count, ROWS)
            )
            session.commit()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    seed()
    yield
    engine.dispose()


app = FastAPI(title="Stockroom benchmark baseline", lifespan=lifespan)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/ping-auth")
async def ping_auth(authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Not authenticated")
    try:
        claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    except JOSEError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Invalid token") from exc
    return {"sub": str(claims.get("sub"))}


@app.get("/ping-db")
def ping_db(item_id: int, session: SessionDep) -> PingItem:
    item = session.get(PingItem, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not found")
    return item
