"""Spot standing instructions and preferences in what the user says.

"Always include version numbers", "I prefer minimal dependencies": such turns
apply to every later request on their topic, not just to the one they came
with, so they are tagged at ingest and retrieval gives them a signal of their own.
"""

from __future__ import annotations

import re

_DIRECTIVE = re.compile(
    r"(?:^|[.!?]\s+|,\s*so\s+)(?:please\s+)?(?:always|never|from now on|make sure (?:to|you)|"
    r"remember to|don'?t ever|do not ever)\b"
    r"|\bI(?: would|'d)? (?:prefer|rather|like (?:you )?to keep|want you to|need you to)\b"
    r"|\bmy preference is\b",
    re.IGNORECASE,
)


def is_directive(text: str) -> bool:
    return bool(_DIRECTIVE.search(text))
