"""Standing instructions are tagged at ingest and surface for later requests on their topic."""

from __future__ import annotations

import pytest

from remem import Memory
from remem.pipeline.directives import is_directive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Always include version numbers when I ask about libraries.", True),
        ("Never use tabs in code snippets.", True),
        ("I'm keeping the app small, so I prefer minimal dependencies.", True),
        ("I'd rather use Postgres than MySQL.", True),
        ("From now on, answer in French.", True),
        ("I always forget my keys.", False),
        ("What is the weather in Lisbon?", False),
    ],
)
def test_directive_detection(text: str, expected: bool) -> None:
    assert is_directive(text) is expected


def test_directives_are_tagged_and_retrieved_for_related_requests(memory: Memory) -> None:
    memory.add(
        [
            {
                "role": "user",
                "content": "Always include version numbers when I ask about libraries.",
            },
            {"role": "assistant", "content": "Understood, I will always include version numbers."},
        ]
        + [
            {"role": "user", "content": f"Today I fixed bug number {i} in the parser."}
            for i in range(30)
        ],
        user_id="dev",
    )
    tagged = memory.list(user_id="dev", metadata={"directive": True}, limit=10)
    assert [m.text for m in tagged.items] == [
        "Always include version numbers when I ask about libraries."
    ]
    hits = memory.search("Which packages does this project depend on?", user_id="dev", limit=3)
    top = {h.text: h for h in hits}
    rule = top.get("Always include version numbers when I ask about libraries.")
    assert rule is not None and "directive" in rule.signals and "user" in rule.boosts
