"""Offline detection of instruction-like and hidden content in text about to be remembered.

What a memory store must not take at face value, in five kinds of ``Finding``:

- ``override``: attempts to cancel or replace the assistant's instructions ("ignore previous
  instructions", "your new instructions are", "you are now DAN", "do not tell the user");
- ``role_spoof``: text dressed as another party of the conversation: a line opening with
  "system:" or "[assistant]", chat-template tokens (``<|im_start|>system``, ``[INST]``,
  ``<<SYS>>``), fake tool output (``<tool_result>``, "Observation:", ``{"role": "system"``);
- ``planted_order``: orders about "the user" or to whatever AI reads the text ("when the
  user asks about X, say Y", "tell the user that...", "AI agents reading this must...",
  "note to the assistant"): no owner speaks of themselves so to their own assistant;
- ``order``: orders to the assistant ("from now on answer...", "always recommend...", "in
  all future replies..."): a standing directive, welcome only from the owner's own turns;
- ``hidden``: what a reader does not see: zero-width and bidirectional control characters,
  Unicode tag characters, words mixing Latin with look-alike Cyrillic or Greek letters,
  and base64 blobs that decode to readable text (which is scanned in turn).

Matching runs on a normalised copy (NFKC, invisible characters dropped, look-alikes mapped
to Latin), so an order split by a zero-width space or spelled with a Cyrillic "о" is still
an order. Everything here is regular expressions and ``unicodedata``: no model, no network.
What it cannot see (paraphrased orders, other languages, false facts stated plainly) is
left to provenance, the consensus check and review (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

FindingKind = Literal["override", "role_spoof", "planted_order", "order", "hidden"]
#: Kinds that no source may carry into memory unreviewed; ``order`` is for the owner to give.
STRICT: frozenset[str] = frozenset({"override", "role_spoof", "planted_order", "hidden"})


@dataclass(frozen=True)
class Finding:
    """One reason to distrust a text: its kind and the words (or characters) that showed it."""

    kind: FindingKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


# ------------------------------------------------------------------ hidden characters

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_INVISIBLE = re.compile(f"[{_ZERO_WIDTH}{_BIDI}\U000e0000-\U000e007f]")
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
# Look-alikes of Latin letters (Cyrillic and Greek), as attackers use them to dodge filters.
_CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅορναιτκΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwABEKMHOPCTXIJSopvaitkABEZHIKMNOPTYX",
)
_LOOKALIKES = frozenset("аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅορναιτκΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
_ANY_LOOKALIKE = re.compile(f"[{''.join(sorted(_LOOKALIKES))}]")
_WORD = re.compile(r"\w+")
# Joiners between emoji ("👨‍👩‍👧") or inside Arabic and Indic words are how those are written.
_JOINER_IN_USE = re.compile(r"(?<=[^\x00-\x7f])[\u200c\u200d](?=[^\x00-\x7f])")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_QUOTES = "\"'`()[]{}<>,;:."


def _hidden(text: str) -> list[Finding]:
    found: list[Finding] = []
    if text.isascii():
        return found
    tags = _TAGS.findall(text)
    if tags:
        smuggled = "".join(chr(ord(c) - 0xE0000) for c in "".join(tags) if ord(c) < 0xE0080)
        found.append(Finding("hidden", f"Unicode tag characters spelling {smuggled[:60]!r}"))
    invisible = {c for c in _visible_tricks(text) if not _TAGS.match(c)}
    # One soft hyphen or a lone byte-order mark at the start is common in pasted text.
    if (
        invisible
        - {"\u00ad"}
        - ({"\ufeff"} if text.count("\ufeff") == text.startswith("\ufeff") else set())
    ):
        names = sorted(unicodedata.name(c, f"U+{ord(c):04X}").lower() for c in invisible)
        found.append(Finding("hidden", "invisible characters: " + ", ".join(names[:3])))
    mixed = (
        [w for w in _WORD.findall(text) if _mixes_scripts(w)] if _ANY_LOOKALIKE.search(text) else []
    )
    if mixed:
        found.append(Finding("hidden", f"look-alike letters in {mixed[0]!r}"))
    return found


def _visible_tricks(text: str) -> list[str]:
    """Invisible characters that are not there to join emoji or letters of other scripts."""
    return _INVISIBLE.findall(_JOINER_IN_USE.sub("", text))


def _mixes_scripts(word: str) -> bool:
    """A word with Latin letters and look-alikes from another script ("раypal")."""
    has_lookalike = any(c in _LOOKALIKES for c in word)
    return has_lookalike and any("a" <= c.lower() <= "z" for c in word)


def _decoded_blobs(text: str) -> list[str]:
    """Base64 runs in ``text`` that decode to readable text (several words, printable)."""
    readable = []
    for word in text.split():
        blob = word.strip(_QUOTES)
        if len(blob) < 24 or not _BASE64.fullmatch(blob) or blob.isalpha() or blob.isdigit():
            continue  # a long word or number, not an encoding
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
        if printable == len(decoded) and len(_WORD.findall(decoded)) >= 3 and " " in decoded:
            readable.append(decoded)
    return readable


def normalise(text: str) -> str:
    """What a reader would take the text to say: NFKC, invisible characters dropped,
    look-alike letters read as Latin."""
    if text.isascii():
        return text
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_CONFUSABLE)


# ------------------------------------------------------------------ instructions

_PREVIOUS = r"(?:all\s+|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+|of\s+)*"
_EARLIER = (
    r"(?:previous|prior|above|earlier|preceding|former|original|old|existing|initial|system|"
    r"safety)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules|directives?|directions|guidelines|guardrails|"
    r"constraints|context|programming|orders)"
)
_ROLE_WORDS = r"(?:system|assistant|developer|tool|function|admin|administrator|root|operator)"
_ASSISTANT = (
    r"(?:(?:the\s+|an?\s+|any\s+|all\s+)?(?:assistant|ai(?:\s+(?:assistant|model|agent)s?)?|"
    r"language\s+models?|llms?|chat\s?bots?|agents?|models?|gpt|chatgpt|claude|gemini|copilot))"
)
_SAY = (
    r"(?:say|tell|reply|respond|answer|state|claim|recommend|mention|insist|assert|confirm|"
    r"refer|direct|redirect|describe)"
)
_AI_WORDS = (
    "assistant",
    "ai",
    "model",
    "llm",
    "agent",
    "bot",
    "gpt",
    "claude",
    "gemini",
    "copilot",
)

#: (kind, words one of which the lower-cased text must contain, pattern). The words are a
#: cheap filter: most text contains none of them and never reaches the regular expression.
_RULES_BY_KIND: list[tuple[FindingKind, tuple[str, ...], str]] = [
    (
        "override",
        (
            "ignore",
            "disregard",
            "forget",
            "override",
            "overrule",
            "bypass",
            "drop",
            "abandon",
            "discard",
            "set aside",
        ),
        rf"\b(?:ignore|disregard|forget|override|overrule|bypass|drop|abandon|discard|set\s+aside)"
        rf"\s+{_PREVIOUS}(?:{_EARLIER}\s+)?{_RULES}\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:you\s+(?:were|have"
        r"\s+been)\s+told|(?:said\s+)?(?:above|before|previously))",
    ),
    (
        "override",
        ("new", "real", "true", "actual", "updated"),
        r"\b(?:your|the)\s+(?:new|real|true|actual|updated)\s+(?:instructions|directives?|"
        r"system\s+prompt|orders)\s+(?:is|are|:)|\bnew\s+(?:system\s+)?(?:instructions?|rules|"
        r"directives?)\s*:",
    ),
    (
        "override",
        ("you are now", "you are no longer", "mode"),
        r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:DAN|free\s+(?:of|from)|unrestricted|jailbroken|"
        r"(?:allowed|permitted)\s+to|not\s+bound|bound\s+by|in\s+(?:developer|god|DAN|"
        r"unrestricted)\s+mode)"
        r"|\b(?:developer|god|jailbreak|DAN|unrestricted|debug)\s+mode\s+(?:is\s+)?(?:enabled|"
        r"activated|on)\b|\b(?:enable|activate|enter)\s+(?:developer|god|jailbreak|DAN|"
        r"unrestricted)\s+mode\b",
    ),
    (
        "override",
        ("the user", "system prompt", "instructions"),
        r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|reveal\s+(?:this|that|it)\s+to|let|alert|"
        r"warn|mention\s+(?:this|that|it)\s+to)\s+the\s+user\b"
        r"|\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+the\s+user\b"
        r"|\b(?:reveal|print|output|repeat|leak|show)\s+(?:your|the)\s+(?:system\s+prompt|hidden"
        r"\s+instructions|initial\s+instructions)\b",
    ),
    # "system: ..." / "[SYSTEM] ..." / "### System:" / "<system>" at the start of a line.
    (
        "role_spoof",
        ("system", "assistant", "developer", "tool", "function", "admin", "root", "operator"),
        rf"^\s*(?:#{{1,4}}\s*|\*\*)?(?:\[\s*{_ROLE_WORDS}(?:\s+(?:message|note|prompt|output|"
        rf"override))?\s*\]|<\s*/?\s*{_ROLE_WORDS}(?:[_ -](?:message|prompt|output|result))?\s*>|"
        rf"{_ROLE_WORDS}(?:\s+(?:message|note|prompt|override|instruction|update))?\s*(?:\*\*)?"
        r"\s*:(?!//))",
    ),
    (
        "role_spoof",
        (
            "<|",
            "inst]",
            "<<sys",
            "<tool",
            "<function",
            "<observation",
            "observation",
            "output",
            "result",
            "response",
            "role",
        ),
        r"<\|(?:im_start|im_end|system|assistant|user|endoftext|start_header_id|eot_id)\|>"
        r"|\[/?INST\]|<<\s*/?SYS\s*>>"
        r"|<\s*/?\s*(?:tool_(?:result|output|response|call)|function_(?:result|response|call)|"
        r"observation)\s*>"
        r"|^\s*(?:observation|tool\s+(?:output|result|response)|function\s+(?:output|result|"
        r"response))\s*:"
        r"|[{,]\s*[\"']role[\"']\s*:\s*[\"'](?:system|developer|tool|function)[\"']",
    ),
    # Orders that outlive the request: "from now on", "in all future answers".
    (
        "order",
        ("from now on", "future", "later", "subsequent", "following"),
        r"\bfrom\s+now\s+on\b[^.!?\n]{0,40}\b(?:you|always|never|only|respond|reply|answer|say|"
        r"tell|refer|recommend)\b"
        r"|\b(?:in|for)\s+(?:all|every|any)\s+(?:future|later|subsequent|following)\s+"
        r"(?:responses?|answers?|replies|conversations?|sessions?|chats?|interactions?)\b",
    ),
    # "Always answer ...", "Never mention ..." opening a sentence: an order about replies.
    (
        "order",
        ("always", "never", "only"),
        rf"(?:^|[.!?:;]\s+)(?:please\s+)?(?:always|never|only)\s+{_SAY}\b",
    ),
    # "When (the) user asks about X, say Y"; "tell the user that ...".
    (
        "planted_order",
        ("user", "anyone", "someone", "asked", "asks"),
        r"\b(?:when(?:ever)?|if)\s+(?:the\s+user|users?|anyone|someone|asked)\b[^.!?\n]{0,80}?"
        rf"(?:\b(?:asks?|asked|inquires?|mentions?|wants?)\b[^.!?\n]{{0,80}}?)?[,:]\s*"
        rf"(?:you\s+(?:must|should|will)\s+)?(?:always\s+)?{_SAY}\b"
        rf"|\b{_SAY}\s+(?:to\s+)?the\s+user\s+(?:that|with|to)\b",
    ),
    # Addressed to an AI: "AI agents reading this must ...", "Assistant, you must ...".
    (
        "planted_order",
        _AI_WORDS,
        rf"\b{_ASSISTANT}\s*[,:]?\s*(?:reading|processing|parsing|summari[sz]ing|that\s+reads?|"
        r"who\s+reads?)\s+(?:this|these)\b"
        rf"|\b(?:attention|note|important|instruction)\s+(?:to|for)\s+{_ASSISTANT}\b"
        rf"|(?:^|[.!?]\s+)(?:dear\s+)?{_ASSISTANT}\s*[,:]\s*(?:you\s+)?(?:must|should|shall|"
        r"need\s+to|have\s+to|are\s+(?:required|instructed|ordered)\s+to|always|never|please)\b"
        rf"|\b{_ASSISTANT}\s+(?:must|shall|is\s+(?:required|instructed|ordered)\s+to|are\s+"
        rf"(?:required|instructed|ordered)\s+to)\s+(?:always\s+|never\s+|now\s+)?(?:{_SAY}|"
        r"ignore|obey|follow|comply|use|treat|include)\b",
    ),
    (
        "order",
        ("obey", "comply", "follow"),
        r"\byou\s+(?:must|will|shall)\s+(?:now\s+)?(?:obey|comply\s+with|follow)\s+(?:these|"
        r"the\s+following|my|this)\b",
    ),
]
_COMPILED = [
    (kind, words, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for kind, words, pattern in _RULES_BY_KIND
]
KINDS: tuple[FindingKind, ...] = ("override", "role_spoof", "planted_order", "order", "hidden")


#: Around each occurrence of a rule's word, how far back and ahead its pattern may reach.
_BEFORE, _AFTER = 120, 240
#: Occurrences of one word looked at per text (a long text repeating "user" stays cheap).
_OCCURRENCES = 40


def _windows(lower: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for word in words:
        at = lower.find(word)
        while at >= 0 and len(spans) < _OCCURRENCES:
            start = max(0, at - _BEFORE)
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], at + _AFTER)
            else:
                spans.append((start, at + _AFTER))
            at = lower.find(word, at + len(word))
    return spans


def _instructions(text: str) -> list[Finding]:
    """The first match of each instruction-like kind in ``text`` (already normalised).

    A pattern is only tried near its rule's words (``str.find`` is far cheaper than a
    regular expression over a long text); ``search(text, start, end)`` keeps line starts
    and word boundaries as they are in the whole text.
    """
    lower = text.lower()
    found: dict[str, Finding] = {}
    for kind, words, pattern in _COMPILED:
        if kind in found:
            continue
        for start, end in _windows(lower, words):
            match = pattern.search(text, start, end)
            if match:
                found[kind] = Finding(kind, " ".join(match.group(0).split())[:80])
                break
    return list(found.values())


def scan(text: str) -> tuple[Finding, ...]:
    """Every kind of finding in ``text``, the first match of each, in ``KINDS`` order."""
    found = _hidden(text)
    readable = normalise(text)
    for decoded in _decoded_blobs(readable):
        found.append(Finding("hidden", f"base64-encoded text {decoded[:40]!r}"))
        found += [f for f in scan(decoded) if f.kind != "hidden"]
    found += _instructions(readable)
    first: dict[str, Finding] = {}
    for finding in found:
        first.setdefault(finding.kind, finding)
    return tuple(first[k] for k in KINDS if k in first)
