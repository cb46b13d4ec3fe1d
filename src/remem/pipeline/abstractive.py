"""Abstractive summaries, profile and insights through an LLM, each answer structured and cited.

The model sees its inputs numbered and answers with a pydantic schema that names the
numbers it used; numbers out of range are dropped, and an item citing nothing valid is
dropped too, so whatever is stored cites real memories. Texts are clipped to their token
budget with ``remem.text.tokens``, whatever the model wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, Field

from remem.model import MemoryRecord, ProfileChange, ProfileItem, ProfileSection
from remem.pipeline import summary_prompts
from remem.pipeline.summaries import (
    PROFILE_RECENT_ITEMS,
    PROFILE_STABLE_ITEMS,
    RECENT,
    RUNNING_BUDGET,
    SESSION_BUDGET,
    Draft,
)
from remem.retention import learned_at
from remem.text.tokens import clip

#: Characters of one input shown to the model (long turns are cut, not dropped).
INPUT_CHARS = 1200
INSIGHT_COUNT = 5


class Cited(BaseModel):
    text: str
    sources: list[int] = Field(default_factory=list)


class Summary(BaseModel):
    summary: str
    sources: list[int] = Field(default_factory=list)


class RecentItem(Cited):
    change: Literal["new", "updated", "ended"] = "new"


class Profile(BaseModel):
    stable: list[Cited] = Field(default_factory=list)
    recent: list[RecentItem] = Field(default_factory=list)


class Insights(BaseModel):
    insights: list[Cited] = Field(default_factory=list)


def _numbered(memories: Sequence[MemoryRecord]) -> str:
    lines = []
    for number, m in enumerate(memories, start=1):
        role = m.metadata.get("role")
        who = f"{role}: " if role and not m.metadata.get("speaker") else ""
        day = learned_at(m).date().isoformat()
        lines.append(f"[{number}] ({day}) {who}{m.text[:INPUT_CHARS]}")
    return "\n".join(lines)


def _cited(numbers: Sequence[int], memories: Sequence[MemoryRecord]) -> list[MemoryRecord]:
    chosen = dict.fromkeys(n for n in numbers if isinstance(n, int) and 1 <= n <= len(memories))
    return [memories[n - 1] for n in chosen]


def _ask(llm: Any, system: str, memories: Sequence[MemoryRecord], schema: type[BaseModel]) -> Any:
    reply = llm.complete(
        [{"role": "system", "content": system}, {"role": "user", "content": _numbered(memories)}],
        schema=schema,
    )
    return reply.data


def _words(budget_tokens: int) -> int:
    return max(10, budget_tokens * 3 // 4)


def _summary(
    llm: Any, template: str, ordered: Sequence[MemoryRecord], budget_tokens: int
) -> Draft | None:
    """An abstractive summary of ``ordered`` within the budget, citing what it drew on."""
    prompt = template.format(words=_words(budget_tokens))
    answer: Summary = _ask(llm, prompt, ordered, Summary)
    text = clip(answer.summary.strip(), budget_tokens)
    if not text:
        return None
    sources = _cited(answer.sources, ordered) or list(ordered)
    return Draft(text=text, sources=tuple(sources), method="abstractive")


def session_summary(
    llm: Any, turns: Sequence[MemoryRecord], *, budget_tokens: int = SESSION_BUDGET
) -> Draft | None:
    ordered = sorted(turns, key=lambda m: (learned_at(m), m.id))
    return _summary(llm, summary_prompts.SESSION, ordered, budget_tokens)


def running_summary(
    llm: Any, session_summaries: Sequence[MemoryRecord], *, budget_tokens: int = RUNNING_BUDGET
) -> Draft | None:
    ordered = sorted(session_summaries, key=lambda m: (m.valid_from or m.recorded_at, m.id))
    if not ordered:
        return None
    return _summary(llm, summary_prompts.RUNNING, ordered, budget_tokens)


def build_profile(
    llm: Any,
    facts: Sequence[MemoryRecord],
    previous: Mapping[str, MemoryRecord],
    statements: Sequence[MemoryRecord],
    now: datetime,
    *,
    max_statements: int = 200,
) -> list[ProfileItem]:
    """Profile items written by the model from facts and the newest user statements."""
    user_turns = [m for m in statements if learned_at(m) <= now]
    newest = sorted(user_turns, key=lambda m: (learned_at(m), m.id))[-max_statements:]
    inputs = [*facts, *newest]
    if not inputs:
        return []
    prompt = summary_prompts.PROFILE.format(
        stable=PROFILE_STABLE_ITEMS,
        recent=PROFILE_RECENT_ITEMS,
        recent_days=RECENT.days,
        today=now.date().isoformat(),
    )
    answer: Profile = _ask(llm, prompt, inputs, Profile)
    items = []
    for section, entries in (("stable", answer.stable), ("recent", answer.recent)):
        for entry in entries:
            cited = _cited(entry.sources, inputs)
            if not cited or not entry.text.strip():
                continue
            first = cited[0]
            change: ProfileChange = getattr(entry, "change", "fact")
            was = previous.get(first.id)
            items.append(
                ProfileItem(
                    text=entry.text.strip(),
                    memory_id=first.id,
                    section=cast(ProfileSection, section),
                    since=learned_at(first) if change != "ended" else (first.valid_to or now),
                    change=change,
                    previous=was.text if change == "updated" and was is not None else None,
                )
            )
    return items


def insights(
    llm: Any, memories: Sequence[MemoryRecord], *, count: int = INSIGHT_COUNT
) -> list[tuple[str, list[MemoryRecord]]]:
    """(insight, the memories it rests on) pairs; insights citing fewer than two are dropped."""
    if len(memories) < 2:
        return []
    answer: Insights = _ask(llm, summary_prompts.INSIGHTS.format(count=count), memories, Insights)
    found = []
    for entry in answer.insights[:count]:
        cited = _cited(entry.sources, memories)
        if len(cited) >= 2 and entry.text.strip():
            found.append((entry.text.strip(), cited))
    return found
