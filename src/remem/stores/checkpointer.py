"""Copies the SQLite write-ahead log back into the database file in a thread of its own.

SQLite's automatic checkpoint runs inside whichever commit makes the log cross
1,000 pages: a search's recall-count update or a small add then stalls for the
whole copy (~15 ms at 100k memories, the search p99 in docs/benchmarks.md). Here
commits only signal; a PASSIVE checkpoint, which never waits for readers or
writers, runs at most every ``every_s`` seconds off the request path, so the log
stays short and the automatic one (kept as a safety net) rarely fires.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class WalCheckpointer:
    def __init__(self, path: Path, every_s: float = 0.5) -> None:
        self.path = path
        self.every_s = every_s
        self.checkpoints = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def poke(self) -> None:
        """A commit happened: checkpoint soon (starts the thread on the first write)."""
        self._dirty.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name=f"remem-checkpoint-{self.path.name}", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=1.0, check_same_thread=False)
        try:
            while not self._stop.is_set():
                self._dirty.wait()
                if self._stop.wait(self.every_s):  # let a burst of commits pile up first
                    break
                self._dirty.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    self._dirty.set()  # busy or locked: try again on the next round
        finally:
            db.close()

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
