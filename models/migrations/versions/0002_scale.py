"""indexes for scale: story candidates by band hash

Revision ID: 0002_scale
Revises: 0002_intel
"""
from alembic import op


revision = "0002_scale"
# story_bands comes with the intelligence branch. Chained on it rather than `depends_on` it: Alembic
# counts a revision that is only depended on as a head of its own, so there could never be one head
# (and a merge naming both crashes its version bookkeeping). Databases are unaffected: applying
# 0002_scale always replaced 0002_intel in alembic_version.
down_revision = "0002_intel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Story candidates are looked up by hash (`hash IN (...)`) for every new item; the primary key
    # starts with `band`, so without this each lookup scanned every band of every story.
    op.create_index("ix_story_bands_hash", "story_bands", ["hash"])


def downgrade() -> None:
    op.drop_index("ix_story_bands_hash", table_name="story_bands")
