"""Words for full-text search: unicode letters and digits, lower-cased, accents removed, stemmed.

The same rules as SQLite FTS5's ``porter unicode61 remove_diacritics 2``
tokenizer (words of one or two letters are kept as they are), so the in-memory
BM25 of the SQLite store ranks on the words FTS5 would have indexed (tested
against FTS5 itself; words that keep a non-ASCII letter after folding, such as
"straße", may stem differently).
"""

from __future__ import annotations

import re
import unicodedata

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
_stem = snowballstemmer.stemmer("porter").stemWord
_stems: dict[str, str] = {}


def _fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    found = _stems.get(word)
    if found is None:
        found = _stem(word) if len(word) > 2 else word
        if len(_stems) < 1_000_000:
            _stems[word] = found
    return found


def tokenize(text: str) -> list[str]:
    """Every indexed word of ``text``, in order, repeats kept (term frequency counts them)."""
    return [stem(word) for word in _WORD.findall(_fold(text))]
