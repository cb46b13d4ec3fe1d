"""`remem serve --extract-in-background`: adds return queued, one worker extracts the facts."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from remem import Memory
from remem.providers.embedder import Embedder
from remem.providers.llm import OpenAIChatLLM
from remem.service import create_app
from remem.testing import ScriptedOpenAIServer
from tests.graph.kg_script import Script
from tests.service.conftest import ServerThread


def test_the_server_extracts_queued_adds_in_a_worker(tmp_path: Path, embedder: Embedder) -> None:
    script = Script()
    script.extract({"text": "Ana has a dog named Max", "turn": 0, "entities": ["Ana", "Max"]})
    location = str(tmp_path / "bg.db")
    with (
        ScriptedOpenAIServer(responder=script) as llm_server,
        OpenAIChatLLM(llm_server.url, "scripted", timeout=5, sleep=lambda _: None) as llm,
    ):
        app = create_app(
            location, embedder=embedder, auth=False, llm=llm, extract_in_background=True,
            extract_every_s=3600,
        )  # fmt: skip
        server = ServerThread(app).start()
        try:
            body = {"text": "My dog Max is two.", "user_id": "ana"}
            added = httpx.post(f"{server.url}/v1/memories", json=body, timeout=10).json()
            assert added["extraction"]["status"] == "queued"
            worker = app.state.remem.extraction
            deadline = time.monotonic() + 10
            while worker.jobs < 1:  # the add woke the worker
                assert time.monotonic() < deadline, "the worker never extracted the add"
                time.sleep(0.005)
        finally:
            server.stop()
        assert not worker.running and worker.failures == 0
        assert len(llm_server.requests) == 1
    with Memory(location, embedder=embedder, llm=None) as memory:
        assert [f.text for f in memory.facts(user_id="ana")] == ["Ana has a dog named Max"]
        assert memory.stats()["extraction_queue"] == {"pending": 0, "failed": 0}
