"""The service meters its LLM: calls, outcomes and the tokens the server reported, on /metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from remem.providers.llm import OpenAIChatLLM
from remem.testing import Reply, ScriptedOpenAIServer


def _nothing_to_extract(request: dict[str, Any]) -> Reply:
    return Reply(json.dumps({"facts": [], "entities": []}), prompt_tokens=40, completion_tokens=7)


def _metric(text: str, line: str) -> float:
    found = [row for row in text.splitlines() if row.startswith(line + " ")]
    assert found, f"{line} is not in /metrics"
    return float(found[0].rsplit(" ", 1)[1])


def test_llm_calls_and_tokens_are_counted(start_service: Callable[..., Any]) -> None:
    with (
        ScriptedOpenAIServer(responder=_nothing_to_extract) as server,
        OpenAIChatLLM(server.url, "scripted", timeout=5, sleep=lambda _: None) as llm,
    ):
        service = start_service(llm=llm)
        client = service.client("acme")
        client.add("I moved to Lisbon", user_id="ana")
        client.add("I adopted a dog", user_id="ana")
        text = httpx.get(service.url + "/metrics").text
        assert len(server.exchanges) == 2  # one extraction call per add
    assert _metric(text, 'remem_model_calls_total{model="llm",outcome="ok"}') == 2.0
    assert _metric(text, 'remem_llm_tokens_total{kind="prompt"}') == 80.0
    assert _metric(text, 'remem_llm_tokens_total{kind="completion"}') == 14.0


def test_a_failing_llm_is_counted_and_loses_no_turn(start_service: Callable[..., Any]) -> None:
    with (
        ScriptedOpenAIServer(responder=lambda _: Reply(status=500, error="down")) as server,
        OpenAIChatLLM(
            server.url, "scripted", timeout=5, max_retries=0, sleep=lambda _: None
        ) as llm,
    ):
        service = start_service(llm=llm)
        client = service.client("acme")
        added = client.add("I moved to Lisbon", user_id="ana")
        text = httpx.get(service.url + "/metrics").text
    assert _metric(text, 'remem_model_calls_total{model="llm",outcome="error"}') == 1.0
    assert client.get(added.memories[0].id).text == "I moved to Lisbon"
