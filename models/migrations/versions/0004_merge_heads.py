"""merge heads: the parallel 0002/0003 branches joined into one history

Each piece of work added its migration on 0001 (or on its own branch), which
left five heads (0002_intel, 0002_scale, 0002_feeds, 0002_connectors,
0003_config_checks) and `upgrade` migrating to "heads". This revision changes
no schema; it joins them, so there is one head again and any later migration
chains on it (down_revision = "0004_merge"). 0002_intel is joined through
0002_scale, which is now chained on it (see there).

Revision ID: 0004_merge
Revises: 0002_scale, 0002_feeds, 0002_connectors, 0003_config_checks
"""


revision = "0004_merge"
down_revision = ("0002_scale", "0002_feeds", "0002_connectors", "0003_config_checks")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
