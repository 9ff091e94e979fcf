"""Story signatures stored as JSON before migration 0008 are converted to packed bytes and still match.

A story stored by the code before 0008 (a JSON list of 128 integers) must be
joined after the upgrade by a copy whose only likeness is its text (another
link), on SQLite and PostgreSQL; downgrading gives the JSON back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import JSON, column, insert, select, table, text

from alembic import command

from intel.stories import story_print
from models.db import _alembic_config, make_engine, make_sessionmaker, upgrade
from models.stories import assign_stories, unpacked_signature
from models.tables import Item, Source, Story, UtcDateTime

WIRE = ("Siemens AG wins rail contract in Egypt",
        "Siemens AG will supply trains and signalling for a new high-speed line.",
        "https://wire.example.com/siemens-egypt")
COPY = ("Siemens AG wins rail contract in Egypt - Daily Rail",
        "Siemens AG will supply trains and signalling for a new high-speed line.",
        "https://dailyrail.example.com/a/77")

# The stories table as the code before 0008 wrote it.
STORIES_0007 = table("stories", column("id"), column("lead_item_id"), column("signature", JSON),
                     column("item_count"), column("source_count"), column("first_seen_at", UtcDateTime()),
                     column("updated_at", UtcDateTime()))


def test_a_story_stored_with_a_json_signature_is_joined_by_a_copy_after_the_upgrade(database_url):
    wire, copy = story_print(*WIRE), story_print(*COPY)
    engine = make_engine(database_url)
    upgrade(engine, "0007_stories_window")
    now = datetime.now(timezone.utc)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))
        session.flush()
        lead, copy_item = (Item(source_id="wire", dedup_key=key, title=key, content_hash=key,
                                first_seen_at=now, updated_at=now, sort_at=now) for key in ("wire-1", "dr-77"))
        session.add_all([lead, copy_item])
        session.flush()
        story_id = session.execute(insert(STORIES_0007).values(
            lead_item_id=lead.id, signature=list(wire.signature), item_count=1, source_count=1, first_seen_at=now,
            updated_at=now).returning(STORIES_0007.c.id)).scalar_one()
        lead.story_id = story_id
        session.execute(text("INSERT INTO story_bands (hash, story_id) VALUES (:hash, :story)"),
                        [{"hash": key, "story": story_id} for key in {key for _, key in wire.bands}])
        copy_id = copy_item.id

    upgrade(engine)

    with sessions.begin() as session:
        stored = session.scalars(select(Story.signature).where(Story.id == story_id)).one()
        assert len(stored) == 512 and unpacked_signature(stored) == wire.signature
        assert assign_stories(session, "wire", {copy_id: copy}, now=now + timedelta(minutes=5),
                              window=timedelta(days=3), threshold=0.5) == 1
    with sessions() as session:
        assert session.get(Item, copy_id).story_id == story_id
        assert session.get(Story, story_id).item_count == 2

    downgrade_to_0007(engine)
    with sessions() as session:
        signature = session.execute(select(STORIES_0007.c.signature).where(STORIES_0007.c.id == story_id)).scalar_one()
        assert tuple(signature) == wire.signature
    engine.dispose()



def downgrade_to_0007(engine) -> None:
    """Back to the revision before 0008, as `alembic downgrade 0007_stories_window` runs it."""
    command.downgrade(_alembic_config(engine), "0007_stories_window")
