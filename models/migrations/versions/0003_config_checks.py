"""config checks: what the worker made of its config at start and on each reload

Revision ID: 0003_config_checks
Revises: 0002_alerts
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_config_checks"
down_revision = "0002_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("config_checks")
