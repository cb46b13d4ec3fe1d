"""A writer killed with SIGKILL mid-ingest loses nothing it acknowledged and leaves no half-writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from remem import Memory

WRITER = textwrap.dedent(
    """
    import sys
    from remem import Memory

    m = Memory(sys.argv[1])
    i = 0
    while True:
        turns = [
            {"role": "user", "content": f"turn {i} says the code word is word{i}"},
            {"role": "assistant", "content": f"noted, code word {i} stored"},
        ]
        result = m.add(turns, user_id="crash", session_id=f"s{i % 7}")
        print(" ".join(x.id for x in result.memories), flush=True)
        i += 1
    """
)


def test_sigkill_mid_ingest_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acknowledged: list[str] = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.extend(line.split())
        if len(acknowledged) >= 120:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    with Memory(db) as m:
        raw = m.store._db  # type: ignore[attr-defined]
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        memories = raw.execute("SELECT COUNT(*) FROM memories").fetchone()[0]
        for table in ("vectors", "episodes", "memory_sources"):
            assert raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == memories, table
        events = raw.execute("SELECT COUNT(*) FROM events WHERE op = 'add'").fetchone()[0]
        assert events == memories and memories % 2 == 0  # adds are all-or-nothing pairs
        assert memories >= len(acknowledged)
        for memory_id in acknowledged:
            assert m.get(memory_id).scope.user_id == "crash"
        last = acknowledged[-2]
        word = m.get(last).text.split()[-1]
        assert m.search(word, user_id="crash", limit=1)[0].id == last
