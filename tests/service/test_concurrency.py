"""Many clients adding and searching at once: no errors, nothing lost, nothing crossed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from remem import AsyncClient
from tests.service.conftest import Service

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WRITERS = 8
ADDS = 12


def _worker(service: Service, tenant: str, writer: int) -> list[str]:
    client = service.client(tenant)
    ids = []
    for n in range(ADDS):
        text = f"writer {writer} note {n}: the {tenant} launch code is {writer * 100 + n}"
        ids.append(client.add(text, user_id=f"user-{writer}", session_id="s").memories[0].id)
        hits = client.search(f"launch code {writer * 100 + n}", user_id=f"user-{writer}", limit=3)
        assert hits.hits and all(h.memory.scope.user_id == f"user-{writer}" for h in hits)
        assert all(h.memory.scope.tenant == tenant for h in hits)
    return ids


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_clients_lose_nothing(start_service: Callable[..., Service], backend: str) -> None:
    service = start_service(backend)
    tenants = ["acme", "globex"]
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = {
            (tenant, writer): pool.submit(_worker, service, tenant, writer)
            for tenant in tenants
            for writer in range(WRITERS // 2)
        }
        written = {key: future.result() for key, future in futures.items()}
    for (tenant, writer), ids in written.items():
        client = service.client(tenant)
        page = client.list(user_id=f"user-{writer}", limit=100)
        assert sorted(m.id for m in page.items) == sorted(ids)
        turns = client.surrounding(ids[-1], window=ADDS)
        assert [t.seq for t in turns] == list(range(ADDS))  # session order kept under load
    for tenant in tenants:
        assert service.client(tenant).list(limit=1000).total == ADDS * WRITERS // 2


def test_async_clients_in_one_event_loop(service: Service) -> None:
    async def one(n: int) -> str:
        async with AsyncClient(service.url, api_key=service.token("acme")) as client:
            added = await client.add(f"async note {n}", user_id="ana")
            await client.search(f"async note {n}", user_id="ana")
            return added.memories[0].id

    async def many() -> list[str]:
        return await asyncio.gather(*(one(n) for n in range(20)))

    ids = asyncio.run(many())
    assert len(set(ids)) == 20
    assert service.client("acme").list(user_id="ana", limit=100).total == 20
