"""Shared fixtures: real SQLite files in temp dirs and the real packaged embedding model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remem import Memory
from remem.testing import ScriptedOpenAIServer

CONVERSATION = [
    {
        "role": "user",
        "speaker": "Ana",
        "content": "I moved to Lisbon last March.",
        "timestamp": "2026-05-02T10:00:00Z",
    },
    {
        "role": "assistant",
        "content": "Nice! How are you finding Portugal so far?",
        "timestamp": "2026-05-02T10:00:05Z",
    },
    {
        "role": "user",
        "speaker": "Ana",
        "content": "I adopted a golden retriever puppy named Max.",
        "timestamp": "2026-05-02T10:01:00Z",
    },
    {
        "role": "assistant",
        "content": "Max sounds adorable. Dogs need lots of walks!",
        "timestamp": "2026-05-02T10:01:05Z",
    },
    {
        "role": "user",
        "speaker": "Ana",
        "content": "My sister Rita is a cardiologist in Porto.",
        "timestamp": "2026-05-02T10:02:00Z",
    },
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
def memory(db_path: Path) -> Iterator[Memory]:
    with Memory(db_path) as m:
        yield m


@pytest.fixture
def ana(memory: Memory) -> Memory:
    memory.add(CONVERSATION, user_id="ana", session_id="s1")
    return memory


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script."""
    with ScriptedOpenAIServer() as server:
        yield server
