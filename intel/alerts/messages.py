"""Webhook bodies: Slack, Microsoft Teams (Adaptive Card) and generic JSON signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

from intel.text import plain_text
from models.alerts import DeliveryJob

SIGNATURE_HEADER = "X-Intel-Signature-256"
DELIVERY_HEADER = "X-Intel-Delivery"
SUMMARY_CHARS = 400


def humanize(signal_type: str) -> str:
    return signal_type.replace("_", " ")


def headline(job: DeliveryJob) -> str:
    """'Funding, leadership change at Acme Corporation (qualifying)'."""
    kinds = ", ".join(dict.fromkeys(humanize(s.type) for s in job.signals)) or "signal"
    about = ", ".join(f"{p.name} ({p.stage})" if p.stage else p.name for p in job.prospects) or "a prospect"
    return f"{kinds[:1].upper()}{kinds[1:]} at {about}"


def reason(job: DeliveryJob) -> str:
    """Why this arrived: the rule(s) and the strongest signal's evidence."""
    parts = [f"rule {', '.join(job.rules)}"]
    if job.signals:
        best = job.signals[0]
        line = f"{humanize(best.type)} {best.score:.2f}"
        if best.evidence:
            line += ": " + "; ".join(best.evidence[:2])
        parts.append(line)
    return " · ".join(parts)


def _summary(job: DeliveryJob) -> str:
    text = plain_text(job.summary)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1].rstrip() + "…"


def _source(job: DeliveryJob) -> str:
    return job.source_title or job.source_id


# --- Slack -----------------------------------------------------------------------------------

def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats <, > and & as control characters; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(job: DeliveryJob) -> dict:
    title = _slack_escape(job.title)
    link = f"<{_slack_escape(job.url)}|{title}>" if job.url else title
    text = f"*{_slack_escape(headline(job))}*\n{link}"
    summary = _summary(job)
    if summary:
        text += f"\n{_slack_escape(summary)}"
    return {
        "text": f"{headline(job)}: {job.title}",  # notifications and clients without blocks
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": _slack_escape(f"{_source(job)} · {reason(job)}")}]},
        ],
    }


# --- Microsoft Teams -------------------------------------------------------------------------

def teams_body(job: DeliveryJob) -> dict:
    """An Adaptive Card message, what Teams incoming webhooks and Workflows accept."""
    facts = [{"title": "Prospect", "value": ", ".join(
                 f"{p.name} ({p.stage})" if p.stage else p.name for p in job.prospects)},
             {"title": "Signals", "value": ", ".join(f"{humanize(s.type)} {s.score:.2f}" for s in job.signals)},
             {"title": "Source", "value": _source(job)},
             {"title": "Why", "value": reason(job)}]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(job), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": job.title, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    summary = _summary(job)
    if summary:
        card["body"].append({"type": "TextBlock", "text": summary, "wrap": True, "isSubtle": True})
    if job.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the article", "url": job.url}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


# --- generic JSON ----------------------------------------------------------------------------

def json_body(job: DeliveryJob, now: datetime) -> dict:
    return {
        "delivery_id": job.id,
        "event": "signal",
        "sent_at": _iso(now),
        "headline": headline(job),
        "reason": reason(job),
        "rules": list(job.rules),
        "item": {"id": job.item_id, "title": job.title, "url": job.url, "summary": _summary(job),
                 "source": job.source_id, "published_at": _iso(job.published_at),
                 "first_seen_at": _iso(job.first_seen_at)},
        "prospects": [{"id": p.id, "name": p.name, "stage": p.stage, "owners": list(p.owners),
                       "score": p.score} for p in job.prospects],
        "signals": [{"type": s.type, "score": s.score, "evidence": list(s.evidence), "role": s.role}
                    for s in job.signals],
    }


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if when else None


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: 'sha256=' and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def encode(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
