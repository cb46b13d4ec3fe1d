"""`remem serve --mem0-compat` on loopback, driven by Mem0's own client (mem0ai's
MemoryClient with host= pointed at it): add, search, get, update, delete, history."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from remem import Memory
from remem.integrations.mem0 import mem0_export
from remem.service import KeyStore
from remem.testing.served import served

mem0 = pytest.importorskip("mem0")
from mem0 import MemoryClient  # noqa: E402
from mem0.exceptions import MemoryError as Mem0Error  # noqa: E402


@dataclass(frozen=True)
class Mem0Server:
    url: str
    db: Path
    acme: str
    other: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mem0Server]:
    db = tmp_path_factory.mktemp("mem0") / "remem.db"
    keys = KeyStore(str(db))
    acme = keys.create("acme", "mem0 client")[1]
    other = keys.create("other", "another tenant")[1]
    keys.close()
    with served(db, "--mem0-compat", ready_within_s=120) as running:
        yield Mem0Server(running.url, db, acme, other)


def test_mem0s_client_works_unchanged(server: Mem0Server) -> None:
    client = MemoryClient(api_key=server.acme, host=server.url)
    added = client.add(
        [
            {"role": "user", "content": "I'm vegetarian and allergic to nuts."},
            {"role": "assistant", "content": "Noted, no nuts and no meat."},
        ],
        user_id="alice",
        metadata={"source": "onboarding"},
    )
    first = added["results"][0]
    assert first["event"] == "ADD" and first["user_id"] == "alice"
    assert first["memory"] == "I'm vegetarian and allergic to nuts."
    assert first["metadata"] == {"source": "onboarding"}
    client.add("I live in Lyon.", user_id="bob")

    found = client.search("what does alice eat", filters={"user_id": "alice"})["results"]
    assert found[0]["id"] == first["id"] and 0 < found[0]["score"] <= 1
    assert found[0]["why"].startswith("fused")
    assert all(r["user_id"] == "alice" for r in found)

    got = client.get(first["id"])
    assert got["memory"] == first["memory"] and got["created_at"] == first["created_at"]

    client.update(first["id"], text="I'm vegan and allergic to nuts.")
    assert client.get(first["id"])["memory"] == "I'm vegan and allergic to nuts."
    listed = client.get_all(filters={"AND": [{"user_id": "alice"}]})
    assert listed["count"] == 2 and len(listed["results"]) == 2

    client.delete(first["id"])
    with pytest.raises(Mem0Error):
        client.get(first["id"])
    history = client.history(first["id"])
    assert [h["event"] for h in history] == ["ADD", "UPDATE", "DELETE"]
    assert history[1]["old_memory"] == "I'm vegetarian and allergic to nuts."
    assert history[1]["new_memory"] == "I'm vegan and allergic to nuts."

    client.delete_all(user_id="alice")
    assert client.get_all(filters={"user_id": "alice"})["results"] == []
    assert client.get_all(filters={"user_id": "bob"})["count"] == 1


def test_run_and_app_ids_scope_memories(server: Mem0Server) -> None:
    client = MemoryClient(api_key=server.acme, host=server.url)
    client.add("Prefers window seats.", user_id="carol", run_id="trip-1", app_id="travel")
    client.add("Likes jazz.", user_id="carol", app_id="music")
    travel = client.get_all(filters={"user_id": "carol", "app_id": "travel"})["results"]
    assert [(m["memory"], m["run_id"], m["app_id"]) for m in travel] == [
        ("Prefers window seats.", "trip-1", "travel")
    ]
    hits = client.search(
        "music taste", filters={"AND": [{"user_id": "carol"}, {"app_id": "music"}]}
    )
    assert [h["memory"] for h in hits["results"]] == ["Likes jazz."]
    client.delete_all(user_id="carol", app_id="travel")
    left = client.get_all(filters={"user_id": "carol"})["results"]
    assert [m["memory"] for m in left] == ["Likes jazz."]
    with pytest.raises(Mem0Error, match="not supported"):
        client.search("x", filters={"OR": [{"user_id": "carol"}]})


def test_keys_and_tenants_are_remems(server: Mem0Server) -> None:
    acme = MemoryClient(api_key=server.acme, host=server.url)
    secret = acme.add("The vault code is 1234.", user_id="dave")["results"][0]["id"]
    other = MemoryClient(api_key=server.other, host=server.url)
    with pytest.raises(Mem0Error):
        other.get(secret)
    assert other.search("vault code", filters={"user_id": "dave"})["results"] == []
    with pytest.raises(ValueError):
        MemoryClient(api_key="not-a-key", host=server.url)
    # remem's own API still answers beside the Mem0 routes, with the same key.
    mine = httpx.get(
        f"{server.url}/v1/memories/{secret}", headers={"Authorization": f"Bearer {server.acme}"}
    )
    assert mine.status_code == 200 and mine.json()["text"] == "The vault code is 1234."
    assert httpx.get(f"{server.url}/v1/ping/").status_code == 401
    wrong = httpx.put(f"{server.url}/v3/memories/add/")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"


def test_mem0_routes_are_off_without_the_flag(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from remem.service import create_app

    with Memory(tmp_path / "x.db"):
        pass
    app = create_app(tmp_path / "x.db", auth=False, llm=None)
    with TestClient(app) as http:
        assert http.get("/v1/ping/").status_code == 404


def test_ids_kept_from_mem0_still_work_after_import(server: Mem0Server, tmp_path: Path) -> None:
    exported = {
        "results": [
            {
                "id": "5f0c2d6e-0000-4000-8000-000000000001",
                "memory": "Prefers aisle seats",
                "user_id": "erin",
                "created_at": "2024-05-01T08:00:00Z",
            }
        ]
    }
    with Memory(server.db, tenant="acme", llm=None) as memory:
        memory.import_(io.StringIO("".join(mem0_export(io.StringIO(json.dumps(exported))))))
    client = MemoryClient(api_key=server.acme, host=server.url)
    old_id = "5f0c2d6e-0000-4000-8000-000000000001"
    got = client.get(old_id)
    assert got["memory"] == "Prefers aisle seats" and got["mem0_id"] == old_id
    assert got["created_at"].startswith("2024-05-01T08:00:00")
    client.update(old_id, text="Prefers window seats")
    assert [h["event"] for h in client.history(old_id)] == ["ADD", "UPDATE"]
    client.delete(old_id)
    assert client.get_all(filters={"user_id": "erin"})["results"] == []


def test_expired_memories_and_unscoped_deletes(server: Mem0Server) -> None:
    client = MemoryClient(api_key=server.acme, host=server.url)
    client.add("Has a coupon.", user_id="fay", expiration_date="2020-01-31")
    client.add("Likes tea.", user_id="fay")
    shown = client.get_all(filters={"user_id": "fay"})["results"]
    assert [m["memory"] for m in shown] == ["Likes tea."]
    everything = client.get_all(filters={"user_id": "fay"}, show_expired=True)["results"]
    assert {m["expiration_date"] for m in everything} == {"2020-01-31", None}
    with pytest.raises(Mem0Error, match="needs user_id"):
        client.delete_all()
    assert client.get_all(filters={"user_id": "fay"}, show_expired=True)["count"] == 2


def test_mem0s_async_client_works_too(server: Mem0Server) -> None:
    from mem0 import AsyncMemoryClient

    async def go() -> tuple[str, list[dict[str, object]], list[dict[str, object]]]:
        client = AsyncMemoryClient(api_key=server.acme, host=server.url)
        added = await client.add("Runs every morning.", user_id="gus")
        memory_id = added["results"][0]["id"]
        await client.update(memory_id, text="Runs every evening.")
        found = (await client.search("exercise habits", filters={"user_id": "gus"}))["results"]
        return memory_id, found, await client.history(memory_id)

    memory_id, found, history = asyncio.run(go())
    assert found[0]["id"] == memory_id and found[0]["memory"] == "Runs every evening."
    assert [h["event"] for h in history] == ["ADD", "UPDATE"]
