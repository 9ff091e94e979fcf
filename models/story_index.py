"""The band keys of the newest stories, held in memory: candidates without a row per band.

Writing 33 band rows per new story into `story_bands` was most of what ingest with
tagging on spent inside its write transaction: the keys are random, so each row
dirtied its own page of the b-tree, which the commit wrote to the WAL and the
checkpoint wrote again (bench/ingest.py, full size: the write lock held 96% of the
run; with no band rows the same run was 2.2x faster).

So a story's band keys are stored in its own row (`stories.band_keys`, 264 bytes,
appended with the story), and each worker process keeps those of the newest
`limit` stories in numpy arrays: two sorted levels, searched for a whole run's
keys at once. Older stories are "spilled": their band rows are written to
`story_bands` sorted by key, a batch at a time, and looked up there as before.
One row, `story_index`, says how far stories are spilled (`banded_through`: every
story with an id up to it has band rows, no later one has), counts the changes
to stories (`sequence`: a story started or re-dated takes the next number in
`stories.touched`), and changes its `generation` when retention deletes stories.

A process catches up inside the story-assignment transaction, after the lock
that serializes it (SQLite's write lock, PostgreSQL's advisory lock): it reads
the stories touched since the sequence it last saw, so it sees what every
other worker committed. A rollback after it caught up forgets the whole
index (it may hold rows that were never committed); it is read again next time.
"""

from __future__ import annotations

import struct
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from models.bulk import execute_rows, select_rows
from models.tables import Story, StoryBand, StoryIndexState

# Stories whose bands a process holds by default: at 33 keys each, 12 bytes a key, about 400 bytes
# a story (20 MiB at 50,000), twice that for a moment while the levels merge.
DEFAULT_LIMIT = 50_000
_RECENT_MAX = 1 << 16  # keys in the small sorted level before it merges into the big one
_TOUCHED = "story_index_touched"  # session.info key: an index this transaction changed
_STATE = StoryIndexState.__tablename__
_ANALYZE_AFTER = 20_000  # band rows spilled at once (600 stories) after which PostgreSQL's statistics are renewed
_SPILL_CHUNK = 50_000  # band rows handed to the driver at once


def pack_band_keys(keys) -> bytes:
    """Band keys as stored in `stories.band_keys`: signed 64-bit, little-endian."""
    return struct.pack(f"<{len(keys)}q", *sorted(keys))


def unpack_band_keys(packed: bytes | None) -> np.ndarray:
    return np.frombuffer(packed or b"", dtype="<i8")


@dataclass
class Candidates:
    """Stories in the window sharing band keys with a run, found in memory."""

    keys: list[int]       # band key of each pair
    story_ids: list[int]
    leads: dict[int, int | None]  # story id -> lead item id


class StoryIndex:
    """The band keys, window times and leads of the stories after `banded_through`, in one process.

    `stories` counts the stories held.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._forget()

    def _forget(self) -> None:
        self.loaded = False
        self.generation = self.sequence = self.banded_through = -1
        empty_keys, empty_ids = np.empty(0, np.int64), np.empty(0, np.int32)
        self._levels = [(empty_keys, empty_ids), (empty_keys, empty_ids)]  # (big, recent), each sorted by key
        # By story id - _base: its updated_at as a POSIX timestamp (-inf: not held) and its lead (-1: none).
        self._base = 0
        self._times = np.empty(0, np.float64)
        self._leads = np.empty(0, np.int64)
        self.stories = 0

    def forget(self) -> None:
        with self.lock:
            self._forget()

    # --- reading what the database holds -----------------------------------------------------

    def catch_up(self, session: Session, limit: int) -> int:
        """Bring the index up to what `session` sees; spill the oldest stories past `limit + limit // 5`.

        Returns the sequence number this transaction's changes to stories take. Call it with the
        story-assignment lock held, in the transaction that then assigns stories.
        """
        [state] = select_rows(session, f"SELECT banded_through, sequence, generation FROM {_STATE} WHERE id = 1", ())
        banded_through, sequence, generation = state
        if (not self.loaded or generation != self.generation or sequence < self.sequence
                or banded_through < self.banded_through):
            self._forget()
            self._read(session, "id > ?", banded_through, after=banded_through)
            self.loaded = True
        elif sequence > self.sequence:
            # By ix_stories_touched alone: with `id > banded_through` too, SQLite walked the stories by id.
            self._read(session, "touched > ?", self.sequence, after=banded_through)
        if banded_through > self.banded_through >= 0:  # another worker spilled
            self._drop_through(banded_through)
        self.generation, self.sequence, self.banded_through = generation, sequence, banded_through
        session.info[_TOUCHED] = self
        if self.stories > limit + max(limit // 5, 1):
            self._spill(session, keep=limit)
        return sequence + 1

    def _read(self, session: Session, where: str, value: int, after: int) -> None:
        """Hold the stories `where` selects with ids after `after` (earlier ones have band rows)."""
        self.hold(select_rows(session, f"SELECT id, updated_at, lead_item_id, band_keys FROM {Story.__tablename__} "
                                       f"WHERE {where}", (value,), result_types={1: Story.__table__.c.updated_at.type}),
                  after)

    def hold(self, rows, after: int) -> None:
        """Hold these stories, (id, updated_at, lead item id, packed band keys), or hold their new
        time and lead; those with ids up to `after` have band rows and are left out."""
        if not self.stories:  # nothing held: the arrays start at the first id that can be
            self._base = after + 1
            self._times, self._leads = np.empty(0, np.float64), np.empty(0, np.int64)
        added_keys, added_ids = [], []
        for story_id, updated_at, lead, packed in rows:
            if story_id <= after:
                continue
            at = story_id - self._base
            if at >= len(self._times):
                grown = max(at + 1, 2 * len(self._times), 1024)
                self._times = np.concatenate([self._times, np.full(grown - len(self._times), -np.inf)])
                self._leads = np.concatenate([self._leads, np.full(grown - len(self._leads), -1, np.int64)])
            if self._times[at] == -np.inf:
                keys = unpack_band_keys(packed)
                added_keys.append(keys)
                added_ids.append(np.full(len(keys), story_id, np.int32))
                self.stories += 1
            self._times[at] = updated_at.timestamp()
            self._leads[at] = -1 if lead is None else lead
        if added_keys:
            self._add(np.concatenate(added_keys), np.concatenate(added_ids))

    def _add(self, keys: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        big, recent = self._levels
        recent = _merged(recent, (keys[order], ids[order]))
        if len(recent[0]) > _RECENT_MAX:
            big, recent = _merged(big, recent), (recent[0][:0], recent[1][:0])
        self._levels = [big, recent]

    def _drop_through(self, story_id: int) -> None:
        """Forget the stories up to `story_id`: their bands are in story_bands now."""
        self._levels = [(keys[ids > story_id], ids[ids > story_id]) for keys, ids in self._levels]
        cut = max(0, story_id + 1 - self._base)
        self._times, self._leads = self._times[cut:].copy(), self._leads[cut:].copy()
        self._base += cut
        self.stories = int(np.count_nonzero(self._times > -np.inf))

    def _spill(self, session: Session, keep: int) -> None:
        """Write the band rows of all but the newest `keep` stories to story_bands, sorted by key."""
        held = np.flatnonzero(self._times > -np.inf) + self._base
        through = int(held[-keep - 1])
        keys = np.concatenate([keys[ids <= through] for keys, ids in self._levels])
        ids = np.concatenate([ids[ids <= through] for _, ids in self._levels])
        order = np.lexsort((ids, keys))
        keys, ids = keys[order], ids[order]
        for start in range(0, len(keys), _SPILL_CHUNK):  # Python tuples for a slice at a time, not all
            end = start + _SPILL_CHUNK
            insert_bands(session, list(zip(keys[start:end].tolist(), ids[start:end].tolist())))
        connection = session.connection()
        if connection.dialect.name == "postgresql" and len(keys) >= _ANALYZE_AFTER:
            # Planned on a table it believes small, the next band lookups scanned every row.
            connection.exec_driver_sql(f"ANALYZE {StoryBand.__tablename__}")
        execute_rows(session, f"UPDATE {_STATE} SET banded_through = ? WHERE id = 1", [(through,)])
        self._drop_through(through)
        self.banded_through = through

    # --- answering ---------------------------------------------------------------------------

    def candidates(self, keys: list[int], since: datetime) -> Candidates:
        """(key, story) pairs of the stories held that have one of these band keys and were updated
        at or after `since`, with those stories' leads."""
        wanted = np.sort(np.asarray(keys, dtype=np.int64))  # in order: the searches touch nearby memory
        found_keys, found_ids = [], []
        for level_keys, level_ids in self._levels:
            if not len(level_keys):
                continue
            low = np.searchsorted(level_keys, wanted, side="left")
            high = np.searchsorted(level_keys, wanted, side="right")
            counts = high - low
            total = int(counts.sum())
            if not total:
                continue
            # Positions low[i]..high[i]-1 for every key, in one array.
            starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
            positions = starts + np.arange(total)
            found_keys.append(level_keys[positions])
            found_ids.append(level_ids[positions])
        if not found_keys:
            return Candidates([], [], {})
        found_keys, found_ids = np.concatenate(found_keys), np.concatenate(found_ids)
        within = self._times[found_ids - self._base] >= since.timestamp()
        found_keys, found_ids = found_keys[within], found_ids[within]
        stories = np.unique(found_ids)
        leads = {story_id: (None if lead < 0 else lead)
                 for story_id, lead in zip(stories.tolist(), self._leads[stories - self._base].tolist())}
        return Candidates(found_keys.tolist(), found_ids.tolist(), leads)


def insert_bands(session: Session, rows: list[tuple[int, int]]) -> None:
    """(band key, story id) rows of stories spilled from memory, 33 per story, in key order, straight
    to the driver: COPY on PostgreSQL, executemany on SQLite.

    SQLAlchemy's per-row parameter handling cost more than SQLite's inserts, and psycopg's
    executemany a round trip per row.
    """
    if not rows:
        return
    connection = session.connection()
    table = StoryBand.__tablename__
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} (hash, story_id) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    connection.exec_driver_sql(f"INSERT INTO {table} (hash, story_id) VALUES (?, ?)", rows)


def _merged(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Two key-sorted levels as one, in one pass (no sort of the whole)."""
    if not len(first[0]):
        return second
    if not len(second[0]):
        return first
    at = np.searchsorted(first[0], second[0], side="right")
    return np.insert(first[0], at, second[0]), np.insert(first[1], at, second[1])


_INDEXES: "weakref.WeakKeyDictionary[Engine, StoryIndex]" = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def story_index(session: Session) -> StoryIndex:
    """This process's index of the database `session` is bound to."""
    engine = session.get_bind()
    engine = getattr(engine, "engine", engine)
    with _REGISTRY_LOCK:
        index = _INDEXES.get(engine)
        if index is None:
            index = _INDEXES[engine] = StoryIndex()
        return index


@event.listens_for(Session, "after_rollback")
def _forget_uncommitted(session: Session) -> None:
    # What the index read in the transaction may not be in the database now: read it all again.
    index = session.info.pop(_TOUCHED, None)
    if index is not None:
        index.forget()


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def stories_changed(session: Session, story_ids) -> None:
    """These stories were deleted or got other leads (retention): if any may be held in memory,
    every process reads its index again."""
    [(banded_through,)] = select_rows(session, f"SELECT banded_through FROM {_STATE} WHERE id = 1", ())
    if max(story_ids) > banded_through:
        session.execute(text(f"UPDATE {_STATE} SET generation = generation + 1 WHERE id = 1"))


def record_sequence(session: Session, sequence: int) -> None:
    """This transaction touched stories with `sequence` (the number `StoryIndex.catch_up` returned)."""
    execute_rows(session, f"UPDATE {_STATE} SET sequence = ? WHERE id = 1", [(sequence,)])
