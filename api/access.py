"""Who is asking: private tokens (`?token=` or `Authorization: Bearer`) and what they may see.

Every way of failing — no token, a wrong or revoked one, a feed outside its
scope — answers the same 404, so a guess confirms nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Iterable

from fastapi import Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep, SettingsDep
from api.problems import NOT_FOUND
from models import tokens

# Two ways to send one token, either will do (OpenAPI: alternative security requirements).
_bearer = HTTPBearer(auto_error=False, description="A private token from `intel tokens create`.")
_query_token = APIKeyQuery(name="token", auto_error=False,
                           description="The same token as `?token=`, for feed readers that cannot send headers.")


@dataclass(frozen=True)
class Viewer:
    """The caller: a token's scope, or anonymous when the config turns tokens off."""

    user: str | None
    all_prospects: bool
    internal: bool
    admin: bool
    # The token as presented, so links handed back (OPML, next pages) keep working.
    token: str | None = None
    token_in_query: bool = False

    @property
    def visibilities(self) -> tuple[str, ...]:
        return ("external", "internal") if self.internal else ("external",)

    @property
    def scope_key(self) -> str:
        """Distinguishes what two viewers may see, for cache validators."""
        return f"{self.user or '-'}|{int(self.all_prospects)}|{int(self.internal)}"

    def owns(self, user: str) -> bool:
        return self.user is not None and self.user == user.strip().lower()

    def may_see_prospect(self, owners: Iterable[str]) -> bool:
        return self.all_prospects or any(self.owns(owner) for owner in owners)

    def may_see_user(self, user: str) -> bool:
        return self.all_prospects or self.owns(user)


# Auth off (demo on loopback): the caller sees what an all-prospects external admin token sees.
ANONYMOUS = Viewer(user=None, all_prospects=True, internal=False, admin=True)


def not_found() -> HTTPException:
    return HTTPException(404, NOT_FOUND)


# Both dependencies are `async def`: a plain `def` one is a hand-over to FastAPI's thread pool and
# back on every request (api/deps.py says why that costs); only the token lookup does I/O.
async def get_viewer(
    session: SessionDep, settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Depends(_query_token)],
) -> Viewer:
    secret = token or (credentials.credentials if credentials else None)
    if not secret:
        if settings.auth_required:
            raise not_found()
        return ANONYMOUS
    scope = await run_in_threadpool(tokens.scope_of, session, secret)
    if scope is None:
        raise not_found()
    return Viewer(user=scope.user, all_prospects=scope.all_prospects, internal=scope.internal,
                  admin=scope.admin, token=secret, token_in_query=bool(token))


async def get_admin(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not viewer.admin:
        raise not_found()
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
AdminDep = Annotated[Viewer, Depends(get_admin)]
