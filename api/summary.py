"""A prospect's intel summary for qualifying tools: what happened lately and how hot it is."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from api.schemas import (HeatOut, IntelSummaryOut, LatestSignalOut, PersonMentionedOut,
                         SignalCountOut)
from models.feeds import ProspectActivity, SignalSeen

WINDOW_DAYS = 90
RECENT_DAYS = 30
LATEST_SIGNALS = 10
# How much one sure, fresh signal of each type says "talk to them now" (out of 100).
SIGNAL_WEIGHT = {
    "funding": 30, "acquisition": 30, "ipo": 25, "leadership_change": 25, "tech_initiative": 25,
    "expansion": 20, "contract_win": 15, "partnership": 15, "product_launch": 15, "hiring": 15,
    "divestiture": 15, "security_incident": 15, "earnings": 10, "layoffs": 10, "legal_or_distress": 10,
}
DEFAULT_WEIGHT = 10
HALF_LIFE_DAYS = 30  # a signal a month old counts half
PER_TYPE = 2         # ten reports of one funding round are one event, not ten
_PERSON = re.compile(r"""person (['"])(.+?)\1""")


def intel_summary(activity: ProspectActivity, people: list[str], now: datetime) -> IntelSummaryOut:
    recent = now - timedelta(days=RECENT_DAYS)
    counts_90 = Counter(s.type for s in _one_per_item(activity.signals))
    counts_30 = Counter(s.type for s in _one_per_item(activity.signals) if s.at >= recent)
    signals = [SignalCountOut(type=t, last_30_days=counts_30.get(t, 0), last_90_days=n)
               for t, n in sorted(counts_90.items(), key=lambda kv: (-kv[1], kv[0]))]
    latest = [LatestSignalOut(type=s.type, score=s.score, role=s.role, item_id=s.item_id, title=s.title,
                              url=s.url, at=s.at) for s in activity.signals[:LATEST_SIGNALS]]
    mentions_30 = sum(1 for m in activity.mentions if m.at >= recent)
    return IntelSummaryOut(mentions_30_days=mentions_30, mentions_90_days=len(activity.mentions),
                           signals=signals, latest_signals=latest,
                           people_mentioned=people_mentioned(activity, people),
                           heat=heat(activity, now))


def people_mentioned(activity: ProspectActivity, people: list[str]) -> list[PersonMentionedOut]:
    """Executives named in items about the prospect, from the tagger's evidence."""
    canonical = {p.lower(): p for p in people}
    seen: dict[str, list[datetime]] = defaultdict(list)
    for mention in activity.mentions:
        names = {canonical.get(m.group(2).lower(), m.group(2)) for e in mention.evidence
                 for m in _PERSON.finditer(e)}
        for name in names:
            seen[name].append(mention.at)
    return [PersonMentionedOut(name=name, mentions=len(times), last_seen=max(times))
            for name, times in sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def heat(activity: ProspectActivity, now: datetime) -> HeatOut:
    """0-100 from fresh, sure trigger events plus rising coverage, with the reason for each point."""
    parts: list[tuple[float, str]] = []
    by_type: dict[str, list[SignalSeen]] = defaultdict(list)
    for signal in _one_per_item(activity.signals):
        by_type[signal.type].append(signal)
    for kind, signals in by_type.items():
        for signal in sorted(signals, key=lambda s: -_points(s, now))[:PER_TYPE]:
            points = _points(signal, now)
            age = max(0, (now - signal.at).days)
            parts.append((points, f"{kind.replace('_', ' ')} {_ago(age)}: {signal.title} (+{points:.0f})"))
    recent = now - timedelta(days=RECENT_DAYS)
    last_month = sum(1 for m in activity.mentions if m.at >= recent)
    before = (len(activity.mentions) - last_month) / 2  # the two months before, per month
    if last_month >= 3 and last_month > 1.5 * before:
        points = min(15.0, 3.0 * last_month / max(before, 1.0))
        parts.append((points, f"coverage rising: {last_month} items in the last 30 days "
                              f"against {before:.0f} a month before (+{points:.0f})"))
    parts.sort(key=lambda p: -p[0])
    score = min(100, round(sum(p for p, _ in parts)))
    reasons = [why for _, why in parts] or [f"no trigger events or rising coverage in the last {WINDOW_DAYS} days"]
    level = "hot" if score >= 60 else "warm" if score >= 25 else "cold"
    return HeatOut(score=score, level=level, reasons=reasons)


def _points(signal: SignalSeen, now: datetime) -> float:
    age_days = max(0.0, (now - signal.at).total_seconds() / 86400)
    return SIGNAL_WEIGHT.get(signal.type, DEFAULT_WEIGHT) * signal.score * 0.5 ** (age_days / HALF_LIFE_DAYS)


def _one_per_item(signals: tuple[SignalSeen, ...]) -> list[SignalSeen]:
    best: dict[tuple[int, str], SignalSeen] = {}
    for s in signals:
        key = (s.item_id, s.type)
        if key not in best or s.score > best[key].score:
            best[key] = s
    return list(best.values())


def _ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
