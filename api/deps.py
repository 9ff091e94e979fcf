"""Dependencies shared by the routers (`Annotated` aliases, FastAPI full-stack style)."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.settings import ApiSettings


# Dependencies are `async def` where they do no I/O: FastAPI runs a plain `def` dependency in its
# thread pool, one hand-over to a thread and back per dependency and request: a feed request made
# four before its handler's own. With two requests in a process, each hand-over can wait up to the
# interpreter's 5 ms switch interval for the thread rendering the other one.

async def get_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.sessions()  # no connection yet: the handler's first query opens one
    try:
        yield session
    finally:
        # Giving the connection back to the pool rolls its transaction back: I/O, so in a thread.
        # This runs after the response is sent.
        await run_in_threadpool(session.close)


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
