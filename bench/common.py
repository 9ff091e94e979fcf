"""Shared pieces of the benchmarks: realistic companies and feeds, a loopback feed farm, timing helpers.

The feed farm runs in its own process so the server's CPU time is never billed
to the system being measured, and both systems under comparison talk to the
very same server.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` from a checkout, without installing
    sys.path.insert(0, str(ROOT))

EPOCH = 1_767_225_600  # 2026-01-01: feeds are dated before "now", as real ones are
WORDS = ("market growth quarter revenue results guidance customers cloud data platform strategy office "
         "plant factory partners analysts shares investors software service network supply chain energy "
         "retail logistics security compliance pricing contract region launch team board program").split()
EVENTS = ("raises $40 million in Series B funding", "to acquire a rival for $1.2 billion",
          "names a new chief executive officer", "is hiring 300 engineers for its new hub",
          "announces layoffs of 5% of staff", "opens a new plant in Texas", "launches a new platform",
          "signs a partnership with a cloud provider", "wins a $300 million government contract",
          "reports record quarterly earnings", "files for an IPO on Nasdaq",
          "discloses a data breach affecting customers", "issues an RFP to replace its ERP system",
          "shares rise after analyst upgrade", "CFO to speak at industry conference")
SUFFIXES = ("Inc.", "Ltd.", "GmbH", "AG", "Corp.", "plc", "S.A.", "N.V.", "LLC", "Group")
STEMS = ("Northwind Southgate Bluepeak Redcliff Silverline Ironbridge Greenfield Brightwater Oakridge "
         "Stonehaven Clearview Highmoor Eastlake Westbrook Fairhaven Kingsport Goldcrest Riverton Lakeshore "
         "Pinecrest Harborview Summit Crescent Meridian Horizon Pioneer Keystone Landmark Sterling Vanguard "
         "Beacon Cobalt Granite Falcon Orion Atlas Zephyr Helix Quantum Vertex").split()
TRADES = ("Analytics Logistics Robotics Biotech Foods Energy Systems Networks Payments Materials Dynamics "
          "Health Insurance Capital Motors Aerospace Semiconductors Software Textiles Mining Pharma "
          "Telecom Retail Media Labs Instruments Chemicals Foundry Marine Solar").split()


# --- companies and prospects ---------------------------------------------------------------

def companies(count: int, seed: int = 7) -> list[dict]:
    """`count` prospect records: every real listed company pytickersymbols knows, then made-up ones."""
    from pytickersymbols import PyTickerSymbols

    records, seen = [], set()
    for stock in PyTickerSymbols().get_all_stocks():
        name = stock["name"].strip()
        slug = _slug(name)
        if not slug or slug in seen:
            continue
        seen.add(slug)
        website = (stock.get("metadata") or {}).get("website") or ""
        domain = re.sub(r"^(https?://)?(www\.)?", "", website).split("/")[0].lower()
        records.append({"id": slug, "name": name, "tickers": [stock["symbol"]] if stock.get("symbol") else [],
                        "domains": [domain] if "." in domain else [],
                        "industry": ((stock.get("industries") or [""])[0] or "")[:200] or None})
        if len(records) == count:
            return records
    rnd = random.Random(seed)
    while len(records) < count:
        name = f"{rnd.choice(STEMS)} {rnd.choice(TRADES)} {rnd.choice(STEMS)} {rnd.choice(SUFFIXES)}"
        slug = _slug(name)
        if slug in seen:
            continue
        seen.add(slug)
        records.append({"id": slug, "name": name})
    return records


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:120]


def owners_for(records: list[dict], reps: int = 50) -> list[dict]:
    """Give every prospect an owner (a salesperson) and a stage, as a CRM export would."""
    stages = ("prospecting", "qualifying", "proposing", "negotiating", "delivering", "servicing")
    return [{**r, "owner": [f"rep{i % reps}@example.com"], "stage": stages[i % len(stages)]}
            for i, r in enumerate(records)]


# --- feeds ---------------------------------------------------------------------------------

def vocabulary() -> list[str]:
    """Words of real business headlines (the labelled tagging set), so generated text is as varied
    as news: near-duplicate detection must not see every generated item as one story."""
    words: set[str] = set()
    with open(ROOT / "tests" / "data" / "tagging" / "labelled.jsonl", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            words.update(w for w in re.findall(r"[A-Za-z][a-z]+", f"{record['title']} {record['summary']}")
                         if len(w) > 2)
    return sorted(words | set(WORDS))


_VOCABULARY: list[str] = []
_VOCABULARY_LOCK = threading.Lock()


def feed_xml(feed: int, items: int, names: list[str], generation: int = 0, novel_words: bool = False) -> bytes:
    """One RSS 2.0 feed; `generation` n holds entirely new items (a feed that moved on n times).

    `novel_words`: every item also names a person and a firm no item named before and quotes a
    figure, as real news does: the words a long-running tagger has never seen keep coming.
    """
    with _VOCABULARY_LOCK:  # the farm renders feeds on several threads: all must see the whole list
        if not _VOCABULARY:
            _VOCABULARY.extend(vocabulary())
    rnd = random.Random(feed * 1_000_003 + generation)

    def words(count: int) -> str:
        return " ".join(rnd.choice(_VOCABULARY) for _ in range(count))

    parts = []
    for j in range(items):
        name = rnd.choice(names)
        other = rnd.choice(names)
        event = rnd.choice(EVENTS) if rnd.random() < 0.5 else words(5)
        title = f"{name} {event} {words(3)}"
        news = ""
        if novel_words:
            news = (f" {rnd.choice(FIRST_NAMES)} {_made_up_word(rnd)}, a partner at {_made_up_word(rnd)} Capital, "
                    f"put the deal at ${rnd.randint(1, 9999) / 10:.1f} million.")
        summary = (f"<p>{name} said on Tuesday that {words(30)}. Analysts compared it with {other}; "
                   f"{words(15)}.{news}</p>")
        when = EPOCH - feed * 3600 - generation * 600 - j * 60
        parts.append(
            f"<item><title>{_x(title)}</title><link>https://news{feed}.example.com/{generation}/{j}</link>"
            f"<guid isPermaLink=\"false\">feed{feed}-g{generation}-{j}</guid>"
            f"<pubDate>{email.utils.formatdate(when, usegmt=True)}</pubDate>"
            f"<description>{_x(summary)}</description></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Industry news {feed}</title><link>https://news{feed}.example.com/</link>"
            f"<description>Business news wire {feed}</description>{''.join(parts)}</channel></rss>").encode()


FIRST_NAMES = "Anna Ben Carla David Elena Farid Grace Hiro Ines Jonas Kemi Liam Maya Noor Omar Priya".split()
SYLLABLES = "ka lo ver sen tri mo dal ix ren zu por an bel cor eth fin gar hul".split()


def _made_up_word(rnd: random.Random) -> str:
    # Three to five of 18 syllables: some two million forms, so the names keep being new.
    return "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(3, 5))).capitalize()


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- the loopback feed farm ----------------------------------------------------------------

@dataclass
class FarmStats:
    requests: int
    conditional: int
    not_modified: int
    full: int


def _serve_farm(port_queue, feeds: int, items: int, names: list[str], rolling: bool, novel_words: bool) -> None:
    """Serve /feeds/{n}.xml. Static: the same document with validators, 304 when unchanged.
    Rolling: each fetch of a feed returns a new generation of items (a busy wire)."""
    bodies: dict[int, tuple[bytes, str]] = {}
    fetches: dict[int, int] = {}
    counts = {"requests": 0, "conditional": 0, "not_modified": 0, "full": 0}
    lock = threading.Lock()
    last_modified = email.utils.formatdate(EPOCH, usegmt=True)

    def document(feed: int) -> tuple[bytes, str]:
        if rolling:
            with lock:
                generation = fetches[feed] = fetches.get(feed, -1) + 1
            body = feed_xml(feed, items, names, generation, novel_words)
            return body, f'"{feed}-{generation}"'
        if feed not in bodies:
            body = feed_xml(feed, items, names)
            bodies[feed] = (body, f'"{hashlib.sha1(body).hexdigest()[:16]}"')
        return bodies[feed]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as web servers set on keep-alive connections: http.server writes the headers
        # and the body separately, and with Nagle on, the body's last segment waits for the client's
        # delayed ACK of the headers: ~40 ms per response, which both clients sat out.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/stats":
                self._send(200, json.dumps(counts).encode(), {"Content-Type": "application/json"})
                return
            match = re.fullmatch(r"/feeds/(\d+)\.xml", self.path)
            if not match or int(match.group(1)) >= feeds:
                self._send(404, b"no such feed", {})
                return
            conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
            with lock:
                counts["requests"] += 1
                counts["conditional"] += conditional
            feed = int(match.group(1))
            if not rolling and conditional:
                _, etag = document(feed)
                if self.headers.get("If-None-Match") == etag or (
                        "If-None-Match" not in self.headers
                        and self.headers.get("If-Modified-Since") == last_modified):
                    with lock:
                        counts["not_modified"] += 1
                    self._send(304, b"", {"ETag": etag, "Last-Modified": last_modified})
                    return
            body, etag = document(feed)
            with lock:
                counts["full"] += 1
            self._send(200, body, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag,
                                   "Last-Modified": last_modified})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_queue.put(server.server_address[1])
    server.serve_forever()


class FeedFarm:
    """`feeds` feeds of `items` items each on 127.0.0.1, served from a separate process."""

    def __init__(self, feeds: int, items: int, names: list[str], rolling: bool = False,
                 novel_words: bool = False) -> None:
        self.feeds, self.items = feeds, items
        context = multiprocessing.get_context("spawn")
        ports = context.Queue()
        self.process = context.Process(target=_serve_farm, args=(ports, feeds, items, names, rolling, novel_words),
                                       daemon=True)
        self.process.start()
        self.port = ports.get(timeout=60)

    def url(self, feed: int) -> str:
        return f"http://127.0.0.1:{self.port}/feeds/{feed}.xml"

    def urls(self) -> list[str]:
        return [self.url(n) for n in range(self.feeds)]

    def stats(self) -> FarmStats:
        with urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as response:
            return FarmStats(**json.loads(response.read()))

    def warm(self, workers: int = 8) -> None:
        """Render every document once, so neither system pays for the server's first render."""
        from concurrent.futures import ThreadPoolExecutor

        def get(url: str) -> None:
            with urlopen(url, timeout=60) as response:
                response.read()

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(get, self.urls()))

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --- config and measuring ------------------------------------------------------------------

def write_config(folder: Path, database: str, urls: list[str], prospects: list[dict], *, workers: int = 4,
                 per_host: int = 4, tagging_model: str | None = None, tagging_processes: int = 0,
                 **extra) -> Path:
    """A real config file for these sources and prospects (prospects in a file, as ops keep them)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prospects.yaml").write_text(yaml.safe_dump(prospects, sort_keys=False), encoding="utf-8")
    config = {"database": database, "prospect_files": ["prospects.yaml"],
              "tagging": {"model": tagging_model, "processes": tagging_processes},
              "scheduler": {"workers": workers, "tick": 1, "default_every": "1h", "max_interval": "2h"},
              "http": {"per_host": per_host, "timeout": 60, "deadline": 120},
              "sources": [{"id": f"feed-{n}", "kind": "rss", "url": url, "allow_private": True, "every": "1h"}
                          for n, url in enumerate(urls)], **extra}
    path = folder / "intel.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary_line(**figures) -> str:
    """The last line every benchmark prints: key=value pairs, machine-readable."""
    def fmt(value) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    return " ".join(f"{key}={fmt(value)}" for key, value in figures.items())


def machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}"
