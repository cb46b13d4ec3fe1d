"""Tenant isolation over HTTP, route by route: B's key never sees, changes or deletes A's data.

Runs on SQLite (ids global in the file) and PostgreSQL (ids keyed per tenant).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from remem import Client, InvalidInput, NotFound
from tests.conftest import CONVERSATION
from tests.service.conftest import Service

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def snapshot(client: Client) -> list[str]:
    out = io.StringIO()
    client.export(out)
    return sorted(out.getvalue().splitlines()[1:])  # without the timestamped header


@pytest.mark.parametrize("backend", BACKENDS)
def test_another_tenant_reaches_nothing_on_any_route(
    start_service: Callable[..., Service], backend: str, tmp_path: Path
) -> None:
    service = start_service(backend)
    a, b = service.client("tenant-a"), service.client("tenant-b")
    mine = a.add(CONVERSATION, user_id="ana", session_id="s1")
    a.update(mine.memories[0].id, "Ana: I moved to Porto.")
    b.add("Ana from tenant B likes chess", user_id="ana", session_id="s1")
    before = snapshot(a)
    a_ids = [m.id for m in mine.memories]
    target = a_ids[0]

    for call in (
        lambda: b.get(target),
        lambda: b.get(target, version=1),
        lambda: b.get(target, as_of="2100-01-01"),
        lambda: b.update(target, "overwritten by B"),
        lambda: b.update(target, metadata={"owner": "B"}),
        lambda: b.delete(target),
        lambda: b.forget(target),
        lambda: b.history(target),
        lambda: b.versions(target),
        lambda: b.surrounding(target),
        lambda: b.pin(target),
        lambda: b.pin(target, False),
    ):
        with pytest.raises(NotFound):
            call()

    page = b.list(limit=1000)
    assert page.total == 1 and not set(a_ids) & {m.id for m in page.items}
    for query in ("golden retriever puppy Max", "cardiologist sister", "Lisbon Porto"):
        hits = b.search(query, user_id="ana", limit=50).hits
        assert all(h.memory.scope.tenant == "tenant-b" for h in hits)
        assert not set(a_ids) & {h.id for h in hits}
    unscoped = b.search("who likes chess or dogs", limit=50).hits
    assert [h.memory.scope.tenant for h in unscoped] == ["tenant-b"]
    stats = b.stats()
    assert stats["episodes"] == 1 and stats["memories"] == {"episode": {"active": 1}}
    exported = io.StringIO()
    b.export(exported)
    assert not any(memory_id in exported.getvalue() for memory_id in a_ids)
    assert "golden retriever" not in exported.getvalue()

    assert b.delete_all(user_id="ana") == 1
    assert b.delete_all(session_id="s1") == 0
    # B's own maintenance, digests and graph reads never touch or show A's memories.
    b.maintain(archive_below=1.0)
    b.summarize(user_id="ana")
    profile = b.profile(user_id="ana", refresh=True)
    assert profile is None or not any(memory_id in profile.text for memory_id in a_ids)
    for entity in b.entities(user_id="ana"):
        assert not set(a_ids) & {m.id for m in b.related(entity.id, user_id="ana")}
    assert not set(a_ids) & {m.id for m in b.facts(user_id="ana")}

    # A's own export, loaded by B: on SQLite ids collide (global); on PostgreSQL it lands in B.
    a_export = tmp_path / "a.jsonl"
    a.export(a_export)
    try:
        counts = b.import_(a_export)
    except InvalidInput:
        assert backend == "sqlite"
    else:
        assert backend == "postgres" and counts["memory"] == len(CONVERSATION) + 1
        b.delete_all(user_id="ana")
        b.forget(target)
        with pytest.raises(NotFound):
            b.get(target)

    assert snapshot(a) == before
    assert a.get(target).text == "Ana: I moved to Porto."
    assert a.list(user_id="ana").total == len(CONVERSATION)


def test_one_tenant_many_keys_share_data_and_revoking_one_keeps_the_rest(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    first = service.client("acme")
    key, token = service.keys.create("acme", "second")
    second = service.client(api_key=token)
    added = first.add("shared note", user_id="ana")
    assert second.get(added.memories[0].id).text == "shared note"
    service.keys.revoke(key.id)
    assert first.list().total == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_stats_tell_a_tenant_nothing_of_the_shared_database(
    start_service: Callable[..., Service], backend: str
) -> None:
    service = start_service(backend)
    a, b = service.client("tenant-a"), service.client("tenant-b")
    a.add(CONVERSATION, user_id="ana")
    response = httpx.get(
        f"{service.url}/v1/stats", headers={"Authorization": f"Bearer {service.token('tenant-b')}"}
    )
    assert response.status_code == 200
    stats = response.json()
    assert not {"url", "bytes", "backend"} & set(stats)
    assert stats["episodes"] == 0 and stats["memories"] == {}
    # Not the path, host, user, database or schema, in any field.
    where = urlsplit(service.location)
    for secret in {service.location, where.path, where.hostname, where.username} - {None, ""}:
        assert secret not in response.text
    assert b.stats() == stats and a.stats()["episodes"] == len(CONVERSATION)
