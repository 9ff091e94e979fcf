"""keep the newest stories' band keys in the story row and in workers' memory, not as band rows

A new story wrote 33 rows into story_bands, keyed by random 64-bit hashes: each
dirtied its own b-tree page, which the commit and then the checkpoint wrote out,
and that was most of the write transaction of ingest with tagging on. Now a
story's band keys are one 264-byte value in its own row (`band_keys`), workers
hold the newest stories' in memory (models/story_index.py), and only older
stories get band rows, written sorted by key a batch at a time. `story_index`
says how far band rows go (`banded_through`); `stories.touched` and
`story_index.sequence` tell workers which stories changed since they last read.

Stories stored before this keep their band rows: `banded_through` starts at the
newest of them. Downgrading writes the band rows of the later stories.

Revision ID: 0009_story_index
Revises: 0008_signatures_binary
"""

import random
import struct

import sqlalchemy as sa
from alembic import op


revision = "0009_story_index"
down_revision = "0008_signatures_binary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stories", sa.Column("band_keys", sa.LargeBinary(), nullable=False,
                                       server_default=sa.text("''::bytea" if _postgresql() else "x''")))
    op.add_column("stories", sa.Column("touched", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_stories_touched", "stories", ["touched"])
    state = op.create_table(
        "story_index",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("banded_through", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    newest = op.get_bind().execute(sa.text("SELECT coalesce(max(id), 0) FROM stories")).scalar_one()
    # A random first generation: an index a process held for a database of the same name (one a
    # test dropped and made again) does not pass for this one's.
    op.bulk_insert(state, [{"id": 1, "banded_through": newest, "sequence": 0,
                            "generation": random.randrange(1, 2 ** 62)}])


def downgrade() -> None:
    connection = op.get_bind()
    through = connection.execute(sa.text("SELECT banded_through FROM story_index WHERE id = 1")).scalar_one()
    later = connection.execute(sa.text("SELECT id, band_keys FROM stories WHERE id > :through"),
                               {"through": through}).all()
    rows = [{"hash": key, "story_id": story_id} for story_id, packed in later
            for key in struct.unpack(f"<{len(packed or b'') // 8}q", packed or b"")]
    if rows:
        connection.execute(sa.text("INSERT INTO story_bands (hash, story_id) VALUES (:hash, :story_id)"), rows)
    op.drop_table("story_index")
    op.drop_index("ix_stories_touched", table_name="stories")
    op.execute("ALTER TABLE stories DROP COLUMN touched")
    op.execute("ALTER TABLE stories DROP COLUMN band_keys")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
