"""The one token counter remem budgets with: a documented estimate, the same everywhere.

No LLM tokenizer ships offline, and the embedder's is not the reader's, so prompts are
budgeted with a rule that tracks BPE tokenizers (GPT, Llama) on English text and errs
high: a word of up to 6 letters is 1 token and every 6 more letters add one; a run of
digits is 1 token per 3 digits; every other visible character (punctuation, symbols,
each non-Latin character) is 1 token; whitespace is free. ``clip`` cuts text to a count
under this same rule, so a budget checked with ``count_tokens`` is never exceeded.
"""

from __future__ import annotations

import re

_PIECE = re.compile(r"[^\W\d_]+|\d+|\S", re.UNICODE)
ELLIPSIS = "…"


def _cost(piece: str) -> int:
    if piece.isdigit():
        return (len(piece) + 2) // 3
    if piece.isalpha() and piece.isascii():
        return 1 + (len(piece) - 1) // 6
    if piece.isalpha():  # non-Latin scripts: about one token per character
        return len(piece)
    return 1


def count_tokens(text: str) -> int:
    return sum(_cost(p) for p in _PIECE.findall(text))


def clip(text: str, max_tokens: int) -> str:
    """The longest prefix (cut at a piece boundary, marked with …) costing at most ``max_tokens``."""
    if count_tokens(text) <= max_tokens:
        return text
    room = max_tokens - _cost(ELLIPSIS)
    if room <= 0:
        return ""
    spent, end = 0, 0
    for match in _PIECE.finditer(text):
        cost = _cost(match.group())
        if spent + cost > room:
            break
        spent += cost
        end = match.end()
    return text[:end].rstrip() + ELLIPSIS if end else ""
