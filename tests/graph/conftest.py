"""Fixtures for the knowledge pipeline: a scripted OpenAI-compatible server and a Memory on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kg_script import Script

from remem import Memory
from remem.providers.llm import OpenAIChatLLM
from remem.testing import ScriptedOpenAIServer


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def llm_server(script: Script) -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(responder=script) as server:
        yield server


@pytest.fixture
def llm(llm_server: ScriptedOpenAIServer) -> Iterator[OpenAIChatLLM]:
    with OpenAIChatLLM(llm_server.url, "scripted", timeout=5, sleep=lambda _: None) as client:
        yield client


@pytest.fixture
def kg(tmp_path: Path, llm: OpenAIChatLLM) -> Iterator[Memory]:
    with Memory(tmp_path / "kg.db", llm=llm) as memory:
        yield memory
