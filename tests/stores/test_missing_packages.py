"""Without the PostgreSQL extra, a postgresql:// target is a StoreError naming what to install.

The missing package is simulated in a child process: hiding psycopg in this one would also
hide it from the test PostgreSQL's schema-pool thread, which imports it lazily.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

CHILD = """
import sys
sys.modules["psycopg"] = None  # what an install without it raises on import
from remem import StoreError
from remem.stores import distribute, open_store
for call in (open_store, distribute):
    try:
        call("postgresql://127.0.0.1:1/none")
    except StoreError as exc:
        print(call.__name__, exc)
    else:
        print(call.__name__, "no error")
"""


def test_a_postgresql_url_without_its_packages_says_what_to_install() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    lines = child.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["open_store", "distribute"], child.stdout
    for line in lines:
        assert "psycopg is missing" in line and "remem[postgres]" in line, line
