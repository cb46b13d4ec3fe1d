"""The client sends a call again when the failure may pass and repeating it is safe."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from remem import Client, StoreError
from remem.client import NO_RETRY, Retry
from remem.client.calls import _Facade
from remem.providers.embedder import Embedder
from remem.service import KeyStore, create_app
from tests.service.conftest import ServerThread

CALLS = _Facade()
REQUEST = httpx.Request("POST", "http://remem.test/v1/memories")


def test_a_client_waits_out_a_service_that_is_still_starting(
    tmp_path: Path, embedder: Embedder
) -> None:
    location = str(tmp_path / "late.db")
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    # Bound, not yet listening: connections are refused until it starts.
    late = ServerThread(create_app(location, embedder=embedder, keys=keys, llm=None))
    with (
        Client(late.url, api_key=token, retry=NO_RETRY) as impatient,
        pytest.raises(StoreError, match="cannot reach"),
    ):
        impatient.stats()
    starter = threading.Timer(0.5, late.start)
    starter.start()
    try:
        with Client(late.url, api_key=token, retry=Retry(attempts=8, backoff_s=0.2)) as client:
            # Not repeatable once sent, but a refused connection sent nothing.
            assert client.delete_all(user_id="ana") == 0
            assert client.add("kept", user_id="ana").memories[0].text == "kept"
    finally:
        starter.join()
        late.stop()
        keys.close()


@pytest.mark.parametrize(
    ("call", "repeatable"),
    [
        (CALLS.get("mem_1"), True),
        (CALLS.list(), True),
        (CALLS.search("where"), True),
        (CALLS.context("where"), True),
        (CALLS.update("mem_1", "new text"), False),
        (CALLS.delete("mem_1"), False),
        (CALLS.forget("mem_1"), False),
        (CALLS.pin("mem_1"), False),
        (CALLS.summarize(user_id="ana"), False),
    ],
)
def test_what_is_sent_again_after_which_failure(call: object, repeatable: bool) -> None:
    retry = Retry()
    unknown_outcome = (
        httpx.ReadTimeout("slow", request=REQUEST),
        httpx.RemoteProtocolError("closed", request=REQUEST),
        httpx.Response(503, request=REQUEST),
        httpx.Response(502, request=REQUEST),
    )
    for failure in unknown_outcome:
        assert retry.again(call, failure) is repeatable  # type: ignore[arg-type]
    for never_sent in (httpx.ConnectError("refused", request=REQUEST), httpx.PoolTimeout("full")):
        assert retry.again(call, never_sent)  # type: ignore[arg-type]
    for answer in (200, 201, 404, 422, 500):
        assert not retry.again(call, httpx.Response(answer, request=REQUEST))  # type: ignore[arg-type]


def test_waits_grow_within_their_bounds_and_attempts_are_counted() -> None:
    retry = Retry(attempts=6, backoff_s=0.1, max_backoff_s=0.5)
    for _ in range(50):
        waits = list(retry.waits())
        assert len(waits) == 5
        assert all(
            0 <= w <= bound for w, bound in zip(waits, (0.1, 0.2, 0.4, 0.5, 0.5), strict=True)
        )
    attempts = Retry(attempts=3).start(CALLS.list())
    down = httpx.Response(503, request=REQUEST)
    assert attempts.wait_after(down) is not None
    assert attempts.wait_after(down) is not None
    assert attempts.wait_after(down) is None  # the third answer is the answer
    with pytest.raises(ValueError):
        Retry(attempts=0)
