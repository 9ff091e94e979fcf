"""Subscribable feeds: one prospect, one salesperson's bundle, named channels; OPML to subscribe.

/feeds/prospects/{id}.atom|.rss|.json · /feeds/users/{user}.atom|.rss|.json|.opml ·
/feeds/channels/{name}.atom|.rss|.json
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Annotated, Literal, Sequence
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BeforeValidator

from api.access import ViewerDep, Viewer, not_found
from api.conditional import is_fresh, not_modified, validator_headers
from api.deps import SessionDep, SettingsDep
from api.feeds import build_entries, feed_validators
from api.opml import OPML_MEDIA_TYPE, OpmlFeed, render_opml
from api.problems import BAD_REQUEST, PROBLEM_RESPONSES
from api.render import DOCUMENT_RENDERERS, ENTRY_RENDERERS, MEDIA_TYPES, FeedDoc
from api.render_cache import RenderCache
from api.settings import ApiSettings, ChannelSpec, StageFilterValue
from models import feeds, repository
from models.tables import Item, Prospect
from models.values import Cursor, FeedFilters

router = APIRouter(prefix="/feeds", tags=["feeds"], responses={**PROBLEM_RESPONSES, **BAD_REQUEST})
FeedFormat = Literal["atom", "rss", "json"]
FEED_RESPONSES = {
    200: {"description": "The feed document",
          "content": {"application/atom+xml": {"schema": {"type": "string"}},
                      "application/rss+xml": {"schema": {"type": "string"}},
                      "application/feed+json": {"schema": {"type": "object"}}}},
    304: {"description": "Not modified since the client's copy (If-None-Match / If-Modified-Since)"},
}


# --- query parameters shared by every feed and the items API --------------------------------

def _iso_only(value: object) -> object:
    # pydantic would read "1700000000" as a Unix time; the documented format is ISO 8601 only.
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9.]+\s*", value)):
        raise ValueError("give an ISO 8601 date-time, e.g. 2026-01-31T09:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]

STAGE_FILTER_DOC = (
    "Only items that help a sales stage: items carrying a signal, about the prospect the entry is "
    "shown for (or about no one in particular), whose type helps that stage in the signal taxonomy "
    "(the built-in mapping with the config's `signals:` overrides; e.g. `funding` helps prospecting, "
    "qualifying and pricing). `current`: each prospect's own stage, so a bundle shows what helps the "
    "stage each account is in now. Repeat the parameter for several stages (any of them).")


def parse_filters(signal: list[str] | None, min_score: float | None, stage: list[str] | None,
                  source: list[str] | None, since: datetime | None, q: str | None) -> FeedFilters:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return FeedFilters(signal=tuple(signal or ()), min_score=min_score, stage=tuple(stage or ()),
                       source=tuple(source or ()), since=since, q=q or None)


# "<microseconds since 1970>-<item id>"; the pattern keeps both inside what datetime and the
# integer column can hold, so every cursor the schema allows is one the server can use.
CURSOR_PATTERN = r"^[0-9]{1,17}-[0-9]{1,10}$"
_MAX_ITEM_ID = 2**31 - 1


def parse_cursor(before: str | None) -> Cursor | None:
    if not before:
        return None
    micros, _, item_id = before.partition("-")
    when = datetime.fromtimestamp(int(micros) / 1_000_000, tz=timezone.utc)
    return Cursor(sort_at=when, item_id=min(int(item_id), _MAX_ITEM_ID))


def cursor_after(items: Sequence[Item] | Sequence[feeds.PageKey]) -> str:
    last = items[-1]
    item_id = last.item_id if isinstance(last, feeds.PageKey) else last.id
    return f"{int(last.sort_at.timestamp() * 1_000_000)}-{item_id}"


@dataclass(frozen=True)
class FeedQuery:
    filters: FeedFilters
    limit: int | None
    cursor: Cursor | None


async def feed_query(  # async: parsing only, no hand-over to a thread (api/deps.py)
    signal: Annotated[list[str] | None, Query(description="only items with these signal types")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, description="only mentions this sure")] = None,
    stage: Annotated[list[StageFilterValue] | None, Query(description=STAGE_FILTER_DOC)] = None,
    source: Annotated[list[str] | None, Query(description="only items from these source ids")] = None,
    since: Annotated[IsoDateTime | None, Query(description="only items published since (ISO 8601)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="title or summary contains")] = None,
    limit: Annotated[int | None, Query(ge=1, le=500, description="entries per page")] = None,
    before: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="paging cursor from a next link")] = None,
) -> FeedQuery:
    return FeedQuery(parse_filters(signal, min_score, stage, source, since, q), limit, parse_cursor(before))


FeedQueryDep = Annotated[FeedQuery, Depends(feed_query)]


# --- one code path for every feed -----------------------------------------------------------

@dataclass(frozen=True)
class FeedSubject:
    key: str                        # what the feed is of, for its id and validators
    title: str
    description: str
    scope: list[str] | None         # prospect ids the feed covers; None: every prospect
    subjects: Sequence[Prospect]    # prospects whose record edits change the feed


def serve_feed(request: Request, session, settings: ApiSettings, viewer: Viewer, fmt: str,
               query: FeedQuery, subject: FeedSubject, filters: FeedFilters | None) -> Response:
    """Validators from one light query; 304 if the client is current, else a rendering kept
    under the same validators, else load the page's items and render."""
    page_size = query.limit or settings.page_size
    page: list[feeds.PageKey] = []
    if filters is not None:
        filters = replace(filters, visibilities=viewer.visibilities)
        page = feeds.page_keys(session, subject.scope, filters, limit=page_size, cursor=query.cursor,
                               stage_help=settings.stage_help)
    # The prospects entries may name: the feed's own (its scope), or, for a feed of every
    # prospect, those its page mentions.
    stamps = [(p.id, p.updated_at) for p in subject.subjects]
    if subject.scope is None:
        stamps += feeds.prospect_stamps(session, [key.item_id for key in page])
    etag, last_modified = feed_validators(fmt, f"{subject.key}|{viewer.scope_key}", str(request.query_params),
                                          page, stamps)
    headers = _cache_headers(etag, last_modified, settings, viewer)
    if is_fresh(request, etag, last_modified):
        return not_modified(headers)
    # The rendering also holds the request's own address (self and next links) and page size.
    cache_key = (etag, str(request.url), settings.public_url, page_size)
    cache: RenderCache | None = getattr(request.app.state, "renders", None)
    body = cache.get(cache_key) if cache is not None else None
    if body is None:
        body = _render(request, session, settings, fmt, subject, page, page_size, last_modified)
        if cache is not None:
            cache.put(cache_key, body)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _render(request: Request, session, settings: ApiSettings, fmt: str, subject: FeedSubject,
            page: list[feeds.PageKey], page_size: int, updated: datetime) -> bytes:
    """The document, from entries rendered earlier where their item is unchanged (a polled feed
    usually changes by an entry or two) and the page's other items loaded and rendered now."""
    entry_cache: RenderCache | None = getattr(request.app.state, "entries", None)
    # What an entry shows besides its item: the names of the feed's prospects it mentions. A feed
    # of every prospect names whichever its items mention, so its entries are not kept.
    names_key = None
    if subject.scope is not None and entry_cache is not None:
        names_key = hashlib.sha256(repr([(p.id, p.name) for p in subject.subjects]).encode()).digest()
    keys = {key.item_id: (fmt, names_key, key.item_id, key.updated_at, key.source) for key in page}
    rendered = {i: entry_cache.get(k) for i, k in keys.items()} if names_key is not None else {}
    missing = [key.item_id for key in page if rendered.get(key.item_id) is None]
    items = feeds.feed_items(session, missing)
    if subject.scope is not None:
        named = list(subject.subjects)  # entries name only those their item mentions
    else:
        named = feeds.prospects_by_ids(session, sorted({m.prospect_id for i in items for m in i.mentions}))
    render_entry = ENTRY_RENDERERS[fmt]
    for entry, item in zip(build_entries(items, named), items):
        rendered[item.id] = render_entry(entry)
        if names_key is not None:
            entry_cache.put(keys[item.id], rendered[item.id])
    base = settings.public_url
    # The query exactly as sent: a self link must match the address the reader fetched.
    query_string = request.url.query
    self_url = f"{base}{request.url.path}" + (f"?{query_string}" if query_string else "")
    kept = [part for part in query_string.split("&") if part and not part.startswith("before=")]
    next_url = None
    if len(page) == page_size:
        next_url = f"{base}{request.url.path}?{'&'.join([*kept, urlencode({'before': cursor_after(page)})])}"
    doc = FeedDoc(id=f"urn:prospect-intel:feed:{subject.key}", title=subject.title,
                  description=subject.description, self_url=self_url, home_url=f"{base}/",
                  updated=updated, next_url=next_url)
    # An item deleted since the page was read is left out, as a fresh read would.
    return DOCUMENT_RENDERERS[fmt](doc, [rendered[key.item_id] for key in page if key.item_id in rendered])


def _cache_headers(etag: str, last_modified: datetime, settings: ApiSettings, viewer: Viewer) -> dict[str, str]:
    headers = validator_headers(etag, last_modified, settings.max_age)
    if viewer.token:  # a private answer: no shared cache may keep it
        headers["Cache-Control"] = f"private, {headers['Cache-Control']}"
    headers["Vary"] = "Authorization"
    return headers


# --- routes ---------------------------------------------------------------------------------

@router.get("/prospects/{prospect_id}.{fmt}", summary="A prospect's feed (Atom, RSS or JSON Feed)",
            response_class=Response, responses=FEED_RESPONSES)
def prospect_feed(prospect_id: str, fmt: FeedFormat, request: Request, session: SessionDep,
                  settings: SettingsDep, viewer: ViewerDep, query: FeedQueryDep) -> Response:
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None or not viewer.may_see_prospect(prospect.owners):
        raise not_found()
    subject = FeedSubject(key=f"prospect:{prospect.id}", title=f"{prospect.name} — prospect intelligence",
                          description=f"News and signals about {prospect.name}, curated by prospect-intel.",
                          scope=[prospect.id], subjects=[prospect])
    return serve_feed(request, session, settings, viewer, fmt, query, subject, query.filters)


@router.get("/users/{user}.opml", summary="OPML 2.0 of a salesperson's feeds, tokens included",
            response_class=Response,
            responses={200: {"description": "OPML 2.0", "content": {OPML_MEDIA_TYPE: {"schema": {"type": "string"}}}},
                       304: {"description": "Not modified"}})
def user_opml(user: str, request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> Response:
    owned = _bundle_prospects(session, viewer, user)
    base = settings.public_url
    token = f"?{urlencode({'token': viewer.token})}" if viewer.token else ""
    bundle = [OpmlFeed(f"All my prospects ({user})", f"{base}/feeds/users/{_path(user)}.atom{token}")]
    per_prospect = [OpmlFeed(p.name, f"{base}/feeds/prospects/{_path(p.id)}.atom{token}") for p in owned]
    channels = [OpmlFeed(c.title, f"{base}/feeds/channels/{c.name}.atom{token}") for c in settings.channels]
    changed = max((p.updated_at for p in owned), default=datetime(2000, 1, 1, tzinfo=timezone.utc))
    body = render_opml(f"prospect-intel feeds for {user}", owner=user, created=changed,
                       groups=[("My feeds", bundle + per_prospect), ("Channels", channels)])
    etag = f'"{_digest(body)}"'
    headers = _cache_headers(etag, changed, settings, viewer)
    if is_fresh(request, etag, changed):
        return not_modified(headers)
    return Response(body, media_type=OPML_MEDIA_TYPE, headers=headers)


@router.get("/users/{user}.{fmt}", summary="A salesperson's bundle: every prospect they own",
            response_class=Response, responses=FEED_RESPONSES)
def user_feed(user: str, fmt: FeedFormat, request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep, query: FeedQueryDep) -> Response:
    owned = _bundle_prospects(session, viewer, user)
    subject = FeedSubject(key=f"user:{user.strip().lower()}", title=f"Prospect intelligence for {user}",
                          description=f"News and signals about the {len(owned)} prospects {user} owns.",
                          scope=[p.id for p in owned], subjects=owned)
    return serve_feed(request, session, settings, viewer, fmt, query, subject, query.filters)


@router.get("/channels/{name}.{fmt}", summary="A named channel from the config (fixed filters)",
            response_class=Response, responses=FEED_RESPONSES)
def channel_feed(name: str, fmt: FeedFormat, request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep, query: FeedQueryDep) -> Response:
    channel = settings.channel(name)
    if channel is None:
        raise not_found()
    if viewer.user is None or (channel.all_prospects and viewer.all_prospects):
        scope, subjects = None, []
    else:  # "my prospects", and never more than the token may see
        subjects = feeds.owned_prospects(session, viewer.user)
        scope = [p.id for p in subjects]
    subject = FeedSubject(key=f"channel:{channel.name}:{hash_spec(channel)}", title=channel.title,
                          description=channel.description or f"prospect-intel channel {channel.name}",
                          scope=scope, subjects=subjects)
    return serve_feed(request, session, settings, viewer, fmt, query, subject, narrow(channel, query.filters))


def _bundle_prospects(session, viewer: Viewer, user: str) -> list[Prospect]:
    if not viewer.may_see_user(user):
        raise not_found()
    owned = feeds.owned_prospects(session, user)
    if not owned and not viewer.owns(user):
        raise not_found()  # no such salesperson; their own token still gets an empty bundle
    return owned


def narrow(channel: ChannelSpec, asked: FeedFilters) -> FeedFilters | None:
    """The channel's filters narrowed by the request's; None when nothing can match both."""
    def both(fixed: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...] | None:
        if fixed and extra:
            common = tuple(v for v in fixed if v in extra)
            return common or None
        return fixed or extra

    signal, stage, source = both(channel.signal, asked.signal), both(channel.stage, asked.stage), \
        both(channel.source, asked.source)
    if signal is None or stage is None or source is None:
        return None
    if channel.q and asked.q and asked.q.lower() != channel.q.lower():
        raise HTTPException(400, f"Channel {channel.name!r} already searches for {channel.q!r}; "
                                 "it cannot be combined with another q.")
    scores = [s for s in (channel.min_score, asked.min_score) if s is not None]
    return replace(asked, signal=signal, stage=stage, source=source, q=channel.q or asked.q,
                   min_score=max(scores) if scores else None)


def hash_spec(channel: ChannelSpec) -> str:
    return _digest(repr(channel).encode())[:12]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:40]


def _path(value: str) -> str:
    return quote(value, safe="@")
