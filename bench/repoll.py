"""Re-polling unchanged feeds: every request conditional, every answer 304, against the first poll.

One run, one worker, the same 1,000 loopback feeds (ETag and Last-Modified on
each): the first poll fetches, parses, tags against 10,000 prospects and stores
everything; then every source is made due again and re-polled. The feed farm
counts what it was asked and what it answered. Goal: the re-poll at least 10x
faster than the first poll.

    .venv/bin/python bench/repoll.py [--quick]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import FeedFarm, Stopwatch, companies, machine, owners_for, summary_line, write_config  # noqa: E402
from bench.ingest import THREADS, count_items, start_worker  # noqa: E402

FULL = {"feeds": 1000, "items": 50, "prospects": 10_000}
QUICK = {"feeds": 40, "items": 50, "prospects": 1_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a reduced size that finishes in under a minute")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    size = QUICK if args.quick else FULL
    prospects = owners_for(companies(size["prospects"]))
    names = [p["name"] for p in prospects[:2000]]
    print(f"repoll: {size['feeds']} feeds x {size['items']} items on loopback, {size['prospects']} prospects, "
          f"{THREADS} threads; {machine()}{' (--quick)' if args.quick else ''}")
    farm = FeedFarm(size["feeds"], size["items"], names)
    farm.warm()
    from intel.clock import utcnow
    from models.bulk import make_sources_due

    with tempfile.TemporaryDirectory(prefix="bench-repoll-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, f"sqlite:///{folder / 'intel.db'}", farm.urls(), prospects,
                              workers=THREADS, per_host=THREADS)
        pipeline, worker, _ = start_worker(config, tagging=True)
        try:
            before = farm.stats()
            with Stopwatch() as first:
                first_outcomes = worker.tick()
            after_first = farm.stats()
            stored = count_items(pipeline)
            with pipeline.sessions.begin() as session:
                make_sources_due(session, utcnow())
            with Stopwatch() as again:
                outcomes = worker.tick()
            after = farm.stats()
            unchanged = count_items(pipeline) == stored
        finally:
            worker.stop()
            pipeline.close()
            farm.close()
    requests = after.requests - after_first.requests
    conditional = after.conditional - after_first.conditional
    not_modified = after.not_modified - after_first.not_modified
    statuses = {o.status for o in outcomes}
    first_ok = sum(o.status == "ok" for o in first_outcomes)
    print(f"  first poll: {after_first.requests - before.requests} requests, {first_ok} feeds stored, "
          f"{stored} items in {first.seconds:.2f} s ({first.seconds / size['feeds'] * 1000:.1f} ms per feed)")
    print(f"  re-poll:    {requests} requests, {conditional} conditional, {not_modified} answered 304, "
          f"runs {sorted(statuses)}, items unchanged: {unchanged}; {again.seconds:.2f} s "
          f"({again.seconds / size['feeds'] * 1000:.1f} ms per feed)")
    speedup = first.seconds / again.seconds
    print(f"  re-poll is {speedup:.1f}x faster than the first poll (goal >= 10x)")
    if not (requests == conditional == not_modified == size["feeds"] and statuses == {"not_modified"}
            and unchanged):
        raise SystemExit("the re-poll was not all conditional 304s")
    print(summary_line(first_poll_s=first.seconds, repoll_s=again.seconds, speedup=speedup,
                       conditional=conditional, not_modified=not_modified, requests=requests,
                       quick=int(args.quick)))


if __name__ == "__main__":
    main()
