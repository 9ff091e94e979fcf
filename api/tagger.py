"""The prospect tagger behind POST /api/v1/tag: the one place the API uses `intel`.

Built from the prospects in the database (so CRM-imported ones count too) with
the config's tagging settings and `signals:` overrides, so the endpoint gives
the verdicts `intel tag` and the pipeline give. Rebuilt only when the prospect
list or those settings change (a reloaded config brings new settings); the
spaCy pipeline loads on first use.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy.orm import Session

from api.settings import ApiSettings
from intel.settings import ProspectRecord
from intel.tagging import ProspectTagger, TagInput, TagResult, load_pipeline
from models import repository


class TaggerCache:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._nlp = None
        self._model: str | None = None
        self._tagger: ProspectTagger | None = None
        self._version: datetime | None = None
        self._built_with: tuple | None = None
        self._lock = threading.Lock()

    def tag(self, session: Session, title: str, text: str, url: str | None,
            settings: ApiSettings | None = None) -> TagResult:
        """Tag one text; `settings` are the app's current ones (they change when the config is reloaded)."""
        with self._lock:  # spaCy objects are not documented as thread-safe
            tagger = self._current(session, settings or self.settings)
            return tagger.tag(TagInput(title=title, summary=text, url=url))

    def _current(self, session: Session, settings: ApiSettings) -> ProspectTagger:
        version = repository.prospects_changed_at(session)
        wanted = (settings.tagging_model, settings.tagging_min_score, settings.tagging_signals)
        if self._tagger is None or version != self._version or wanted != self._built_with:
            if self._nlp is None or settings.tagging_model != self._model:
                self._nlp = load_pipeline(settings.tagging_model)
                self._model = settings.tagging_model
            records = [_record(p) for p in repository.active_prospects(session)]
            self._tagger = ProspectTagger(records, self._nlp, min_score=settings.tagging_min_score,
                                          signals=settings.tagging_signals)
            self._version = version
            self._built_with = wanted
        return self._tagger


def _record(row) -> ProspectRecord:
    return ProspectRecord(id=row.id, name=row.name, aliases=row.aliases, domains=row.domains,
                          tickers=row.tickers, people=row.people, keywords=row.keywords,
                          exclude=row.exclude, owner=row.owners, stage=row.stage,
                          industry=row.industry, ambiguous=row.ambiguous)
