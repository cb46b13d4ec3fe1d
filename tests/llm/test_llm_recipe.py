"""The ``llm`` recipe against a real OpenAI-protocol server: one call per search, what it
is asked, and the plain ranking whenever the LLM fails or answers garbage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remem import InvalidInput, Memory
from remem.providers.llm import OpenAIChatLLM
from remem.retrieval.llm_rerank import ANSWER_TOKENS, INSTRUCTIONS
from remem.testing import Reply, ScriptedOpenAIServer
from tests.conftest import CONVERSATION

QUESTION = "What does Ana's sister do for a living?"
MORE = [
    {"role": "user", "speaker": "Ana", "content": f"Note {i}: I bought {thing} today."}
    for i, thing in enumerate(["bread", "a lamp", "stamps", "paint", "a kite", "tea"])
]


def number_of(request: dict[str, Any], words: str) -> int:
    """The candidate number the prompt gives the memory containing ``words``."""
    prompt = request["messages"][1]["content"]
    return int(re.search(rf"^\[(\d+)\][^\n]*{re.escape(words)}", prompt, re.M).group(1))  # type: ignore[union-attr]


def answer(request: dict[str, Any]) -> str:
    """A reranker with its own mind: the puppy first, then the sister's job; one rewrite."""
    ranking = [number_of(request, "puppy"), number_of(request, "cardiologist")]
    return json.dumps(
        {"keywords": ["Rita", "job"], "questions": ["Who is Ana's sister?"], "ranking": ranking}
    )


@pytest.fixture
def llm(openai_server: ScriptedOpenAIServer) -> Iterator[OpenAIChatLLM]:
    with OpenAIChatLLM(
        openai_server.url, "scripted", timeout=2, max_retries=0, sleep=lambda _: None
    ) as client:
        yield client


@pytest.fixture
def ana(tmp_path: Path, llm: OpenAIChatLLM) -> Iterator[Memory]:
    with Memory(tmp_path / "m.db", llm=llm, extract_facts=False) as memory:
        memory.add([*CONVERSATION, *MORE], user_id="ana", session_id="s1")
        yield memory


def plain(memory: Memory, limit: int = 10) -> list[str]:
    return [h.id for h in memory.search(QUESTION, user_id="ana", limit=limit)]


def test_one_call_rewrites_the_query_and_reranks_the_candidates(
    ana: Memory, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.responder = answer
    before = plain(ana)
    found = ana.search(QUESTION, user_id="ana", recipe="llm", limit=5, asked_at="2026-05-03")
    [request] = openai_server.requests  # one call, whatever the candidates
    system, user = request["messages"]
    assert system == {"role": "system", "content": INSTRUCTIONS}
    assert (request["max_tokens"], request["temperature"]) == (ANSWER_TOKENS, 0.0)
    assert "response_format" not in request  # no schema: no format fallback, no repair call
    lines = user["content"].splitlines()
    assert lines[:4] == [f"Question: {QUESTION}", "Asked on: 2026-05-03", "", "Memories:"]
    assert len(lines[4:]) == 11  # the top 20 of 11 turns
    assert lines[4].startswith("[1] (2026-05-02) ")
    assert number_of(request, "puppy") == 1 + before.index(found[0].id) > 2
    assert "Rita is a cardiologist in Porto" in user["content"]

    assert [h.text for h in found][:2] == [
        "Ana: I adopted a golden retriever puppy named Max.",
        "Ana: My sister Rita is a cardiologist in Porto.",
    ]
    assert [h.signals["llm"].rank for h in found[:2]] == [1, 2]
    assert all("llm" not in h.signals for h in found[2:])
    assert any("rewrite" in h.signals for h in found)
    assert len(found) == 5
    reported = openai_server.reported_usage()
    used = ana.llm_usage
    assert (used.calls, used.prompt_tokens, used.completion_tokens) == (
        1,
        reported["prompt_tokens"],
        reported["completion_tokens"],
    )


@pytest.mark.parametrize(
    "reply",
    [
        "The best one is number 3.",  # no JSON
        '{"ranking": "3, 1"}',  # not the schema
        '{"keywords": ["x"]}',  # no ranking
        Reply(status=400, error="model not found"),  # refused
        Reply(status=503, error="overloaded"),  # failed (no retries configured)
        Reply(delay_s=5),  # too late (timeout 2 s)
        Reply(drop=True),  # connection dropped
    ],
    ids=["prose", "wrong-type", "no-ranking", "http-400", "http-503", "timeout", "dropped"],
)
def test_the_plain_ranking_stands_when_the_llm_fails(
    ana: Memory, llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, reply: Reply | str
) -> None:
    before = ana.search(QUESTION, user_id="ana", limit=5)
    openai_server.queue(reply)
    found = ana.search(QUESTION, user_id="ana", limit=5, recipe="llm")
    assert llm.usage.calls == 1  # requests sent: one, and no repair or retry
    assert [h.id for h in found] == [h.id for h in before]
    assert [h.score for h in found] == [h.score for h in before]
    assert all("llm" not in h.signals for h in found)


def test_numbers_it_was_not_shown_are_ignored(
    ana: Memory, openai_server: ScriptedOpenAIServer
) -> None:
    def sloppy(request: dict[str, Any]) -> str:
        sister = number_of(request, "cardiologist")
        return json.dumps({"ranking": [0, 99, sister, sister, -2]})

    openai_server.responder = sloppy
    found = ana.search(QUESTION, user_id="ana", recipe="llm")
    assert found[0].text.endswith("cardiologist in Porto.")
    assert [h.signals["llm"].rank for h in found if "llm" in h.signals] == [1]


def test_context_takes_the_recipe_too(ana: Memory, openai_server: ScriptedOpenAIServer) -> None:
    openai_server.responder = answer
    block = ana.context(QUESTION, user_id="ana", recipe="llm", budget_tokens=200)
    assert len(openai_server.requests) == 1
    assert "cardiologist" in block.text and "puppy" in block.text


def test_nothing_to_rank_costs_no_call(
    tmp_path: Path, llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    with Memory(tmp_path / "empty.db", llm=llm, extract_facts=False) as memory:
        found = memory.search(QUESTION, user_id="nobody", recipe="llm")
    assert found.hits == () and openai_server.requests == []


def test_the_recipe_needs_an_llm(tmp_path: Path) -> None:
    with (
        Memory(tmp_path / "m.db", llm=None) as memory,
        pytest.raises(InvalidInput, match="recipe 'llm' reranks with an LLM"),
    ):
        memory.search(QUESTION, user_id="ana", recipe="llm")
