"""story bands keyed by 64-bit integers: one b-tree per band row instead of four

Every new story writes a row per band (33), and each row went into four b-trees
on SQLite (the rowid table, the (band, hash, story_id) primary key, the hash
index, the story_id index) with the hash as 16 (32 for links) hex characters.
Band keys are random, so every run's commit rewrote pages all over two of them.
Now a row is (hash BIGINT, story_id) with that pair as the primary key: the
candidate lookup by hash uses the key itself, SQLite stores the table WITHOUT
ROWID, and only the story_id index (appended in order; deletes need it) remains.
The band number is not stored: it is mixed into each band's hash already, and the
lookup never used it.

Stored hashes are converted, not dropped: a key is the first 16 hex digits of the
old hash read as a signed 64-bit integer, which is exactly what the pipeline now
computes (intel/stories.py), so existing stories keep being found by their copies.

Revision ID: 0005_bands
Revises: 0004_merge
"""

import sqlalchemy as sa
from alembic import op


revision = "0005_bands"
down_revision = "0004_merge"
branch_labels = None
depends_on = None


def _hex_key(text: str | None) -> int | None:
    """The first 16 hex digits as a signed 64-bit integer (SQLite has no hex parsing of its own)."""
    if not text:
        return None
    return int.from_bytes(bytes.fromhex(text[:16].rjust(16, "0")), "big", signed=True)


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "story_bands_new",
        sa.Column("hash", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("story_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE", name="fk_story_bands_story"),
        sa.PrimaryKeyConstraint("hash", "story_id", name="pk_story_bands"),
        sqlite_with_rowid=False,
    )
    if connection.dialect.name == "postgresql":
        key = "('x' || rpad(substr(hash, 1, 16), 16, '0'))::bit(64)::bigint"
    else:
        connection.connection.driver_connection.create_function("intel_hex_key", 1, _hex_key, deterministic=True)
        key = "intel_hex_key(hash)"
    # DISTINCT: two bands of one story with the same first 16 digits would now be one row.
    op.execute(f"INSERT INTO story_bands_new (hash, story_id) SELECT DISTINCT {key}, story_id FROM story_bands")
    op.drop_table("story_bands")  # with its indexes
    op.rename_table("story_bands_new", "story_bands")
    op.create_index("ix_story_bands_story_id", "story_bands", ["story_id"])


def downgrade() -> None:
    # Back to text keys, band number 0: stories keep matching by signature bands, but the old code's
    # link bands were 32 hex digits and no longer match the 16 kept here.
    connection = op.get_bind()
    op.create_table(
        "story_bands_old",
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=40), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band", "hash", "story_id"),
    )
    if connection.dialect.name == "postgresql":
        text = "lpad(to_hex(hash), 16, '0')"
    else:
        connection.connection.driver_connection.create_function(
            "intel_key_hex", 1, lambda key: format(key % 2 ** 64, "016x"), deterministic=True)
        text = "intel_key_hex(hash)"
    op.execute(f"INSERT INTO story_bands_old (band, hash, story_id) SELECT 0, {text}, story_id FROM story_bands")
    op.drop_table("story_bands")
    op.rename_table("story_bands_old", "story_bands")
    op.create_index("ix_story_bands_story_id", "story_bands", ["story_id"])
    op.create_index("ix_story_bands_hash", "story_bands", ["hash"])
