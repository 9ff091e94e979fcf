"""index prospects.updated_at: the worker asks for its maximum before every source run

The pipeline rebuilds its prospect matcher only when the prospect list changed,
and tells by `max(prospects.updated_at)`, once per source run. Without an index
that read every prospect row (10,000 of them in the ingest benchmark, about 4%
of a run's time); with it, SQLite and PostgreSQL read the last index entry.

Revision ID: 0006_prospects_updated
Revises: 0005_bands
"""

from alembic import op


revision = "0006_prospects_updated"
down_revision = "0005_bands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_prospects_updated_at", "prospects", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_prospects_updated_at", table_name="prospects")
