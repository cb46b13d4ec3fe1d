"""``remem serve`` in a child process on a free loopback port, for end-to-end tests and benches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_SRC = str(Path(__file__).resolve().parents[2])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    pid: int


@contextmanager
def served(
    db: Path | str,
    *args: str,
    ready_within_s: float = 120.0,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """``remem --db DB serve --port P ARGS`` once it is ready (URL, pid); stopped on exit.

    ``port``: a given one (a server started again where clients look for it), else a free
    one; ``env``: variables set for the server (``REMEM_LLM_URL``...). The child imports
    this checkout's remem (its ``src`` leads PYTHONPATH), so it runs the code under test
    even when another checkout is installed. A test may SIGKILL it (``Served.pid``).
    """
    port = port or free_port()
    path = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "remem.interfaces.cli", "--db", str(db), "serve"]
    # A file, not a pipe: a pipe nobody reads fills up and blocks a chatty server.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(
        [*command, "--port", str(port), *args],
        env={**os.environ, **(env or {}), "PYTHONPATH": path},
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within_s
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                errors.seek(0)
                problem = errors.read().decode(errors="replace")
                raise RuntimeError(f"remem serve exited ({server.returncode}): {problem}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"remem serve was not ready within {ready_within_s:g} s")
            time.sleep(0.1)
        yield Served(url, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        errors.close()
