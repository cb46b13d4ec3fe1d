"""A PostgreSQL server of one's own, in a temporary directory, for tests that stop it.

Tests that restart or kill the database must not touch a server others share; this one is
made with ``initdb`` (as user postgres when run as root, as scripts/postgres.sh does), on a
free loopback port, with one database that has the ``vector`` extension.

    with TemporaryPostgres() as pg:
        store = open_store(pg.url)
        pg.restart()

Needs PostgreSQL's server programs (``initdb``, ``pg_ctl``: on PATH, in ``REMEM_PG_BINDIR``
or in /usr/lib/postgresql/<major>/bin) and pgvector; ``available()`` says whether they
are there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import psycopg

from remem.testing.served import free_port

DATABASE = "remem"


def bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or None."""
    configured = os.environ.get("REMEM_PG_BINDIR")
    if configured:
        return Path(configured)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return installed[-1].parent if installed else None


def available() -> str | None:
    """None when a server can be made here, else why not."""
    where = bindir()
    if where is None or not (where / "pg_ctl").exists():
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as user postgres"
    return None


class TemporaryPostgres:
    """A server in a new temporary directory (made on ``start``), removed on ``close``.

    The directory is the system's temporary one, not a test's ``tmp_path``: when run as
    root, user postgres must reach it, and pytest's directories are private to root.
    """

    def __init__(self) -> None:
        where = bindir()
        if where is None:
            raise RuntimeError(available())
        self.bin = where
        self.root = Path(tempfile.mkdtemp(prefix="remem-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/", timeout=120)

    def start(self) -> Self:
        """Start the server (making it on first use); returns once it accepts connections."""
        if not self.data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres")
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync")  # fmt: skip
            self._pg_ctl("start")
            with psycopg.connect(self.url.replace(DATABASE, "postgres"), autocommit=True) as db:
                db.execute(f"CREATE DATABASE {DATABASE}")
            with psycopg.connect(self.url, autocommit=True) as db:
                db.execute("CREATE EXTENSION vector")
            return self
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, mode: str = "fast") -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-m", mode,
                  "-o", options, action)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends sessions cleanly, "immediate" as a crash would."""
        self._pg_ctl("stop", mode)

    def restart(self, mode: str = "fast") -> None:
        self._pg_ctl("restart", mode)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
