"""The newest stories' band keys in each worker's memory, older ones as band rows (models/story_index.py).

Copies must find their story wherever its bands are: held in memory, spilled to
story_bands, started by another worker process, re-dated by another worker,
after a rolled-back transaction, after retention deleted stories, and after
migration 0009 (stories stored before it keep their band rows).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import func, select, text

from intel.stories import story_print
from models.db import _alembic_config, make_engine, make_sessionmaker, upgrade
from models.retention import prune_items_batch
from models.stories import assign_stories, packed_signature
from models.story_index import StoryIndex, pack_band_keys
from models.tables import Item, Source, Story, StoryBand, StoryIndexState

WINDOW = timedelta(days=3)
TOPICS = ["Siemens AG wins rail contract in Egypt", "Bosch opens a battery plant in Ohio",
          "Acme Corp raises 40 million in a Series C round", "Globex names a new chief financial officer",
          "Initech lays off 300 staff in Austin", "Umbrella signs a cloud deal with the Navy",
          "Hooli acquires Pied Piper for 200 million", "Stark Industries expands to Singapore"]


def text_of(topic: str) -> tuple[str, str]:
    return topic, f"Report: {topic.lower()}."


class Newsroom:
    """Items of one database and the story each joined, through `assign_stories` as the pipeline calls it."""

    def __init__(self, database_url: str, in_memory: int = 50_000) -> None:
        self.engine = make_engine(database_url)
        upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.in_memory = in_memory
        with self.sessions.begin() as session:
            if session.get(Source, "wire") is None:
                session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))

    def store(self, topic: str, source: str = "wire", *, now: datetime | None = None, link: str | None = None,
              session=None) -> int:
        """Store one item about `topic` (its own link unless given) and assign it; returns the item id."""
        now = now or datetime.now(timezone.utc)
        if session is None:
            with self.sessions.begin() as session:
                return self.store(topic, source, now=now, link=link, session=session)
        if session.get(Source, source) is None:
            session.add(Source(id=source, kind="rss", url=f"https://{source}.example.com/feed", settings={}))
            session.flush()
        key = f"{source}-{uuid.uuid4().hex[:12]}"  # two newsrooms may share a database
        item = Item(source_id=source, dedup_key=key, title=topic, content_hash=key, first_seen_at=now,
                    updated_at=now, sort_at=now)
        session.add(item)
        session.flush()
        link = link or f"https://{source}.example.com/{key}"
        assign_stories(session, source, {item.id: story_print(*text_of(topic), link)},
                       now=now, window=WINDOW, threshold=0.5, in_memory=self.in_memory)
        return item.id

    def story_of(self, item_id: int) -> int | None:
        with self.sessions() as session:
            return session.get(Item, item_id).story_id

    def state(self) -> StoryIndexState:
        with self.sessions() as session:
            return session.get(StoryIndexState, 1)

    def banded_stories(self) -> set[int]:
        with self.sessions() as session:
            return set(session.scalars(select(StoryBand.story_id).distinct()))

    def close(self) -> None:
        self.engine.dispose()


def test_copies_find_stories_held_in_memory_and_stories_spilled_to_band_rows(database_url):
    room = Newsroom(database_url, in_memory=2)
    firsts = [room.store(topic) for topic in TOPICS]
    stories = [room.story_of(item) for item in firsts]
    assert len(set(stories)) == len(TOPICS)
    # More than 2 + 1 held: all but the newest 2 go to story_bands, each with all its band rows. (A run
    # catches up before its own story is stored: the newest 4 may be held.)
    through = room.state().banded_through
    assert stories[0] < through and len([story for story in stories if story > through]) <= 4
    banded = room.banded_stories()
    assert banded == {story for story in stories if story <= through}
    with room.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(StoryBand).where(StoryBand.story_id == stories[0]))
    assert rows == len({key for _, key in story_print(*text_of(TOPICS[0]), "https://x.example.com/1").bands})
    # A copy from another source joins its story, spilled or held.
    for topic, story in zip(TOPICS, stories):
        assert room.story_of(room.store(topic, "daily")) == story
    room.close()


def test_a_worker_joins_copies_to_stories_another_worker_started(database_url):
    first, second = Newsroom(database_url), Newsroom(database_url)  # one engine each: one index each
    second.store(TOPICS[1])  # the second worker reads its index now
    story = first.story_of(first.store(TOPICS[0]))
    assert second.story_of(second.store(TOPICS[0], "daily")) == story
    assert first.story_of(first.store(TOPICS[0], "weekly")) == story
    first.close()
    second.close()


def test_a_worker_sees_a_story_re_dated_by_another_worker(database_url):
    first, second = Newsroom(database_url), Newsroom(database_url)
    now = datetime.now(timezone.utc)
    story = first.story_of(first.store(TOPICS[0], now=now - timedelta(days=2, hours=23)))
    second.store(TOPICS[1], now=now)  # the second worker holds the story at its first time
    # The first worker joins a copy from a new source: the story's time is now.
    assert first.story_of(first.store(TOPICS[0], "daily", now=now)) == story
    # Two hours later the story's first time is outside the window, its new time inside.
    later = now + timedelta(hours=2)
    assert second.story_of(second.store(TOPICS[0], "weekly", now=later)) == story
    first.close()
    second.close()


def test_a_rolled_back_story_is_no_candidate_even_where_its_id_is_used_again(database_url):
    mine, other = Newsroom(database_url), Newsroom(database_url)
    mine.store(TOPICS[0])
    with pytest.raises(RuntimeError):
        with mine.sessions.begin() as session:
            mine.store(TOPICS[1], session=session)
            mine.store(TOPICS[1], "daily", session=session)  # catches up within the transaction
            raise RuntimeError("the run fails after assigning its stories")
    # Another worker's story takes the place (on SQLite the very id) the rolled-back one had.
    replacement = other.story_of(other.store(TOPICS[2]))
    assert mine.story_of(mine.store(TOPICS[2], "daily")) == replacement
    copy = mine.story_of(mine.store(TOPICS[1], "weekly"))
    assert copy != replacement
    with mine.sessions() as session:
        assert session.get(Story, copy).lead_item_id is not None
    mine.close()
    other.close()


def test_a_story_retention_deleted_is_no_candidate(database_url):
    room = Newsroom(database_url)
    now = datetime.now(timezone.utc)
    link = "https://wire.example.com/siemens-egypt"
    item = room.store(TOPICS[0], now=now, link=link)
    story = room.story_of(item)
    room.store(TOPICS[3])  # the index reads the story in
    with room.sessions.begin() as session:  # its only item is old enough to prune, the story is in the window
        session.execute(text("UPDATE items SET sort_at = :old, first_seen_at = :old WHERE id = :id"),
                        {"old": (now - timedelta(days=30)).replace(tzinfo=None), "id": item})
    with room.sessions.begin() as session:
        assert prune_items_batch(session, now - timedelta(days=7)).items == 1
    with room.sessions() as session:
        assert session.get(Story, story) is None
    copy = room.story_of(room.store(TOPICS[0], "daily", link=link))  # the same link: no signature compared
    with room.sessions() as session:
        assert session.get(Story, copy) is not None
    room.close()


def test_stories_stored_before_0009_keep_their_band_rows_and_get_them_back_on_downgrade(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0008_signatures_binary")
    now = datetime.now(timezone.utc)
    wire = story_print(*text_of(TOPICS[0]), "https://wire.example.com/1")
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:  # sources and items as they are at 0008 too
        session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))
        session.flush()
        lead = Item(source_id="wire", dedup_key="w1", title="w1", content_hash="w1", first_seen_at=now,
                    updated_at=now, sort_at=now)
        session.add(lead)
        session.flush()
        story = session.execute(text(
            "INSERT INTO stories (lead_item_id, signature, item_count, source_count, first_seen_at, updated_at) "
            "VALUES (:lead, :signature, 1, 1, :now, :now) RETURNING id"),
            {"lead": lead.id, "signature": packed_signature(wire.signature), "now": now.replace(tzinfo=None)}
        ).scalar_one()
        session.execute(text("INSERT INTO story_bands (hash, story_id) VALUES (:hash, :story)"),
                        [{"hash": key, "story": story} for key in {key for _, key in wire.bands}])
    upgrade(engine)
    room = Newsroom(str(engine.url.render_as_string(hide_password=False)))
    assert room.state().banded_through == story
    assert room.story_of(room.store(TOPICS[0], "daily")) == story  # found through its band rows
    held = room.story_of(room.store(TOPICS[1]))
    assert held not in room.banded_stories()
    room.close()
    command.downgrade(_alembic_config(engine), "0008_signatures_binary")
    with engine.connect() as connection:
        banded = set(connection.execute(text("SELECT DISTINCT story_id FROM story_bands")).scalars())
    assert banded == {story, held}
    engine.dispose()


def test_the_index_finds_exactly_the_stories_holding_each_key():
    """Against a plain dict, through many small reads and merges of the two sorted levels."""
    rng = random.Random(7)
    index, expected = StoryIndex(), {}
    pool = [rng.randrange(-2 ** 63, 2 ** 63) for _ in range(3000)]  # keys shared by many stories
    now = datetime.now(timezone.utc)
    stories = []
    for story_id in range(1, 2501):  # 2,500 x 30 keys: the small level merges into the big one twice
        keys = {rng.choice(pool) for _ in range(30)}
        stories.append((story_id, now, story_id * 10, pack_band_keys(keys)))
        for key in keys:
            expected.setdefault(key, set()).add(story_id)
    for start in range(0, len(stories), 50):  # 50 a time, as runs bring them
        index.hold(stories[start:start + 50], after=0)
    assert index.stories == 2500
    asked = rng.sample(pool, 400) + [rng.randrange(-2 ** 63, 2 ** 63) for _ in range(50)]
    found = index.candidates(asked, now - timedelta(minutes=1))
    got: dict[int, set] = {}
    for key, story_id in zip(found.keys, found.story_ids):
        got.setdefault(key, set()).add(story_id)
    assert got == {key: expected[key] for key in asked if key in expected}
    assert all(found.leads[story_id] == story_id * 10 for story_id in found.story_ids)
    assert index.candidates(asked, now + timedelta(minutes=1)).story_ids == []  # none in the window
