"""``remem ui --db PATH``: the inspector over a local store, on 127.0.0.1, without a key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from remem import Memory
from remem.testing.served import free_port

SRC = Path(__file__).resolve().parents[2] / "src"


def test_remem_ui_serves_a_local_store_on_loopback(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    with Memory(db, llm=None, tenant="home") as memory:
        memory.add("Ana keeps her bike in the hallway.", user_id="ana")
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "beam.json").write_text(json.dumps({"dataset": "beam"}))
    port = free_port()
    command = [sys.executable, "-m", "remem.interfaces.cli", "--tenant", "home", "ui"]
    server = subprocess.Popen(
        [*command, "--db", str(db), "--port", str(port), "--evals", str(tmp_path / "evals")],
        env={**os.environ, "PYTHONPATH": str(SRC), "REMEM_LLM_URL": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "remem ui was not ready within 90 s"
            time.sleep(0.1)
        page = httpx.get(f"{url}/ui/memories")
        assert page.status_code == 200
        assert "Ana keeps her bike in the hallway." in page.text
        assert httpx.get(f"{url}/ui/evals?name=beam").status_code == 200
        assert httpx.get(f"{url}/ui/login", follow_redirects=False).status_code == 303
        rebound = httpx.get(f"{url}/ui/memories", headers={"Host": "evil.example"})
        assert rebound.status_code == 400 and "hallway" not in rebound.text
    finally:
        server.terminate()
        server.wait(timeout=30)
