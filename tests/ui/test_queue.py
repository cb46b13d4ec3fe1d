"""The queue page over a service whose LLM fails: each failed extraction is listed with its
attempts and error, and retry runs it again. Real HTTP on loopback, a scripted LLM server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from remem.providers.llm import OpenAIChatLLM
from remem.providers.local_embedder import LocalEmbedder
from remem.service import KeyStore, create_app
from remem.stores import open_store
from remem.testing import Reply, ScriptedOpenAIServer
from tests.service.conftest import ServerThread


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A service whose LLM answers 503 to everything: (URL, an API key of tenant acme)."""
    location = str(tmp_path / "queue.db")
    store, keys = open_store(location), KeyStore(location)
    with (
        ScriptedOpenAIServer(responder=lambda _: Reply(status=503, error="down")) as llm_server,
        OpenAIChatLLM(
            llm_server.url, "scripted", timeout=5, sleep=lambda _: None, max_retries=0
        ) as llm,
    ):
        app = create_app(location, store=store, keys=keys, embedder=LocalEmbedder.shared(), llm=llm)
        server = ServerThread(app).start()
        try:
            yield server.url, keys.create("acme", "ops")[1]
        finally:
            server.stop()
            keys.close()
            store.close()


def test_failed_extractions_are_listed_and_retried(failing: tuple[str, str]) -> None:
    url, token = failing
    api = {"Authorization": f"Bearer {token}"}
    added = httpx.post(
        f"{url}/v1/memories", json={"text": "I moved to Lisbon.", "user_id": "ana"}, headers=api
    )
    assert added.status_code == 201 and added.json()["extraction"]["status"] == "failed"
    with httpx.Client(base_url=url, cookies={"remem_ui_key": token}) as browser:
        page = browser.get("/ui/queue")
        assert page.status_code == 200
        [row] = re.findall(r'<tr class="failed">(.*?)</tr>', page.text, re.S)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[1:5] == ["failed", "ana", "1", "1"]
        assert "503" in cells[7] or "down" in cells[7]
        token_field = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert token_field is not None
        retried = browser.post(
            "/ui/queue/retry",
            data={"csrf": token_field.group(1)},
            headers={"Origin": url},
        )
        assert retried.status_code == 200
        assert re.search(r"<h2>Ran 1 jobs</h2>", retried.text)
        [row] = re.findall(r'<tr class="failed">(.*?)</tr>', retried.text, re.S)
        assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[4] == "2"  # attempts
