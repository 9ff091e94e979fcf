"""Per-prospect sources: one `for_each: prospect` entry in config, one source per prospect.

Expansion runs whenever prospects may have changed (config sync, CRM import),
inside the same transaction, so sources follow prospects: a new prospect gets
its sources, a changed one gets new URLs, an archived one (or one that no
longer matches `where:`) has its sources disabled — never deleted, so their
items and history stay.
"""

from __future__ import annotations

import logging
import string
from datetime import datetime
from typing import Any, Iterable, Mapping, Protocol, Sequence
from urllib.parse import quote

from sqlalchemy.orm import Session

from intel.prospects import company_basename
from intel.settings import TEMPLATE_PLACEHOLDERS, Config, FetchedSource, ProspectFilter
from models import repository
from models.derived_sources import disable_orphaned_feeds

log = logging.getLogger(__name__)
# Keys of a template that say how to expand it; the expanded sources don't carry them.
_TEMPLATE_KEYS = ("url_template", "for_each", "where", "attach")


class ProspectLike(Protocol):
    id: str
    name: str
    domains: Sequence[str]
    tickers: Sequence[str]
    stage: str | None
    industry: str | None
    origin: str


class _MissingPlaceholder(KeyError):
    pass


class _Encoded(dict):
    def __missing__(self, key: str) -> str:
        raise _MissingPlaceholder(key)


def placeholder_values(prospect: ProspectLike, wanted: Iterable[str] = TEMPLATE_PLACEHOLDERS) -> dict[str, str]:
    """The prospect's fields a url_template may use, URL-encoded; absent fields are left out."""
    owners = list(getattr(prospect, "owners", None) or getattr(prospect, "owner", None) or [])
    raw: dict[str, str | None] = {
        "id": prospect.id, "name": prospect.name,
        # cleanco is slow; only templates that use {short_name} pay for it
        "short_name": company_basename(prospect.name) if "short_name" in wanted else None,
        "domain": prospect.domains[0] if prospect.domains else None,
        "ticker": prospect.tickers[0] if prospect.tickers else None,
        "owner": owners[0] if owners else None,
        "industry": prospect.industry, "stage": prospect.stage,
    }
    values = {}
    for name, value in raw.items():
        if not value:
            continue
        if name == "domain":
            try:  # a host name is spelled in IDNA, not percent-encoded
                value = value.encode("idna").decode("ascii")
            except UnicodeError:
                continue
        values[name] = quote(value, safe="")
    return values


def matches(where: ProspectFilter | None, prospect: ProspectLike) -> bool:
    if where is None:
        return True
    owners = [o.lower() for o in (getattr(prospect, "owners", None) or getattr(prospect, "owner", None) or [])]
    checks = (
        (where.id, [prospect.id]), (where.stage, [prospect.stage]),
        (where.industry, [prospect.industry]), (where.origin, [prospect.origin]), (where.owner, owners),
    )
    for wanted, actual in checks:
        if wanted and not {w.lower() for w in wanted} & {(a or "").lower() for a in actual}:
            return False
    return True


def expand_template(template: FetchedSource, base_row: Mapping[str, Any],
                    prospects: Iterable[ProspectLike]) -> list[dict[str, Any]]:
    """One source row per matching prospect; prospects missing a placeholder's field are skipped."""
    rows = []
    attach = template.attach if template.attach is not None else template.kind == "discover"
    wanted = {name for _, name, _, _ in string.Formatter().parse(template.url_template) if name}
    for prospect in prospects:
        if not matches(template.where, prospect):
            continue
        try:
            url = template.url_template.format_map(_Encoded(placeholder_values(prospect, wanted)))
        except _MissingPlaceholder as missing:
            log.info("source %s: prospect %s has no %s; no source for it", template.id, prospect.id, missing)
            continue
        settings = {k: v for k, v in base_row["settings"].items() if k not in _TEMPLATE_KEYS}
        settings.update(template=template.id, prospect=prospect.id, config_url=url)
        if attach:
            settings["attach_prospect"] = prospect.id
        rows.append({**base_row, "id": f"{template.id}--{prospect.id}", "url": url,
                     "title": f"{template.title or template.id}: {prospect.name}", "settings": settings})
    return rows


def source_rows(config: Config, prospects: Sequence[ProspectLike]) -> list[dict[str, Any]]:
    """Every source row config asks for: its plain sources and its templates expanded."""
    from intel.sync import source_row

    plain = [source_row(s) for s in config.sources if not s.is_template]
    taken = {row["id"] for row in plain}
    rows = list(plain)
    for source in config.sources:
        if source.is_template:
            for row in expand_template(source, source_row(source), prospects):
                if row["id"] in taken:
                    log.warning("source %s from template %s clashes with a source in config; skipped",
                                row["id"], source.id)
                    continue
                taken.add(row["id"])
                rows.append(row)
    return rows


def sync_sources_with_prospects(session: Session, config: Config, now: datetime) -> None:
    """Make the sources table match config and the active prospects (call after prospects change)."""
    session.flush()
    templated = any(source.is_template for source in config.sources)
    prospects = repository.active_prospects(session) if templated else []
    repository.sync_sources(session, source_rows(config, prospects), now=now)
    session.flush()
    disable_orphaned_feeds(session, now=now)
