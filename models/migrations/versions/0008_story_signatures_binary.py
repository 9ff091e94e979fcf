"""store story signatures as 512 bytes (128 big-endian uint32), not JSON text

Every run reads the signatures of the stories its items are compared with
(models/stories.py): a JSON list of 128 integers took 36 us to decode and 42
to encode, the packed bytes 6 and 4, and the story row shrinks from ~1.5 kB
of text to 512 bytes. Big-endian, so PostgreSQL converts in SQL (int8send's
last four bytes); stored signatures are converted, so stored stories keep
being joined by their copies.

Revision ID: 0008_signatures_binary
Revises: 0007_stories_window
"""

import json
import struct

import sqlalchemy as sa
from alembic import op


revision = "0008_signatures_binary"
down_revision = "0007_stories_window"
branch_labels = None
depends_on = None


def _packed(text: str | None) -> bytes:
    values = json.loads(text) if text else []
    return struct.pack(f">{len(values)}I", *values)


def _unpacked(blob: bytes | None) -> str:
    blob = blob or b""
    return json.dumps(list(struct.unpack(f">{len(blob) // 4}I", blob)))


def upgrade() -> None:
    _replace_signature(
        "signature_packed", sa.LargeBinary(), postgresql_empty="''::bytea", sqlite_empty="x''",
        postgresql_fill="coalesce((SELECT string_agg(substr(int8send(value::bigint), 5, 4), ''::bytea ORDER BY"
                        " position) FROM json_array_elements_text(signature) WITH ORDINALITY AS element(value,"
                        " position)), ''::bytea)",
        sqlite_fill=_packed)


def downgrade() -> None:
    _replace_signature(
        "signature_json", sa.JSON(), postgresql_empty="'[]'::json", sqlite_empty="'[]'",
        postgresql_fill="coalesce((SELECT json_agg(('x' || encode(substr(signature, 4 * i + 1, 4), 'hex'))::bit(32)"
                        "::bigint ORDER BY i) FROM generate_series(0, length(signature) / 4 - 1) AS i), '[]'::json)",
        sqlite_fill=_unpacked)


def _replace_signature(column: str, column_type, *, postgresql_empty: str, sqlite_empty: str,
                       postgresql_fill: str, sqlite_fill) -> None:
    """stories.signature replaced by `column` of `column_type`, filled from it: in SQL on PostgreSQL,
    through `sqlite_fill` (registered as a function) on SQLite.

    A new column filled from the old, then renamed: SQLite cannot change a column's type in place, and
    PostgreSQL's ALTER ... TYPE ... USING allows no subquery over the array's elements.
    """
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    op.add_column("stories", sa.Column(column, column_type, nullable=False,
                                       server_default=sa.text(postgresql_empty if postgresql else sqlite_empty)))
    if postgresql:
        op.execute(f"UPDATE stories SET {column} = {postgresql_fill}")
        op.alter_column("stories", column, server_default=None)
    else:
        connection.connection.driver_connection.create_function(f"intel_{column}", 1, sqlite_fill,
                                                                deterministic=True)
        op.execute(f"UPDATE stories SET {column} = intel_{column}(signature)")
    # Plain ALTER TABLE (SQLite 3.35+ drops and renames columns in place): a batch rebuild would drop
    # the old table, and with foreign keys on that deletes every story's bands.
    op.execute("ALTER TABLE stories DROP COLUMN signature")
    op.execute(f"ALTER TABLE stories RENAME COLUMN {column} TO signature")
