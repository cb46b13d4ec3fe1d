"""The LLM prompts of extraction and consolidation, and the JSON schemas of their answers.

Kept apart from the logic (as Graphiti does) so they can be read, reviewed and tuned
on their own. Schemas are lenient where small local models slip (missing optional
fields, dates as plain text); the pipeline validates meaning afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ENTITY_TYPES = ("person", "place", "organization", "object", "event", "concept", "other")


# -- extraction -------------------------------------------------------------------------
class ExtractedEntity(BaseModel):
    name: str = Field(description="the fullest name used in the turns, e.g. 'Ana Silva'")
    type: str = Field(default="other", description="one of " + ", ".join(ENTITY_TYPES))
    aliases: list[str] = Field(default_factory=list, description="other names used for it")


class ExtractedFact(BaseModel):
    text: str = Field(description="one self-contained statement, third person, names not pronouns")
    turn: int | None = Field(default=None, description="index of the turn it comes from")
    subject: str | None = None
    predicate: str | None = Field(default=None, description="short verb phrase, e.g. 'lives in'")
    object: str | None = None
    entities: list[str] = Field(default_factory=list, description="names of entities it mentions")
    kind: Literal["state", "event"] = Field(
        default="state", description="state: true from a time on (lives in); event: happened once"
    )
    time_phrase: str | None = Field(
        default=None, description="the words that say when, verbatim ('last March')"
    )
    valid_from: str | None = Field(default=None, description="ISO date it became true/happened")
    valid_to: str | None = Field(default=None, description="ISO date it stopped being true")


class ExtractionAnswer(BaseModel):
    facts: list[ExtractedFact] = Field(default_factory=list)
    entities: list[ExtractedEntity] = Field(default_factory=list)


EXTRACTION_SYSTEM = """\
You extract long-term memories from a conversation for a personal assistant.
Return the salient facts about the user and the world that are worth remembering \
for future conversations: identity, relationships, places, jobs, preferences, plans, \
events, possessions, health, opinions. Skip greetings, questions, small talk and \
what the assistant merely suggests.
Rules:
- One fact per statement, self-contained, in the third person with names \
(use the speaker's name for "I"; "the user" if unnamed).
- Relations between entities are facts too: subject, predicate, object.
- Resolve time against the turn's timestamp: "last week", "in March", "two years ago" \
become ISO dates in valid_from (and valid_to for events with an end). Copy the time \
words into time_phrase.
- kind "state" for things true from a time on (lives in, works at, likes); \
"event" for things that happened once.
- List every entity (person, place, organization, ...) with its type and other names \
used for it.
- Do not invent anything that is not said. An empty list is a fine answer."""


def extraction_messages(
    turns: Sequence[Mapping[str, object]], today: datetime
) -> list[dict[str, str]]:
    """``turns``: index, role, speaker, time (ISO), text."""
    lines = [
        f"[{t['index']}] {t['time']} {t['speaker'] or t['role']} ({t['role']}): {t['text']}"
        for t in turns
    ]
    user = (
        f"Today is {today.date().isoformat()}.\nTurns:\n" + "\n".join(lines) + "\n\n"
        "Extract the facts and entities as JSON."
    )
    return [{"role": "system", "content": EXTRACTION_SYSTEM}, {"role": "user", "content": user}]


# -- consolidation ----------------------------------------------------------------------
Action = Literal["ADD", "UPDATE", "INVALIDATE", "NOOP"]


class ConsolidationDecision(BaseModel):
    fact: int = Field(description="number of the new fact (N1 -> 1)")
    action: Action
    target: str | None = Field(
        default=None, description="label of the existing fact it acts on (E3); none for ADD"
    )
    text: str | None = Field(default=None, description="UPDATE only: the merged statement")
    ended_at: str | None = Field(
        default=None, description="INVALIDATE only: ISO date the old fact stopped being true"
    )
    reason: str = Field(default="", description="one short sentence")


class ConsolidationAnswer(BaseModel):
    decisions: list[ConsolidationDecision] = Field(default_factory=list)


CONSOLIDATION_SYSTEM = """\
You keep a user's memory consistent. For each new fact, compare it with the existing \
facts listed under it and choose one action:
- ADD: new information, not covered by any existing fact.
- NOOP: already known (same meaning as an existing fact); name it as target.
- UPDATE: the same fact with more or corrected detail that does not change what was \
true before (e.g. a job title added); name the target and give the merged statement in text.
- INVALIDATE: the new fact contradicts an existing fact that used to be true and no \
longer is (moved city, changed job, ended a relationship); name the target and give \
ended_at, the date the old fact stopped being true (usually the new fact's valid_from).
Give one decision per new fact, with a short reason."""


def consolidation_messages(
    items: Sequence[tuple[Mapping[str, object], Sequence[Mapping[str, object]]]],
) -> list[dict[str, str]]:
    """``items``: (new fact, its existing neighbours), each a dict with label/text/validity."""
    blocks = []
    for fact, existing in items:
        lines = [f"{fact['label']}: {fact['text']} (valid from {fact['valid_from']})"]
        lines += [
            f"  {e['label']}: {e['text']} (valid {e['valid_from']} to {e['valid_to'] or 'now'})"
            for e in existing
        ]
        blocks.append("\n".join(lines))
    user = (
        "New facts, each followed by the existing facts closest to it:\n\n"
        + "\n\n".join(blocks)
        + "\n\nDecide for every new fact. Answer as JSON."
    )
    return [{"role": "system", "content": CONSOLIDATION_SYSTEM}, {"role": "user", "content": user}]


def schemas_for_docs() -> str:
    """Both answer schemas, as docs/graph.md shows them."""
    return json.dumps(
        {
            "extraction": ExtractionAnswer.model_json_schema(),
            "consolidation": ConsolidationAnswer.model_json_schema(),
        },
        indent=2,
    )
