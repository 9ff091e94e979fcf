"""stories (near-duplicate clusters), organizations seen for lead discovery, signal stages

Revision ID: 0002_intel
Revises: 0001

Columns are added with plain ALTER TABLE, not SQLite's batch copy-and-rename:
recreating `items` with foreign keys on would cascade-delete its mentions.
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_intel"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_item_id", sa.Integer(), nullable=True),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_item_id"], ["items.id"], name="fk_stories_lead_item", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stories_updated_at", "stories", ["updated_at"])
    op.create_table(
        "story_bands",
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=40), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band", "hash", "story_id"),
    )
    op.create_index("ix_story_bands_story_id", "story_bands", ["story_id"])
    op.create_table(
        "organizations_seen",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("org_key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("signal_types", sa.JSON(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "org_key"),
    )
    op.create_index("ix_organizations_seen_key", "organizations_seen", ["org_key", "seen_at"])
    op.add_column("items", sa.Column("story_id", sa.Integer(), nullable=True))
    op.create_index("ix_items_story_id", "items", ["story_id"])
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint to an existing table
        op.create_foreign_key("fk_items_story", "items", "stories", ["story_id"], ["id"], ondelete="SET NULL")
    op.add_column("signals", sa.Column("stages", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_items_story", "items", type_="foreignkey")
    op.drop_index("ix_items_story_id", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("story_id")
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("stages")
    op.drop_index("ix_organizations_seen_key", table_name="organizations_seen")
    op.drop_table("organizations_seen")
    op.drop_index("ix_story_bands_story_id", table_name="story_bands")
    op.drop_table("story_bands")
    op.drop_index("ix_stories_updated_at", table_name="stories")
    op.drop_table("stories")
