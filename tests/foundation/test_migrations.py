"""Schema migrations: one history with one head, reached from an empty database and from the old heads.

The five parallel heads (0002_intel, 0002_scale, 0002_feeds, 0002_connectors,
0003_config_checks) were joined by 0004_merge; databases created before it sit
at those heads (or at fewer, from before some branches existed) and must
upgrade in place, data kept, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

import models.db
from models import repository
from models.db import MigrationHistoryError, current_revision, make_engine, make_sessionmaker, upgrade
from models.tables import Base, Prospect

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
    assert "ix_story_bands_hash" in {index["name"] for index in inspect(engine).get_indexes("story_bands")}
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
    with pytest.raises(MigrationHistoryError, match=r"2 heads \(0004_merge, 0005_forked\).*down_revision"):
        upgrade(engine)
    assert inspect(engine).get_table_names() == []  # refused before anything ran
    engine.dispose()
