"""RememSession: the real openai-agents Runner against the scripted OpenAI-protocol server,
with its conversation history kept in a real Memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from remem import Memory
from remem.integrations.agents import RememSession
from remem.testing import ScriptedOpenAIServer
from tests.integrations.scripted import calls_tools

agents = pytest.importorskip("agents")
from openai import AsyncOpenAI  # noqa: E402


def agent_on(server: ScriptedOpenAIServer, tools: list[Any] | None = None) -> Any:
    model = agents.OpenAIChatCompletionsModel(
        model="scripted", openai_client=AsyncOpenAI(base_url=server.url, api_key="test")
    )
    return agents.Agent(name="helper", instructions="Be brief.", model=model, tools=tools or [])


def run(agent: Any, texts: list[str], session: RememSession) -> list[str]:
    """Each text one run, in one event loop (the agent's HTTP client belongs to it)."""
    config = agents.RunConfig(tracing_disabled=True)

    async def runs() -> list[str]:
        return [
            str(
                (await agents.Runner.run(agent, t, session=session, run_config=config)).final_output
            )
            for t in texts
        ]

    return asyncio.run(runs())


def test_a_second_run_sees_the_first_through_remem(memory: Memory) -> None:
    session = RememSession("chat-1", memory, user_id="ana")
    with ScriptedOpenAIServer() as server:
        server.queue("Hello Ana!", "You live in Lisbon.")
        agent = agent_on(server)
        answers = run(agent, ["Hi, I'm Ana and I live in Lisbon.", "Where do I live?"], session)
        assert answers == ["Hello Ana!", "You live in Lisbon."]
        sent = [(m["role"], m["content"]) for m in server.requests[1]["messages"]]
    assert sent == [
        ("system", "Be brief."),
        ("user", "Hi, I'm Ana and I live in Lisbon."),
        ("assistant", "Hello Ana!"),
        ("user", "Where do I live?"),
    ]
    items = asyncio.run(session.get_items())
    assert [i.get("role") for i in items] == ["user", "assistant", "user", "assistant"]
    # The conversation is long-term memory too: searchable in the user's scope.
    hit = memory.search("which city does Ana live in", user_id="ana").hits[0]
    assert hit.memory.text == "Hi, I'm Ana and I live in Lisbon."
    assert hit.memory.scope.session_id == "chat-1"


def test_tool_calls_and_outputs_come_back_as_stored(memory: Memory) -> None:
    @agents.function_tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    session = RememSession("chat-2", memory, user_id="ana")
    with ScriptedOpenAIServer() as server:
        server.queue(calls_tools(("weather", {"city": "Lisbon"})), "It is sunny.")
        assert run(agent_on(server, [weather]), ["Weather in Lisbon?"], session) == ["It is sunny."]
    items = asyncio.run(session.get_items())
    kinds = [i.get("type", "message") for i in items]
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    assert items[1]["name"] == "weather" and items[2]["output"] == "Sunny in Lisbon"
    texts = [r.text for r in memory.list(user_id="ana", session_id="chat-2").items]
    assert 'called weather({"city": "Lisbon"})' in texts and "Sunny in Lisbon" in texts


def test_pop_limit_and_clear(memory: Memory) -> None:
    session = RememSession("chat-3", memory, user_id="ana")
    other = RememSession("chat-4", memory, user_id="ana")
    said = [{"role": "user", "content": f"message {n}"} for n in range(4)]
    asyncio.run(session.add_items(said[:2]))
    asyncio.run(session.add_items(said[2:]))
    asyncio.run(other.add_items([{"role": "user", "content": "elsewhere"}]))
    assert asyncio.run(session.get_items()) == said
    assert asyncio.run(session.get_items(limit=2)) == said[2:]
    popped = asyncio.run(session.pop_item())
    assert popped == said[3]
    assert asyncio.run(session.get_items()) == said[:3]
    asyncio.run(session.add_items([{"role": "assistant", "content": "again"}]))
    assert asyncio.run(session.get_items())[-1]["content"] == "again"
    asyncio.run(session.clear_session())
    assert asyncio.run(session.get_items()) == []
    assert asyncio.run(session.pop_item()) is None
    assert asyncio.run(other.get_items()) == [{"role": "user", "content": "elsewhere"}]
    # Deleted, not erased: the history of a popped item still shows what it said.
    gone = memory.list(user_id="ana", status="active").items
    assert [m.text for m in gone] == ["elsewhere"]


def test_is_a_session_by_the_sdks_protocol(memory: Memory) -> None:
    from agents.memory import Session

    assert isinstance(RememSession("chat-5", memory), Session)


def test_the_session_works_over_a_client(start_service: Any) -> None:
    client = start_service(auth=False).client()
    session = RememSession("chat-6", client, user_id="ana")
    said = [
        {"role": "user", "content": "Book a table for two."},
        {"type": "function_call", "call_id": "c1", "name": "book", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "booked"},
    ]
    asyncio.run(session.add_items(said))
    assert asyncio.run(session.get_items()) == said
    assert asyncio.run(session.pop_item()) == said[-1]
    assert asyncio.run(session.get_items(limit=5)) == said[:2]
