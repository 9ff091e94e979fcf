"""Band rows of new stories wait in story_bands_recent and move into story_bands in batches (SQLite, 0009).

Copies must find their story whether its band rows were moved already or still
wait, in the same transaction or a later one; a story out of the window takes no
copy either way; deleting a story takes its waiting rows with it; downgrading to
0008 keeps every band findable in story_bands.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import delete, func, inspect, select, text

import models.stories
from bench.common import vocabulary
from intel.stories import story_print
from models.db import _alembic_config, make_engine, make_sessionmaker, upgrade
from models.stories import assign_stories
from models.tables import Item, Source, Story, StoryBand, StoryBandRecent

WORDS = vocabulary()
WINDOW = timedelta(days=3)


def wire_text(n: int) -> tuple[str, str]:
    words = random.Random(n).sample(WORDS, 26)
    return " ".join(words[:7]).capitalize(), " ".join(words[7:]) + "."


def add_items(session, source_id: str, keys: list[str], now: datetime) -> list[int]:
    items = [Item(source_id=source_id, dedup_key=key, title=key, content_hash=key, first_seen_at=now,
                  updated_at=now, sort_at=now) for key in keys]
    session.add_all(items)
    session.flush()
    return [item.id for item in items]


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker.begin() as session:
        session.add_all([Source(id=name, kind="rss", url=f"https://{name}.example.com/feed", settings={})
                         for name in ("wire", "daily")])
    yield maker
    engine.dispose()


def band_rows(session) -> tuple[int, int]:
    """(rows in story_bands, rows waiting in story_bands_recent)."""
    return (session.scalar(select(func.count()).select_from(StoryBand)),
            session.scalar(select(func.count()).select_from(StoryBandRecent)))


def test_copies_find_stories_whose_bands_moved_or_still_wait(sessions, monkeypatch):
    monkeypatch.setattr(models.stories, "_RECENT_STORIES", 4)  # a move every 4 stories
    now = datetime.now(timezone.utc)
    leads: dict[int, int] = {}  # wire story n -> its lead item id
    for first in range(0, 10, 3):  # four runs of up to three new stories, each its own transaction
        with sessions.begin() as session:
            numbers = list(range(first, min(first + 3, 10)))
            ids = add_items(session, "wire", [f"wire-{n}" for n in numbers], now)
            prints = {item_id: story_print(*wire_text(n), f"https://wire.example.com/{n}")
                      for item_id, n in zip(ids, numbers)}
            assert assign_stories(session, "wire", prints, now=now, window=WINDOW, threshold=0.5) == 0
            leads.update(zip(numbers, ids))
    with sessions() as session:
        moved, waiting = band_rows(session)
        if session.get_bind().dialect.name == "sqlite":
            # runs of ids 1-3, 4-6, 7-9, 10: the second and third passed 4 and 8 and moved what waited
            assert (moved, waiting) == (9 * 33, 1 * 33)
        else:  # PostgreSQL writes story_bands directly
            assert (moved, waiting) == (10 * 33, 0)

    with sessions.begin() as session:
        copies = add_items(session, "daily", [f"daily-{n}" for n in range(10)] + ["brief-9"], now)
        prints = {item_id: story_print(wire_text(n)[0] + " - Daily", wire_text(n)[1],
                                       f"https://daily.example.com/{n}") for item_id, n in zip(copies, range(10))}
        # only the link in common: the link band of a story whose bands still wait
        prints[copies[10]] = story_print("Brief", "Short.", "https://wire.example.com/9")
        assert assign_stories(session, "daily", prints, now=now + timedelta(minutes=5), window=WINDOW,
                              threshold=0.5) == 11
    with sessions() as session:
        for n in range(10):
            story = session.get(Item, copies[n]).story_id
            assert story == session.get(Item, leads[n]).story_id, f"copy of wire-{n}"
            assert session.get(Story, story).source_count == 2
        assert session.get(Item, copies[10]).story_id == session.get(Item, leads[9]).story_id
        assert session.scalar(select(func.count()).select_from(Story)) == 10


def test_a_story_out_of_the_window_takes_no_copy_while_its_bands_wait(sessions, monkeypatch):
    monkeypatch.setattr(models.stories, "_RECENT_STORIES", 1000)
    then = datetime.now(timezone.utc) - timedelta(days=4)
    with sessions.begin() as session:
        [lead] = add_items(session, "wire", ["wire-1"], then)
        assign_stories(session, "wire", {lead: story_print(*wire_text(1), "https://wire.example.com/1")},
                       now=then, window=WINDOW, threshold=0.5)
    now = then + timedelta(days=4)
    with sessions.begin() as session:
        [copy] = add_items(session, "daily", ["daily-1"], now)
        assert assign_stories(session, "daily", {copy: story_print(*wire_text(1), "https://wire.example.com/1")},
                              now=now, window=WINDOW, threshold=0.5) == 0
    with sessions() as session:
        assert session.get(Item, copy).story_id != session.get(Item, lead).story_id


def test_deleting_a_story_deletes_its_waiting_bands(sessions, monkeypatch):
    monkeypatch.setattr(models.stories, "_RECENT_STORIES", 1000)
    now = datetime.now(timezone.utc)
    with sessions.begin() as session:
        ids = add_items(session, "wire", ["wire-1", "wire-2"], now)
        assign_stories(session, "wire", {item_id: story_print(*wire_text(n)) for item_id, n in zip(ids, (1, 2))},
                       now=now, window=WINDOW, threshold=0.5)
    with sessions.begin() as session:
        story = session.get(Item, ids[0]).story_id
        session.execute(text("UPDATE items SET story_id = NULL WHERE id = :id"), {"id": ids[0]})
        session.execute(delete(StoryBand).where(StoryBand.story_id == story))  # as retention does
        session.execute(delete(Story).where(Story.id == story))
    with sessions() as session:
        assert sum(band_rows(session)) == 32  # the other story's signature bands only


def test_downgrading_to_0008_moves_waiting_bands_where_0008_looks(database_url, monkeypatch):
    monkeypatch.setattr(models.stories, "_RECENT_STORIES", 1000)
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(timezone.utc)
    wire = story_print(*wire_text(1), "https://wire.example.com/1")
    with sessions.begin() as session:
        session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))
        session.flush()
        [lead] = add_items(session, "wire", ["wire-1"], now)
        assign_stories(session, "wire", {lead: wire}, now=now, window=WINDOW, threshold=0.5)

    command.downgrade(_alembic_config(engine), "0008_signatures_binary")
    with sessions() as session:
        stored = session.execute(text("SELECT hash FROM story_bands ORDER BY hash")).scalars().all()
        assert stored == sorted(key for _, key in wire.bands)
        assert "story_bands_recent" not in inspect(session.connection()).get_table_names()

    upgrade(engine)
    with sessions.begin() as session:
        [copy] = add_items(session, "wire", ["wire-copy"], now)
        assert assign_stories(session, "wire", {copy: story_print(wire_text(1)[0] + " - Daily", wire_text(1)[1])},
                              now=now, window=WINDOW, threshold=0.5) == 1
        assert session.get(Item, copy).story_id == session.get(Item, lead).story_id
    engine.dispose()
