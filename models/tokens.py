"""Private tokens for feeds and the JSON API: issued once, stored hashed, revocable.

Tokens carry 256 random bits, so a plain SHA-256 is enough to store them: a
slow password hash only matters for secrets people can guess.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import ApiToken

TOKEN_PREFIX = "pit_"  # lets secret scanners and people recognize a leaked token
TOKEN_BYTES = 32


@dataclass(frozen=True)
class TokenScope:
    """Who a token speaks for and what it may see."""

    id: int
    user: str
    all_prospects: bool
    internal: bool
    admin: bool
    created_at: datetime
    revoked_at: datetime | None = None
    note: str | None = None

    @property
    def visibilities(self) -> tuple[str, ...]:
        return ("external", "internal") if self.internal else ("external",)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, user: str, now: datetime, internal: bool = False,
                 all_prospects: bool = False, admin: bool = False,
                 note: str | None = None) -> tuple[TokenScope, str]:
    """A new token; the secret is returned here and never again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(token_hash=hash_token(secret), user=user.strip().lower(), internal=internal,
                   all_prospects=all_prospects, admin=admin, note=note, created_at=now)
    session.add(row)
    session.flush()
    return _scope(row), secret


def scope_of(session: Session, secret: str) -> TokenScope | None:
    """The scope of a live token, or None for unknown and revoked ones alike."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return _scope(row)


def list_tokens(session: Session, user: str | None = None) -> list[TokenScope]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user:
        query = query.where(ApiToken.user == user.strip().lower())
    return [_scope(row) for row in session.scalars(query)]


def revoke_token(session: Session, token_or_id: str, *, now: datetime) -> TokenScope | None:
    """Revoke by the token itself or by its numeric id; None when there is no such token."""
    value = token_or_id.strip()
    if value.isdigit():
        row = session.get(ApiToken, int(value))
    else:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value)))
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
    return _scope(row)


def _scope(row: ApiToken) -> TokenScope:
    return TokenScope(id=row.id, user=row.user, all_prospects=row.all_prospects, internal=row.internal,
                      admin=row.admin, created_at=row.created_at, revoked_at=row.revoked_at, note=row.note)
