"""The HTTP API end to end through ``remem.Client`` against a real server on loopback."""

from __future__ import annotations

import asyncio
import inspect
import io
import json

import httpx
import pytest

from remem import (
    AddResult,
    AsyncClient,
    Client,
    InvalidInput,
    Memory,
    NotFound,
    ScopeError,
    Unauthorized,
)
from remem.client import _Facade
from tests.conftest import CONVERSATION
from tests.service.conftest import Service

#: Facade methods that only make sense next to the store (the process's own threads, files,
#: its lifecycle) or that a service keeps to itself (an operator retries extraction).
LOCAL_ONLY = {
    "add_insight",
    "add_many",
    "close",
    "drain_extraction_queue",
    "export_lines",
    "extraction_jobs",
    "maintain_in_background",
    "backup",
    "migrate_to",
    "reembed",
    "retention",
    "retry_extraction",
    "start_extraction_worker",
    "stop_extraction_worker",
}
#: Every other public method of Memory: a new one fails here until the client has it.
FACADE = sorted(
    n
    for n in dir(Memory)
    if not n.startswith("_") and callable(getattr(Memory, n)) and n not in LOCAL_ONLY
)


@pytest.mark.parametrize("name", FACADE)
def test_client_methods_take_the_same_arguments_as_memory(name: str) -> None:
    ours = inspect.signature(getattr(_Facade, name)).parameters
    theirs = inspect.signature(getattr(Memory, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]
    assert inspect.iscoroutinefunction(getattr(AsyncClient, name))


def test_conversation_round_trip(service: Service) -> None:
    m = service.client("acme")
    added = m.add(CONVERSATION, user_id="ana", session_id="s1")
    assert isinstance(added, AddResult) and len(added.memories) == len(CONVERSATION)
    hits = m.search("which pet does the user have?", user_id="ana", limit=2, context_window=1)
    assert "golden retriever" in hits[0].text and "dense" in hits[0].signals
    assert hits[0].episode is not None and len(hits[0].context) == 3

    first = added.memories[0]
    assert m.get(first.id).text == "Ana: I moved to Lisbon last March."
    newer = m.update(first.id, "Ana: I moved to Porto.", metadata={"city": "Porto"}, reason="moved")
    assert newer.version == 2 and m.get(first.id, version=1).text.endswith("Lisbon last March.")
    assert [v.version for v in m.versions(first.id)] == [1, 2]
    assert [e.op for e in m.history(first.id)] == ["add", "update"]
    assert [e.seq for e in m.surrounding(first.id, window=1)] == [0, 1]
    assert m.list(user_id="ana", metadata={"city": "Porto"}).total == 1

    gone = m.delete(first.id, reason="wrong")
    assert gone.status == "deleted" and m.get(first.id).status == "deleted"
    assert first.id not in [item.id for item in m.list(user_id="ana").items]
    with pytest.raises(NotFound):
        m.delete(first.id)
    assert m.forget(added.memories[1].id) == 1
    stats = m.stats(user_id="ana")
    assert stats["memories"]["episode"]["active"] == len(CONVERSATION) - 2


def test_pagination_walks_every_memory_once(service: Service) -> None:
    m = service.client("acme")
    for i in range(7):
        m.add(f"note number {i}", user_id="ana")
    seen, offset = [], 0
    while offset is not None:
        page = m.list(user_id="ana", limit=3, offset=offset)
        seen += [item.text for item in page.items]
        offset = page.next_offset
    assert seen == [f"note number {i}" for i in reversed(range(7))]
    raw = httpx.get(
        f"{service.url}/v1/memories",
        params={"limit": 3, "offset": 6},
        headers={"X-API-Key": service.token("acme")},
    ).json()
    assert (raw["total"], raw["next_offset"], len(raw["items"])) == (7, None, 1)


def test_delete_all_needs_a_scope_and_keeps_to_it(service: Service) -> None:
    m = service.client("acme")
    m.add("Ana likes tea", user_id="ana")
    m.add("Bo likes coffee", user_id="bo")
    with pytest.raises(ScopeError, match="explicit scope"):
        m.delete_all()
    assert m.delete_all(user_id="ana") == 1
    assert m.list().total == 1 and m.list().items[0].text == "Bo likes coffee"


def test_export_and_import_between_tenants(service: Service, tmp_path) -> None:
    source, target = service.client("acme"), service.client("globex")
    source.add(CONVERSATION, user_id="ana", session_id="s1")
    path = tmp_path / "acme.jsonl"
    counts = source.export(path)
    assert counts == {"episode": 5, "memory": 5, "event": 5, "entity": 5, "entity_link": 6}
    target_db = Memory(tmp_path / "elsewhere.db")
    target_db.close()
    # Ids are global in one SQLite file, so the same export cannot land twice in it.
    with pytest.raises(InvalidInput, match="collides"):
        target.import_(path)
    assert target.list().total == 0
    buffer = io.StringIO()
    source.export(buffer)
    assert len(buffer.getvalue().splitlines()) == 2 + sum(counts.values())  # header, trailer


def test_async_client_mirrors_the_sync_one(service: Service) -> None:
    async def run() -> None:
        async with AsyncClient(service.url, api_key=service.token("acme")) as m:
            added = await m.add("I adopted a puppy named Max", user_id="ana")
            results = await m.search("pet", user_id="ana")
            assert results[0].id == added.memories[0].id
            assert (await m.list(user_id="ana")).total == 1
            with pytest.raises(NotFound):
                await m.get("mem_missing")

    asyncio.run(run())


def test_keys_are_required_and_revocation_is_immediate(service: Service) -> None:
    with pytest.raises(Unauthorized, match="required"):
        service.client(api_key="").list()
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        service.client(api_key="remem_000000000000_" + "0" * 48).list()
    with pytest.raises(Unauthorized):
        service.client(api_key="not-a-key").list()
    key, token = service.keys.create("acme", "short-lived")
    m = service.client(api_key=token)
    m.add("kept", user_id="ana")
    service.keys.revoke(key.id)
    with pytest.raises(Unauthorized):
        m.list()
    response = httpx.get(f"{service.url}/v1/memories", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_two_different_keys_are_refused_whichever_is_valid(service: Service) -> None:
    acme, other = service.token("acme"), service.token("other")
    url = f"{service.url}/v1/memories"
    body = {"text": "written by whom?", "user_id": "ana"}
    for bearer, header in ((acme, other), (other, acme), (acme, "not-a-key")):
        both = {"Authorization": f"Bearer {bearer}", "X-API-Key": header}
        response = httpx.post(url, json=body, headers=both)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "ambiguous_credentials"
    assert service.client("acme").stats()["episodes"] == 0
    assert service.client("other").stats()["episodes"] == 0
    same = {"Authorization": f"Bearer {acme}", "X-API-Key": acme}
    assert httpx.post(url, json=body, headers=same).status_code == 201
    assert httpx.post(url, json=body, headers={"X-API-Key": acme}).status_code == 201
    assert service.client("acme").stats()["episodes"] == 2


def _raw(service: Service, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {service.token('acme')}", **kwargs.pop("headers", {})}
    return httpx.request(method, service.url + path, headers=headers, timeout=30, **kwargs)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"text": ""}, 422, "text: String should have at least 1 character"),
        ({"text": "  "}, 422, "text: String should match pattern"),
        ({"messages": [{"content": "\t"}]}, 422, "messages.0.content"),
        ({"text": "a", "messages": [{"content": "b"}]}, 422, "exactly one"),
        ({"messages": []}, 422, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 422, "role"),
        ({"text": "x", "timestamp": "yesterday-ish"}, 422, "ISO 8601"),
        ({"text": "x", "timestamp": "9999-12-31T23:00:00-05:00"}, 422, "out of the supported"),
        ({"text": "x", "importance": 2}, 422, "importance"),
        ({"text": "nul \u0000 inside"}, 422, "NUL"),
        ({"text": "x", "metadata": {'a"b': 1}}, 422, "quotes"),
        ({"text": "x", "user_id": "  "}, 422, "scope"),
        ({"text": "x", "surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_input_is_a_4xx_json_message_and_stores_nothing(
    service: Service, body: dict, status: int, message: str
) -> None:
    response = _raw(service, "POST", "/v1/memories", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"] and "Traceback" not in response.text
    assert service.client("acme").stats()["memories"] == {}


def test_malformed_and_oversized_requests(service: Service) -> None:
    bad_json = _raw(
        service,
        "POST",
        "/v1/memories",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422 and bad_json.json()["error"]["code"] == "invalid_input"
    huge = {"text": "x" * (1 << 20)}
    too_big = _raw(service, "POST", "/v1/memories", json=huge)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"

    def chunks():  # no Content-Length: the limit must hold for streamed bodies too
        yield b'{"text": "'
        for _ in range(40):
            yield b"y" * 32768
        yield b'"}'

    streamed = _raw(service, "POST", "/v1/memories", content=chunks())
    assert streamed.status_code == 413
    assert _raw(service, "GET", "/v1/nowhere").json()["error"]["code"] == "not_found"
    not_allowed = _raw(service, "PUT", "/v1/search")
    assert not_allowed.status_code == 405 and not_allowed.headers["Allow"] == "POST"
    assert _raw(service, "PUT", "/v1/memories/x").headers["Allow"] == "DELETE, GET, PATCH"
    assert service.client("acme").stats()["memories"] == {}


def test_health_readiness_metrics_and_openapi(service: Service) -> None:
    m = service.client("acme")
    m.add("I moved to Lisbon", user_id="ana")
    m.search("where do I live", user_id="ana")
    assert httpx.get(service.url + "/healthz").json() == {"status": "ok", "detail": None}
    assert httpx.get(service.url + "/readyz").status_code == 200
    text = httpx.get(service.url + "/metrics").text
    assert "remem_memories_added_total 1.0" in text
    assert "remem_searches_total 1.0" in text
    assert 'remem_model_calls_total{model="embedder",outcome="ok"}' in text
    assert 'remem_http_request_duration_seconds_count{method="POST",route="/v1/search"} 1.0' in text
    schema = httpx.get(service.url + "/openapi.json").json()
    assert {"/v1/memories", "/v1/search", "/v1/memories/{memory_id}"} <= set(schema["paths"])
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])


def test_dev_mode_without_keys(start_service) -> None:
    dev = start_service(auth=False, tenant="dev")
    m = Client(dev.url)
    m.add("no key needed", user_id="ana")
    assert m.list().items[0].scope.tenant == "dev"
    m.close()


def test_client_reports_an_unreachable_service() -> None:
    from remem import StoreError

    with (
        Client("http://127.0.0.1:9", api_key="x", timeout=2) as m,
        pytest.raises(StoreError, match="cannot reach"),
    ):
        m.list()


def test_error_json_is_mapped_back_to_typed_errors(service: Service) -> None:
    m = service.client("acme")
    with pytest.raises(NotFound, match="no current memory"):
        m.update("mem_nope", "x")
    with pytest.raises(InvalidInput, match="limit"):
        m.search("x", limit=0)
    body = _raw(service, "POST", "/v1/search", json={"query": "x", "limit": 0}).json()
    assert json.dumps(body).count("limit") >= 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"null", "expected a JSON object"),
        (b'{"type": "episode", "content": "a\\u0000b"}', "NUL"),
        (b"\xff\xfe", "UTF-8"),
        (b'{"type": "header", "format": "other"}', "not a remem-export"),
        (b'{"type": "header", "type": "episode"}', "'type' appears twice"),
        (b'{"type": "header", "version": NaN}', "NaN is not a JSON number"),
    ],
)
def test_bad_imports_are_refused_whole(service: Service, body: bytes, message: str) -> None:
    response = _raw(
        service,
        "POST",
        "/v1/import",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 422 and message in response.json()["error"]["message"]
    assert service.client("acme").stats()["memories"] == {}


def test_graph_reads_over_http_stay_in_the_tenant(service: Service) -> None:
    a, b = service.client("acme"), service.client("globex")
    turn = a.add("I moved to Lisbon with Rita", user_id="ana").memories[0]
    fact = a.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
    lisbon = next(e for e in a.entities(user_id="ana") if e.name == "Lisbon")
    assert [e.id for e in a.entities(user_id="ana", name="lisbon")] == [lisbon.id]
    assert {m.id for m in a.related(lisbon.id, user_id="ana")} >= {turn.id}
    assert [m.id for m in a.facts(user_id="ana", current=True)] == [fact.id]
    assert [m.id for m in a.facts(user_id="ana", as_of="2000-01-01")] == []
    assert b.entities(user_id="ana") == [] and b.facts(user_id="ana") == []
    assert b.related(lisbon.id, user_id="ana") == []


def test_a_repeated_query_parameter_is_refused(service: Service) -> None:
    headers = {"Authorization": f"Bearer {service.token('acme')}"}
    twice = httpx.get(service.url + "/v1/entities?user_id=&user_id=ana", headers=headers)
    assert twice.status_code == 422 and "'user_id' is given more than once" in twice.text
    kinds = httpx.get(service.url + "/v1/memories?kind=fact&kind=episode", headers=headers)
    assert kinds.status_code == 200  # list parameters may repeat
    body = '{"content": "Ana lives in Porto", "user_id": "ana", "user_id": "rita"}'
    twice_in_body = httpx.post(
        service.url + "/v1/memories",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert twice_in_body.status_code == 422
    assert "not valid JSON: the key 'user_id' appears twice" in twice_in_body.text
    broken = httpx.post(
        service.url + "/v1/memories",
        content="{oops",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "not valid JSON: Expecting" in broken.text
    assert service.client("acme").list(user_id="rita").total == 0
    metadata = httpx.get(
        service.url + "/v1/memories", params={"metadata": '{"a": 1, "a": 2}'}, headers=headers
    )
    assert metadata.status_code == 422 and "'a' appears twice" in metadata.text


def test_every_route_parses_bodies_strictly() -> None:
    """A router added without ``JSONRoute`` would read a repeated key as its last value."""
    from fastapi.routing import APIRoute

    from remem.service.json_route import JSONRoute
    from remem.service.routers import ROUTERS
    from remem.service.routers.mem0 import router as mem0_router

    routes = [r for router in (*ROUTERS, mem0_router) for r in router.routes]
    api = [r for r in routes if isinstance(r, APIRoute)]
    assert api and all(isinstance(r, JSONRoute) for r in api), [
        r.path for r in api if not isinstance(r, JSONRoute)
    ]
