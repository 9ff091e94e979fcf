"""story_bands_recent: the band rows of lately started stories, moved into story_bands in sorted batches

Band keys are random 64-bit hashes, so each run's new band rows (33 a new story,
~1,650 a 50-item run) landed on as many pages all over story_bands: at 50,000
stories ~1,500 of its ~10,000 pages rewritten per run, each written to SQLite's
WAL at commit and again at the checkpoint. SQLite now puts them in this small
table (it stays in the page cache) and models/stories.py moves its rows into
story_bands, sorted by key, every few thousand stories, so a page of story_bands
is written once for many rows. Lookups read both tables; the same rows are
found. PostgreSQL keeps writing story_bands directly and leaves this table empty.

Downgrade moves any rows still here into story_bands, where the code of 0008 looks.

Revision ID: 0009_story_bands_recent
Revises: 0008_signatures_binary
"""

import sqlalchemy as sa
from alembic import op


revision = "0009_story_bands_recent"
down_revision = "0008_signatures_binary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_bands_recent",
        sa.Column("hash", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("story_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE",
                                name="fk_story_bands_recent_story"),
        sa.PrimaryKeyConstraint("hash", "story_id", name="pk_story_bands_recent"),
        sqlite_with_rowid=False,
    )
    # Deleting a story (retention) finds its rows here through this index, as in story_bands.
    op.create_index("ix_story_bands_recent_story_id", "story_bands_recent", ["story_id"])


def downgrade() -> None:
    op.execute("INSERT INTO story_bands (hash, story_id) SELECT hash, story_id FROM story_bands_recent")
    op.drop_index("ix_story_bands_recent_story_id", table_name="story_bands_recent")
    op.drop_table("story_bands_recent")
