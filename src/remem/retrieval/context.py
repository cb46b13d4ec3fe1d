"""Assemble a prompt-ready context block within a token budget.

What goes in, in order of claim on the budget: the user profile (at most 15% of the
budget, items touching the query first), the running summary (at most 10%), then
retrieved memories in their ranking order, whatever their kind. Each line cites its memory
as ``[id]`` and carries its date; a long memory is cut down to its sentences that share the
most words with the query. The block is measured with ``remem.text.tokens`` as it is
built; a line that does not fit is shortened or left out, so the budget is never exceeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from remem.model import Context, ContextLine, MemoryRecord, ProfileItem
from remem.text.sentences import sentences
from remem.text.terms import query_terms
from remem.text.tokens import clip, count_tokens

HEADERS = {
    "profile": "## About the user",
    "overview": "## Overview",
    "fact": "## Relevant facts",
    "summary": "## Relevant sessions",
    "episode": "## Relevant conversation",
}
SECTION_OF_KIND = {"fact": "fact", "insight": "fact", "summary": "summary", "episode": "episode"}
# Shares chosen on the dev data (docs/benchmarks.md): more, shorter turns recall more per token.
PROFILE_SHARE = 0.15
OVERVIEW_SHARE = 0.10
#: A retrieved memory gets at most budget / LINE_DIVISOR tokens (and at least 48).
LINE_DIVISOR = 10
#: A line shorter than this is not worth its citation: it is left out instead.
MIN_LINE_TOKENS = 8


def _overlap(text: str, terms: set[str]) -> int:
    return len(terms.intersection(query_terms(text, limit=1000)))


def focus(text: str, terms: set[str], max_tokens: int) -> str:
    """``text`` cut to ``max_tokens``: its sentences sharing most words with the query, in order."""
    if count_tokens(text) <= max_tokens:
        return text
    parts = sentences(text)
    ranked = sorted(range(len(parts)), key=lambda i: (-_overlap(parts[i], terms), i))
    chosen: list[int] = []
    spent = 0
    for i in ranked:
        cost = count_tokens(parts[i]) + 1  # +1 for the "…" joining it to the next part
        if spent + cost <= max_tokens:
            chosen.append(i)
            spent += cost
    if not chosen:
        return clip(text, max_tokens)
    picked = ""
    for i in sorted(chosen):
        joiner = " " if i - 1 in chosen else " … "
        picked = f"{picked}{joiner}{parts[i]}" if picked else parts[i]
    return clip(picked, max_tokens)


def _day(when: datetime | None) -> str:
    return when.date().isoformat() if when else "undated"


def _body(memory: MemoryRecord) -> str:
    if memory.kind == "episode":
        role = memory.metadata.get("role")
        speaker = memory.metadata.get("speaker")
        who = f"{role}: " if role and not speaker else ""
        return f"{_day(memory.valid_from)} {who}{memory.text}"
    if memory.kind == "summary":
        session = memory.scope.session_id or memory.metadata.get("session_id")
        label = f"session {session}" if session else "summary"
        return f"{_day(memory.valid_from)} {label}: {memory.text}"
    since = memory.valid_from or memory.recorded_at
    return f"(since {_day(since)}) {memory.text}"


@dataclass
class _Builder:
    budget: int
    terms: set[str]
    spent: int = 0
    lines: dict[str, list[ContextLine]] = field(default_factory=dict)

    def add(
        self,
        section: str,
        memory_id: str,
        body: str,
        when: datetime | None,
        cap: int,
        limit: int | None = None,
    ) -> bool:
        """Add one line of at most ``cap`` tokens, keeping the total at most ``limit``."""
        header = 0 if section in self.lines else count_tokens(HEADERS[section])
        prefix = f"- [{memory_id}] "
        ceiling = self.budget if limit is None else min(limit, self.budget)
        room = min(cap, ceiling - self.spent - header) - count_tokens(prefix)
        if room < MIN_LINE_TOKENS and count_tokens(body) > room:
            return False
        text = prefix + focus(body, self.terms, room)
        cost = count_tokens(text)
        self.lines.setdefault(section, []).append(
            ContextLine(memory_id=memory_id, section=section, text=text, tokens=cost, when=when)  # type: ignore[arg-type]
        )
        self.spent += header + cost
        return True

    def render(self) -> tuple[str, tuple[ContextLine, ...]]:
        blocks, ordered = [], []
        for section, header in HEADERS.items():
            if self.lines.get(section):
                blocks.append("\n".join([header, *(x.text for x in self.lines[section])]))
                ordered += self.lines[section]
        return "\n\n".join(blocks), tuple(ordered)


def build_context(
    query: str,
    budget_tokens: int,
    *,
    profile: Sequence[ProfileItem] = (),
    overview: MemoryRecord | None = None,
    memories: Sequence[MemoryRecord] = (),
    max_line_tokens: int | None = None,
) -> Context:
    """The block for ``query``: ``memories`` are the retrieved ones, best first."""
    terms = set(query_terms(query, limit=1000))
    build = _Builder(budget_tokens, terms)
    line_cap = max_line_tokens or max(48, budget_tokens // LINE_DIVISOR)
    limit = int(budget_tokens * PROFILE_SHARE)
    for item in sorted(profile, key=lambda i: (-_overlap(i.text, terms), i.section != "recent")):
        if not build.add("profile", item.memory_id, item.render(), item.since, line_cap, limit):
            break
    if overview is not None:
        limit = build.spent + int(budget_tokens * OVERVIEW_SHARE)
        for line in filter(str.strip, overview.text.splitlines()):
            if not build.add("overview", overview.id, line, None, line_cap, limit):
                break
    for memory in memories:
        section = SECTION_OF_KIND.get(memory.kind)
        if section is None:
            continue
        if build.budget - build.spent < MIN_LINE_TOKENS:
            break
        build.add(section, memory.id, _body(memory), memory.valid_from, line_cap)
    text, lines = build.render()
    tokens = count_tokens(text)
    if tokens > budget_tokens:  # cannot happen: counts add up over whitespace-joined lines
        raise RuntimeError(f"context of {tokens} tokens over its budget of {budget_tokens}")
    return Context(query=query, text=text, tokens=tokens, budget_tokens=budget_tokens, lines=lines)
