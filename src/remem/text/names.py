"""Entity names as text: one folded spelling per name, and the known names a text mentions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from remem.model import Scope
from remem.text.terms import STOPWORDS


class AliasLookup(Protocol):
    """The one store call name matching needs (``Store.entities_by_alias``)."""

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> Mapping[str, list[str]]: ...


_PUNCT = re.compile(r"[^\w\s'-]+")
_SPACE = re.compile(r"\s+")


def normalise(name: str) -> str:
    if name.isascii():  # no accents to strip, and casefold is lower (most text: the fast way)
        folded = name.lower()
    else:
        folded = unicodedata.normalize("NFKD", name)
        folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    folded = _SPACE.sub(" ", _PUNCT.sub(" ", folded.replace("’", "'"))).strip(" '-")
    return folded.removeprefix("the ").strip()


def ngrams(words: Sequence[str], longest: int = 4) -> Iterable[str]:
    """Every run of 1..``longest`` consecutive words, joined by a space."""
    for size in range(1, longest + 1):
        for start in range(len(words) - size + 1):
            yield " ".join(words[start : start + size])


#: Longest alias (in words) looked up when matching known entities in text.
ALIAS_WORDS = 4


def known_mentions(store: AliasLookup, scope: Scope, text: str) -> list[str]:
    """Ids of the user's known entities whose alias appears in ``text`` (any case)."""
    grams = alias_grams(text)
    if not grams:
        return []
    return mentioned(store.entities_by_alias(scope.tenant, scope.user_id, grams), grams)


def mentioned(found: Mapping[str, Sequence[str]], grams: Sequence[str]) -> list[str]:
    """The entity ids ``found`` (alias -> ids) lists for ``grams``, in the grams' order."""
    return list(dict.fromkeys(i for g in grams for i in found.get(g, ())))


def alias_grams(text: str) -> list[str]:
    words = [w.removesuffix("'s") for w in normalise(text).split()]
    return [g for g in ngrams(words, ALIAS_WORDS) if g not in STOPWORDS]
