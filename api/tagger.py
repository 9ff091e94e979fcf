"""The prospect tagger behind POST /api/v1/tag: the one place the API uses `intel`.

Built from the prospects in the database (so CRM-imported ones count too) and
rebuilt only when that list changes; the spaCy pipeline loads on first use.
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
        self._tagger: ProspectTagger | None = None
        self._version: datetime | None = None
        self._lock = threading.Lock()

    def tag(self, session: Session, title: str, text: str, url: str | None) -> TagResult:
        with self._lock:  # spaCy objects are not documented as thread-safe
            tagger = self._current(session)
            return tagger.tag(TagInput(title=title, summary=text, url=url))

    def _current(self, session: Session) -> ProspectTagger:
        version = repository.prospects_changed_at(session)
        if self._tagger is None or version != self._version:
            if self._nlp is None:
                self._nlp = load_pipeline(self.settings.tagging_model)
            records = [_record(p) for p in repository.active_prospects(session)]
            self._tagger = ProspectTagger(records, self._nlp, min_score=self.settings.tagging_min_score)
            self._version = version
        return self._tagger


def _record(row) -> ProspectRecord:
    return ProspectRecord(id=row.id, name=row.name, aliases=row.aliases, domains=row.domains,
                          tickers=row.tickers, people=row.people, keywords=row.keywords,
                          exclude=row.exclude, owner=row.owners, stage=row.stage,
                          industry=row.industry, ambiguous=row.ambiguous)
