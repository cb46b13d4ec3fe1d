"""A scripted LLM for the knowledge pipeline: extraction and consolidation answers by prompt."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from remem.testing import Reply

Answer = str | Reply | Callable[[dict[str, Any]], "str | Reply"]


def prompt(request: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def is_extraction(request: dict[str, Any]) -> bool:
    return "You extract long-term memories" in prompt(request)


def label_of(request: dict[str, Any], text: str) -> str:
    """The label (E3) the consolidation prompt gave the stored fact ``text``."""
    found = re.search(rf"(E\d+): {re.escape(text)} \(", prompt(request))
    assert found, f"{text!r} is not among the neighbours shown:\n{prompt(request)}"
    return found.group(1)


class Script:
    """Answers in order, split by call type, so a test reads as the conversation it scripts."""

    def __init__(self) -> None:
        self.extractions: deque[Answer] = deque()
        self.consolidations: deque[Answer] = deque()

    def extract(self, *facts: dict[str, Any], entities: list[dict[str, Any]] | None = None) -> None:
        self.extractions.append(json.dumps({"facts": list(facts), "entities": entities or []}))

    def consolidate(self, answer: Answer) -> None:
        self.consolidations.append(answer)

    def __call__(self, request: dict[str, Any]) -> str | Reply:
        extraction = is_extraction(request)
        queue = self.extractions if extraction else self.consolidations
        if not queue and not extraction:  # unscripted consolidation: every new fact is new
            numbers = re.findall(r"^N(\d+): ", prompt(request), re.MULTILINE)
            decisions = [{"fact": int(n), "action": "ADD", "reason": "new"} for n in numbers]
            return json.dumps({"decisions": decisions})
        if not queue:
            return Reply(status=418, error="the script has no answer for this call")
        answer = queue.popleft()
        return answer(request) if callable(answer) else answer
