"""Faults, for real: the database restarting under load, and an LLM answering garbage or too late.

Each test runs real servers (uvicorn on loopback; a PostgreSQL of its own, never the shared
one) and checks what a caller relies on: no 500, nothing acknowledged lost, nothing stored
twice, and service again as soon as the failed part is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from remem import Client, RememError
from remem.client import NO_RETRY
from remem.providers.embedder import Embedder
from remem.providers.llm import OpenAIChatLLM
from remem.service import KeyStore, create_app
from remem.testing import Reply, ScriptedOpenAIServer
from remem.testing.postgres import TemporaryPostgres, available
from tests.service.conftest import ServerThread, Service


def all_texts(client: Client, user_id: str) -> list[str]:
    texts, offset = [], 0
    while True:
        page = client.list(user_id=user_id, limit=1000, offset=offset)
        texts += [m.text for m in page.items]
        if page.next_offset is None:
            return texts
        offset = page.next_offset


@dataclass
class Load:
    """Clients adding and reading in threads until stopped; what each saw."""

    make_client: Callable[[], Client]
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: list[str] = field(default_factory=list)
    write_errors: list[RememError] = field(default_factory=list)
    read_errors: list[RememError] = field(default_factory=list)
    reads: int = 0
    threads: list[threading.Thread] = field(default_factory=list)

    def _writer(self, n: int) -> None:
        with self.make_client() as client:
            i = 0
            while not self.stop.is_set():
                text = f"writer {n} note {i}"
                i += 1
                try:
                    client.add(text, user_id="ana")
                    self.acknowledged.append(text)
                except RememError as exc:
                    self.write_errors.append(exc)

    def _reader(self) -> None:
        with self.make_client() as client:
            while not self.stop.is_set():
                try:
                    client.search("note", user_id="ana", limit=3)
                    client.list(user_id="ana", limit=5)
                    self.reads += 1
                except RememError as exc:
                    self.read_errors.append(exc)

    def __enter__(self) -> Load:
        targets = [lambda: self._writer(0), lambda: self._writer(1), self._reader]
        self.threads = [threading.Thread(target=t) for t in targets]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


@pytest.fixture
def own_postgres() -> Iterator[TemporaryPostgres]:
    why = available()
    if why:
        pytest.skip(why)
    with TemporaryPostgres() as pg:
        yield pg


@pytest.mark.postgres
def test_the_service_rides_out_a_postgresql_restart(
    own_postgres: TemporaryPostgres, embedder: Embedder
) -> None:
    keys = KeyStore(own_postgres.url)
    token = keys.create("acme")[1]
    server = ServerThread(create_app(own_postgres.url, embedder=embedder, keys=keys, llm=None))
    server.start()
    try:
        with Load(lambda: Client(server.url, api_key=token)) as load:
            time.sleep(1.0)
            own_postgres.restart("fast")  # every pooled connection is cut
            time.sleep(1.0)
            own_postgres.stop("fast")  # down for a second: requests wait or are retried
            time.sleep(1.0)
            own_postgres.start()
            time.sleep(2.0)
        assert load.read_errors == [] and load.reads > 0
        # An add cut by the restart is refused (503, not 500); none acknowledged is lost.
        assert all(e.__class__.__name__ == "StoreError" for e in load.write_errors)
        assert not [e for e in load.write_errors if "HTTP 500" in str(e)]
        with Client(server.url, api_key=token, retry=NO_RETRY) as once:
            stored = all_texts(once, "ana")
            assert sorted(set(stored)) == sorted(stored)  # none twice
            assert set(load.acknowledged) <= set(stored)
            # The pools recovered: no retry is needed any more.
            for n in range(5):
                once.add(f"after {n}", user_id="ana")
                assert once.search(f"after {n}", user_id="ana", limit=1)
        assert httpx.get(server.url + "/readyz").status_code == 200
    finally:
        server.stop()
        keys.close()


def garbage(_: dict[str, Any]) -> Reply:
    return Reply("Sure! Here are the facts you asked for: Ana lives in Lisbon.")


def too_late(_: dict[str, Any]) -> Reply:
    return Reply('{"facts": [], "entities": []}', delay_s=2.0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(garbage, "no valid JSON object"), (too_late, "no answer within 0.5s")],
    ids=["garbage", "timeout"],
)
def test_an_llm_failure_keeps_the_turn_and_queues_the_job(
    start_service: Callable[..., Service],
    answer: Callable[[dict[str, Any]], Reply],
    expected: str,
) -> None:
    with (
        ScriptedOpenAIServer(responder=answer) as llm_server,
        OpenAIChatLLM(
            llm_server.url, "scripted", timeout=0.5, max_retries=1, sleep=lambda _: None
        ) as llm,
    ):
        service = start_service(llm=llm)
        client = service.client("acme")
        added = client.add("I moved to Lisbon in March.", user_id="ana")
        assert added.extraction is not None and added.extraction.status == "failed"
        assert added.extraction.job_id is not None  # kept in the queue, to retry
        assert client.get(added.memories[0].id).text == "I moved to Lisbon in March."
        assert client.search("Lisbon", user_id="ana")[0].id == added.memories[0].id
        assert client.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 1}
        assert expected in (added.extraction.error or "")
