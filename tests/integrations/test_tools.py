"""remem.tools: a scripted model calls remember, recall, forget and context through the real
OpenAI SDK; the dispatcher runs them against a real Memory (and a Client over real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from remem import Memory
from remem.testing import ScriptedOpenAIServer
from remem.tools import MemoryTools
from tests.integrations.scripted import calls_tools

openai = pytest.importorskip("openai")


def converse(server: ScriptedOpenAIServer, tools: MemoryTools, question: str) -> str:
    """A plain tool loop, as an app would write it: ask, run the calls, answer."""
    client = openai.OpenAI(base_url=server.url, api_key="test", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": question}]
    for _ in range(6):
        reply = client.chat.completions.create(
            model="scripted", messages=messages, tools=tools.openai()
        )
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            answer = tools.call(call.function.name, call.function.arguments)
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(answer)}
            )
    raise AssertionError("the model never answered")


def tool_results(server: ScriptedOpenAIServer) -> list[dict[str, Any]]:
    last = server.requests[-1]["messages"]
    return [json.loads(m["content"]) for m in last if m["role"] == "tool"]


def test_a_scripted_model_remembers_recalls_and_forgets(memory: Memory) -> None:
    tools = MemoryTools(memory, user_id="ana")
    with ScriptedOpenAIServer() as server:
        server.queue(
            calls_tools(("remember", {"text": "Ana is allergic to peanuts."})),
            "Noted.",
        )
        assert converse(server, tools, "Remember that I'm allergic to peanuts") == "Noted."
        sent = server.requests[0]["tools"]
        assert [t["function"]["name"] for t in sent] == ["remember", "recall", "forget", "context"]
        (stored,) = tool_results(server)[0]["remembered"]
        assert memory.get(stored["id"]).scope.user_id == "ana"

        server.queue(calls_tools(("recall", {"query": "food allergies", "limit": 3})), "Peanuts.")
        converse(server, tools, "What am I allergic to?")
        recalled = tool_results(server)[0]["memories"]
        assert recalled[0]["id"] == stored["id"]
        assert "peanuts" in recalled[0]["text"] and recalled[0]["why"].startswith("fused")

        server.queue(
            calls_tools(("forget", {"memory_id": stored["id"], "reason": "asked to"})),
            calls_tools(("recall", {"query": "food allergies"})),
            "Forgotten.",
        )
        converse(server, tools, "Forget my allergy")
        forgotten, after = tool_results(server)
        assert forgotten == {"forgotten": stored["id"]}
        assert stored["id"] not in [m["id"] for m in after["memories"]]
        assert [e.op for e in memory.history(stored["id"])] == ["add", "delete"]


def test_context_tool_cites_what_it_uses(memory: Memory) -> None:
    memory.add("Ana moved to Lisbon in March.", user_id="ana")
    tools = MemoryTools(memory, user_id="ana")
    with ScriptedOpenAIServer() as server:
        server.queue(calls_tools(("context", {"query": "where does Ana live"})), "Lisbon.")
        converse(server, tools, "Where do I live?")
        (block,) = tool_results(server)
    assert "Lisbon" in block["context"] and len(block["cited"]) == 1


def test_the_model_cannot_reach_another_users_memory(memory: Memory) -> None:
    bob = memory.add("Bob's PIN is 4321.", user_id="bob").memories[0]
    tools = MemoryTools(memory, user_id="ana")
    assert tools.call("recall", {"query": "PIN"})["memories"] == []
    assert tools.call("forget", {"memory_id": bob.id})["error"]["code"] == "not_found"
    assert memory.get(bob.id).status == "active"


@pytest.mark.parametrize(
    "name, arguments, code",
    [
        ("recall", '{"query": ', "invalid_arguments"),
        ("recall", {"query": "x", "limit": 0}, "invalid_arguments"),
        ("remember", {"text": "x", "user_id": "bob"}, "invalid_arguments"),
        ("remember", {"text": "   "}, "invalid_input"),
        ("shell", {}, "unknown_tool"),
    ],
)
def test_bad_calls_come_back_as_errors_and_store_nothing(
    memory: Memory, name: str, arguments: Any, code: str
) -> None:
    answer = MemoryTools(memory, user_id="ana").call(name, arguments)
    assert answer["error"]["code"] == code and answer["error"]["message"]
    assert memory.list(user_id="ana").total == 0


def test_openai_and_anthropic_shapes_describe_the_same_tools(memory: Memory) -> None:
    tools = MemoryTools(memory, prefix="memory_")
    for fn, anthropic in zip(tools.openai(), tools.anthropic(), strict=True):
        assert fn["type"] == "function"
        assert fn["function"]["name"] == anthropic["name"]
        assert fn["function"]["parameters"] == anthropic["input_schema"]
        jsonschema.Draft202012Validator.check_schema(anthropic["input_schema"])
    schema = {t["name"]: t["input_schema"] for t in tools.anthropic()}
    assert schema["memory_recall"]["required"] == ["query"]
    assert schema["memory_forget"]["properties"]["reason"]["type"] == "string"
    validate = jsonschema.Draft202012Validator(schema["memory_context"])
    assert list(validate.iter_errors({"query": "x", "budget_tokens": 5}))
    assert not list(validate.iter_errors({"query": "x", "budget_tokens": 500}))
    # Anthropic's tool_use block carries its input as an object, not a JSON string.
    assert "remembered" in tools.call("memory_remember", {"text": "Likes tea."})


def test_the_same_tools_run_over_a_client(start_service: Any) -> None:
    service = start_service(auth=False)
    client = service.client()
    tools = MemoryTools(client, user_id="ana")
    stored = tools.call("remember", {"text": "Ana plays the cello."})["remembered"][0]
    found = tools.call("recall", {"query": "instrument Ana plays"})["memories"]
    assert found[0]["id"] == stored["id"]
    assert tools.call("forget", {"memory_id": stored["id"]}) == {"forgotten": stored["id"]}
