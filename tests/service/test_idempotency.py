"""``Idempotency-Key`` on adds over HTTP: stored once, answered again; per tenant; kept 24 h."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from remem import Client
from remem._time import utcnow
from remem.client import NO_RETRY
from remem.providers.llm import OpenAIChatLLM
from remem.stores import open_store
from remem.testing import Reply, ScriptedOpenAIServer
from tests.service.conftest import Service

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
BODY = {"text": "I adopted a puppy named Max", "user_id": "ana", "metadata": {"a": 1, "b": 2}}


def post(service: Service, tenant: str, key: str | None, body: Any = BODY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {service.token(tenant)}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
        return httpx.post(f"{service.url}/v1/memories", content=body, headers=headers, timeout=30)
    return httpx.post(f"{service.url}/v1/memories", json=body, headers=headers, timeout=30)


def episodes(service: Service, tenant: str) -> int:
    return int(service.client(tenant).stats()["episodes"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_add_sent_again_under_its_key_is_answered_not_stored(
    start_service: Callable[..., Service], backend: str
) -> None:
    service = start_service(backend)
    first = post(service, "acme", "add-1")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # The same request, its keys in another order and spaced otherwise.
    same = (
        b'{ "metadata": {"b": 2, "a": 1}, "user_id": "ana", "text": "I adopted a puppy named Max" }'
    )
    again = post(service, "acme", "add-1", same)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    replayed, stored = again.json(), first.json()
    assert (replayed["episodes"], replayed["memories"]) == (stored["episodes"], stored["memories"])
    # The extraction's status and job, not what it found (ids, never text, are kept).
    assert replayed["extraction"]["status"] == stored["extraction"]["status"] == "offline"
    assert replayed["extraction"]["entities"] == [] != stored["extraction"]["entities"]
    assert episodes(service, "acme") == 1

    other = post(service, "acme", "add-1", {**BODY, "text": "I adopted a kitten"})
    assert other.status_code == 422 and "another request" in other.json()["error"]["message"]
    assert post(service, "globex", "add-1").status_code == 201  # keys are per tenant
    assert episodes(service, "globex") == 1
    assert [post(service, "acme", None).status_code for _ in range(2)] == [201, 201]
    assert episodes(service, "acme") == 3  # without a key, each add is a new one


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_add_sent_many_times_at_once_is_stored_once(
    start_service: Callable[..., Service], backend: str
) -> None:
    service = start_service(backend)
    service.token("acme")
    start, answers = threading.Barrier(6), []

    def send() -> None:
        start.wait(timeout=30)
        answers.append(post(service, "acme", "at-once"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["memories"][0]["id"] for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    assert episodes(service, "acme") == 1


def test_bad_keys_and_erased_adds_are_refused(service: Service) -> None:
    for bad in ("has space", "x" * 256, "tab\there"):
        answer = post(service, "acme", bad)
        assert answer.status_code == 422 and "Idempotency-Key" in answer.text
    assert episodes(service, "acme") == 0
    added = post(service, "acme", "to-forget").json()
    service.client("acme").forget(added["memories"][0]["id"])
    gone = post(service, "acme", "to-forget")
    assert gone.status_code == 409 and "erased" in gone.json()["error"]["message"]
    assert "puppy" not in gone.text  # the kept answer holds ids, not text


def test_answers_are_dropped_after_a_day(service: Service) -> None:
    store = open_store(service.location)
    try:
        with store.transaction():
            answer = {"episodes": [], "memories": [], "extraction": None}
            store.keep_answer("acme", "old", "f", answer, utcnow() - timedelta(hours=25))
            store.keep_answer("acme", "recent", "f", answer, utcnow() - timedelta(hours=23))
        assert post(service, "acme", "new").status_code == 201  # drops what is past 24 h
        assert store.kept_answer("acme", "old") is None
        assert store.kept_answer("acme", "recent") is not None
    finally:
        store.close()


def test_the_client_retries_a_timed_out_add_and_it_is_stored_once(
    start_service: Callable[..., Service],
) -> None:
    slow = Reply('{"facts": [], "entities": []}', delay_s=2.0)
    with (
        ScriptedOpenAIServer(responder=lambda _: slow) as llm_server,
        OpenAIChatLLM(llm_server.url, "scripted", timeout=10, sleep=lambda _: None) as llm,
    ):
        service = start_service(llm=llm)
        # The add commits, then waits for the LLM past the client's patience.
        with Client(service.url, api_key=service.token("acme"), timeout=0.8) as client:
            added = client.add("I moved to Lisbon", user_id="ana")
        assert added.extraction is not None and added.extraction.status == "queued"
        with Client(service.url, api_key=service.token("acme"), retry=NO_RETRY) as check:
            assert [m.id for m in check.list(user_id="ana").items] == [added.memories[0].id]
        time.sleep(2.5)  # the first attempt's extraction ends; its answer is settled
    assert episodes(service, "acme") == 1
