"""indexes for scale: story candidates by band hash

Revision ID: 0002_scale
Revises: 0001
"""
from alembic import op


revision = "0002_scale"
down_revision = "0001"
branch_labels = None
# story_bands comes with the intelligence branch.
depends_on = ("0002_intel",)


def upgrade() -> None:
    # Story candidates are looked up by hash (`hash IN (...)`) for every new item; the primary key
    # starts with `band`, so without this each lookup scanned every band of every story.
    op.create_index("ix_story_bands_hash", "story_bands", ["hash"])


def downgrade() -> None:
    op.drop_index("ix_story_bands_hash", table_name="story_bands")
