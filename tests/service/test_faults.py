"""Faults, for real: PostgreSQL restarting under load, a server SIGKILLed mid-add, a full
disk under SQLite, an LLM answering garbage or too late.

Each test runs real servers (uvicorn on loopback, in a thread or a process of its own; a
PostgreSQL of its own for the restart, never the shared one) and checks what a caller
relies on: no 500, nothing acknowledged lost, nothing stored twice, and service again as
soon as the failed part is back.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from remem import AddResult, Client, Memory, RememError, StoreError
from remem.client import NO_RETRY, Retry
from remem.providers.embedder import Embedder
from remem.providers.llm import OpenAIChatLLM
from remem.service import KeyStore, create_app
from remem.testing import Reply, ScriptedOpenAIServer
from remem.testing.postgres import TemporaryPostgres, available
from remem.testing.served import free_port, served
from tests.service.conftest import ServerThread, Service, with_search_path


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
    if why and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL restart test: {why}", pytrace=False)
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
        # Reads and adds alike were retried through it (adds under their Idempotency-Key).
        assert (load.read_errors, load.write_errors) == ([], [])
        assert load.reads > 0 and load.acknowledged
        with Client(server.url, api_key=token, retry=NO_RETRY) as once:
            # Every acknowledged add stored, none twice, nothing else.
            assert sorted(all_texts(once, "ana")) == sorted(load.acknowledged)
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


#: A client that keeps trying while the server is killed and started again (a few seconds).
PATIENT = Retry(attempts=200, backoff_s=0.05, max_backoff_s=0.25)


@dataclass
class KilledAdd:
    """One add sent by a patient client, in a thread, to a server the test kills and restarts."""

    url: str
    token: str
    result: list[AddResult | BaseException] = field(default_factory=list)

    def start(self) -> threading.Thread:
        def send() -> None:
            try:
                with Client(self.url, api_key=self.token, retry=PATIENT) as client:
                    self.result.append(client.add("I moved to Lisbon", user_id="ana"))
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.result.append(exc)

        thread = threading.Thread(target=send)
        thread.start()
        return thread


def location_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "killed.db")
    pool = request.getfixturevalue("schema_pool")
    schema = pool.take()
    request.addfinalizer(lambda: pool.drop(schema))
    return str(with_search_path(pool.url, schema))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_server_killed_after_an_add_committed_answers_its_retry_without_storing_it_again(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: Embedder
) -> None:
    location = location_for(backend, tmp_path, request)
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    keys.close()
    asked = threading.Event()

    def hold(_: dict[str, Any]) -> Reply:  # the add has committed when it asks the LLM
        asked.set()
        return Reply('{"facts": [], "entities": []}', delay_s=30.0)

    port = free_port()
    with ScriptedOpenAIServer(responder=hold) as llm_server:
        llm = {"REMEM_LLM_URL": llm_server.url, "REMEM_LLM_MODEL": "scripted"}
        with served(location, port=port, env=llm) as first:
            sender = KilledAdd(first.url, token)
            thread = sender.start()
            assert asked.wait(timeout=60), "the add never reached the LLM"
            os.kill(first.pid, signal.SIGKILL)
        with served(location, port=port, env=llm):
            thread.join(timeout=120)
    [added] = sender.result
    assert isinstance(added, AddResult), added
    # Answered from what the killed server kept: its job still queued for a worker.
    assert added.extraction is not None and added.extraction.status == "queued"
    with Memory(location, embedder=embedder, tenant="acme", llm=None) as memory:
        assert [m.id for m in memory.list(user_id="ana").items] == [added.memories[0].id]
        assert memory.stats()["episodes"] == 1
        assert memory.stats()["extraction_queue"]["pending"] == 1


def test_a_server_killed_before_an_add_committed_stores_its_retry_once(
    tmp_path: Path, embedder: Embedder
) -> None:
    location = tmp_path / "killed.db"
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    keys.close()
    port = free_port()
    with served(location, port=port) as first:
        blocker = sqlite3.connect(location, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the add waits for the write lock, uncommitted
        sender = KilledAdd(first.url, token)
        thread = sender.start()
        time.sleep(1.5)
        os.kill(first.pid, signal.SIGKILL)
        blocker.execute("ROLLBACK")
        blocker.close()
    with served(location, port=port):
        thread.join(timeout=120)
    [added] = sender.result
    assert isinstance(added, AddResult), added
    assert added.extraction is not None and added.extraction.status == "offline"  # stored now
    with Memory(location, embedder=embedder, tenant="acme", llm=None) as memory:
        assert [m.id for m in memory.list(user_id="ana").items] == [added.memories[0].id]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs): SQLite meets the kernel's own "no space left on
    device", in its WAL as in its main file, where ``PRAGMA max_page_count`` would only
    stop the main file from growing, and only on a connection the test does not have."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="remem-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
        where.rmdir()


def test_a_full_disk_refuses_writes_clearly_and_loses_nothing(
    small_disk: Path, embedder: Embedder
) -> None:
    location = str(small_disk / "full.db")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 200_000)  # room to free once the disk is full
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    server = ServerThread(create_app(location, embedder=embedder, keys=keys, llm=None)).start()
    acknowledged: list[str] = []
    try:
        with Client(server.url, api_key=token, retry=NO_RETRY) as client:
            for n in range(2000):
                text = f"note {n}: " + "lorem ipsum dolor sit amet " * 200
                try:
                    client.add(text, user_id="ana")
                except StoreError as exc:
                    refused = exc
                    break
                acknowledged.append(text)
            else:
                pytest.fail("the disk never filled up")
            assert "disk is full" in str(refused) and "HTTP 500" not in str(refused)
            assert str(small_disk) not in str(refused)  # where the database is: the operator's
            assert client.list(user_id="ana", limit=1).total == len(acknowledged)
            # The full disk's store opens, and reads back every acknowledged add.
            with Memory(location, embedder=embedder, tenant="acme", llm=None) as full:
                assert full.list(user_id="ana", limit=1).total == len(acknowledged)
            filler.unlink()  # space again: the same server writes again
            client.add("after the disk had room again", user_id="ana")
    finally:
        server.stop()
        keys.close()
    with Memory(location, embedder=embedder, tenant="acme", llm=None) as memory:
        stored = sorted(m.text for m in memory.list(user_id="ana", limit=1000).items)
    assert stored == sorted([*acknowledged, "after the disk had room again"])
