"""Which words made an item match, and the item's text cut into plain and highlighted pieces.

Templates print every piece through autoescaping; highlighting never builds
HTML from feed text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import nh3

# "title: name 'Apple'; ambiguous word", "item: confirmed by keyword 'iPhone', ticker 'AAPL'",
# "title: pattern 'raises $5B'": a kind of match, then the matched text as Python quoted it.
# Notes such as "followed by 'to'" quote context, not matches: only these kinds count.
MATCH_KINDS = ("name", "alias", "legal_name", "acronym", "person", "domain", "ticker", "keyword", "pattern",
               "phrase")
_QUOTED = re.compile(r"""\b(?:%s) (['"])(.+?)\1""" % "|".join(MATCH_KINDS))
PREVIEW_CHARS = 360


@dataclass(frozen=True)
class Piece:
    text: str
    kind: str | None = None  # None: plain; "who": a prospect matched; "what": a signal's words


def matched_terms(evidence: Iterable[str]) -> list[str]:
    terms = []
    for line in evidence:
        if line.startswith("score:"):
            continue
        for match in _QUOTED.finditer(line):
            term = match.group(2).strip()
            if len(term) >= 2 and term not in terms:
                terms.append(term)
    return terms


def plain(markup: str | None, limit: int | None = None) -> str:
    """Feed HTML as plain text (tags dropped, entities decoded); shortened at a word if asked."""
    text = " ".join(html.unescape(nh3.clean(markup or "", tags=set())).split())
    if limit is not None and len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return text


def pieces(text: str, who: Sequence[str], what: Sequence[str]) -> list[Piece]:
    """`text` split so that every occurrence of a matched term is its own highlighted piece."""
    kinds = {t.lower(): "who" for t in who}
    kinds.update((t.lower(), "what") for t in what if t.lower() not in kinds)
    if not kinds or not text:
        return [Piece(text)] if text else []
    pattern = re.compile("|".join(re.escape(t) for t in sorted(kinds, key=len, reverse=True)), re.IGNORECASE)
    result, at = [], 0
    for match in pattern.finditer(text):
        if match.start() > at:
            result.append(Piece(text[at:match.start()]))
        result.append(Piece(match.group(0), kinds[match.group(0).lower()]))
        at = match.end()
    if at < len(text):
        result.append(Piece(text[at:]))
    return result
