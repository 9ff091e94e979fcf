"""A copy exactly as like two stored stories joins the newer one, on SQLite and PostgreSQL alike.

Candidates that tie (the same shared bands, the same similarity, or the same link)
used to be taken in the order Python's sets iterated, which follows the order the
band rows came back in: PostgreSQL does not fix it, and a differential run of the
same feeds put an item in a different story once in a while. Story ids here are
chosen so that a set of the two iterates the older first. Both ways stories keep
their band keys are covered: in workers' memory (the newest stories) and as band
rows (older ones, spilled from memory).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, update

from intel.stories import story_print
from models.db import make_engine, make_sessionmaker, upgrade
from models.stories import assign_stories, packed_signature
from models.story_index import pack_band_keys
from models.tables import Item, Source, Story, StoryBand, StoryIndexState

WIRE = ("Siemens AG wins rail contract in Egypt",
        "Siemens AG will supply trains and signalling for a new high-speed line.",
        "https://wire.example.com/siemens-egypt")
OLDER, NEWER = 2, 3  # a set of small ints iterates in their order: {3, 2} gives 2 first


@pytest.mark.parametrize("banded", [False, True], ids=["in-memory", "band-rows"])
@pytest.mark.parametrize("copy_link", ["https://daily.example.com/a/77", WIRE[2]], ids=["same-text", "same-link"])
def test_a_copy_as_like_two_stories_joins_the_newer(database_url, copy_link, banded):
    assert list({NEWER, OLDER}) == [OLDER, NEWER]  # the order the old code would have taken
    wire = story_print(*WIRE)
    copy = story_print(WIRE[0], WIRE[1], copy_link)
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(timezone.utc)
    with sessions.begin() as session:
        session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))
        leads = [Item(source_id="wire", dedup_key=f"w{n}", title=f"w{n}", content_hash=f"w{n}", first_seen_at=now,
                      updated_at=now, sort_at=now) for n in (OLDER, NEWER)]
        copy_item = Item(source_id="wire", dedup_key="copy", title="copy", content_hash="copy", first_seen_at=now,
                         updated_at=now, sort_at=now)
        session.add_all([*leads, copy_item])
        session.flush()
        # Two stories of the same text and link (as two workers could start before the story lock
        # existed), stored with ids whose set iterates the older first.
        keys = {key for _, key in wire.bands}
        for story_id, lead in zip((OLDER, NEWER), leads):
            session.execute(insert(Story).values(id=story_id, lead_item_id=lead.id,
                                                 signature=packed_signature(wire.signature),
                                                 band_keys=b"" if banded else pack_band_keys(keys), item_count=1,
                                                 source_count=1, first_seen_at=now, updated_at=now))
            if banded:
                session.execute(insert(StoryBand), [{"hash": key, "story_id": story_id} for key in keys])
            lead.story_id = story_id
        if banded:
            session.execute(update(StoryIndexState).values(banded_through=NEWER))
        copy_id = copy_item.id

    with sessions.begin() as session:
        assert assign_stories(session, "daily", {copy_id: copy}, now=now + timedelta(minutes=5),
                              window=timedelta(days=3), threshold=0.5) == 1
    with sessions() as session:
        assert session.get(Item, copy_id).story_id == NEWER
        assert (session.get(Story, OLDER).item_count, session.get(Story, NEWER).item_count) == (1, 2)
    engine.dispose()
