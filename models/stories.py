"""Stories: near-duplicate items from several sources clustered into one (queries only).

The pipeline fingerprints items (intel/stories.py) and calls `assign_stories`
in the same transaction that stores them. Feeds then show one entry per story:
its lead item (the first seen), which carries the union of the prospects its
copies mention, says who else reported it, and gets a new `updated` time each
time another source joins.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from itertools import chain, groupby
from datetime import datetime, timedelta
from operator import eq
from typing import Mapping

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from models.bulk import bound, execute_in, execute_rows, insert_values, select_in, update_by_id
from models.story_index import DEFAULT_LIMIT, StoryIndex, pack_band_keys, record_sequence, story_index
from models.tables import Item, Mention, Story, StoryBand

URL_BAND = -1  # the band that holds the canonical link: the same link is the same story outright
_CANDIDATES = 5
_IN_CHUNK = 500
# Items whose candidates' signatures are read in one statement (at most 5 each: one IN list).
_PREFETCH = 100
_PACKED = struct.Struct(">128I")  # a signature as stored: 128 big-endian uint32 (migration 0008)


@dataclass(frozen=True)
class StoryPrint:
    signature: tuple[int, ...]
    bands: tuple[tuple[int, int], ...]  # (band number, its key: a signed 64-bit hash)
    has_link: bool = False


def assign_stories(session: Session, source_id: str, prints: Mapping[int, StoryPrint], *, now: datetime,
                   window: timedelta, threshold: float, in_memory: int = DEFAULT_LIMIT) -> int:
    """Put each new item of this run (by item id) into an existing story or a new one.

    A handful of queries per run, not per item: every band of every new item is
    looked up at once, the signatures of the candidates to score are read for a
    hundred items at a time, candidates are judged in memory, and stories the run
    itself starts are candidates for its later items; new stories, their bands,
    the items' story ids and the counters of joined stories are written as
    multi-row statements. Returns how many items joined a story that another
    item started.

    Candidates come from the band keys of the newest `in_memory` stories held in
    this process (models/story_index.py) and from story_bands for older ones.

    On PostgreSQL the caller holds `serialize_story_assignment` for the
    transaction, so two workers storing copies of one story at the same moment
    cannot both start it.
    """
    if not prints:
        return 0
    index = story_index(session)
    with index.lock:
        sequence = index.catch_up(session, in_memory)
        return _assign(session, source_id, prints, index, sequence, since=now - window, now=now,
                       threshold=threshold)


def _assign(session: Session, source_id: str, prints: Mapping[int, StoryPrint], index: StoryIndex,
            sequence: int, *, since: datetime, now: datetime, threshold: float) -> int:
    order = sorted(prints)  # the first seen leads
    hashes = {digest for item_id in order for _, digest in prints[item_id].bands}
    known = _known_stories(session, hashes, since, index)
    by_hash, signatures = known.by_hash, known.signatures
    started: list[_NewStory] = []
    joins: list[tuple[object, int]] = []  # (a story id, or a _NewStory of this run; the joining item's id)
    for start in range(0, len(order), _PREFETCH):
        group = order[start:start + _PREFETCH]
        # Candidates ranked for a hundred items at once, and the signatures of the stored ones read
        # in one statement. A story this run starts on the way changes the ranking of the items
        # sharing a band with it: those are ranked again (reading any signature still missing).
        ranking = {item_id: _ranked(prints[item_id], by_hash) for item_id in group}
        _read_signatures(session, signatures, [story for _, ranked in ranking.values() for story in ranked])
        changed: set[int] = set()  # band keys a story started since `ranking` was made now holds
        for item_id in group:
            fingerprint = prints[item_id]
            digests = [digest for _, digest in fingerprint.bands]
            linked, ranked = (ranking[item_id] if changed.isdisjoint(digests) else _ranked(fingerprint, by_hash))
            match, score = _best_match(session, fingerprint, linked, ranked, signatures)
            if match is None or score < threshold:
                story = _NewStory(lead_item_id=item_id, fingerprint=fingerprint)
                started.append(story)
                signatures[story] = fingerprint.signature  # later items of this run may join it
                for digest in digests:  # (no empty set made for each: most keys are new)
                    holders = by_hash.get(digest)
                    if holders is None:
                        by_hash[digest] = {story}
                    else:
                        holders.add(story)
                changed.update(digests)
                continue
            joins.append((match, item_id))
            if isinstance(match, _NewStory):
                match.item_count += 1
    joined_known = [story for story, _ in joins if not isinstance(story, _NewStory)]
    # Before this run's items join them: which of these stories the source was in already.
    carried = _stories_carried_by(session, source_id, set(joined_known))
    _insert_started(session, started, now, sequence)
    members = [(story.id, story.lead_item_id) for story in started]
    members += [(story.id if isinstance(story, _NewStory) else story, item_id) for story, item_id in joins]
    _set_story_ids(session, members)
    if _join_known(session, joined_known, carried, known, now, sequence) or started:
        record_sequence(session, sequence)
    leads = [(story.lead_item_id if isinstance(story, _NewStory) else known.leads.get(story), item_id)
             for story, item_id in joins]
    _merge_mentions(session, source_id, [(lead, item_id) for lead, item_id in leads if lead is not None])
    return len(joins)


class _NewStory:
    """A story this run starts; its id is known once inserted."""

    __slots__ = ("lead_item_id", "fingerprint", "item_count", "id")

    def __init__(self, lead_item_id: int, fingerprint: StoryPrint) -> None:
        self.lead_item_id, self.fingerprint, self.item_count, self.id = lead_item_id, fingerprint, 1, None


@dataclass
class _Known:
    """Stories in the window sharing a band with this run's items."""

    by_hash: dict[int, set]          # band key -> story ids
    signatures: dict[object, tuple]  # story id -> MinHash signature of its lead, once it was scored
    leads: dict[int, int | None]     # story id -> lead item id, for every story in the window


def _known_stories(session: Session, hashes: set[int], since: datetime, index: StoryIndex) -> _Known:
    """Stories in the window sharing band keys with these: those held in memory, and those with
    band rows (stories spilled from memory, or stored before migration 0009; none in a new database)."""
    held = index.candidates(list(hashes), since)
    candidates: dict[int, set] = {}
    for digest, story_id in zip(held.keys, held.story_ids):
        candidates.setdefault(digest, set()).add(story_id)
    leads = held.leads  # a dict of its own: the banded stories' leads join it
    if index.banded_through > 0:
        _banded_candidates(session, list(hashes), since, candidates, leads)
    # Signatures are read later, only for the candidates scored: a band shared by chance (wording
    # many items share) makes thousands of stories candidates, more as the database grows, and their
    # signatures were the worker's biggest passing allocation (bench/ingest.py --memory-only at
    # 250,000 stories: 7,000-15,000 candidates for one 50-item run, 9-18 MiB of signature text,
    # 30-68 MiB decoded). Only the five sharing the most bands with an item are ever compared.
    known = _Known({}, {}, leads)
    for digest, found in candidates.items():  # stories outside the window are no candidates
        within = {story_id for story_id in found if story_id in leads}
        if within:
            known.by_hash[digest] = within
    return known


def _banded_candidates(session: Session, hashes: list[int], since: datetime, candidates: dict[int, set],
                       leads: dict[int, int | None]) -> None:
    """Add the stories with band rows sharing these keys to `candidates`, and the leads of those in
    the window to `leads`."""
    if session.connection().dialect.name == "sqlite":
        for story_id, digest, lead, within in _bands_in_window(session, hashes, since):
            candidates.setdefault(digest, set()).add(story_id)
            if within:
                leads[story_id] = lead
        return
    # Two indexed steps, not one join: PostgreSQL planned the join (with statistics that lag a big
    # run's own inserts) as a scan of every story per lookup. Both straight to the driver: wording
    # many items share makes thousands of stories candidates (2,800 a 50-item run at 50,000
    # stories), and SQLAlchemy's compiling of their IN lists cost more than both lookups.
    banded = _bands_with(session, hashes)
    for story_id, digest in banded:
        candidates.setdefault(digest, set()).add(story_id)
    leads.update(select_in(
        session, f"SELECT id, lead_item_id FROM {Story.__tablename__} WHERE updated_at >= ? AND id IN ({{in}})",
        (bound(session, Story.__table__.c.updated_at, since),), list({story_id for story_id, _ in banded})))


def _ranked(fingerprint: StoryPrint, by_hash) -> tuple[object | None, list]:
    """(the newest story sharing this fingerprint's canonical link, or None; else the candidate stories
    sharing the most bands with it, at most five, most first, equals the newest first)."""
    sharing = []
    for band, digest in fingerprint.bands:
        stories = by_hash.get(digest)
        if stories:
            if band == URL_BAND:
                return max(stories, key=_recency), []
            sharing.append(stories)
    if not sharing:
        return None, []
    shared = Counter(chain.from_iterable(sharing))  # counted in C
    # Equals by age, not in the order the sets iterate: that order follows the order the band rows
    # came back in, which PostgreSQL does not fix, so a copy as like two stories joined either. The
    # newest first: on the differential check's mixed feeds (4,499 items, copies of 500 stories among
    # unrelated items and shared boilerplate) pairwise precision 0.391 in set order, 0.376 oldest
    # first, 0.432 newest first, recall 0.609 each. Sorted by count with a key in C first, then each
    # group of equals needed (a sort key in Python per candidate cost 47 us an item, this ~10).
    ranked: list = []
    for _, equals in groupby(sorted(shared, key=shared.__getitem__, reverse=True), key=shared.__getitem__):
        ranked += _newest_first(list(equals))
        if len(ranked) >= _CANDIDATES:
            break
    return None, ranked[:_CANDIDATES]


def _newest_first(stories: list) -> list:
    """The stories this run started, the last started first; then stored stories, the highest id first."""
    if len(stories) == 1:
        return stories
    if not any(isinstance(story, _NewStory) for story in stories):
        return sorted(stories, reverse=True)  # stored ids only: compared in C, no key per story
    return sorted(stories, key=_recency, reverse=True)


def _recency(story) -> tuple[int, int]:
    """How new a story is: this run's after every stored one, each kind in the order it came."""
    return (1, story.lead_item_id) if isinstance(story, _NewStory) else (0, story)


def _best_match(session: Session, fingerprint: StoryPrint, linked, ranked: list,
                signatures: dict) -> tuple[object | None, float]:
    """The candidate story most like this fingerprint and how alike they are: the story sharing its
    canonical link outright (1.0), else the best of the `ranked` by estimated Jaccard similarity.
    (None, 0.0) without candidates."""
    if linked is not None:
        return linked, 1.0
    _read_signatures(session, signatures, ranked)
    scored = [(similarity(fingerprint.signature, signatures.get(story, ())), story) for story in ranked]
    # max() keeps the first of equals, as ranked: more shared bands, then the newer story
    score, story = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return story, score


def _read_signatures(session: Session, signatures: dict, stories) -> None:
    """Add the stored signatures of these candidates that `signatures` lacks (stories this run
    started are in it from the start)."""
    missing = [story for story in stories if story not in signatures]
    if missing:
        signatures.update(_stored_signatures(session, missing))


def _stored_signatures(session: Session, story_ids: list[int]) -> dict[int, tuple]:
    """The MinHash signatures of these stored stories' leads (straight to the driver)."""
    if not story_ids:
        return {}
    rows = select_in(session, f"SELECT id, signature FROM {Story.__tablename__} WHERE id IN ({{in}})", (), story_ids)
    return {story_id: unpacked_signature(signature) for story_id, signature in rows}


def packed_signature(signature) -> bytes:
    """A MinHash signature as stored: its values as big-endian uint32 (6 us to read back; JSON took 36)."""
    if len(signature) == _PACKED.size // 4:
        return _PACKED.pack(*signature)
    return struct.pack(f">{len(signature)}I", *signature)


def unpacked_signature(packed: bytes | None) -> tuple[int, ...]:
    if not packed:
        return ()
    if len(packed) == _PACKED.size:
        return _PACKED.unpack(packed)
    return struct.unpack(f">{len(packed) // 4}I", packed)


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of two MinHash signatures of the same length."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(map(eq, a, b)) / len(a)


def _bands_with(session: Session, hashes: list[int]) -> list[tuple[int, int]]:
    """PostgreSQL: (story id, hash) of stored bands with these hashes, thousands per run, so straight to
    the driver (SQLAlchemy's compiling of the IN lists cost more than the index lookups)."""
    driver = session.connection().connection.driver_connection  # plain tuples, no Row per row
    found: list[tuple[int, int]] = []
    for start in range(0, len(hashes), 5000):
        found.extend(driver.execute(f"SELECT story_id, hash FROM {StoryBand.__tablename__} WHERE hash = ANY(%s)",
                                    (hashes[start:start + 5000],)).fetchall())
    return found


def _bands_in_window(session: Session, hashes: list[int], since: datetime) -> list[tuple[int, int, int | None, int]]:
    """SQLite: (story id, hash, the story's lead item id, whether it is in the window) of stored bands with
    these hashes, in one join through the driver.

    The window check was a second statement with the candidates' ids as IN lists (2,800 ids a 50-item
    run at 50,000 stories): binding them, SQLite's building a temporary index of them, and the rows
    back cost more than the join's lookups in ix_stories_window, which holds the three columns asked
    for. CROSS JOIN keeps the bands first (the order, by hash, the band lookup alone returned them in).
    """
    # The sqlite3 connection of this transaction itself: its plain tuples, not a Row object per row (4,000
    # rows a run at 50,000 stories, and making the Rows cost more than the join).
    driver = session.connection().connection.driver_connection
    edge = bound(session, Story.__table__.c.updated_at, since)
    found: list[tuple[int, int, int | None, int]] = []
    for start in range(0, len(hashes), _IN_CHUNK):
        chunk = hashes[start:start + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.extend(driver.execute(
            f"SELECT b.story_id, b.hash, s.lead_item_id, s.updated_at >= ? FROM {StoryBand.__tablename__} AS b "
            f"CROSS JOIN {Story.__tablename__} AS s INDEXED BY ix_stories_window "
            f"WHERE b.hash IN ({marks}) AND s.id = b.story_id", (edge, *chunk)).fetchall())
    return found


def _insert_started(session: Session, started: list[_NewStory], now: datetime, sequence: int) -> None:
    """New stories, with their band keys (multi-row INSERT ... RETURNING their ids)."""
    # Matched by lead item (one per new story), not by order: see models.bulk.insert_values.
    by_lead = {story.lead_item_id: story for story in started}
    rows = [(s.lead_item_id, packed_signature(s.fingerprint.signature),
             pack_band_keys({key for _, key in s.fingerprint.bands}), sequence, s.item_count, 1, now, now)
            for s in started]
    for story_id, lead_item_id in insert_values(
            session, Story.__table__, ("lead_item_id", "signature", "band_keys", "touched", "item_count",
                                       "source_count", "first_seen_at", "updated_at"), rows,
            returning=("id", "lead_item_id")):
        by_lead[lead_item_id].id = story_id


def _set_story_ids(session: Session, members: list[tuple[int, int]]) -> None:
    """(story id, item id) pairs: one executemany of an UPDATE by primary key."""
    update_by_id(session, Item.__table__, "story_id", members)


def _stories_carried_by(session: Session, source_id: str, story_ids: set[int]) -> set[int]:
    """Which of these stories already hold an item of this source."""
    if not story_ids:
        return set()
    return {story_id for story_id, in select_in(
        session, f"SELECT DISTINCT story_id FROM {Item.__tablename__} WHERE source_id = ? AND story_id IN ({{in}})",
        (source_id,), list(story_ids))}


def _join_known(session: Session, joined: list[int], carried: set[int], known: _Known, now: datetime,
                sequence: int) -> bool:
    """Stories other runs started gain this run's copies; a new source re-dates the story and its lead
    (and marks it `touched`, so every worker's index reads its new time). Returns whether any was re-dated."""
    if not joined:
        return False
    copies: dict[int, int] = {}
    for story_id in joined:
        copies[story_id] = copies.get(story_id, 0) + 1
    newly = [story_id for story_id in copies if story_id not in carried]
    execute_rows(session, f"UPDATE {Story.__tablename__} SET item_count = item_count + ?, "
                          "source_count = source_count + ? WHERE id = ?",
                 [(count, int(story_id not in carried), story_id) for story_id, count in copies.items()])
    leads = [known.leads[story_id] for story_id in newly if known.leads.get(story_id) is not None]
    execute_in(session, f"UPDATE {Story.__tablename__} SET updated_at = ?, touched = ? WHERE id IN ({{in}})",
               (bound(session, Story.__table__.c.updated_at, now), sequence), newly)
    # Feed readers see the lead entry change: "also reported by" grew.
    execute_in(session, f"UPDATE {Item.__tablename__} SET updated_at = ? WHERE id IN ({{in}})",
               (bound(session, Item.__table__.c.updated_at, now),), leads)
    return bool(newly)


def _merge_mentions(session: Session, source_id: str, pairs: list[tuple[int, int]]) -> None:
    """The lead entry stands for the story: a prospect only a copy names still finds it.

    `pairs`: (lead item id, copy item id), in the order the copies were seen.
    """
    if not pairs:
        return
    ids = list({item_id for pair in pairs for item_id in pair})
    mentions: dict[int, list] = {}
    for item_id, prospect_id, score, evidence in select_in(
            session, f"SELECT item_id, prospect_id, score, evidence FROM {Mention.__tablename__} "
                     "WHERE item_id IN ({in}) ORDER BY item_id, prospect_id", (), ids,
            result_types={3: Mention.__table__.c.evidence.type}):
        mentions.setdefault(item_id, []).append((prospect_id, score, evidence))
    have = {lead: {prospect_id for prospect_id, _, _ in mentions.get(lead, ())} for lead, _ in pairs}
    added = []
    for lead, copy in pairs:
        for prospect_id, score, evidence in mentions.get(copy, ()):
            if prospect_id not in have[lead]:
                have[lead].add(prospect_id)
                added.append((lead, prospect_id, score, [f"copy: as reported by {source_id}", *(evidence or [])]))
    if not added:
        return
    # A mention carries its item's sort time (a prospect's feed is one index range scan).
    sort_at = dict(select_in(session, f"SELECT id, sort_at FROM {Item.__tablename__} WHERE id IN ({{in}})", (),
                             [lead for lead, *_ in added], result_types={1: Item.__table__.c.sort_at.type}))
    insert_values(session, Mention.__table__, ("item_id", "prospect_id", "score", "evidence", "sort_at"),
                  [(*mention, sort_at[mention[0]]) for mention in added])


def one_entry_per_story(query):
    """Restrict an item query to story leads and items in no story (feeds show a story once)."""
    lead_or_orphan = exists().where(Story.id == Item.story_id,
                                    or_(Story.lead_item_id == Item.id, Story.lead_item_id.is_(None)))
    return query.where(or_(Item.story_id.is_(None), lead_or_orphan))


def also_reported_by(item: Item) -> list[str]:
    """Names of the other sources that carried this item's story, first reporter first."""
    story = item.story
    if story is None:
        return []
    names: list[str] = []
    for other in story.items:
        if other.source_id == item.source_id:
            continue
        name = (other.source.title if other.source is not None else None) or other.source_id
        if name not in names:
            names.append(name)
    return names


def story_members(session: Session, story_id: int) -> list[Item]:
    return list(session.scalars(select(Item).where(Item.story_id == story_id).order_by(Item.id)))


# Names the cluster-wide story lock (see models/locks.py for the others): "PROS" 3.
STORY_LOCK = 0x50524F53_0003 & 0x7FFFFFFF


def serialize_story_assignment(session: Session) -> None:
    """Wait until no other transaction is clustering stories; released when `session` commits.

    Two workers storing copies of one story at the same moment would each look
    for the story, find none (neither sees the other's uncommitted rows) and
    both start it. Taken first in the run's transaction, before any row is
    written, so it cannot deadlock with the row locks the run takes later.
    Advisory locks are per database, so the key includes the schema: prospect-intel
    installations (or test runs) in other schemas of the same database never wait
    on each other. SQLite needs nothing: its write lock lets one writer in at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                        {"key": STORY_LOCK})
