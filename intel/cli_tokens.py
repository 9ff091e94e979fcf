"""`intel tokens create|list|revoke`: private tokens for feeds and the JSON API."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

tokens_app = typer.Typer(help="Private tokens for feeds and the JSON API.", no_args_is_help=True)


def _sessions(config_path):
    from intel.cli import _config
    from models.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(_config(config_path).database)
    upgrade(engine)  # tokens may be the first thing anyone does with a new database
    return make_sessionmaker(engine)



@tokens_app.command("create")
def create(user: Annotated[str, typer.Option("--user", help="The salesperson's email (prospects' owner).")],
           internal: Annotated[bool, typer.Option("--internal", help="Also see internal items (CRM notes).")] = False,
           all_prospects: Annotated[bool, typer.Option("--all-prospects", help="Every prospect, not only the user's.")] = False,
           admin: Annotated[bool, typer.Option("--admin", help="Also open the ops views (/api/v1/sources).")] = False,
           note: Annotated[Optional[str], typer.Option(help="What the token is for.")] = None,
           config: Annotated[Optional[str], typer.Option("--config", "-c", help="Config file.")] = None) -> None:
    """Create a token; it is printed once, as the last line, and stored only hashed."""
    from intel.cli import console
    from intel.clock import utcnow
    from models import feeds, tokens

    sessions = _sessions(config)
    with sessions.begin() as session:
        scope, secret = tokens.create_token(session, user=user, now=utcnow(), internal=internal,
                                            all_prospects=all_prospects, admin=admin, note=note)
        owned = len(feeds.owned_prospects(session, user))
    console.print(f"token {scope.id} for {scope.user}: {_describe(scope)}", highlight=False)
    if not all_prospects and owned == 0:
        console.print(f"note: {scope.user} owns no prospects yet (prospect records' owner field)", highlight=False)
    console.print("Keep it secret; it is shown only now:", highlight=False)
    print(secret, flush=True)


@tokens_app.command("list")
def list_(user: Annotated[Optional[str], typer.Option("--user", help="Only this user's tokens.")] = None,
          config: Annotated[Optional[str], typer.Option("--config", "-c", help="Config file.")] = None) -> None:
    """Every token's id, user and scope (never the token itself)."""
    from intel.cli import console
    from models import tokens

    with _sessions(config)() as session:
        rows = tokens.list_tokens(session, user)
    if not rows:
        console.print("no tokens yet: intel tokens create --user EMAIL")
        return
    # Plain aligned lines, not a table: emails are never elided and the output greps well.
    print(f"{'id':>5}  {'user':<32} {'scope':<44} {'created':<17} {'revoked':<17} note")
    for row in rows:
        revoked = row.revoked_at.strftime("%Y-%m-%d %H:%M") if row.revoked_at else "-"
        print(f"{row.id:>5}  {row.user:<32} {_describe(row):<44} {row.created_at.strftime('%Y-%m-%d %H:%M'):<17} "
              f"{revoked:<17} {row.note or ''}".rstrip())


@tokens_app.command("revoke")
def revoke(token_or_id: Annotated[str, typer.Argument(metavar="TOKEN_OR_ID")],
           config: Annotated[Optional[str], typer.Option("--config", "-c", help="Config file.")] = None) -> None:
    """Revoke a token by its id (from `intel tokens list`) or by the token itself."""
    from intel.cli import console, errors
    from intel.clock import utcnow
    from models import tokens

    with _sessions(config).begin() as session:
        scope = tokens.revoke_token(session, token_or_id, now=utcnow())
    if scope is None:
        errors.print("no such token (give an id from `intel tokens list`, or the token)")
        raise typer.Exit(2)
    console.print(f"token {scope.id} for {scope.user} is revoked; its feeds now answer 404", highlight=False)


def _describe(scope) -> str:
    parts = ["all prospects" if scope.all_prospects else "own prospects",
             "internal+external" if scope.internal else "external only"]
    if scope.admin:
        parts.append("admin")
    return ", ".join(parts)
