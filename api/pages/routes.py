"""The pages: sign in with a feed token, my prospects and subscriptions, feed previews, operations.

A token reaches the pages once (typed in, or in the link from an email) and
then lives in an HttpOnly, SameSite=Strict cookie scoped to /app; the address
bar never keeps it. Wrong tokens and pages outside a token's scope get the
same answers as the feeds: nothing that confirms what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.access import ANONYMOUS, Viewer
from api.deps import SessionDep, SettingsDep
from api.feeds import why_line
from api.pages.highlight import PREVIEW_CHARS, matched_terms, pieces, plain
from api.settings import ApiSettings
from api.summary import WINDOW_DAYS, heat
from models import alerts, feeds, ops, repository, tokens
from models.tables import Item, Prospect
from models.values import FeedFilters

router = APIRouter(include_in_schema=False)
COOKIE = "intel_token"
COOKIE_PATH = "/app"
COOKIE_DAYS = 30
PREVIEW_ITEMS = 20
LATEST_SIGNALS = 3
STAGE_ORDER = ("prospecting", "qualifying", "pricing", "proposing", "negotiating", "closing", "delivering",
               "servicing")
# Nothing but our own stylesheet and script; no inline code, no frames, forms post only here.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"], default=True),
                        trim_blocks=True, lstrip_blocks=True)


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _date(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%d %b %Y") if value else "—"


templates.filters["when"] = _when
templates.filters["date"] = _date
templates.filters["words"] = lambda value: (value or "").replace("_", " ")


def page(request: Request, template: str, viewer: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(template).render(viewer=viewer, path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    # Pages carry the reader's token in their feed links: never cache them anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


def not_found_page(request: Request, viewer: Viewer | None) -> HTMLResponse:
    return page(request, "not_found.html", viewer, status=404)


# --- who is looking ----------------------------------------------------------------------------

def signed_in(request: Request, session, settings: ApiSettings) -> Viewer | None:
    token = request.cookies.get(COOKIE)
    if token:
        scope = tokens.scope_of(session, token)
        if scope is not None:
            return Viewer(user=scope.user, all_prospects=scope.all_prospects, internal=scope.internal,
                          admin=scope.admin, token=token, token_in_query=True)
    return None if settings.auth_required else ANONYMOUS


def _sign_in_response(request: Request, token: str) -> Response:
    response = RedirectResponse("/app", status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/app", status_code=307)


@router.get("/app/sign-in")
def sign_in_form(request: Request, session: SessionDep, settings: SettingsDep, token: str | None = None) -> Response:
    if token:  # the link from an email: sign in, then drop the token from the address bar
        if tokens.scope_of(session, token) is not None:
            return _sign_in_response(request, token)
        return page(request, "sign_in.html", None, status=401, error=True)
    return page(request, "sign_in.html", None, error=False)


@router.post("/app/sign-in")
async def sign_in(request: Request, session: SessionDep) -> Response:
    # A urlencoded form parsed by hand: one field needs no multipart dependency.
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0].strip()
    if token and tokens.scope_of(session, token) is not None:
        return _sign_in_response(request, token)
    return page(request, "sign_in.html", None, status=401, error=True)


@router.post("/app/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/app/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# --- salespeople ---------------------------------------------------------------------------------

@router.get("/app")
def start(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    viewer = signed_in(request, session, settings)
    if viewer is None:
        return RedirectResponse("/app/sign-in", status_code=303)
    if viewer.user is not None:
        return RedirectResponse(f"/app/users/{quote(viewer.user, safe='@')}", status_code=303)
    # Tokens switched off (the demo): pick whose page to see.
    owners = sorted({owner for (owner, _), _ in ops.prospect_counts(session).items() if owner != ops.UNOWNED})
    return page(request, "owners.html", viewer, owners=owners)


def _salespersons_prospects(user: str, request: Request, session, settings: ApiSettings
                            ) -> Response | tuple[Viewer, str, list[Prospect]]:
    """The signed-in viewer, the user and the prospects they own, or the page to answer instead
    (sign in first; 404 for a user outside the viewer's scope, as for any unknown page)."""
    viewer = signed_in(request, session, settings)
    if viewer is None:
        return RedirectResponse("/app/sign-in", status_code=303)
    user = user.strip().lower()
    if not viewer.may_see_user(user):
        return not_found_page(request, viewer)
    owned = feeds.owned_prospects(session, user)
    if not owned and not viewer.owns(user):
        return not_found_page(request, viewer)
    return viewer, user, owned


@router.get("/app/users/{user}")
def salesperson(user: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    seen = _salespersons_prospects(user, request, session, settings)
    if isinstance(seen, Response):
        return seen
    viewer, user, owned = seen
    now = datetime.now(timezone.utc)
    cards = sorted((prospect_card(session, p, viewer, settings, now) for p in owned),
                   key=lambda c: (-c.heat_score, c.name.lower()))
    links = FeedLinks(settings.public_url, viewer.token)
    bundle = links.feeds(f"/feeds/users/{quote(user, safe='@')}")
    opml = links.relative(f"/feeds/users/{quote(user, safe='@')}.opml")
    return page(request, "salesperson.html", viewer, user=user, cards=cards, bundle=bundle, opml=opml,
                opml_name=f"prospect-intel-{user.split('@')[0]}.opml")


@dataclass(frozen=True)
class FeedLinks:
    base: str
    token: str | None

    def _query(self) -> str:
        return f"?{urlencode({'token': self.token})}" if self.token else ""

    def feeds(self, path: str) -> dict[str, str]:
        """Absolute addresses a feed reader can use, token included."""
        return {fmt: f"{self.base}{path}.{fmt}{self._query()}" for fmt in ("atom", "rss", "json")}

    def relative(self, path: str) -> str:
        return f"{path}{self._query()}"


@dataclass(frozen=True)
class ProspectCard:
    id: str
    name: str
    stage: str | None
    industry: str | None
    heat_score: int
    heat_level: str
    heat_reasons: list[str]
    latest: list[dict]
    links: dict[str, str]


def prospect_card(session, prospect: Prospect, viewer: Viewer, settings: ApiSettings, now: datetime) -> ProspectCard:
    activity = feeds.prospect_activity(session, prospect.id, since=now - timedelta(days=WINDOW_DAYS),
                                       visibilities=viewer.visibilities)
    hot = heat(activity, now)
    latest, seen = [], set()
    for signal in activity.signals:
        if (signal.item_id, signal.type) in seen:
            continue
        seen.add((signal.item_id, signal.type))
        latest.append({"type": signal.type, "score": signal.score, "title": plain(signal.title),
                       "url": safe_url(signal.url), "at": signal.at})
        if len(latest) == LATEST_SIGNALS:
            break
    links = FeedLinks(settings.public_url, viewer.token).feeds(f"/feeds/prospects/{quote(prospect.id)}")
    return ProspectCard(id=prospect.id, name=prospect.name, stage=prospect.stage, industry=prospect.industry,
                        heat_score=hot.score, heat_level=hot.level, heat_reasons=hot.reasons[:3], latest=latest,
                        links=links)


def safe_url(url: str | None) -> str | None:
    """Only web links become links: a javascript: or data: address stays plain text."""
    if not url:
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


# --- previews ----------------------------------------------------------------------------------------

@router.get("/app/prospects/{prospect_id}")
def prospect_preview(prospect_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    viewer = signed_in(request, session, settings)
    if viewer is None:
        return RedirectResponse("/app/sign-in", status_code=303)
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None or not viewer.may_see_prospect(prospect.owners):
        return not_found_page(request, viewer)
    entries = preview_entries(session, [prospect], viewer)
    links = FeedLinks(settings.public_url, viewer.token).feeds(f"/feeds/prospects/{quote(prospect.id)}")
    return page(request, "preview.html", viewer, title=prospect.name, subtitle=_stage_line(prospect),
                entries=entries, links=links, back=_back(viewer))


@router.get("/app/users/{user}/preview")
def bundle_preview(user: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    seen = _salespersons_prospects(user, request, session, settings)
    if isinstance(seen, Response):
        return seen
    viewer, user, owned = seen
    entries = preview_entries(session, owned, viewer)
    links = FeedLinks(settings.public_url, viewer.token).feeds(f"/feeds/users/{quote(user, safe='@')}")
    return page(request, "preview.html", viewer, title=f"All prospects of {user}",
                subtitle=f"{len(owned)} prospects in one feed", entries=entries, links=links, back=_back(viewer))


def preview_entries(session, prospects: Sequence[Prospect], viewer: Viewer) -> list[dict]:
    """The newest items of a feed as its reader would get them, with why each is there."""
    if not prospects:
        return []
    names = {p.id: p.name for p in prospects}
    wanted = set(names)
    items = feeds.scoped_items(session, list(wanted), FeedFilters(visibilities=viewer.visibilities),
                               limit=PREVIEW_ITEMS)
    return [preview_entry(item, wanted, names) for item in items]


def preview_entry(item: Item, wanted: set[str], names: dict[str, str]) -> dict:
    mentions = sorted((m for m in item.mentions if m.prospect_id in wanted), key=lambda m: -m.score)
    signals = [s for s in item.signals if s.prospect_id is None or s.prospect_id in wanted]
    who = matched_terms(e for m in mentions for e in m.evidence)
    what = matched_terms(e for s in signals for e in s.evidence)
    return {
        "title": pieces(plain(item.title), who, what),
        "summary": pieces(plain(item.summary or item.content, PREVIEW_CHARS), who, what),
        "url": safe_url(item.url),
        "source": item.source.title or item.source_id,
        "published": item.published_at or item.first_seen_at,
        "why": why_line(item, wanted, names),
        "prospects": [(names[m.prospect_id], m.score) for m in mentions],
        "signals": sorted({s.type for s in signals}),
        "internal": item.visibility == "internal",
    }


def _stage_line(prospect: Prospect) -> str:
    parts = [prospect.stage or "no stage", prospect.industry or ""]
    return " · ".join(p for p in parts if p)


def _back(viewer: Viewer) -> str:
    return f"/app/users/{quote(viewer.user, safe='@')}" if viewer.user else "/app"


# --- operations ----------------------------------------------------------------------------------

@router.get("/app/ops")
def operations(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    viewer = signed_in(request, session, settings)
    if viewer is None:
        return RedirectResponse("/app/sign-in", status_code=303)
    if not viewer.admin:
        return not_found_page(request, viewer)
    now = datetime.now(timezone.utc)
    per_day = ops.items_per_day(session, now=now)
    sources = [dict(row, items_per_day=per_day.get(row["id"], 0.0), state=source_state(row))
               for row in repository.sources_health(session)]
    sources.sort(key=lambda s: ({"failing": 0, "disabled": 1, "never run": 2}.get(s["state"], 3), s["id"]))
    counts = ops.prospect_counts(session)
    stages = [s for s in STAGE_ORDER if any(k[1] == s for k in counts)]
    stages += sorted({k[1] for k in counts} - set(stages))
    owners = sorted({k[0] for k in counts})
    check = ops.latest_config_check(session)
    return page(request, "ops.html", viewer, sources=sources, stages=stages, owners=owners, counts=counts,
                config_check=check, config_problems=[plain_problem(p) for p in (check or {}).get("problems", [])],
                deliveries=[{"target": t, "status": st, "count": n}
                            for (t, st), n in sorted(alerts.delivery_counts(session).items())], due=ops.due_source_count(session, now=now), now=now)


def source_state(row: dict) -> str:
    if not row["enabled"]:
        return "disabled"
    if row["error_count"]:
        return "failing"
    if row["last_status"] is None:
        return "never run"
    return "ok"


def plain_problem(line: str) -> dict[str, str]:
    """'config/intel.yaml:12:5: sources.0.every: not a duration' in words a person reads."""
    location, _, rest = line.partition(": ")
    file, line_no = location, ""
    bits = location.rsplit(":", 2)
    if len(bits) == 3 and bits[1].isdigit():
        file, line_no = bits[0], bits[1]
    field, _, message = rest.partition(": ")
    if not message:
        field, message = "", rest
    where = f"{Path(file).name}, line {line_no}" if line_no else Path(file).name
    what = _field_words(field)
    return {"where": where, "what": what, "message": message, "raw": line}


def _field_words(field: str) -> str:
    """'sources.0.every' -> 'source 1, setting "every"'."""
    if not field or field == "(top level)":
        return "the file as a whole"
    parts = field.split(".")
    words = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            words.append(f"{part.rstrip('s')} {int(parts[i + 1]) + 1}")
            i += 2
            continue
        words.append(f"setting “{part}”")
        i += 1
    return ", ".join(words)
