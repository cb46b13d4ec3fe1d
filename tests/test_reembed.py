"""``Memory.reembed`` and ``remem reembed``: a store moves to another embedding model,
resumes after a stop, and searches its old vectors until the switch.

The new model is the packaged MiniLM pooled by its first token (a model folder whose
``remem-embedder.json`` says so): another embedding space, real, and offline.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remem import InvalidInput, Memory, StoreError
from remem.interfaces.cli import app
from remem.providers import OnnxEmbedder
from remem.providers.local_embedder import MODEL_ID, LocalEmbedder, model_files
from tests.conftest import CONVERSATION

TOPICS = ["hiking", "pottery", "chess", "sailing", "baking", "jazz", "cycling", "poetry"]


def cls_folder(root: Path) -> Path:
    folder = root / "minilm-cls"
    folder.mkdir()
    model, tokenizer = model_files()
    (folder / "model.onnx").symlink_to(model)
    (folder / "tokenizer.json").symlink_to(tokenizer)
    (folder / "remem-embedder.json").write_text(json.dumps({"pooling": "cls", "max_tokens": 256}))
    return folder


class Counting:
    """An embedder that counts the texts it embeds (the folder's model underneath)."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self.inner, self.texts = inner, 0
        self.model_id, self.dimension = inner.model_id, inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def stored_vectors(memory: Memory) -> dict[str, np.ndarray]:
    return {
        item[0].text: item[1]
        for kind, item in memory.store.dump(memory.tenant)
        if kind == "memory" and item[1] is not None
    }


def many(memory: Memory, n: int) -> None:
    turns = [{"role": "user", "content": f"Day {i}: I spent the afternoon on {TOPICS[i % 8]}."}
             for i in range(n)]  # fmt: skip
    memory.add(turns, user_id="ana", session_id="s1")


def test_reembed_moves_the_store_and_search_follows(tmp_path: Path) -> None:
    folder = cls_folder(tmp_path)
    seen: list[tuple[int, int]] = []
    with Memory(tmp_path / "m.db", llm=None) as memory:
        memory.add(CONVERSATION, user_id="ana", session_id="s1")
        before = memory.search("Where does Ana live?", user_id="ana").hits[0].id
        result = memory.reembed(str(folder), batch_size=2, progress=lambda *p: seen.append(p))
        new = memory.embedder
        assert isinstance(new, OnnxEmbedder) and new.folder == folder
        assert (result.switched, result.previous, result.embedder) == (True, MODEL_ID, new.model_id)
        assert (result.embedded, result.resumed, result.at_switch) == (5, 0, 0)
        assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
        for text, vector in stored_vectors(memory).items():
            np.testing.assert_allclose(vector, new.embed([text])[0], atol=1e-6)
        assert memory.search("Where does Ana live?", user_id="ana").hits[0].id == before
        assert memory.stats(user_id="ana")["embedder"] == new.model_id
        again = memory.reembed(str(folder))
        assert (again.switched, again.embedded) == (False, 0)
    with Memory(tmp_path / "m.db", llm=None) as old, pytest.raises(StoreError, match="reembed"):
        old.search("Where does Ana live?", user_id="ana")
    with Memory(tmp_path / "m.db", embedder=folder, llm=None) as reopened:
        assert reopened.search("Where does Ana live?", user_id="ana").hits[0].id == before
        back = reopened.reembed("local")  # and back again
        assert (back.embedder, back.previous, back.embedded) == (MODEL_ID, new.model_id, 5)
    with Memory(tmp_path / "m.db", llm=None) as memory:
        assert memory.search("Where does Ana live?", user_id="ana").hits[0].id == before


def test_a_stopped_reembed_resumes_and_search_keeps_the_old_vectors(tmp_path: Path) -> None:
    folder = cls_folder(tmp_path)

    def stop_at_16(done: int, total: int) -> None:
        if done >= 16:
            raise KeyboardInterrupt

    with Memory(tmp_path / "m.db", llm=None) as memory:
        many(memory, 40)
        old = stored_vectors(memory)
        with pytest.raises(KeyboardInterrupt):
            memory.reembed(folder, batch_size=8, progress=stop_at_16)
        assert isinstance(memory.embedder, LocalEmbedder)  # nothing switched
        state = memory.store.reembedding()
        assert (state.current[0], state.target[0], state.staged, state.total) == (  # type: ignore[index]
            MODEL_ID,
            OnnxEmbedder(folder).model_id,
            16,
            40,
        )
        hits = memory.search("chess", user_id="ana", limit=5).hits
        assert {h.text.rsplit(" ", 1)[-1] for h in hits[:5]} == {"chess."}
        now = stored_vectors(memory)  # the vectors search reads are the old ones
        assert now.keys() == old.keys() and all(np.array_equal(now[t], old[t]) for t in old)
        memory.add("Day 40: I spent the afternoon on chess.", user_id="ana", session_id="s1")

    counting = Counting(OnnxEmbedder(folder))
    with Memory(tmp_path / "m.db", llm=None) as memory:
        result = memory.reembed(counting, batch_size=8)
        assert (result.resumed, result.embedded, counting.texts) == (16, 25, 25)
        assert memory.search("chess", user_id="ana").hits[0].text.endswith("chess.")


def test_another_process_sees_the_switch_and_is_told_to_reopen(tmp_path: Path) -> None:
    folder = cls_folder(tmp_path)
    with Memory(tmp_path / "m.db", llm=None) as first, Memory(tmp_path / "m.db", llm=None) as other:
        first.add(CONVERSATION, user_id="ana", session_id="s1")
        assert other.search("dog", user_id="ana").hits
        first.reembed(folder)
        with pytest.raises(StoreError, match=r"re-embedded with .* reopen it with that embedder"):
            other.search("dog", user_id="ana")


def test_reembed_checks_its_arguments(tmp_path: Path, memory: Memory) -> None:
    with pytest.raises(InvalidInput, match="batch_size"):
        memory.reembed("local", batch_size=0)
    with pytest.raises(InvalidInput, match="does not exist"):
        memory.reembed(str(tmp_path / "no-such-model"))
    empty = memory.reembed("local")  # nothing stored yet: bound, nothing to embed
    assert (empty.switched, empty.embedded, empty.previous) == (True, 0, None)


def _staged(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM vectors_next").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_remem_reembed_killed_half_way_continues_where_it_stopped(tmp_path: Path) -> None:
    db, folder = tmp_path / "m.db", cls_folder(tmp_path)
    with Memory(db, llm=None) as memory:
        many(memory, 400)
    command = [sys.executable, "-m", "remem.interfaces.cli", "--db", str(db), "reembed"]
    env = {**os.environ, "REMEM_DATABASE_URL": str(db)}
    process = subprocess.Popen([*command, str(folder), "--batch-size", "2"], env=env)
    deadline = time.monotonic() + 120
    while _staged(db) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    staged = _staged(db)
    assert 20 <= staged < 400, "the run was not stopped half-way"
    with Memory(db, llm=None) as memory:  # the old embedder still opens and searches it
        assert memory.search("sailing", user_id="ana").hits[0].text.endswith("sailing.")
    done = subprocess.run(
        [*command, str(folder), "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["resumed"], result["embedded"], result["switched"]) == (
        staged,
        400 - staged,
        True,
    )
    with Memory(db, embedder=folder, llm=None) as memory:
        assert memory.search("sailing", user_id="ana").hits[0].text.endswith("sailing.")


def test_remem_reembed_and_the_embedder_option(tmp_path: Path) -> None:
    db, folder = tmp_path / "m.db", cls_folder(tmp_path)
    runner = CliRunner()
    added = runner.invoke(app, ["--db", str(db), "add", "I adopted a puppy named Max", "-u", "ana"])
    assert added.exit_code == 0, added.output
    moved = runner.invoke(app, ["--db", str(db), "reembed", str(folder)])
    assert moved.exit_code == 0, moved.output
    assert "re-embedded 1 memories and entities" in moved.stdout
    assert f"Use --embedder {folder}" in moved.stdout
    refused = runner.invoke(app, ["--db", str(db), "search", "puppy", "-u", "ana"])
    assert refused.exit_code == 1 and "remem reembed" in refused.stderr
    found = runner.invoke(
        app, ["--db", str(db), "--embedder", str(folder), "search", "puppy", "-u", "ana", "--json"]
    )
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["hits"][0]["memory"]["text"] == "I adopted a puppy named Max"
    same = runner.invoke(app, ["--db", str(db), "reembed", str(folder)])
    assert "already uses" in same.stdout
