"""Summaries at several granularities (HEMA, MemGAS, LD-Agent) and the user profile (MemoryBank).

- per session: what the session was about;
- a running summary per user: a compact digest across sessions, newest weighted up;
- a profile per user: stable facts and recent changes, each item citing its memory.

Without an LLM every summary is extractive: the most central sentences, scored by TF-IDF
similarity to the text's centroid (LexRank's centroid variant), user turns weighted over
assistant turns, near-duplicates skipped, kept in their original order. So the offline
default has them too. The profile without an LLM lists stored facts (``kind="fact"``) by
their validity and versions, and the user's own first-person statements ("I live in...").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from remem.model import MemoryRecord, ProfileItem
from remem.retention import learned_at
from remem.text.sentences import sentences
from remem.text.terms import STOPWORDS
from remem.text.tokens import clip, count_tokens

SESSION_BUDGET = 120
RUNNING_BUDGET = 240
RECENT = timedelta(days=30)
PROFILE_STABLE_ITEMS = 12
PROFILE_RECENT_ITEMS = 8
#: A statement longer than this is a story, not a profile fact.
STATEMENT_MAX_TOKENS = 40
ASSISTANT_WEIGHT = 0.6
DUPLICATE_SIMILARITY = 0.6

_WORD = re.compile(r"[a-z0-9]+")
_SELF = re.compile(
    r"\b(i am|i'm|i have|i've|i live|i work|i moved|i like|i love|i prefer|i hate|i enjoy|"
    r"i usually|i always|i never|i don't|i do not|i'm allergic|i was born|i grew up|"
    r"my (?:\w+ ){0,2}(?:is|are|was|were|lives|works))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Draft:
    """A summary before it is stored: its text, the memories it cites, how it was made."""

    text: str
    sources: tuple[MemoryRecord, ...]
    method: Literal["extractive", "abstractive"] = "extractive"


@dataclass(frozen=True)
class _Unit:
    text: str
    source: MemoryRecord
    weight: float
    order: int


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def _vectors(units: Sequence[_Unit]) -> list[dict[str, float]]:
    """Unit-length TF-IDF vectors (as sparse dicts) over the units themselves."""
    bags = [Counter(_terms(u.text)) for u in units]
    df = Counter(term for bag in bags for term in bag)
    n = len(units)
    vectors = []
    for bag in bags:
        vec = {t: (1 + math.log(c)) * (1 + math.log((1 + n) / (1 + df[t]))) for t, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({t: v / norm for t, v in vec.items()})
    return vectors


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return sum(v * large.get(t, 0.0) for t, v in small.items())


def _central(units: Sequence[_Unit]) -> list[tuple[float, dict[str, float]]]:
    vectors = _vectors(units)
    centroid: dict[str, float] = {}
    for vec in vectors:
        for t, v in vec.items():
            centroid[t] = centroid.get(t, 0.0) + v
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    centroid = {t: v / norm for t, v in centroid.items()}
    return [(_dot(vec, centroid), vec) for vec in vectors]


def _extract(units: Sequence[_Unit], budget: int, line: str = "{text}") -> list[_Unit]:
    """The most central units (weighted) that fit ``budget`` tokens, in their original order."""
    scored = _central(units)
    ranked = sorted(range(len(units)), key=lambda i: -scored[i][0] * units[i].weight)
    chosen: list[int] = []
    spent = 0
    for i in ranked:
        if scored[i][0] <= 0:
            break
        if any(_dot(scored[i][1], scored[j][1]) > DUPLICATE_SIMILARITY for j in chosen):
            continue
        cost = count_tokens(line.format(text=units[i].text)) + 1
        if spent + cost > budget:
            continue
        chosen.append(i)
        spent += cost
    return [units[i] for i in sorted(chosen, key=lambda i: units[i].order)]


def _turn_units(turns: Sequence[MemoryRecord]) -> list[_Unit]:
    units: list[_Unit] = []
    for m in sorted(turns, key=lambda m: (learned_at(m), m.id)):
        weight = ASSISTANT_WEIGHT if m.metadata.get("role") == "assistant" else 1.0
        for s in sentences(m.text):
            if len(_terms(s)) >= 3:
                units.append(_Unit(clip(s, STATEMENT_MAX_TOKENS * 2), m, weight, len(units)))
    return units


def _cited(units: Sequence[_Unit]) -> tuple[MemoryRecord, ...]:
    return tuple({u.source.id: u.source for u in units}.values())


def session_summary(
    turns: Sequence[MemoryRecord], *, budget_tokens: int = SESSION_BUDGET
) -> Draft | None:
    """The session's most central sentences, within ``budget_tokens``; None when it says nothing."""
    picked = _extract(_turn_units(turns), budget_tokens)
    if not picked:
        return None
    return Draft(text=" ".join(u.text for u in picked), sources=_cited(picked))


def running_summary(
    session_summaries: Sequence[MemoryRecord], *, budget_tokens: int = RUNNING_BUDGET
) -> Draft | None:
    """A digest across the user's sessions: central sentences, newer sessions weighted up."""
    ordered = sorted(session_summaries, key=lambda m: (m.valid_from or m.recorded_at, m.id))
    units: list[_Unit] = []
    for rank, m in enumerate(ordered):
        weight = 0.5 + 0.5 * (rank + 1) / len(ordered)
        day = (m.valid_from or m.recorded_at).date().isoformat()
        for s in sentences(m.text):
            if len(_terms(s)) >= 3:
                units.append(_Unit(f"{day}: {s}", m, weight, len(units)))
    picked = _extract(units, budget_tokens)
    if not picked:
        return None
    return Draft(text="\n".join(u.text for u in picked), sources=_cited(picked))


# -- profile ---------------------------------------------------------------------------------
def _fact_items(
    facts: Sequence[MemoryRecord], previous: Mapping[str, MemoryRecord], now: datetime
) -> list[ProfileItem]:
    items = []
    for f in facts:
        since = f.valid_from or f.recorded_at
        if f.valid_to is not None and f.valid_to <= now:
            if now - f.valid_to <= RECENT:
                items.append(ProfileItem(f.text, f.id, "recent", f.valid_to, "ended"))
            continue
        before = previous.get(f.id)
        if before is not None and now - f.recorded_at <= RECENT:
            items.append(ProfileItem(f.text, f.id, "recent", f.recorded_at, "updated", before.text))
        elif f.version == 1 and now - since <= RECENT and since <= now:
            items.append(ProfileItem(f.text, f.id, "recent", since, "new"))
        else:
            items.append(ProfileItem(f.text, f.id, "stable", since, "fact"))
    return items


def _statement_items(statements: Sequence[MemoryRecord], now: datetime) -> list[ProfileItem]:
    units = [
        _Unit(s, m, 1.0, i)
        for i, m in enumerate(sorted(statements, key=lambda m: (learned_at(m), m.id)))
        if m.metadata.get("role", "user") == "user" and learned_at(m) <= now
        for s in sentences(m.text)
        if _SELF.search(s) and count_tokens(s) <= STATEMENT_MAX_TOKENS
    ]
    if not units:
        return []
    recent = [u for u in units if now - learned_at(u.source) <= RECENT]
    older = [u for u in units if now - learned_at(u.source) > RECENT]
    items = []
    for group, section, cap in (
        (older, "stable", PROFILE_STABLE_ITEMS),
        (recent, "recent", PROFILE_RECENT_ITEMS),
    ):
        picked = _extract(group, budget=cap * STATEMENT_MAX_TOKENS) if group else []
        items += [  # in time order: past the cap, the newest ones are kept
            ProfileItem(u.text, u.source.id, section, learned_at(u.source), "statement")  # type: ignore[arg-type]
            for u in picked[-cap:]
        ]
    return items


def build_profile(
    facts: Sequence[MemoryRecord],
    previous: Mapping[str, MemoryRecord],
    statements: Sequence[MemoryRecord],
    now: datetime,
) -> list[ProfileItem]:
    """Profile items from stored facts (with ``previous`` versions by id) and user statements.

    Facts ended (``valid_to`` passed) within ``RECENT`` show as recent changes, then drop
    out; facts updated or added within ``RECENT`` are recent changes; the rest is stable.
    User statements fill in what facts do not cover.
    """
    items = _fact_items(facts, previous, now)
    covered = {i.memory_id for i in items}
    items += [i for i in _statement_items(statements, now) if i.memory_id not in covered]
    stable = [i for i in items if i.section == "stable"][: PROFILE_STABLE_ITEMS * 2]
    recent = sorted((i for i in items if i.section == "recent"), key=lambda i: i.since)
    return stable + recent[-PROFILE_RECENT_ITEMS * 2 :]


def render_profile(subject: str, items: Sequence[ProfileItem]) -> str:
    lines = [f"Profile of {subject}"]
    stable = [f"[{i.memory_id}] {i.render()}" for i in items if i.section == "stable"]
    recent = [f"[{i.memory_id}] {i.render()}" for i in items if i.section == "recent"]
    if stable:
        lines += ["Stable facts:", *(f"- {x}" for x in stable)]
    if recent:
        lines += ["Recent changes:", *(f"- {x}" for x in recent)]
    if not stable and not recent:
        lines.append("(nothing known yet)")
    return "\n".join(lines)
