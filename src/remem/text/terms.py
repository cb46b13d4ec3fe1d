"""Query terms for BM25: content words only, so common words do not swamp the ranking or the latency."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don doesn didn isn wasn aren weren won wouldn shouldn couldn ever also any anything
    something tell know remember get got ok okay yes yeah hi hello hey thanks thank please
    really much many one
    """.split()  # noqa: SIM905
)


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Distinct lower-cased content words of ``text``, in order, at most ``limit``."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'").split("'")[0]
        if word and word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)[:limit]
