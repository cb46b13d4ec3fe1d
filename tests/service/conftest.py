"""Real uvicorn servers on free 127.0.0.1 ports, in threads, over real stores and the real embedder."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from remem import Client
from remem.providers.embedder import Embedder
from remem.providers.local_embedder import LocalEmbedder
from remem.service import KeyStore, create_app
from remem.stores import open_store
from tests.stores.conftest import postgres_url, schema_pool, with_search_path  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


class ServerThread:
    """uvicorn serving ``app`` on a socket bound to a free loopback port, until ``stop``."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = LocalEmbedder.shared()
    model.embed_query("load the model once for the whole session")
    return model


@dataclass
class Service:
    """One running API: its URL, its key table, and clients per tenant."""

    url: str
    keys: KeyStore
    location: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    _clients: list[Client] = field(default_factory=list)

    def token(self, tenant: str) -> str:
        if tenant not in self.tokens:
            self.tokens[tenant] = self.keys.create(tenant, f"test {tenant}")[1]
        return self.tokens[tenant]

    def client(self, tenant: str | None = None, **kwargs: Any) -> Client:
        api_key = self.token(tenant) if tenant else kwargs.pop("api_key", None)
        client = Client(self.url, api_key=api_key or "", **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def start_service(
    tmp_path: Path, embedder: Embedder, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Service]]:
    """Start API servers (``backend`` sqlite or postgres); all are stopped after the test."""
    running: list[tuple[ServerThread, Service, list[Any]]] = []

    def start(backend: str = "sqlite", **options: Any) -> Service:
        if backend == "sqlite":
            location = str(tmp_path / f"service-{len(running)}.db")
        else:
            pool = request.getfixturevalue("schema_pool")
            schema = pool.take()
            request.addfinalizer(lambda: pool.drop(schema))
            location = with_search_path(pool.url, schema)
        store = open_store(location)
        keys = KeyStore(location)
        app = create_app(location, store=store, embedder=embedder, keys=keys, **options)
        thread = ServerThread(app).start()
        service = Service(thread.url, keys, location)
        running.append((thread, service, [keys, store]))
        return service

    yield start
    for thread, service, owned in running:
        service.close()
        thread.stop()
        for thing in owned:
            thing.close()


@pytest.fixture
def service(start_service: Callable[..., Service]) -> Service:
    return start_service()
