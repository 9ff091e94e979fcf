"""Schema migrations: one history with one head, reached from an empty database and from the old heads.

The five parallel heads (0002_intel, 0002_scale, 0002_feeds, 0002_connectors,
0003_config_checks) were joined by 0004_merge; databases created before it sit
at those heads (or at fewer, from before some branches existed) and must
upgrade in place, data kept, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, DateTime, Integer, insert, inspect, select, text
from sqlalchemy import column as sa_column, table as sa_table

import models.db
from intel.stories import story_print
from models import repository
from models.db import MigrationHistoryError, current_revision, make_engine, make_sessionmaker, upgrade
from models.stories import assign_stories
from models.tables import Base, Item, Prospect, Source, Story

ROOT = Path(__file__).resolve().parents[2]
OLD_HEADS = ("0002_intel", "0002_scale", "0002_feeds", "0002_connectors", "0003_config_checks")


def scripts(location: Path = models.db.MIGRATIONS) -> ScriptDirectory:
    config = AlembicConfig()
    config.set_main_option("script_location", str(location))
    return ScriptDirectory.from_config(config)


def alembic_cli(database_url: str, tmp_path: Path, *args: str) -> str:
    """The `alembic` command itself, pointed at the database with an ini file."""
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\n"
                   f"script_location = {models.db.MIGRATIONS}\n"
                   f"sqlalchemy.url = {database_url.replace('%', '%%')}\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), *args], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def assert_cli_current_is(head: str, output: str) -> None:
    """One revision line, that head's, e.g. `0004_merge (head) (mergepoint)`."""
    [line] = output.splitlines()
    assert line.split()[:2] == [head, "(head)"]


def test_the_history_has_one_head_descending_from_the_merge():
    history = scripts()
    [head] = history.get_heads()
    ancestors = {revision.revision for revision in history.iterate_revisions(head, "base")}
    assert {"0004_merge", "0001", "0002_alerts", *OLD_HEADS} <= ancestors


def test_a_fresh_database_upgrades_to_the_single_head(database_url, tmp_path):
    engine = make_engine(database_url)
    upgrade(engine)
    [head] = scripts().get_heads()
    assert current_revision(engine) == head
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert_cli_current_is(head, alembic_cli(database_url, tmp_path, "current"))
    upgrade(engine)  # again: nothing to do
    assert current_revision(engine) == head
    engine.dispose()


def test_a_database_at_the_old_heads_upgrades_and_keeps_its_data(database_url, tmp_path):
    engine = make_engine(database_url)
    for old_head in OLD_HEADS:
        upgrade(engine, old_head)
    # What `upgrade(engine, "heads")` left before the merge (0002_scale's row stands for 0002_intel too).
    assert current_revision(engine) == "0002_connectors, 0002_feeds, 0002_scale, 0003_config_checks"
    assert "0004_merge" not in alembic_cli(database_url, tmp_path, "current")
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        repository.sync_prospects(session, [{"id": "acme", "name": "Acme Corporation", "aliases": ["Acme"]}],
                                  origin="config", now=datetime.now(timezone.utc))

    upgrade(engine)

    [head] = scripts().get_heads()
    assert current_revision(engine) == head
    assert_cli_current_is(head, alembic_cli(database_url, tmp_path, "current"))
    with sessions() as session:
        assert session.scalars(select(Prospect.name)).all() == ["Acme Corporation"]
    engine.dispose()


def test_a_database_from_before_0002_scale_upgrades(database_url):
    engine = make_engine(database_url)
    for old_head in ("0002_intel", "0002_feeds", "0002_alerts"):
        upgrade(engine, old_head)
    assert current_revision(engine) == "0002_alerts, 0002_feeds, 0002_intel"
    upgrade(engine)
    assert current_revision(engine) == scripts().get_heads()[0]
    # Story candidates are found by hash: since 0005 through the primary key (hash, story_id) itself.
    assert inspect(engine).get_pk_constraint("story_bands")["constrained_columns"] == ["hash", "story_id"]
    assert "config_checks" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_migration_forking_the_history_is_refused_with_what_to_do(tmp_path, monkeypatch):
    forked = tmp_path / "migrations"
    shutil.copytree(models.db.MIGRATIONS, forked, ignore=shutil.ignore_patterns("__pycache__"))
    (forked / "versions" / "0005_forked.py").write_text(
        'revision = "0005_forked"\ndown_revision = "0002_intel"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n", encoding="utf-8")
    monkeypatch.setattr(models.db, "MIGRATIONS", forked)
    engine = make_engine(f"sqlite:///{tmp_path / 'intel.db'}")
    [head] = scripts().get_heads()
    with pytest.raises(MigrationHistoryError, match=rf"2 heads \({', '.join(sorted([head, '0005_forked']))}\).*down_revision"):
        upgrade(engine)
    assert inspect(engine).get_table_names() == []  # refused before anything ran
    engine.dispose()


def test_story_bands_stored_as_text_before_0005_are_converted_and_still_found(database_url):
    """A story stored with hex band hashes is joined after the upgrade by a copy and by a same-link brief."""
    wire = story_print("Siemens AG wins rail contract in Egypt",
                       "Siemens AG will supply trains and signalling for a new high-speed line.",
                       "https://wire.example.com/siemens-egypt?utm_source=rss")
    copy = story_print("Siemens AG wins rail contract in Egypt - Daily Rail",
                       "Siemens AG will supply trains and signalling for a new high-speed line.",
                       "https://dailyrail.example.com/a/77")
    brief = story_print("Egypt deal", "Short brief.", "https://wire.example.com/siemens-egypt")
    engine = make_engine(database_url)
    upgrade(engine, "0004_merge")
    now = datetime.now(timezone.utc)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Source(id="wire", kind="rss", url="https://wire.example.com/feed", settings={}))
        session.flush()
        lead, copy_item, brief_item = (Item(source_id="wire", dedup_key=key, title=key, content_hash=key,
                                            first_seen_at=now, updated_at=now, sort_at=now)
                                       for key in ("wire-1", "dr-77", "brief-9"))
        session.add_all([lead, copy_item, brief_item])
        session.flush()
        # The story row as 0004 holds it (signature as JSON), written without the ORM: the mapped
        # class has today's columns.
        stories_0004 = sa_table("stories", sa_column("id", Integer), sa_column("lead_item_id", Integer),
                                sa_column("signature", JSON), sa_column("item_count", Integer),
                                sa_column("source_count", Integer), sa_column("first_seen_at", DateTime),
                                sa_column("updated_at", DateTime))
        story_id = session.execute(insert(stories_0004).values(
            lead_item_id=lead.id, signature=list(wire.signature), item_count=1, source_count=1,
            first_seen_at=now, updated_at=now).returning(stories_0004.c.id)).scalar_one()
        lead.story_id = story_id
        ids = {"story": story_id, "copy": copy_item.id, "brief": brief_item.id}
        # What the code before 0005 stored: 16 hex digits per signature band, the link's whole BLAKE2b-128 digest.
        old_rows = [{"band": band, "hash": format(key % 2 ** 64, "016x"), "story": story_id}
                    for band, key in wire.bands if band >= 0]
        link = hashlib.blake2b(b"https://wire.example.com/siemens-egypt", digest_size=16).hexdigest()
        old_rows.append({"band": -1, "hash": link, "story": story_id})
        session.execute(text("INSERT INTO story_bands (band, hash, story_id) VALUES (:band, :hash, :story)"),
                        old_rows)

    upgrade(engine)

    with sessions.begin() as session:
        stored = session.execute(text("SELECT hash FROM story_bands ORDER BY hash")).scalars().all()
        assert stored == sorted(key for _, key in wire.bands)
        joined = assign_stories(session, "wire", {ids["copy"]: copy, ids["brief"]: brief}, now=now,
                                window=timedelta(days=3), threshold=0.5)
        assert joined == 2
    with sessions() as session:
        assert session.get(Item, ids["copy"]).story_id == ids["story"]
        assert session.get(Item, ids["brief"]).story_id == ids["story"]
        assert session.get(Story, ids["story"]).item_count == 3
    engine.dispose()
