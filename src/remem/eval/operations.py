"""HaluMem-style operation metrics: how well LLM extraction turns each session into memories.

Following HaluMem (arXiv 2511.03506), per session, after remem has ingested it with fact
extraction on:

* **extraction recall**: the session's gold memory points (not the "interference" ones)
  that some fact extracted from the session states; **weighted recall** weights each
  point by its ``importance``.
* **extraction precision**: the facts extracted from the session that state some gold
  point.  Stricter than HaluMem's accuracy, which also accepts true facts outside the
  gold list: here a fact the gold list lacks counts as wrong.
* **false-memory resistance**: interference points no extracted fact states.
* **update accuracy**: for update points, the new value is a current fact and no current
  fact still states the superseded value (``original_memories``).  The rest are
  "stale" (new value current, old one too) or "omitted" (new value not current).

Two ways to decide that a fact states a point, both reported:

* ``judge``: one LLM call per session (structured output) shown the session's points and
  the facts extracted from it, plus, for update points, the current facts nearest to the
  new and old values.  This is what HaluMem does.
* ``embedding``: no LLM; cosine of the local embedder >= `DEFAULT_THRESHOLD`.  A current
  fact counts as stating an old value only when it is at least that close to it and
  closer to it than to the new value.  Cheap and rough: numbers exist without a judge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from remem.eval.datasets import MemoryPoint
from remem.eval.metrics import percentile
from remem.model import LLMUsage
from remem.providers.embedder import Embedder
from remem.providers.llm import LLM, Usage

#: Cosine of the local embedder above which a fact is taken to state a memory point.
DEFAULT_THRESHOLD = 0.8
#: Current facts shown to the judge per update point (nearest to the new and the old value).
NEIGHBOURS = 5
INTERFERENCE = "interference"
METHODS = ("judge", "embedding")

Outcome = Literal["correct", "stale", "omitted"]

JUDGE_PROMPT = """\
You check a memory system. A conversation session should have produced the gold memory \
points G below; the system stored the facts F.
For every gold point, list the facts that state the same information (the same person, \
attribute and value; wording may differ, extra detail is fine, a different value is not). \
For a point marked UPDATE, "facts" are those stating the NEW value and "stale" are those \
that still state the OLD value as true; for other points leave "stale" empty.

Gold memory points:
{points}

Facts:
{facts}

Answer with JSON: {{"points": [{{"point": "G1", "facts": ["F2"], "stale": []}}, ...]}}, \
one entry per gold point, using only the labels shown."""


class PointVerdict(BaseModel):
    point: str
    facts: list[str] = Field(default_factory=list)
    stale: list[str] = Field(default_factory=list)


class SessionVerdict(BaseModel):
    """What the judge returns for one session."""

    points: list[PointVerdict] = Field(default_factory=list)


@dataclass(frozen=True)
class OperationsSettings:
    """The LLM remem extracts with, the judge (None: embedding match only), the threshold."""

    llm: LLM
    judge_llm: LLM | None = None
    threshold: float = DEFAULT_THRESHOLD
    judge_max_tokens: int = 2000

    def describe(self) -> dict[str, Any]:
        return {
            "extraction_model": self.llm.model_id,
            "judge_model": self.judge_llm.model_id if self.judge_llm is not None else None,
            "embedding_threshold": self.threshold,
        }


@dataclass(frozen=True)
class Fact:
    id: str
    text: str


@dataclass(frozen=True)
class Matches:
    """One method's verdict on a session: per point, per extracted fact, per update point."""

    recalled: tuple[bool, ...]  # each point: stated by an extracted fact
    precise: tuple[bool, ...]  # each extracted fact: states a non-interference point
    updates: tuple[Outcome, ...]  # each update point, in order


@dataclass
class Counts:
    """Sums over sessions; ratios come from `metrics`."""

    points: int = 0
    recalled: int = 0
    importance: float = 0.0
    importance_recalled: float = 0.0
    facts: int = 0
    precise: int = 0
    interference: int = 0
    resisted: int = 0
    updates: int = 0
    correct: int = 0
    stale: int = 0
    omitted: int = 0
    points_by_type: dict[str, int] = field(default_factory=dict)
    recalled_by_type: dict[str, int] = field(default_factory=dict)

    def add(self, points: Sequence[MemoryPoint], matches: Matches) -> None:
        for point, recalled in zip(points, matches.recalled, strict=True):
            if point.source == INTERFERENCE:
                self.interference += 1
                self.resisted += not recalled
                continue
            weight = point.importance if point.importance is not None else 1.0
            self.points += 1
            self.recalled += recalled
            self.importance += weight
            self.importance_recalled += weight if recalled else 0.0
            kind = point.type or "unknown"
            self.points_by_type[kind] = self.points_by_type.get(kind, 0) + 1
            self.recalled_by_type[kind] = self.recalled_by_type.get(kind, 0) + recalled
        self.facts += len(matches.precise)
        self.precise += sum(matches.precise)
        self.updates += len(matches.updates)
        for outcome in matches.updates:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def merge(self, other: Counts) -> None:
        for name, value in asdict(other).items():
            if isinstance(value, dict):
                mine = getattr(self, name)
                for key, n in value.items():
                    mine[key] = mine.get(key, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)

    def metrics(self) -> dict[str, Any]:
        recall = _ratio(self.recalled, self.points)
        precision = _ratio(self.precise, self.facts)
        f1 = (
            2 * recall * precision / (recall + precision)
            if recall is not None and precision is not None and recall + precision
            else None
        )
        return {
            "recall": recall,
            "weighted_recall": _ratio(self.importance_recalled, self.importance),
            "precision": precision,
            "f1": f1,
            "false_memory_resistance": _ratio(self.resisted, self.interference),
            "update_accuracy": _ratio(self.correct, self.updates),
            "update_stale": _ratio(self.stale, self.updates),
            "update_omitted": _ratio(self.omitted, self.updates),
            "recall_by_type": {
                k: _ratio(self.recalled_by_type.get(k, 0), n)
                for k, n in sorted(self.points_by_type.items())
            },
            "counts": asdict(self),
        }


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def is_update(point: MemoryPoint) -> bool:
    return point.is_update and point.source != INTERFERENCE


# -- embedding match ---------------------------------------------------------------------
def embedding_matches(
    embedder: Embedder,
    points: Sequence[MemoryPoint],
    extracted: Sequence[Fact],
    current: Sequence[Fact],
    threshold: float,
) -> Matches:
    updates = [p for p in points if is_update(p)]
    olds = [o for p in updates for o in p.original_memories]
    texts = [p.content for p in points] + olds + [f.text for f in (*extracted, *current)]
    vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
    n_p, n_o, n_e = len(points), len(olds), len(extracted)
    p_vec, o_vec = vectors[:n_p], vectors[n_p : n_p + n_o]
    e_vec, c_vec = vectors[n_p + n_o : n_p + n_o + n_e], vectors[n_p + n_o + n_e :]
    close = (p_vec @ e_vec.T) >= threshold if n_e else np.zeros((n_p, 0), dtype=bool)
    target = np.array([p.source != INTERFERENCE for p in points], dtype=bool)
    recalled = tuple(bool(row.any()) for row in close)
    precise = tuple(bool((close[:, j] & target).any()) for j in range(n_e))
    outcomes: list[Outcome] = []
    by_point = {id(p): i for i, p in enumerate(points)}
    start = 0
    for point in updates:
        n = len(point.original_memories)
        new_sim = p_vec[by_point[id(point)]] @ c_vec.T if len(current) else np.zeros(0)
        new_ok = bool((new_sim >= threshold).any())
        stale = False
        if n and len(current):
            old_sim = (o_vec[start : start + n] @ c_vec.T).max(axis=0)
            stale = bool(((old_sim >= threshold) & (old_sim > new_sim)).any())
        start += n
        outcomes.append(_outcome(new_ok, stale))
    return Matches(recalled, precise, tuple(outcomes))


def _outcome(new_ok: bool, stale: bool) -> Outcome:
    if not new_ok:
        return "omitted"
    return "stale" if stale else "correct"


# -- LLM judge ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Judged:
    matches: Matches
    usage: Usage
    called: bool


def judge_matches(
    llm: LLM,
    embedder: Embedder,
    points: Sequence[MemoryPoint],
    extracted: Sequence[Fact],
    current: Sequence[Fact],
    max_tokens: int,
) -> Judged:
    """One judge call for the session (none when there is nothing to compare)."""
    shown = list(extracted)
    seen = {f.id for f in shown}
    updates = [p for p in points if is_update(p)]
    if updates and current:
        for fact in _nearest(embedder, updates, current):
            if fact.id not in seen:
                shown.append(fact)
                seen.add(fact.id)
    if not points or not shown:
        return Judged(_from_verdict(points, extracted, current, shown, None), Usage(), False)
    completion = llm.complete(
        [{"role": "user", "content": judge_prompt(points, shown)}],
        schema=SessionVerdict,
        max_tokens=max_tokens,
        temperature=0.0,
    )
    verdict = _from_verdict(points, extracted, current, shown, completion.data)
    return Judged(verdict, completion.usage, True)


def judge_prompt(points: Sequence[MemoryPoint], facts: Sequence[Fact]) -> str:
    lines = []
    for i, point in enumerate(points, start=1):
        line = f"G{i}: {_one_line(point.content)}"
        if is_update(point) and point.original_memories:
            olds = "; ".join(_one_line(o) for o in point.original_memories)
            line += f" [UPDATE; old value: {olds}]"
        lines.append(line)
    facts_text = "\n".join(f"F{j}: {_one_line(f.text)}" for j, f in enumerate(facts, start=1))
    return JUDGE_PROMPT.format(points="\n".join(lines), facts=facts_text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _nearest(
    embedder: Embedder, updates: Sequence[MemoryPoint], current: Sequence[Fact]
) -> list[Fact]:
    """The current facts nearest to each update point's new and old values."""
    queries = [t for p in updates for t in (p.content, *p.original_memories)]
    vectors = embedder.embed(queries + [f.text for f in current])
    sims = vectors[: len(queries)] @ vectors[len(queries) :].T
    chosen: list[int] = []
    for row in sims:
        for j in np.argsort(-row, kind="stable")[:NEIGHBOURS]:
            if int(j) not in chosen:
                chosen.append(int(j))
    return [current[j] for j in chosen]


_LABEL = re.compile(r"^\s*([GF])(\d+)\s*$", re.IGNORECASE)


def _label(text: str, prefix: str, size: int) -> int | None:
    """0-based index of a label like 'F3'; None for anything not shown."""
    found = _LABEL.match(text)
    if not found or found.group(1).upper() != prefix:
        return None
    index = int(found.group(2)) - 1
    return index if 0 <= index < size else None


def _from_verdict(
    points: Sequence[MemoryPoint],
    extracted: Sequence[Fact],
    current: Sequence[Fact],
    shown: Sequence[Fact],
    verdict: SessionVerdict | None,
) -> Matches:
    stating: list[set[str]] = [set() for _ in points]
    stale: list[set[str]] = [set() for _ in points]
    for entry in verdict.points if verdict is not None else ():
        i = _label(entry.point, "G", len(points))
        if i is None:
            continue
        for labels, into in ((entry.facts, stating[i]), (entry.stale, stale[i])):
            for label in labels:
                j = _label(label, "F", len(shown))
                if j is not None:
                    into.add(shown[j].id)
    extracted_ids = {f.id for f in extracted}
    current_ids = {f.id for f in current}
    target_ids = set().union(
        *(s for s, p in zip(stating, points, strict=True) if p.source != INTERFERENCE)
    )
    return Matches(
        recalled=tuple(bool(s & extracted_ids) for s in stating),
        precise=tuple(f.id in target_ids for f in extracted),
        updates=tuple(
            _outcome(bool(stating[i] & current_ids), bool(stale[i] & current_ids))
            for i, p in enumerate(points)
            if is_update(p)
        ),
    )


# -- per-user record ---------------------------------------------------------------------
@dataclass
class UserOperations:
    """One user's sessions: counts per method, LLM work per add, add latency."""

    id: str
    counts: dict[str, Counts] = field(default_factory=dict)
    add_usage: list[LLMUsage] = field(default_factory=list)
    add_ms: list[float] = field(default_factory=list)
    failed_extractions: int = 0
    judge_usage: Usage = field(default_factory=Usage)
    judge_calls: int = 0

    def record(self, method: str, points: Sequence[MemoryPoint], matches: Matches) -> None:
        self.counts.setdefault(method, Counts()).add(points, matches)


def summarize(users: Sequence[UserOperations], settings: dict[str, Any]) -> dict[str, Any]:
    """Overall (pooled over every session of every user) and per user."""
    return {
        **settings,
        "methods": {
            "judge": "LLM judge, one call per session (HaluMem's way)",
            "embedding": "no LLM: local-embedder cosine >= embedding_threshold",
        },
        "overall": _summary(users),
        "users": {u.id: _summary([u]) for u in users},
    }


#: What one add cost (fields of its extraction usage), summed in the report.
ADD_USAGE_KEYS = (
    "calls",
    "extraction_calls",
    "consolidation_calls",
    "prompt_tokens",
    "completion_tokens",
    "retries",
)


def _summary(users: Sequence[UserOperations]) -> dict[str, Any]:
    by_method: dict[str, Counts] = {}
    for user in users:
        for method, counts in user.counts.items():
            by_method.setdefault(method, Counts()).merge(counts)
    usage = [u for user in users for u in user.add_usage]
    latencies = [ms for user in users for ms in user.add_ms]
    total = {key: sum(getattr(u, key) for u in usage) for key in ADD_USAGE_KEYS}
    judge = sum((user.judge_usage for user in users), Usage())
    return {
        "metrics": {m: by_method[m].metrics() for m in METHODS if m in by_method},
        "adds": len(usage),
        "failed_extractions": sum(user.failed_extractions for user in users),
        "llm": {
            "total": total,
            "per_add": {k: (v / len(usage) if usage else None) for k, v in total.items()},
        },
        "add_latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "judge_llm": {**asdict(judge), "sessions_judged": sum(u.judge_calls for u in users)},
    }
