"""``python -m remem.quickstart``: store a short conversation, then recall from it. No server, no key."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from remem import Memory

CONVERSATION = [
    {
        "role": "user",
        "speaker": "Ana",
        "content": "I moved to Lisbon last March.",
        "timestamp": "2026-05-02T10:00:00Z",
    },
    {"role": "assistant", "content": "Welcome to Portugal! What brought you there?"},
    {
        "role": "user",
        "speaker": "Ana",
        "content": "A job at a small robotics start-up.",
        "timestamp": "2026-05-02T10:01:00Z",
    },
    {
        "role": "user",
        "speaker": "Ana",
        "content": "I also adopted a golden retriever named Max.",
        "timestamp": "2026-05-02T10:02:00Z",
    },
]

QUESTIONS = ["where does Ana live?", "what pet does she have?", "what does she do for work?"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    location = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="remem-")) / "quickstart.db"
    started = time.perf_counter()
    with Memory(location) as memory:
        added = memory.add(CONVERSATION, user_id="ana", session_id="first-chat")
        print(f"stored {len(added.memories)} turns in {location}")
        for question in QUESTIONS:
            best = memory.search(question, user_id="ana", limit=1)[0]
            print(f"  {question:<28} -> {best.text}   [{best.explain()}]")
    print(f"done in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
