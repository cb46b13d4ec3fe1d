"""OpenAIChatLLM against a real HTTP server that speaks the chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from remem.errors import InvalidInput, ProviderError
from remem.providers.llm import (
    LLM,
    InvalidOutput,
    OpenAIChatLLM,
    Usage,
    default_llm,
    llm_from_env,
    parse_json_object,
    parse_structured,
)
from remem.testing import Reply, ScriptedOpenAIServer

ASK = [{"role": "system", "content": "You extract facts."}, {"role": "user", "content": "Where?"}]
SECRET = "sk-test-secret-123"


class City(BaseModel):
    city: str
    confidence: float


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def llm(openai_server: ScriptedOpenAIServer, sleeps: list[float]) -> Iterator[OpenAIChatLLM]:
    with OpenAIChatLLM(
        openai_server.url, "test-model", api_key=SECRET, timeout=5, sleep=sleeps.append
    ) as client:
        yield client


def test_plain_completion_speaks_the_protocol(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(Reply("She lives in Lisbon.", prompt_tokens=17, completion_tokens=6))
    result = llm.complete(ASK, max_tokens=50, temperature=0.2)
    assert isinstance(llm, LLM)
    assert result.text == "She lives in Lisbon." and result.data is None
    assert result.usage == Usage(calls=1, prompt_tokens=17, completion_tokens=6, retries=0)
    assert result.latency_s > 0
    [exchange] = openai_server.exchanges
    assert exchange.path == "/v1/chat/completions"
    assert exchange.headers["authorization"] == f"Bearer {SECRET}"
    assert exchange.request == {
        "model": "test-model",
        "temperature": 0.2,
        "messages": ASK,
        "max_tokens": 50,
    }


def test_structured_output_sends_the_json_schema_and_validates(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue('```json\n{"city": "Lisbon", "confidence": 0.9}\n```')
    result = llm.complete(ASK, schema=City)
    assert result.data == City(city="Lisbon", confidence=0.9)
    response_format = openai_server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"
    assert response_format["json_schema"]["schema"] == City.model_json_schema()
    assert openai_server.requests[0]["messages"] == ASK  # the schema travels out of band


def test_malformed_json_is_repaired_with_the_validation_error_quoted(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(
        "Sure! The city is Lisbon.",
        '{"city": "Lisbon", "confidence": "very"}',
        'Here you go: {"city": "Lisbon", "confidence": 0.8} Hope that helps.',
    )
    result = llm.complete(ASK, schema=City)
    assert result.data == City(city="Lisbon", confidence=0.8)
    assert result.usage.calls == 3 and result.usage.retries == 2
    first_repair, second_repair = (r["messages"] for r in openai_server.requests[1:])
    assert first_repair[:2] == ASK
    assert first_repair[2] == {"role": "assistant", "content": "Sure! The city is Lisbon."}
    assert "no valid JSON object" in first_repair[3]["content"]
    assert "confidence" in second_repair[-1]["content"]
    assert "valid number" in second_repair[-1]["content"]


def test_repairs_are_bounded_and_end_in_a_provider_error(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue("nope", "still nope", "{broken", "never asked for")
    with pytest.raises(ProviderError) as caught:
        llm.complete(ASK, schema=City)
    message = str(caught.value)
    assert "City" in message and "3 tries" in message and openai_server.url in message
    assert len(openai_server.requests) == 3  # the first try plus the default 2 repairs
    assert llm.usage.calls == 3
    assert llm.usage.prompt_tokens == openai_server.reported_usage()["prompt_tokens"]


def test_a_truncated_answer_is_asked_again_more_briefly(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(
        Reply('{"city": "Lis', finish_reason="length"), '{"city": "Lisbon", "confidence": 1}'
    )
    assert llm.complete(ASK, schema=City, max_tokens=5).data == City(city="Lisbon", confidence=1)
    assert "cut off" in openai_server.requests[1]["messages"][-1]["content"]


def test_server_errors_are_retried_with_exponential_backoff(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, sleeps: list[float]
) -> None:
    openai_server.queue(Reply(status=500), Reply(status=503), Reply(drop=True), "fine")
    result = llm.complete(ASK)
    assert result.text == "fine"
    assert sleeps == [0.5, 1.0, 2.0]
    assert result.usage.calls == 4 and result.usage.retries == 3
    assert [e.status for e in openai_server.exchanges] == [500, 503, None, 200]


def test_rate_limits_wait_as_long_as_the_server_asks(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, sleeps: list[float]
) -> None:
    openai_server.queue(Reply(status=429, error="slow down", headers={"Retry-After": "3"}), "ok")
    assert llm.complete(ASK).text == "ok"
    assert sleeps == [3.0]


def test_persistent_failure_names_the_server_and_the_problem(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(*[Reply(status=502, error="upstream exploded")] * 4)
    with pytest.raises(ProviderError) as caught:
        llm.complete(ASK)
    message = str(caught.value)
    assert openai_server.url in message and "test-model" in message
    assert "4 attempts" in message and "HTTP 502" in message and "upstream exploded" in message
    assert SECRET not in message


def test_client_errors_are_not_retried_and_never_show_the_key(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, sleeps: list[float]
) -> None:
    openai_server.queue(Reply(status=401, error="Incorrect API key provided"))
    with pytest.raises(ProviderError, match="HTTP 401: Incorrect API key") as caught:
        llm.complete(ASK)
    assert len(openai_server.requests) == 1 and sleeps == []
    assert SECRET not in str(caught.value) and SECRET not in repr(llm)


def test_a_slow_server_times_out_into_a_provider_error(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.queue(Reply("late", delay_s=30), Reply("late", delay_s=30))
    client = OpenAIChatLLM(openai_server.url, "m", timeout=0.2, max_retries=1, sleep=lambda s: None)
    started = time.perf_counter()
    with pytest.raises(ProviderError, match=r"2 attempts; last: no answer within 0.2s \(timeout\)"):
        client.complete(ASK)
    assert time.perf_counter() - started < 5
    assert client.usage.calls == 2 and client.usage.retries == 1
    client.close()


def test_rejected_json_schema_falls_back_to_json_object_then_to_the_prompt(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.rejects = {"json_schema"}
    openai_server.queue('{"city": "Porto", "confidence": 0.5}', '{"city": "Faro", "confidence": 1}')
    client = OpenAIChatLLM(openai_server.url, "m")
    first = client.complete(ASK, schema=City)
    assert first.data == City(city="Porto", confidence=0.5)
    assert first.usage.calls == 2 and first.usage.retries == 1
    rejected, accepted = openai_server.requests
    assert rejected["response_format"]["type"] == "json_schema"
    # The schema rides along for llama.cpp servers, which constrain the output to it.
    assert accepted["response_format"] == {
        "type": "json_object",
        "schema": City.model_json_schema(),
    }
    system = accepted["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You extract facts.")
    assert json.dumps(City.model_json_schema(), separators=(",", ":")) in system["content"]
    # The server's answer is remembered: the next call goes straight to json_object.
    assert client.complete(ASK, schema=City).usage.calls == 1
    assert client.format_mode == "json_object"

    openai_server.rejects = {"json_schema", "json_object"}
    openai_server.queue('{"city": "Braga", "confidence": 0}')
    strict = OpenAIChatLLM(openai_server.url, "m")
    assert strict.complete([ASK[1]], schema=City).data == City(city="Braga", confidence=0)
    last = openai_server.requests[-1]
    assert "response_format" not in last and strict.format_mode == "prompt"
    assert (
        last["messages"][0]["role"] == "system" and "JSON Schema" in last["messages"][0]["content"]
    )
    assert [e.status for e in openai_server.exchanges[-3:]] == [400, 400, 200]


def test_llama_cpp_pythons_http_500_for_json_schema_steps_down_without_retrying(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, sleeps: list[float]
) -> None:
    # llama-cpp-python 0.3.x's server answers an unknown response_format type with a 500
    # whose message is a pydantic validation error (body copied from a real server).
    llama_cpp_python_error = {
        "error": {
            "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
            "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
            "'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n"
            '  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n'
            "    POST /v1/chat/completions",
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
    openai_server.queue(
        Reply(status=500, body=llama_cpp_python_error), '{"city": "Porto", "confidence": 1}'
    )
    answer = llm.complete(ASK, schema=City)
    assert answer.data == City(city="Porto", confidence=1)
    assert llm.format_mode == "json_object" and sleeps == []  # stepped down, no backoff
    assert [r.get("response_format", {}).get("type") for r in openai_server.requests] == [
        "json_schema",
        "json_object",
    ]


def test_a_server_error_is_not_mistaken_for_a_rejected_format(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer, sleeps: list[float]
) -> None:
    openai_server.queue(
        Reply(status=500, error="CUDA out of memory while applying response_format json_schema"),
        '{"city": "Faro", "confidence": 0}',
    )
    assert llm.complete(ASK, schema=City).data == City(city="Faro", confidence=0)
    assert llm.format_mode == "json_schema" and len(sleeps) == 1  # retried, same format


def test_a_bad_request_unrelated_to_the_format_is_not_mistaken_for_one(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(Reply(status=400, error="maximum context length is 8192 tokens"))
    with pytest.raises(ProviderError, match="maximum context length"):
        llm.complete(ASK, schema=City)
    assert llm.format_mode == "json_schema" and len(openai_server.requests) == 1


def test_usage_is_cumulative_and_thread_safe(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.responder = lambda request: "answer " * (len(request["messages"][-1]["content"]))
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                llm.complete([{"role": "user", "content": f"q{n} " + "x" * i}])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    reported = openai_server.reported_usage()
    assert llm.usage == Usage(
        calls=30,
        prompt_tokens=reported["prompt_tokens"],
        completion_tokens=reported["completion_tokens"],
        retries=0,
    )
    assert reported["completion_tokens"] > 30


def test_invalid_messages_are_rejected_before_any_request(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    with pytest.raises(InvalidInput):
        llm.complete([])
    with pytest.raises(InvalidInput, match="role and content"):
        llm.complete([{"role": "user"}])
    assert openai_server.requests == []


def test_a_response_that_is_not_a_chat_completion_is_a_provider_error(
    llm: OpenAIChatLLM, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.queue(Reply(body="<html>proxy login</html>"))
    with pytest.raises(ProviderError, match="not a chat completion"):
        llm.complete(ASK)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": {"b": [1, 2]}}\n```', {"a": {"b": [1, 2]}}),
        ('<think>maybe {"a": 0}?</think>\n{"a": 2}', {"a": 2}),
        ('Result:\n{"a": "x}"}\nDone.', {"a": "x}"}),
        ('```\n{"a": 3}\n```', {"a": 3}),
    ],
)
def test_json_is_found_in_chatty_answers(text: str, expected: dict) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2]", '{"a": '])
def test_answers_without_a_json_object_are_invalid(text: str) -> None:
    with pytest.raises(InvalidOutput):
        parse_json_object(text)


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(InvalidOutput, match=r"City: confidence: Field required"):
        parse_structured('{"city": "Lisbon"}', City)


def test_configuration_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, openai_server: ScriptedOpenAIServer
) -> None:
    for name in ("REMEM_LLM_URL", "REMEM_LLM_MODEL", "REMEM_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert default_llm() is None
    monkeypatch.setenv("REMEM_LLM_URL", openai_server.url)
    monkeypatch.setenv("REMEM_LLM_MODEL", "qwen2.5:0.5b")
    monkeypatch.setenv("REMEM_LLM_API_KEY", SECRET)
    configured = default_llm()
    assert isinstance(configured, OpenAIChatLLM)
    assert configured.model_id == "openai:qwen2.5:0.5b"
    openai_server.queue("hi")
    configured.complete(ASK)
    assert openai_server.exchanges[0].headers["authorization"] == f"Bearer {SECRET}"
    assert openai_server.requests[0]["model"] == "qwen2.5:0.5b"
    overridden = llm_from_env(model="judge", url=openai_server.url)
    assert overridden is not None and overridden.model_id == "openai:judge"
    monkeypatch.setenv("REMEM_LLM_TIMEOUT", "soon")
    with pytest.raises(InvalidInput, match="REMEM_LLM_TIMEOUT"):
        llm_from_env()
