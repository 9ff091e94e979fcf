"""Which new signals an alert rule picks, and what each webhook should then receive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Sequence

from intel.settings import AlertRuleConfig
from models.alerts import DeliveryToQueue, ProspectFacts, SignalCandidate


def rule_prospects(rule: AlertRuleConfig, candidate: SignalCandidate, now: datetime) -> list[ProspectFacts]:
    """The prospects for which `candidate` satisfies `rule` (empty: the rule does not fire)."""
    if rule.signal and candidate.type not in rule.signal:
        return []
    if candidate.score < rule.min_score:
        return []
    if candidate.visibility == "internal" and not rule.internal:
        return []
    if now - candidate.first_seen_at > timedelta(seconds=rule.max_age):
        return []
    owners = {o.strip().lower() for o in rule.owner}
    return [p for p in candidate.prospects
            if (not rule.stage or p.stage in rule.stage)
            and (not rule.prospect or p.id in rule.prospect)
            and (not owners or owners.intersection(o.strip().lower() for o in p.owners))]


def deliveries_for(candidates: Iterable[SignalCandidate], rules: Sequence[AlertRuleConfig],
                   now: datetime) -> list[DeliveryToQueue]:
    """One delivery per (webhook, item), merging every rule and signal that points at it."""
    merged: dict[tuple[str, int], dict[str, dict[str, None]]] = {}
    for candidate in candidates:
        for rule in rules:
            prospects = rule_prospects(rule, candidate, now)
            if not prospects:
                continue
            for target in rule.send_to:
                # dicts as ordered sets: the message lists things in the order they matched
                entry = merged.setdefault((target, candidate.item_id),
                                          {"prospects": {}, "rules": {}, "types": {}})
                entry["prospects"].update(dict.fromkeys(p.id for p in prospects))
                entry["rules"][rule.name] = None
                entry["types"][candidate.type] = None
    return [DeliveryToQueue(target=target, item_id=item_id, prospect_ids=tuple(entry["prospects"]),
                            rules=tuple(entry["rules"]), signal_types=tuple(entry["types"]))
            for (target, item_id), entry in merged.items()]
