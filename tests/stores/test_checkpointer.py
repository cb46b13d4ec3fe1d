"""The SQLite store checkpoints its write-ahead log off the request path."""

from __future__ import annotations

import time
from pathlib import Path

from remem import Memory


def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory(path, llm=None) as m:
        checkpointer = m.store._checkpointer  # type: ignore[attr-defined]
        checkpointer.every_s = 0.01
        before = checkpointer.checkpoints
        for i in range(5):
            m.add(f"note number {i} about the garden", user_id="u")
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints > before
        thread = checkpointer._thread
    assert thread is not None and not thread.is_alive()  # close() stopped it
    with Memory(path, llm=None) as m:
        assert len(m.search("garden", user_id="u", limit=10)) == 5
