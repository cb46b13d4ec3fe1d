"""An error answer keeps the connection: a keep-alive client's next request goes through.

Each request here travels on one HTTP/1.1 connection (``http.client`` keeps its socket), so
a server that closed the connection after an error would make the following request fail.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from remem.providers.embedder import Embedder
from remem.service import KeyStore, create_app
from tests.service.conftest import ServerThread

CRASH = "/test/crash"


def crash() -> None:
    raise RuntimeError("a defect in a route")


@pytest.fixture
def server(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[ServerThread, str]]:
    """The API with one more route, which fails as a defect would: the only sure 500."""
    location = str(tmp_path / "connections.db")
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    app = create_app(location, embedder=embedder, keys=keys, llm=None)
    app.add_api_route(CRASH, crash)
    thread = ServerThread(app).start()
    yield thread, token
    thread.stop()
    keys.close()


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def add_body(metadata: str) -> bytes:
    return ('{"text": "x", "user_id": "ana", "metadata": ' + metadata + "}").encode()


#: (method, path, body, extra headers, expected status): each an error of its own kind.
ERRORS = {
    "unknown route": ("GET", "/v1/nowhere", None, {}, 404),
    "wrong method": ("PUT", "/v1/search", None, {}, 405),
    "not JSON": ("POST", "/v1/memories", b"{not json", {}, 422),
    "NaN in metadata": ("POST", "/v1/memories", add_body('{"a": NaN}'), {}, 422),
    "1e400 in metadata": ("POST", "/v1/memories", add_body('{"a": 1e400}'), {}, 422),
    "metadata 300 deep": ("POST", "/v1/memories", add_body(nested(300)), {}, 422),
    "body 100,000 deep": ("POST", "/v1/memories", b"[" * 100_000 + b"]" * 100_000, {}, 400),
    "no key": ("GET", "/v1/stats", None, {"Authorization": ""}, 401),
    "two keys": ("GET", "/v1/stats", None, {"X-API-Key": "remem_0_0"}, 400),
    "body too large": ("POST", "/v1/memories", b'{"text": "' + b"y" * (1 << 20) + b'"}', {}, 413),
    "a defect (500)": ("GET", CRASH, None, {}, 500),
}


@pytest.mark.parametrize("case", ERRORS)
def test_an_error_answer_keeps_the_connection_open(
    server: tuple[ServerThread, str], case: str
) -> None:
    thread, token = server
    method, path, body, extra, status = ERRORS[case]
    connection = http.client.HTTPConnection("127.0.0.1", thread.port, timeout=30)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(2):
        connection.request(method, path, body=body, headers={**auth, **extra})
        answer = connection.getresponse()
        payload = json.loads(answer.read())
        assert answer.status == status and payload["error"]["message"]
        assert answer.getheader("Connection") != "close"
        sock = connection.sock
        connection.request("GET", "/v1/stats", headers=auth)
        after = connection.getresponse()
        assert after.status == 200 and json.loads(after.read())["episodes"] == 0
        assert connection.sock is sock  # the same connection served both
    connection.close()
