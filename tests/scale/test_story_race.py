"""Two workers storing copies of the same stories at the same moment still make one story each.

Without a cluster-wide lock, each transaction looks for the story, finds none
(the other's rows are not committed yet) and starts its own: the feed would
show the story twice. Two pipelines with their own engines (two workers'
worth of PostgreSQL connections) run twelve sources that all carry copies of
the same stories, every fetch released at the same instant.
"""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select

from bench.common import vocabulary
from models.tables import Item, Story
from tests.conftest import rss_feed, start_pipeline

pytestmark = pytest.mark.postgres
SOURCES = 12
STORIES = 30
THREADS = 6
WORDS = vocabulary()


def story(n: int, source: int) -> dict:
    """Copy `source` of story `n`: its own link and GUID, the same words (a wire story reprinted)."""
    words = random.Random(n).sample(WORDS, 20)
    return {"title": f"Siemens AG {' '.join(words[:6])}", "description": " ".join(words[6:]),
            "link": f"https://news{source}.example.com/story/{n}", "guid": f"s{source}-{n}",
            "pubDate": "Tue, 04 Nov 2025 08:00:00 GMT"}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_copies_stored_at_the_same_moment_by_two_workers_join_one_story(feed_server, write_config,
                                                                         database_url):
    everyone_asked = threading.Barrier(SOURCES, timeout=60)
    sources = []
    for source in range(SOURCES):
        body = rss_feed(*(story(n, source) for n in range(STORIES)), title=f"Wire {source}").encode()

        def answer(request, body=body) -> None:
            everyone_asked.wait()  # every run parses, tags and stores at once
            request.answer(200, body, {"Content-Type": "application/rss+xml"})

        path = f"/wire{source}.xml"
        feed_server.serve(path)
        feed_server.routes[path].handler = answer
        sources.append({"id": f"wire{source:02d}", "kind": "rss", "url": feed_server.url(path)})
    config = write_config(sources, database=database_url, scheduler={"workers": THREADS},
                          http={"per_host": SOURCES})
    workers = [start_pipeline(config), start_pipeline(config)]  # two engines: two workers' connections
    ran: dict[int, list] = {0: [], 1: []}

    def tick(index: int) -> None:
        ran[index].extend(workers[index][1].tick())

    threads = [threading.Thread(target=tick, args=(index,)) for index in ran]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    outcomes = ran[0] + ran[1]
    assert len(outcomes) == SOURCES and all(o.status == "ok" for o in outcomes), outcomes
    assert ran[0] and ran[1], "both workers stored some of the sources"

    with workers[0][0].sessions() as session:
        stories = session.execute(select(Story.id, Story.item_count, Story.source_count)).all()
        unclustered = session.scalar(select(func.count()).select_from(Item).where(Item.story_id.is_(None)))
        per_story = dict(session.execute(select(Item.story_id, func.count(func.distinct(Item.source_id)))
                                         .group_by(Item.story_id)).all())
    assert unclustered == 0
    assert len(stories) == STORIES, f"{len(stories)} stories for {STORIES}: copies started stories of their own"
    assert {(count, sources) for _, count, sources in stories} == {(SOURCES, SOURCES)}
    assert set(per_story.values()) == {SOURCES}
