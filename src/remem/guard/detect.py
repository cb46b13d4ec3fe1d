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
an order; lines spelling words in disguise (leetspeak, spaced-out letters, chained words)
are matched once more as plain words. The patterns live in ``remem.guard.patterns``. Everything here is regular expressions and ``unicodedata``: no model, no network.
What it cannot see (paraphrased orders, other languages, false facts stated plainly) is
left to provenance, the consensus check and review (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

from remem.guard.patterns import RULES, FindingKind

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


# Spellings that keep a word readable to a model but not to a pattern: digits for letters
# ("1gn0re"), letters spaced out ("i g n o r e"), words chained by punctuation
# ("ignore-previous-instructions").
_LEET = str.maketrans("0134570@$", "oieastoas")
_OBFUSCATED = re.compile(
    r"\b[A-Za-z]+[0-9@$][\w@$]*|\b[0-9@$]+[A-Za-z][\w@$]*|\b(?:[A-Za-z][ .]){3,}[A-Za-z]\b"
    r"|\b[A-Za-z]+(?:[-_*~+][A-Za-z]+){2,}\b"
)
_CHAIN = re.compile(r"[-_*~+]")
#: A cheap first look: a digit inside a word, four letters spaced out, three words chained.
_SUSPECT = re.compile(
    r"[A-Za-z][0-9@$]+[A-Za-z]|\b[A-Za-z][ .][A-Za-z][ .][A-Za-z][ .][A-Za-z]\b"
    r"|[A-Za-z]{3,}[-_*~+][A-Za-z]{2,}[-_*~+][A-Za-z]{3,}"
)


def _plain(word: str) -> str:
    if " " in word or (word.count(".") > 2 and not any(c.isdigit() for c in word)):
        return word.replace(" ", "").replace(".", "")
    if _CHAIN.search(word) and not any(c.isdigit() for c in word):
        return _CHAIN.sub(" ", word)
    return word.translate(_LEET)


def unobfuscated(text: str) -> str:
    """The lines of ``text`` that spell words in disguise, read as plain words ("" if none):
    leetspeak, spaced-out letters, chained words."""
    if not _SUSPECT.search(text):
        return ""
    lines = []
    for line in text.splitlines():
        if _OBFUSCATED.search(line):
            plain = _OBFUSCATED.sub(lambda m: _plain(m.group()), line)
            if plain != line:
                lines.append(plain)
    return "\n".join(lines)


_COMPILED = [
    (kind, words, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for kind, words, pattern in RULES
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
    plain = unobfuscated(readable)
    if plain:
        seen = {f.kind for f in found}
        found += [f for f in _instructions(plain) if f.kind not in seen]
    first: dict[str, Finding] = {}
    for finding in found:
        first.setdefault(finding.kind, finding)
    return tuple(first[k] for k in KINDS if k in first)
