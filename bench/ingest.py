"""Ingest throughput: 1,000 feeds x 50 items from loopback, end to end, against the `reader` library.

Measured side by side in one run, each on a fresh SQLite database and the same
loopback feed farm (its own process); --quick takes the fastest of three rounds of each,
in turns (a tagging-off round there lasts well under a second), and prints CPU time per item:
  - prospect-intel, tagging off: fetch, parse, exact dedup, store -- what reader does too
    (prospect tagging, story clustering and lead discovery switched off);
  - prospect-intel, tagging on: the whole pipeline, tagging against 10,000 prospects;
  - the same with tagging and story fingerprints in child processes (tagging.processes, default
    one per CPU beyond the first): the worker's other work and its tagging on different cores;
  - reader (lemon24/reader from PyPI) updating the same feeds with as many threads.
Then the peak RSS of a worker process ingesting 1,000,000 items (full size only;
--quick ingests fewer and extrapolates, and says so; --memory-only runs just that,
printing the worker's peak RSS after start-up and after every round of 10,000 items;
--items and --minutes shorten it, and a run cut short says how far it got).

    .venv/bin/python bench/ingest.py [--quick] [--tagging-processes N]
                                     [--no-memory | --memory-only [--items N] [--minutes M]]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (FeedFarm, Stopwatch, companies, machine, owners_for, peak_rss_mb,  # noqa: E402
                          summary_line, write_config)

# The memory run: `memory_feeds` rolling feeds bring `memory_feeds` x `items` new items per round.
FULL = {"feeds": 1000, "items": 50, "prospects": 10_000, "rss_items": 1_000_000, "memory_feeds": 200}
QUICK = {"feeds": 40, "items": 50, "prospects": 1_000, "rss_items": 3_000, "memory_feeds": 20}
THREADS = 4
_INTEL_STAGES = {}  # the pipeline's own story and discovery stages, kept while a tagging-off run replaces them


def start_worker(config_path: Path, tagging: bool):
    """Migrate, sync and build a worker exactly as `intel worker` does; tagging off skips only tagging."""
    import intel.pipeline
    from intel.cli import _prepare
    from intel.config import load_config
    from intel.pipeline import Pipeline
    from intel.service import limit_malloc_arenas, return_free_memory
    from intel.tagging import TagResult
    from intel.worker import Worker

    _INTEL_STAGES.setdefault("enrich_run", intel.pipeline.enrich_run)
    limit_malloc_arenas()  # as `intel worker` (intel.service) does before its threads start
    config = load_config(config_path)
    sessions = _prepare(config)  # migrate and sync, as `intel worker` starts
    pipeline = Pipeline(config, sessions)
    # Story clustering and lead discovery (intel.enrich: fingerprints, then enrich_run); off with tagging.
    intel.pipeline.enrich_run = _INTEL_STAGES["enrich_run"] if tagging else (lambda *args, **kwargs: None)
    if not tagging:  # what reader does: fetch, parse, exact dedup, store; no intelligence stages
        pipeline.analyse = lambda inputs, story_texts=(): ([TagResult() for _ in inputs], [])
    with Stopwatch() as build:
        pipeline.prepare_tagging()  # start-up cost, paid once per process, not per item
    return_free_memory()  # as intel.service does once the worker is built
    return pipeline, Worker(pipeline, name="bench"), build.seconds


def count_items(pipeline) -> int:
    from models import repository

    with pipeline.sessions() as session:
        return repository.count_items(session)


def run_ours(farm: FeedFarm, folder: Path, prospects: list[dict], tagging: bool, processes: int = 0) -> dict:
    """One worker ingesting every feed once; `processes` tagging child processes (0: tagging in the worker).

    CPU time counts the tagging children's work during the run too (read from /proc before and
    after; their start-up, loading spaCy and building the matcher, is left out as the worker's is).
    `write_s` / `write_cpu_s`: the time the run's write transactions took turns for, and their CPU
    (intel.metrics): near the wall-clock time, writing one at a time is the limit.
    """
    config = write_config(folder, f"sqlite:///{folder / 'intel.db'}", farm.urls(), prospects if tagging else [],
                          workers=THREADS, per_host=THREADS, tagging_processes=processes)
    pipeline, worker, build = start_worker(config, tagging)
    children = getattr(pipeline.tagging, "pids", [])
    try:
        writes = _write_seconds()
        with Stopwatch() as clock:
            cpu = time.process_time() + _cpu_seconds_of(children)
            outcomes = worker.tick()
            cpu = time.process_time() + _cpu_seconds_of(children) - cpu
        write_s, write_cpu_s = (after - before for after, before in zip(_write_seconds(), writes))
        items = count_items(pipeline)
    finally:
        worker.stop()
        pipeline.close()
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} sources failed, e.g. {failed[0].source_id}: {failed[0].error}")
    return {"items": items, "seconds": clock.seconds, "per_s": items / clock.seconds, "cpu_s": cpu,
            "build_s": build, "write_s": write_s, "write_cpu_s": write_cpu_s}


def run_reader(farm: FeedFarm, folder: Path) -> dict:
    # reader vendors its own feedparser; use the installed one, the parser prospect-intel uses too.
    os.environ.setdefault("READER_NO_VENDORED_FEEDPARSER", "1")
    from reader import make_reader

    folder.mkdir(parents=True, exist_ok=True)
    reader = make_reader(str(folder / "reader.sqlite"))
    for url in farm.urls():
        reader.add_feed(url)
    with Stopwatch() as clock:
        cpu = time.process_time()
        reader.update_feeds(workers=THREADS)
        cpu = time.process_time() - cpu
    items = reader.get_entry_counts().total
    broken = [f for f in reader.get_feeds() if f.last_exception]
    reader.close()
    if broken:
        raise SystemExit(f"reader failed on {len(broken)} feeds, e.g. {broken[0].last_exception}")
    return {"items": items, "seconds": clock.seconds, "per_s": items / clock.seconds, "cpu_s": cpu}


def best_of(runs: list[dict]) -> dict:
    """The fastest of several rounds, with every round's items/s to show the spread.

    A machine shared with other work only ever slows a round down, so the fastest round is the
    one least disturbed; each system gets the same number of rounds, taken in turns.
    """
    best = max(runs, key=lambda run: run["per_s"])
    return {**best, "rounds": [run["per_s"] for run in runs]}


# --- memory: a worker ingesting a million items ------------------------------------------------

def rss_child(config_path: str, target: int, deadline: float) -> None:
    """Run in a fresh process: tick until `target` items are stored (or the wall clock passes
    `deadline`), printing `items peak_rss_mb rss_mb vocabulary_strings` after start-up and after every round."""
    from intel.clock import utcnow
    from models.bulk import make_sources_due

    pipeline, worker, _ = start_worker(Path(config_path), tagging=True)
    # With tagging processes the worker is this process and its children: their memory counts too
    # (a child's own peak; spaCy's vocabulary is theirs then, not shown: -1).
    children = getattr(pipeline.tagging, "pids", [])
    strings = None if children else pipeline.nlp.vocab.strings

    def report() -> None:
        peak = peak_rss_mb() + sum(_status_mb(pid, "VmHWM") for pid in children)
        now = _rss_now_mb() + sum(_status_mb(pid, "VmRSS") for pid in children)
        print(f"{items} {peak:.1f} {now:.1f} {len(strings) if strings is not None else -1}", flush=True)

    items = count_items(pipeline)
    report()  # start-up
    while items < target and time.time() < deadline:
        with pipeline.sessions.begin() as session:
            make_sources_due(session, utcnow())
        worker.tick()
        items = count_items(pipeline)
        report()
    worker.stop()
    pipeline.close()


@dataclass
class MemoryRun:
    """Peak RSS of a worker, after start-up and after every round of ingesting."""

    startup_peak: float
    # (items stored, peak RSS MiB so far, RSS MiB now, strings in spaCy's vocabulary)
    rounds: list[tuple[int, float, float, int]]
    target: int

    @property
    def items(self) -> int:
        return self.rounds[-1][0] if self.rounds else 0

    @property
    def peak(self) -> float:
        return self.rounds[-1][1] if self.rounds else self.startup_peak

    @property
    def finished(self) -> bool:
        return self.items >= self.target

    def growth_per_100k(self, column: int = 1) -> float | None:
        """MiB of peak RSS (column 1) or of RSS now (column 2) per 100,000 items over the second half
        of the rounds (after warm-up)."""
        if len(self.rounds) < 4:
            return None
        first, last = self.rounds[len(self.rounds) // 2], self.rounds[-1]
        return (last[column] - first[column]) / (last[0] - first[0]) * 100_000


def measure_rss(feeds: int, items: int, prospects: list[dict], target: int, folder: Path,
                names: list[str], progress: bool = False, minutes: float | None = None,
                processes: int = 0) -> MemoryRun:
    """Peak RSS of a fresh worker process after each round; printed as it goes when `progress`.

    The feeds roll (every fetch brings `items` new items) and name people and firms no item named
    before, as news does, so the tagger keeps meeting words it has never seen.
    """
    farm = FeedFarm(feeds, items, names, rolling=True, novel_words=True)
    deadline = time.time() + minutes * 60 if minutes else float("inf")
    lines: list[tuple[int, float, float, int]] = []
    try:
        config = write_config(folder, f"sqlite:///{folder / 'intel.db'}", farm.urls(), prospects,
                              workers=THREADS, per_host=THREADS, tagging_processes=processes)
        with subprocess.Popen([sys.executable, __file__, "--rss-child", str(config), "--target", str(target),
                               "--deadline", str(deadline)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
            for line in child.stdout:
                stored, peak, now, strings = line.split()
                lines.append((int(stored), float(peak), float(now), int(strings)))
                if progress:
                    what = "after start-up" if len(lines) == 1 else f"{int(stored):>9,} items stored"
                    vocabulary = (f", {int(strings):,} strings in spaCy's vocabulary" if int(strings) >= 0
                                  else f" (worker and {processes} tagging process{'es' if processes > 1 else ''})")
                    print(f"    {what}: worker peak RSS {float(peak):.0f} MiB (now {float(now):.0f} MiB)"
                          f"{vocabulary}", flush=True)
            errors = child.stderr.read()
    finally:
        farm.close()
    if child.returncode != 0:
        raise SystemExit(f"the memory run failed:\n{errors[-3000:]}")
    return MemoryRun(startup_peak=lines[0][1], rounds=lines[1:], target=target)


def report_memory(run: MemoryRun, seconds: float) -> dict:
    """Print what the memory run measured; return its key=value figures. Nothing is extrapolated."""
    print(f"  worker peak RSS: {run.peak:.0f} MiB after ingesting {run.items:,} items "
          f"(tagging on; start-up alone {run.startup_peak:.0f} MiB; goal < 500 MiB for 1,000,000 items)")
    if not run.finished:
        print(f"  NOT FINISHED: stopped at {run.items:,} of {run.target:,} items (time limit); "
              f"the peak above is for {run.items:,} items only")
    growth, growth_now = run.growth_per_100k(), run.growth_per_100k(column=2)
    if growth is not None:
        print(f"  over the second half of the run (measured): peak RSS {growth:+.1f} MiB and RSS at the end "
              f"of a round {growth_now:+.1f} MiB per 100,000 items")
    print(f"  {run.items:,} items in {seconds:.0f} s = {run.items / seconds:.0f} items/s on this machine")
    figures = {"rss_items": run.items, "rss_peak_mb": run.peak, "rss_startup_mb": run.startup_peak}
    if growth is not None:
        figures.update(rss_growth_mb_per_100k=growth, rss_now_growth_mb_per_100k=growth_now)
    if run.items >= 1_000_000:
        figures["rss_mb_1m"] = run.peak
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a reduced size that finishes in under a minute")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the memory run (a worker ingesting 1,000,000 items; long), with progress")
    parser.add_argument("--items", type=int, help="with --memory-only: ingest this many items instead")
    parser.add_argument("--minutes", type=float,
                        help="with --memory-only: stop after this long and report how far it got")
    parser.add_argument("--tagging-processes", type=int,
                        help="tagging child processes (tagging.processes) of the third prospect-intel system "
                             "(default: one per CPU beyond the first, at most 2); with --memory-only, of the "
                             "memory run's worker (default 0: tagging in the worker, the default config)")
    parser.add_argument("--no-memory", action="store_true",
                        help="throughput only: skip the memory run (at full size it ingests 1,000,000 items)")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=float("inf"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.target, args.deadline)
        return
    if (args.items or args.minutes) and not args.memory_only:
        parser.error("--items and --minutes go with --memory-only")
    if args.tagging_processes is not None and args.tagging_processes < (0 if args.memory_only else 1):
        parser.error("--tagging-processes: the third system tags in child processes, at least 1 (tagging in "
                     "the worker itself is the second system)" if not args.memory_only else
                     "--tagging-processes cannot be negative")
    began = time.perf_counter()
    size = QUICK if args.quick else FULL
    import logging
    logging.basicConfig(level=logging.WARNING)
    # reader notes that the loopback farm's feeds lack an XML Content-Type it likes; nothing fails.
    logging.getLogger("reader").setLevel(logging.ERROR)

    prospects = owners_for(companies(size["prospects"]))
    names = [p["name"] for p in prospects[:2000]]  # news is about listed companies and some small ones
    if args.memory_only:
        memory_only({**size, "rss_items": args.items or size["rss_items"]}, prospects, names, args.minutes,
                    args.tagging_processes or 0)
        return
    print(f"ingest: {size['feeds']} feeds x {size['items']} items on loopback, {size['prospects']} prospects, "
          f"{THREADS} threads each; {machine()}{' (--quick)' if args.quick else ''}")
    # Each system ingests the feeds `rounds` times (a fresh database each time), taking turns; the
    # fastest round counts. A --quick tagging-off round lasts well under a second, where a neighbour's
    # burst of work moves the figure by half; the full size runs long enough for one round.
    rounds = 3 if args.quick else 1
    farm = FeedFarm(size["feeds"], size["items"], names)
    farm.warm()
    load_before = " ".join(f"{load:.2f}" for load in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        offs, peers, ons, children = [], [], [], []
        processes = args.tagging_processes or max(1, min(2, (os.cpu_count() or 1) - 1))
        for round_ in range(rounds):
            offs.append(run_ours(farm, tmp_path / f"off{round_}", prospects, tagging=False))
            peers.append(run_reader(farm, tmp_path / f"reader{round_}"))
            ons.append(run_ours(farm, tmp_path / f"on{round_}", prospects, tagging=True))
            children.append(run_ours(farm, tmp_path / f"procs{round_}", prospects, tagging=True,
                                     processes=processes))
        farm.close()
        off, peer, on, procs = best_of(offs), best_of(peers), best_of(ons), best_of(children)
        print(f"  load average before: {load_before}" + (
            f"; fastest of {rounds} rounds each, taken in turns (every round's items/s in brackets)"
            if rounds > 1 else ""))
        print(f"  reader {_version()}:           {peer['items']:>7} items in {peer['seconds']:6.2f} s "
              f"= {peer['per_s']:7.0f} items/s {_spread(peer)}; CPU {_per_item_us(peer)}")
        print(f"  prospect-intel, tagging off: {off['items']:>7} items in {off['seconds']:6.2f} s "
              f"= {off['per_s']:7.0f} items/s {_spread(off)}; CPU {_per_item_us(off)}   "
              f"{off['per_s'] / peer['per_s']:.2f}x reader (goal >= 3x)")
        print(f"  prospect-intel, tagging on:  {on['items']:>7} items in {on['seconds']:6.2f} s "
              f"= {on['per_s']:7.0f} items/s {_spread(on)}; CPU {_per_item_us(on)}   "
              f"{on['per_s'] / peer['per_s']:.2f}x reader (goal >= 1x); "
              f"matcher for {size['prospects']} prospects built once in {on['build_s']:.1f} s; {_writes(on)}")
        print(f"  ... with {processes} tagging process{'es' if processes > 1 else ''}: "
              f"{procs['items']:>7} items in {procs['seconds']:6.2f} s = {procs['per_s']:7.0f} items/s "
              f"{_spread(procs)}; CPU {_per_item_us(procs)} (worker and children)   "
              f"{procs['per_s'] / peer['per_s']:.2f}x reader (goal >= 1x); tagging.processes: {processes}; "
              f"{_writes(procs)}")
        began_rss = time.perf_counter()
        memory = None if args.no_memory else measure_rss(
            size["memory_feeds"], size["items"], prospects, size["rss_items"], tmp_path / "rss", names,
            progress=not args.quick)
    figures = {} if memory is None else report_memory(memory, time.perf_counter() - began_rss)
    if memory is None:
        print("  memory run skipped (--no-memory)")
    elif args.quick:
        (first_items, first_peak, *_), (stored, peak, *_) = memory.rounds[0], memory.rounds[-1]
        slope = (peak - first_peak) / max(1, stored - first_items)  # MiB per item after warm-up
        estimate = peak + slope * (FULL["rss_items"] - stored)
        print(f"  ESTIMATED for 1,000,000 items by extrapolating the growth after the first round "
              f"({slope * 1e6:.1f} MiB per million): {estimate:.0f} MiB (goal < 500) -- not measured in --quick")
        figures["rss_mb_1m_estimated"] = estimate
    print(f"  ({time.perf_counter() - began:.0f} s in all, {_cpu_seconds():.0f} s of CPU time: on a busy machine the "
          f"wall time stretches, the CPU time does not)")
    print(summary_line(items_per_s_off=off["per_s"], items_per_s_on=on["per_s"], reader_items_per_s=peer["per_s"],
                       vs_reader_off=off["per_s"] / peer["per_s"], vs_reader_on=on["per_s"] / peer["per_s"],
                       items_per_s_on_processes=procs["per_s"], vs_reader_on_processes=procs["per_s"] / peer["per_s"],
                       tagging_processes=processes,
                       cpu_us_per_item_off=off["cpu_s"] / off["items"] * 1e6,
                       cpu_us_per_item_on=on["cpu_s"] / on["items"] * 1e6,
                       cpu_us_per_item_on_processes=procs["cpu_s"] / procs["items"] * 1e6,
                       reader_cpu_us_per_item=peer["cpu_s"] / peer["items"] * 1e6,
                       write_share_on=on["write_s"] / on["seconds"],
                       write_share_on_processes=procs["write_s"] / procs["seconds"],
                       rounds=rounds, **figures, quick=int(args.quick)))


def memory_only(size: dict, prospects: list[dict], names: list[str], minutes: float | None,
                processes: int = 0) -> None:
    """The memory run alone: a fresh worker ingesting `rss_items` items, tagging on, round by round."""
    began = time.perf_counter()
    print(f"ingest memory: a worker ingesting {size['rss_items']:,} items ({size['memory_feeds']} rolling feeds x "
          f"{size['items']} new items per round, naming people and firms never seen before), "
          f"{size['prospects']:,} prospects, {THREADS} threads"
          f"{f', {processes} tagging processes (counted in)' if processes else ''}"
          f"{f', at most {minutes:g} minutes' if minutes else ''}; "
          f"{machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-rss-") as tmp:
        run = measure_rss(size["memory_feeds"], size["items"], prospects, size["rss_items"], Path(tmp), names,
                          progress=True, minutes=minutes, processes=processes)
    seconds = time.perf_counter() - began
    figures = report_memory(run, seconds)
    print(summary_line(**figures, seconds=seconds, finished=int(run.finished)))


def _write_seconds() -> tuple[float, float]:
    """Time inside the worker's write transactions so far, and their CPU (intel.metrics counters)."""
    from prometheus_client import REGISTRY

    return tuple(REGISTRY.get_sample_value(name) or 0.0
                 for name in ("intel_write_seconds_total", "intel_write_cpu_seconds_total"))


def _writes(run: dict) -> str:
    return (f"its writes, one at a time, took {run['write_s'] / run['seconds']:.0%} of the run "
            f"({run['write_cpu_s'] * 1e6 / run['items']:.0f} us CPU per item)")


def _spread(run: dict) -> str:
    rounds = run["rounds"]
    return f"[{' '.join(f'{per_s:.0f}' for per_s in rounds)}]" if len(rounds) > 1 else ""


def _per_item_us(run: dict) -> str:
    return f"{run['cpu_s'] / run['items'] * 1e6:.0f} us/item"


def _cpu_seconds_of(pids: list[int]) -> float:
    """User and system CPU time of running processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def _rss_now_mb() -> float:
    """This process's resident set size now, in MiB (Linux)."""
    return _status_mb("self", "VmRSS")


def _status_mb(pid: int | str, field: str) -> float:
    """A memory figure of a process from /proc (VmRSS: resident now, VmHWM: its peak), in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:")) / 1024


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the feed farms, the memory worker)."""
    import resource

    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def _version() -> str:
    import reader

    return reader.__version__


if __name__ == "__main__":
    main()
