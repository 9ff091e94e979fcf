"""What a fetch brings besides items, applied in the run's own transaction.

- CRM accounts become prospects (intel.crm_import);
- feeds a discover source found are subscribed to (models.derived_sources);
- what a connector asked to remember is kept for its next run;
- items a source already knows the prospect of (CRM notes, a prospect's own
  feeds) are attached to that prospect, tagged or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy.orm import Session

from connectors.base import FetchResult, RawItem
from intel.crm_import import import_accounts
from intel.prospects import company_basename, slugify
from intel.settings import Config
from models.crm import prospect_names
from models.derived_sources import FoundFeed, remember_state, subscribe_discovered
from models.values import Mention, RunCounts, SourceState

HINT_SCORE = 1.0


@dataclass
class Extras:
    counts: RunCounts | None = None  # what the run did besides items (accounts imported)
    notes: list[str] = field(default_factory=list)


def apply_extras(session: Session, config: Config, state: SourceState, result: FetchResult,
                 now: datetime) -> Extras:
    extras = Extras()
    if result.accounts is not None:
        report = import_accounts(session, config, state.id, result.accounts, now)
        extras.counts = report.counts
        extras.notes = [report.summary(), *report.problems]
    if result.discovered is not None:
        every = state.settings.get("feed_every") or config.scheduler.default_every
        started = subscribe_discovered(session, state.id, [FoundFeed(f.url, f.title) for f in result.discovered],
                                       every_seconds=every, now=now)
        extras.notes.append(f"{len(result.discovered)} feed(s) found, {len(started)} newly subscribed")
    if result.state is not None:
        remember_state(session, state.id, dict(result.state))
    return extras


class ProspectHints:
    """Resolves what a source says an item is about (an id, or a CRM account name) to a prospect id."""

    def __init__(self, prospects: Sequence[tuple[str, str, list[str]]]) -> None:
        self._ids = {pid for pid, _, _ in prospects}
        self._by_name: dict[str, str] = {}
        self._resolved: dict[str, str | None] = {}
        for pid, name, aliases in prospects:
            for form in (name, *aliases):
                self._by_name.setdefault(form.strip().lower(), pid)

    def resolve(self, hint: str | None) -> str | None:
        if not hint:
            return None
        if hint not in self._resolved:  # a notes export names the same accounts again and again
            self._resolved[hint] = self._resolve(hint)
        return self._resolved[hint]

    def _resolve(self, hint: str) -> str | None:
        if hint in self._ids:
            return hint
        key = hint.strip().lower().lstrip("'")
        if key in self._by_name:
            return self._by_name[key]
        for slug in (slugify(hint), slugify(company_basename(hint))):
            if slug in self._ids:
                return slug
        return None


def prospect_hints(session: Session, items: Sequence[RawItem], settings: Mapping[str, Any]) -> list[str | None]:
    """Per item, the prospect it belongs to without tagging (None: let tagging decide)."""
    source_hint = settings.get("attach_prospect")
    if not source_hint and not any(item.prospect_hint for item in items):
        return [None] * len(items)
    hints = ProspectHints(prospect_names(session))
    return [hints.resolve(item.prospect_hint or source_hint) for item in items]


def with_hint(mentions: Sequence[Mention], prospect_id: str | None, evidence: str) -> tuple[Mention, ...]:
    """The tagger's mentions plus a certain one for the hinted prospect."""
    if prospect_id is None:
        return tuple(mentions)
    others = [m for m in mentions if m.prospect_id != prospect_id]
    return (Mention(prospect_id, HINT_SCORE, (evidence,)), *others)
