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
  counts once, and the assistant is one voice in all its sessions (MINJA steers it into
  repeating a claim; repeating is not corroborating), or
- for an assistant turn, an earlier assistant turn of another session that it restates
  word for word with one value changed (``restates``), when no more trusted memory says
  what it says: a copied and falsified statement, not a correction in its own words.

The owner's own memories are never flagged here: they are what the others are checked
against. The check reads only the best ``POOL`` candidates a search already retrieved (no
extra query), and each memory's claims are parsed once per process (``CLAIM_CACHE``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

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
#: Best candidates a hit is checked against (the truth a poison imitates ranks near it).
POOL = 40

#: Words a sentence must repeat, in order, to be read as a restatement of another (``restates``).
MIN_RESTATED = 12

#: Marks the second and later occurrences of one value in a sentence ("79#2").
REPEAT = "#"
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:/]\d+)*")
_BLANK = "\0"
_WORD = re.compile(r"[a-z][a-z'’-]*")
#: Where a sentence frames a clause: a colon, quotes, a dash, brackets, a line break; each
#: is split on alone, so a claim holding a quoted title or a dash stays whole on one of them.
_CLAUSES = tuple(re.compile(p) for p in (r":\s", r"[\"“”]", r"\s[-–—]\s", r"[{}()\[\]]", r"\n"))
_CALENDAR = frozenset(
    {n.lower() for n in (*calendar.month_name, *calendar.month_abbr, *calendar.day_name) if n}
    | {"sept"}
)
#: Counts written out: a value as much as a digit is ("two days ago" / "three days ago").
_COUNTS = frozenset(
    [
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "thousand",
        "twice",
    ]
)


@dataclass(frozen=True)
class Claim:
    """One sentence as a frame (content words) and slots (values).

    ``lead`` is the sentence's capitalised first word, which may be a name ("Nate helps me
    stay focused") or any word that opens a sentence ("Great", "Yesterday"): it counts as
    a value only where the words around it say it is a name (``with_names``)."""

    frame: frozenset[str]
    slots: frozenset[str]
    lead: str | None = None
    #: The sentence word for word with its values blanked out (see ``restates``); 0 when
    #: it is too short for a repetition of it to mean anything.
    shape: int = 0

    def named(self) -> Claim:
        """The claim with its lead read as a name (a value)."""
        if self.lead is None:
            return self
        return Claim(self.frame, self.slots | {self.lead}, shape=self.shape)


@dataclass(frozen=True)
class Verdict:
    """Why a memory is disputed, and the memories it contradicts."""

    memory_id: str
    reason: str
    against: tuple[str, ...]
    #: The candidates at its trust or above that say the same (judged next, as they rise).
    copies: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return f"disputed: {self.reason}"


def read_claims(text: str) -> tuple[Claim, ...]:
    """The claims of ``text`` that carry a value (a sentence without slots states none).

    A sentence framed by other words ('Search result for "...": <claim>', 'About X - <claim>')
    is read whole and clause by clause, so the claim inside is compared on its own words.
    """
    found: dict[Claim, None] = {}
    for sentence in sentences(text)[:MAX_SENTENCES]:
        parts = [sentence]
        for clause in _CLAUSES:
            if clause.search(sentence):
                parts += [p for p in clause.split(sentence) if p.strip()]
        for part in parts:
            claim = _claim(part)
            if claim is not None:
                found[claim] = None
    return tuple(found)


def _claim(sentence: str) -> Claim | None:
    frame: set[str] = set()
    slots: set[str] = set()
    shape: list[str] = []
    lead = None

    def value(low: str) -> None:
        # A repeated value is a value again: "aged 79 and 79" is not "aged 74 and 79".
        n = 2
        while low in slots:
            low = f"{low.split(REPEAT)[0]}{REPEAT}{n}"
            n += 1
        slots.add(low)

    tokens = _TOKEN.findall(sentence)
    for i, token in enumerate(tokens):
        low = token.lower()
        shape.append(_BLANK)
        if token[0].isdigit() or low in _CALENDAR or low in _COUNTS:
            value(low)
        elif _plain(low):
            shape[-1] = low
        elif token[0].isupper() and i > 0:
            value(low)  # a name: "... moved to Lisbon"
        elif token[0].isupper() and len(tokens) > 1 and _is_name(tokens[1]):
            value(low)  # the start of a name: "Director Franco's work..."
        elif token[0].isupper():
            lead = low if token[1:].islower() else None
        else:
            frame.add(low)
            shape[-1] = low
    if (slots or lead) and len(frame) >= MIN_SHARED:
        restatable = len(shape) >= MIN_RESTATED
        return Claim(
            frozenset(frame), frozenset(slots), lead, hash(tuple(shape)) if restatable else 0
        )
    return None


def _plain(low: str) -> bool:
    """A word too common to carry a claim: a stop word, a short one, "I'm" / "I've"."""
    return low in STOPWORDS or len(low) < 3 or low.startswith(("i'", "i’"))


def _is_name(token: str) -> bool:
    """Whether a word inside a sentence is read as a name (a value), as ``_claim`` reads it."""
    low = token.lower()
    return token[0].isupper() and low not in _CALENDAR and low not in _COUNTS and not _plain(low)


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


def _may_share(memory: MemoryRecord, vocabulary: frozenset[str]) -> bool:
    """Whether ``memory`` has ``MIN_SHARED`` of the words: a cheap test before parsing it."""
    if (memory.id, memory.version) in _cache:
        return True
    words = set(_WORD.findall(memory.text.lower()))
    return len(words & vocabulary) >= MIN_SHARED


def _same_topic(a: Claim, b: Claim) -> bool:
    shared = len(a.frame & b.frame)
    return shared >= MIN_SHARED and shared >= MIN_OVERLAP * len(a.frame | b.frame)


def disagree(a: Claim, b: Claim) -> bool:
    """Same frame, and each has a value the other lacks."""
    return _same_topic(a, b) and bool(a.slots - b.slots) and bool(b.slots - a.slots)


def agree(a: Claim, b: Claim) -> bool:
    """Same frame and the same values (or one's values among the other's)."""
    return _same_topic(a, b) and (a.slots <= b.slots or b.slots <= a.slots)


def restates(a: Claim, b: Claim) -> bool:
    """The same sentence word for word with one value changed ("the two angles and the
    included side" / "the five angles and the included side"): copied and falsified, not
    a new statement that happens to share words (a heading and a list item in Title Case,
    a formula with other numbers, differ in more than one value)."""
    return (
        a.shape != 0
        and a.shape == b.shape
        and len(a.slots - b.slots) == 1 == len(b.slots - a.slots)
        and _same_topic(a, b)
    )


def _independence(memory: MemoryRecord) -> tuple[str | None, str]:
    """Memories sharing this key are one voice: same session, same origin. The assistant
    is one speaker in every session: saying a thing again is not corroborating it."""
    if memory.origin == "assistant":
        return None, memory.origin
    return memory.scope.session_id or (memory.provenance[:1] or ("",))[0], memory.origin


def _said_at(memory: MemoryRecord) -> datetime:
    return memory.valid_from or memory.recorded_at


def check(
    memories: Sequence[MemoryRecord],
    judged: int,
    pool: int = POOL,
    also: Sequence[MemoryRecord] = (),
    more: Sequence[MemoryRecord] = (),
) -> dict[str, Verdict]:
    """Verdicts on the first ``judged`` of ``memories`` (the hits about to be returned) and
    on ``more`` (the sources derived hits cite), checked against the first ``pool`` (the
    best candidates) and ``also`` (memories found about their claims), by memory id; a
    memory absent from the answer is not disputed.

    The claims of the judged hits are indexed by frame word, and each candidate's claims
    looked up in that small index: only pairs sharing ``MIN_SHARED`` words are compared.
    """
    seen = {m.id for m in memories[:judged]}
    extra = [m for m in more if m.id not in seen]
    targets = [(m, claims_of(m)) for m in [*memories[:judged], *extra] if m.trust != "trusted"]
    targets = [t for t in targets if t[1]]
    if not targets:
        return {}
    floor = min(TRUST_LEVELS.index(m.trust) for m, _ in targets)
    flat: list[tuple[int, Claim]] = []
    postings: dict[str, list[int]] = {}
    for t, (_, claims) in enumerate(targets):
        for claim in claims:
            for word in claim.frame:
                postings.setdefault(word, []).append(len(flat))
            flat.append((t, claim))
    against: list[dict[str, MemoryRecord]] = [{} for _ in targets]
    siding: list[dict[str, MemoryRecord]] = [{m.id: m} for m, _ in targets]
    restated: list[dict[str, MemoryRecord]] = [{} for _ in targets]
    vocabulary = frozenset(postings)
    candidates = [*memories[:pool], *also]
    texts = [m.text for m in [*candidates, *extra]]
    lowercase: dict[str, bool] = {}

    def named(claim: Claim) -> Claim:
        """The lead is a name unless some candidate writes it lowercase (asked once)."""
        if claim.lead is None:
            return claim
        if claim.lead not in lowercase:
            lowercase[claim.lead] = _seen_lowercase(claim.lead, texts)
        return claim if lowercase[claim.lead] else claim.named()

    for voice in candidates:
        level = TRUST_LEVELS.index(voice.trust)
        if level < floor or not _may_share(voice, vocabulary):
            continue
        for other in claims_of(voice):
            shared: dict[int, int] = {}
            for word in other.frame:
                for k in postings.get(word, ()):
                    shared[k] = shared.get(k, 0) + 1
            for k, n in shared.items():
                t, claim = flat[k]
                memory = targets[t][0]
                if n < MIN_SHARED or voice.id == memory.id:
                    continue
                if level < TRUST_LEVELS.index(memory.trust):
                    continue
                mine, theirs = named(claim), named(other)
                if not mine.slots or not theirs.slots:
                    continue
                if disagree(mine, theirs):
                    against[t][voice.id] = voice
                    if restates(claim, other):
                        restated[t][voice.id] = voice
                elif agree(mine, theirs):
                    siding[t][voice.id] = voice
    verdicts = {}
    for t, (memory, _) in enumerate(targets):
        verdict = _verdict(memory, against[t], siding[t], restated[t])
        if verdict is not None:
            copies = tuple(i for i in siding[t] if i != memory.id)
            verdicts[memory.id] = replace(verdict, copies=copies)
    return verdicts


def _seen_lowercase(word: str, texts: Sequence[str]) -> bool:
    """Whether some text writes ``word`` in lowercase, as a whole word: then it is an
    ordinary word, not a name. (Plain substring search: a regular expression over every
    candidate costs ten times as much.)"""
    for text in texts:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or not text[at - 1].isalnum()) and (
                end == len(text) or not text[end].isalnum()
            ):
                return True
            at = text.find(word, end)
    return False


def _verdict(
    memory: MemoryRecord,
    against: dict[str, MemoryRecord],
    siding: dict[str, MemoryRecord],
    restated: dict[str, MemoryRecord],
) -> Verdict | None:
    if not against:
        return None
    better = [m for m in against.values() if less_trusted(memory.trust, m.trust)]
    if better:
        ids = tuple(m.id for m in better)
        return Verdict(memory.id, f"contradicts more trusted {', '.join(ids[:3])}", ids)
    backed = any(less_trusted(memory.trust, m.trust) for m in siding.values())
    earlier = [
        m
        for m in restated.values()
        if memory.origin == m.origin == "assistant"
        and m.scope.session_id != memory.scope.session_id
        and _said_at(m) < _said_at(memory)
    ]
    if earlier and not backed:
        ids = tuple(m.id for m in earlier)
        return Verdict(
            memory.id,
            f"changes what the assistant said before ({', '.join(ids[:3])}), "
            "and no owner's memory says so",
            ids,
        )
    dissent = {_independence(m) for m in against.values()}
    support = {_independence(m) for m in siding.values()}
    if len(dissent) >= 2 and len(dissent) > len(support):
        ids = tuple(against)
        return Verdict(
            memory.id,
            f"contradicts what {len(dissent)} independent memories agree on ({', '.join(ids[:3])})",
            ids,
        )
    return None
