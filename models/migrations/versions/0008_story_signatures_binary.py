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
    connection = op.get_bind()
    # A new column filled from the old, then renamed: SQLite cannot change a column's type in place, and
    # PostgreSQL's ALTER ... TYPE ... USING allows no subquery over the array's elements.
    op.add_column("stories", sa.Column("signature_packed", sa.LargeBinary(), nullable=False,
                                       server_default=sa.text("''::bytea" if connection.dialect.name == "postgresql"
                                                              else "x''")))
    if connection.dialect.name == "postgresql":
        op.execute("UPDATE stories SET signature_packed = coalesce((SELECT string_agg(substr(int8send(value::bigint), 5, 4),"
                   " ''::bytea ORDER BY position) FROM json_array_elements_text(signature)"
                   " WITH ORDINALITY AS element(value, position)), ''::bytea)")
        op.alter_column("stories", "signature_packed", server_default=None)
    else:
        connection.connection.driver_connection.create_function("intel_signature_packed", 1, _packed,
                                                                deterministic=True)
        op.execute("UPDATE stories SET signature_packed = intel_signature_packed(signature)")
    # Plain ALTER TABLE (SQLite 3.35+ drops and renames columns in place): a batch rebuild would drop
    # the old table, and with foreign keys on that deletes every story's bands.
    op.execute("ALTER TABLE stories DROP COLUMN signature")
    op.execute("ALTER TABLE stories RENAME COLUMN signature_packed TO signature")


def downgrade() -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    op.add_column("stories", sa.Column("signature_json", sa.JSON(), nullable=False,
                                       server_default=sa.text("'[]'::json" if postgresql else "'[]'")))
    if postgresql:
        op.execute("UPDATE stories SET signature_json = coalesce((SELECT json_agg(('x' || encode(substr(signature,"
                   " 4 * i + 1, 4), 'hex'))::bit(32)::bigint ORDER BY i)"
                   " FROM generate_series(0, length(signature) / 4 - 1) AS i), '[]'::json)")
        op.alter_column("stories", "signature_json", server_default=None)
    else:
        connection.connection.driver_connection.create_function("intel_signature_json", 1, _unpacked,
                                                                deterministic=True)
        op.execute("UPDATE stories SET signature_json = intel_signature_json(signature)")
    op.execute("ALTER TABLE stories DROP COLUMN signature")
    op.execute("ALTER TABLE stories RENAME COLUMN signature_json TO signature")
