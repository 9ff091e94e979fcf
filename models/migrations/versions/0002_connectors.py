"""connector state remembered between runs (watched-page hashes, entries already read in full)

Revision ID: 0002_connectors
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_connectors"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("connector_state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("connector_state")
