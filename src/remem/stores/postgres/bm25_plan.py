"""Which rows PostgreSQL's BM25 ranks: every match while that is cheap, a focused set past it.

The GIN index finds the rows holding a lexeme but cannot order them, so ranking the OR of
common lexemes reads every matching row (148k for "plan" in a 1M-row user, over a second).
Past ``BUDGET`` estimated matches the ranking reads instead the rows holding a rare lexeme
(rarest first, while their estimated matches fit the budget) or a pair of the other, common
ones: those carry the high BM25 scores. A row holding one common lexeme and nothing rarer
scores at most that lexeme's low IDF over its length norm, so it ranks only when it is
short and the focused rows are few or long; such rows are what this plan can miss
(measured in docs/postgres.md). The rows read stay capped at ``CAP`` whatever the estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

BUDGET = 20_000  # estimated matching rows past which ranking stops reading every match
CAP = 4 * BUDGET  # rows a focused plan reads at most, however wrong the estimates
PAIRED = 8  # common lexemes (the rarest of them) whose pairs are read: a claim has up to 32


def tsquery(lexemes: Sequence[str], join: str = " | ") -> str:
    """The lexemes joined, each quoted so no character can change the query's syntax."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in lexemes)
    return join.join(quoted)


@dataclass(frozen=True)
class Plan:
    """``focused`` is None when every match is ranked (exact BM25), else the tsquery of the
    rows ranked; ``everything`` is the OR of all the lexemes."""

    focused: str | None
    everything: str


def plan(lexemes: Sequence[str], rows: Sequence[float]) -> Plan:
    """The plan for lexemes whose estimated matching rows are ``rows``."""
    everything = tsquery(lexemes)
    if sum(rows) <= BUDGET:
        return Plan(None, everything)
    order = sorted(range(len(lexemes)), key=lambda i: (rows[i], lexemes[i]))
    rare: list[str] = []
    spent = 0.0
    for i in order:
        if spent + rows[i] > BUDGET:
            break
        rare.append(lexemes[i])
        spent += rows[i]
    common = [lexemes[i] for i in order[len(rare) :]]
    parts = [tsquery([x]) for x in rare]
    parts += ["(" + tsquery(p, " & ") + ")" for p in combinations(common[:PAIRED], 2)]
    return Plan(" | ".join(parts or [tsquery(common)]), everything)
