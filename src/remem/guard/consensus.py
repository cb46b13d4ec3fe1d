"""The consensus check (after A-MemGuard), offline: a retrieved memory that contradicts
better-believed memories about the same thing is flagged.

A-MemGuard compares the reasoning paths several related memories lead to and distrusts
the one that disagrees. Offline, without a model, remem compares claims: each sentence is
read as a *frame* (its content words) and *slots* (the values a false version would
change: numbers, dates, names). Two sentences with the same frame and different slots
disagree ("Ana moved to Lisbon in March" / "Ana moved to Porto in March").

A memory below the owner's trust is flagged (``Verdict``) when it disagrees with

- a memory more trusted than it (the owner's word outranks a tool result), or
- what at least two *independent* memories at least as trusted as it agree on, outnumbering
  those that side with it: independent means from distinct sessions or origins, so a claim
  repeated in one session, or planted by several fake tool results of one conversation,
  counts once.

The owner's own memories are never flagged here: they are what the others are checked
against. The check reads only the candidates a search already retrieved (no extra query),
and each memory's claims are parsed once per process (``CLAIM_CACHE``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from remem.model import TRUST_LEVELS, MemoryRecord, less_trusted
from remem.text.sentences import sentences
from remem.text.terms import STOPWORDS

#: Sentences read per memory (a long answer's first ones carry its claims).
MAX_SENTENCES = 40
#: Content words two sentences must share, and the share of their union, to be about one thing.
MIN_SHARED = 3
MIN_OVERLAP = 0.5
#: Parsed memories kept per process, by (id, version).
CLAIM_CACHE = 50_000

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:/]\d+)*")
_CALENDAR = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)


@dataclass(frozen=True)
class Claim:
    """One sentence as a frame (content words) and slots (values)."""

    frame: frozenset[str]
    slots: frozenset[str]


@dataclass(frozen=True)
class Verdict:
    """Why a memory is disputed, and the memories it contradicts."""

    memory_id: str
    reason: str
    against: tuple[str, ...]

    @property
    def flag(self) -> str:
        return f"disputed: {self.reason}"


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def read_claims(text: str) -> tuple[Claim, ...]:
    """The claims of ``text`` that carry a value (a sentence without slots states none)."""
    found = []
    for sentence in sentences(text)[:MAX_SENTENCES]:
        frame: set[str] = set()
        slots: set[str] = set()
        for i, token in enumerate(_TOKEN.findall(sentence)):
            low = token.lower()
            if token[0].isdigit() or low in _CALENDAR:
                slots.add(low)
            elif low in STOPWORDS or len(low) < 3:
                continue
            elif token[0].isupper() and i > 0:
                slots.add(low)  # a name: "... moved to Lisbon"
            elif not token[0].isupper():
                frame.add(_stem(low))
        if slots and len(frame) >= MIN_SHARED:
            found.append(Claim(frozenset(frame), frozenset(slots)))
    return tuple(found)


_cache: dict[tuple[str, int], tuple[Claim, ...]] = {}


def claims_of(memory: MemoryRecord) -> tuple[Claim, ...]:
    key = (memory.id, memory.version)
    found = _cache.get(key)
    if found is None:
        found = read_claims(memory.text)
        if len(_cache) >= CLAIM_CACHE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = found
    return found


def _same_topic(a: Claim, b: Claim) -> bool:
    shared = len(a.frame & b.frame)
    return shared >= MIN_SHARED and shared >= MIN_OVERLAP * len(a.frame | b.frame)


def disagree(a: Claim, b: Claim) -> bool:
    """Same frame, and each has a value the other lacks."""
    return _same_topic(a, b) and bool(a.slots - b.slots) and bool(b.slots - a.slots)


def agree(a: Claim, b: Claim) -> bool:
    """Same frame and the same values (or one's values among the other's)."""
    return _same_topic(a, b) and (a.slots <= b.slots or b.slots <= a.slots)


def _independence(memory: MemoryRecord) -> tuple[str | None, str]:
    """Memories sharing this key are one voice: same session, same origin."""
    return memory.scope.session_id or (memory.provenance[:1] or ("",))[0], memory.origin


class _Index:
    """Claims of the candidates, found by their frame words."""

    def __init__(self, memories: Sequence[MemoryRecord]) -> None:
        self.claims: list[tuple[int, Claim]] = []
        self.postings: dict[str, list[int]] = {}
        for i, memory in enumerate(memories):
            for claim in claims_of(memory):
                for word in claim.frame:
                    self.postings.setdefault(word, []).append(len(self.claims))
                self.claims.append((i, claim))

    def near(self, claim: Claim) -> list[tuple[int, Claim]]:
        counts: Counter[int] = Counter()
        for word in claim.frame:
            counts.update(self.postings.get(word, ()))
        return [self.claims[c] for c, n in counts.items() if n >= MIN_SHARED]


def check(memories: Sequence[MemoryRecord], judged: int) -> dict[str, Verdict]:
    """Verdicts on the first ``judged`` of ``memories`` (the rest are the candidates they are
    checked against), by memory id; a memory absent from the answer is not disputed."""
    if not any(m.trust != "trusted" for m in memories[:judged]):
        return {}
    index = _Index(memories)
    verdicts: dict[str, Verdict] = {}
    for i, memory in enumerate(memories[:judged]):
        if memory.trust == "trusted":
            continue
        verdict = _judge(i, memory, memories, index)
        if verdict is not None:
            verdicts[memory.id] = verdict
    return verdicts


def _judge(
    i: int, memory: MemoryRecord, memories: Sequence[MemoryRecord], index: _Index
) -> Verdict | None:
    against: dict[int, None] = {}
    siding: dict[int, None] = {i: None}
    rank = TRUST_LEVELS.index(memory.trust)
    for claim in claims_of(memory):
        for j, other in index.near(claim):
            voice = memories[j]
            if j == i or voice.id == memory.id or TRUST_LEVELS.index(voice.trust) < rank:
                continue
            if disagree(claim, other):
                against.setdefault(j)
            elif agree(claim, other):
                siding.setdefault(j)
    if not against:
        return None
    better = [memories[j] for j in against if less_trusted(memory.trust, memories[j].trust)]
    if better:
        ids = tuple(dict.fromkeys(m.id for m in better))
        return Verdict(memory.id, f"contradicts more trusted {', '.join(ids[:3])}", ids)
    dissent = {_independence(memories[j]) for j in against}
    support = {_independence(memories[j]) for j in siding}
    if len(dissent) >= 2 and len(dissent) > len(support):
        ids = tuple(dict.fromkeys(memories[j].id for j in against))
        return Verdict(
            memory.id,
            f"contradicts what {len(dissent)} independent memories agree on ({', '.join(ids[:3])})",
            ids,
        )
    return None
