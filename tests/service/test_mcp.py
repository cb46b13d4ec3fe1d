"""The MCP server through the official MCP client, over stdio (a real subprocess) and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from remem import Memory, Writer
from remem.engine import Memory as Engine
from remem.interfaces import mcp_server
from remem.providers.embedder import Embedder
from remem.service import KeyStore
from remem.stores import open_store
from tests.service.conftest import REPO, ServerThread

TOOLS = {
    "add_memory",
    "search_memories",
    "list_memories",
    "get_memory",
    "delete_memory",
    "memory_context",
}


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise AssertionError(result.content[0].text)
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text


async def exercise(client: Client, user: str | None) -> None:
    """Every tool once, as a desktop agent would call them."""
    who = {} if user else {"user_id": "ana"}
    assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
    added = await call(client, "add_memory", text="I adopted a puppy named Max", **who)
    memory_id = added["added"][0]["id"]
    await call(client, "add_memory", text="I moved to Lisbon in March", **who)
    found = await call(client, "search_memories", query="what pet do I have", **who)
    assert found["hits"][0]["id"] == memory_id and "dense" in found["hits"][0]["why"]
    block = await call(client, "memory_context", query="my pet", budget_tokens=200, **who)
    assert block["tokens"] <= 200 and added["added"][0]["id"] in block["cited"]
    listed = await call(client, "list_memories", limit=1, **who)
    assert listed["total"] == 2 and listed["next_offset"] == 1
    assert (await call(client, "get_memory", memory_id=memory_id, **who))["text"].endswith("Max")
    assert (await call(client, "delete_memory", memory_id=memory_id, **who)) == {
        "deleted": memory_id
    }
    assert (await call(client, "list_memories", **who))["total"] == 1
    assert "no current memory" in await refused(client, "delete_memory", memory_id=memory_id, **who)
    if user is None:
        assert "user_id is required" in await refused(client, "search_memories", query="pet")
        other = await call(client, "search_memories", query="Lisbon", user_id="bo")
        assert other["hits"] == []
    else:
        message = await refused(client, "list_memories", user_id="someone-else")
        assert f"serves user {user!r} only" in message


def test_stdio_transport_in_a_subprocess(tmp_path: Path) -> None:
    db = tmp_path / "mcp.db"
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "remem.interfaces.cli", "--db", str(db), "mcp", "--user", "ana"],
        env=env,
    )

    async def run() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await exercise(client, user="ana")

    asyncio.run(run())
    with Memory(db) as memory:  # the subprocess wrote to the file, scoped to its user
        assert [m.text for m in memory.list(user_id="ana").items] == ["I moved to Lisbon in March"]


@pytest.fixture
def mcp_http(tmp_path: Path, embedder: Embedder) -> Iterator[dict[str, Any]]:
    location = str(tmp_path / "mcp-http.db")
    store = open_store(location)
    keys = KeyStore(location)
    tenants: dict[str, Engine] = {}

    def for_tenant(name: str, writer: Writer) -> Engine:
        return tenants.setdefault(
            name, Engine(store=store, embedder=embedder, tenant=name, writer=writer)
        )

    server = mcp_server.build_server(mcp_server.by_key(for_tenant))
    thread = ServerThread(mcp_server.http_app(server, host="127.0.0.1", keys=keys)).start()
    yield {"url": thread.url + "/mcp", "keys": keys, "tenants": tenants}
    thread.stop()
    keys.close()
    store.close()


def _client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    transport = streamable_http_client(url, http_client=http)
    return Client(transport, read_timeout_seconds=60)


def test_streamable_http_transport_with_keys_per_tenant(mcp_http: dict[str, Any]) -> None:
    acme = mcp_http["keys"].create("acme", "mcp")[1]
    globex = mcp_http["keys"].create("globex", "mcp")[1]

    async def run() -> None:
        async with _client(mcp_http["url"], acme) as client:
            await exercise(client, user=None)
        async with _client(mcp_http["url"], globex) as client:
            seen = await call(client, "list_memories", user_id="ana")
            assert seen["total"] == 0
            hits = await call(client, "search_memories", query="Lisbon", user_id="ana")
            assert hits["hits"] == []

    asyncio.run(run())
    assert mcp_http["tenants"]["acme"].list(user_id="ana").total == 1
    assert mcp_http["tenants"]["globex"].list().total == 0


def test_streamable_http_refuses_requests_without_a_valid_key(mcp_http: dict[str, Any]) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for token in (None, "remem_000000000000_" + "0" * 48):
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(mcp_http["url"], json=initialize, headers={**headers, **auth})
        assert response.status_code == 401
        assert json.loads(response.text)["error"]["code"] == "unauthorized"
