"""The CPU-bound stage of a source run: tagging items and fingerprinting them for stories.

`TaggingEngine` does it in the worker's own process. `TaggingProcesses` does the
same in child processes (`tagging.processes` in the config), so a worker's
tagging runs on other cores than its fetching, parsing and storing: Python
threads share one core for Python code, processes do not. Each child holds its
own spaCy pipeline and prospect tagger, brought up to date with the prospect
list before its next batch when that list changed; a child that dies is
started again and the batch tried once more.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Sequence

from preshed.maps import PreshMap

from intel.settings import ProspectRecord, SignalsConfig
from intel.stories import story_prints
from intel.tagging import ProspectTagger, TaggingModelError, TagInput, TagResult, load_pipeline
from models.stories import StoryPrint

log = logging.getLogger(__name__)

# What a story fingerprint is computed from: (title, summary, link).
StoryText = tuple[str, str, "str | None"]


class TaggingEngine:
    """The prospect tagger for the current prospect list, in this process, with spaCy's vocabulary
    kept from growing for as long as the worker runs."""

    # spaCy keeps every string and lexeme it ever saw in the pipeline's vocabulary, and the news never
    # runs out of new words (names, figures, typos): a worker would grow for as long as it runs. The
    # first `vocab_growth` new strings are kept (the everyday words of the news, which the tokenizer
    # then caches: tokenizing uncached words is many times slower); after that, every batch is tagged
    # in a memory zone, whose new strings and lexemes spaCy frees when the zone ends.
    vocab_growth = 50_000

    def __init__(self, model: str | None, min_score: float, signals: SignalsConfig) -> None:
        self.nlp = load_pipeline(model)
        self.tagger: ProspectTagger | None = None
        self._min_score, self._signals = min_score, signals
        self._vocab_limit: int | None = None
        self._lock = threading.Lock()  # spaCy objects are not documented as thread-safe

    def set_prospects(self, records: Sequence[ProspectRecord]) -> int:
        """Match exactly these prospects from now on; how many records were added, changed or removed."""
        with self._lock:
            if self.tagger is None:
                self.tagger = ProspectTagger(records, self.nlp, min_score=self._min_score, signals=self._signals)
                return len(records)
            return self.tagger.update(records)

    def analyse(self, inputs: Sequence[TagInput], story_texts: Sequence[StoryText] = ()
                ) -> tuple[list[TagResult], list[StoryPrint]]:
        """Tag items and fingerprint (other or the same) items for story clustering."""
        prints = story_prints(list(story_texts)) if story_texts else []
        return (self.tag(inputs) if inputs else []), prints

    def tag(self, inputs: Sequence[TagInput]) -> list[TagResult]:
        if self.tagger is None:
            raise RuntimeError("set_prospects must come before tagging")
        with self._lock:
            strings = self.nlp.vocab.strings
            if self._vocab_limit is None:
                self._vocab_limit = len(strings) + self.vocab_growth
            if len(strings) < self._vocab_limit:
                return self.tagger.tag_many(inputs)
            # Results hold plain Python values only (str, float, tuples), never a Doc, Span or
            # Lexeme, so nothing kept after the zone points into what it freed.
            with self.nlp.memory_zone():
                results = self.tagger.tag_many(inputs)
            compact_string_table(strings)
            return results

    def close(self) -> None:
        pass


class TaggingProcessError(RuntimeError):
    """A tagging child process failed on a batch or could not be kept running."""


class TaggingProcesses:
    """`TaggingEngine`'s work in `count` child processes; a calling thread takes an idle child.

    The prospect list is sent to a child only when it changed since that child last saw it,
    just before the child's next batch.
    """

    def __init__(self, count: int, model: str | None, min_score: float, signals: SignalsConfig) -> None:
        if count < 1:
            raise ValueError("TaggingProcesses needs at least one process")
        self._settings = (model, min_score, signals)
        self._records: tuple[int, Sequence[ProspectRecord]] = (0, ())  # (generation, records)
        self._children = [_Child(self._settings) for _ in range(count)]
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        for child in self._children:
            child.start()
            self._idle.put(child)
        # A model that cannot load fails the worker at start-up, as it does without child processes.
        self._children[0].wait_ready()
        log.info("tagging in %d child process(es): %s", count, self._children[0].description)

    @property
    def pids(self) -> list[int]:
        """Process ids of the running children (for monitoring and benchmarks)."""
        return [child.pid for child in self._children if child.pid is not None]

    def set_prospects(self, records: Sequence[ProspectRecord]) -> int:
        """Children take the new list before their next batch; returns how many records there are."""
        self._records = (self._records[0] + 1, list(records))
        return len(records)

    def prepare(self) -> None:
        """Start every child and give it the current prospect list now (start-up cost, not a run's)."""
        taken = [self._idle.get() for _ in self._children]
        try:
            for child in taken:
                self._call(child, lambda c: None)
        finally:
            for child in taken:
                self._idle.put(child)

    def analyse(self, inputs: Sequence[TagInput], story_texts: Sequence[StoryText] = ()
                ) -> tuple[list[TagResult], list[StoryPrint]]:
        child = self._idle.get()
        try:
            return self._call(child, lambda c: c.request("analyse", list(inputs), list(story_texts)))
        finally:
            self._idle.put(child)

    def _call(self, child: "_Child", work):
        for attempt in (1, 2):
            try:
                generation, records = self._records
                if child.generation != generation:
                    child.request("prospects", records)
                    child.generation = generation
                return work(child)
            except _ChildGone as exc:
                log.error("tagging child process %s stopped (%s)%s", child.pid, exc,
                          ": starting another and trying the batch again" if attempt == 1 else "")
                child.restart()
        raise TaggingProcessError("tagging child process stopped twice on the same batch")

    def close(self) -> None:
        for child in self._children:
            child.stop()


class _ChildGone(Exception):
    """The child process is not there any more (killed, crashed, out of memory)."""


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, settings: tuple) -> None:
        self._settings = settings
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self.generation = -1  # the prospect list it holds (-1: none yet)
        self.description = ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        # spawn, not fork: the worker has threads (and SQLAlchemy pools) that a fork would copy mid-use.
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        self._process = context.Process(target=_child_main, args=(child_end, *self._settings),
                                        name="intel-tagging", daemon=True)
        self._process.start()
        child_end.close()
        self._conn, self._ready, self.generation = parent_end, False, -1

    def wait_ready(self) -> None:
        if self._ready:
            return
        kind, payload = self._receive()
        if kind == "error":
            self.stop()
            raise TaggingModelError(payload)
        self._ready, self.description = True, payload

    def request(self, kind: str, *args):
        self.wait_ready()
        try:
            self._conn.send((kind, *args))
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError) as exc:
            raise _ChildGone(type(exc).__name__) from exc
        status, payload = self._receive()
        if status == "error":
            raise TaggingProcessError(f"tagging child process failed: {payload}")
        return payload

    def _receive(self):
        try:
            return self._conn.recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            code = self._process.exitcode if self._process else None
            raise _ChildGone(f"exit code {code}" if code is not None else type(exc).__name__) from exc

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            self._conn.send(("stop",))
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._process = None


def _child_main(conn: Connection, model: str | None, min_score: float, signals: SignalsConfig) -> None:
    """A tagging child: answers requests on `conn` until told to stop or the parent goes away."""
    from intel.service import return_free_memory

    try:
        engine = TaggingEngine(model, min_score, signals)
    except Exception as exc:  # the parent raises it at start-up: the worker cannot tag
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", f"spaCy {', '.join(engine.nlp.pipe_names) or 'blank'} pipeline "
                        f"({model or 'spacy.blank(en)'})"))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the worker stopped or was killed
            return
        kind, args = request[0], request[1:]
        if kind == "stop":
            return
        try:
            if kind == "prospects":
                reply = engine.set_prospects(*args)
                return_free_memory()  # parsing the records left garbage behind (see intel.service)
            elif kind == "analyse":
                reply = engine.analyse(*args)
            else:
                raise ValueError(f"unknown request {kind!r}")
        except Exception:
            conn.send(("error", traceback.format_exc(limit=8)))
            continue
        conn.send(("ok", reply))


def compact_string_table(strings) -> bool:
    """Rebuild the hash table of spaCy's StringStore at the size its strings need, once it has
    grown past that; True when it was rebuilt.

    A memory zone frees its strings but only marks their cells in the table (preshed's open
    addressing) as deleted, and a deleted cell counts as filled until the table next grows, so the
    new words of later zones make it double while the strings it holds stay as many
    (bench/ingest.py --memory-only: 131,072 cells of 16 bytes for 55,000 strings after 20,000 items,
    524,288 after 90,000). A rebuilt table holds the same keys and string pointers (the StringStore
    owns the strings, not the table), so every lookup answers as before. Call it outside a memory
    zone: inside one the table holds the zone's strings too.
    """
    table = strings._map
    needed = _STRING_TABLE_MIN
    while needed * 3 <= (len(strings) + 1) * 5:  # preshed grows a table once it is 60% filled
        needed *= 2
    if table.capacity <= needed:
        return False
    rebuilt = PreshMap(needed)
    for key, value in table.items():
        rebuilt[key] = value
    strings._map = rebuilt
    return True


_STRING_TABLE_MIN = 8  # preshed's own initial size
