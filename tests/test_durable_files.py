"""Exports and imports that cannot lose data: a file is replaced only when whole, and an
import checks the trailer (counts and checksum) before it writes anything.

Real SQLite files, the real CLI in a subprocess where the process itself matters (memory
use, exit status), in process elsewhere.
"""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remem import InvalidInput, Memory, StoreError
from remem.interfaces.cli import app
from remem.portability import MAX_LINE_BYTES
from tests.conftest import CONVERSATION


@pytest.fixture
def exported(ana: Memory, tmp_path: Path) -> Path:
    path = tmp_path / "backup.jsonl"
    ana.add("Bob keeps the spare key under the mat", user_id="bob", metadata={"n": 1})
    ana.export(path)
    return path


def records_in(memory: Memory) -> dict[str, object]:
    stats = memory.stats()
    return {k: stats[k] for k in ("episodes", "events", "memories", "entities")}


EMPTY = {"episodes": 0, "events": 0, "memories": {}, "entities": 0}


def cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def swell_one_memory(db: Path) -> None:
    """A row no line can hold (written around the engine, which refuses such text)."""
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE memories SET text = ? WHERE rk = 1", ("x" * (MAX_LINE_BYTES + 1),))


# -- row 2: a failed export keeps the file it would have replaced ---------------------------
def test_a_failed_export_leaves_the_old_backup_whole(
    ana: Memory, db_path: Path, exported: Path
) -> None:
    before = exported.read_bytes()
    exported.chmod(0o640)
    swell_one_memory(db_path)
    with pytest.raises(StoreError, match="line limit"):
        ana.export(exported)
    assert exported.read_bytes() == before
    assert [p.name for p in exported.parent.iterdir() if "backup" in p.name] == ["backup.jsonl"]
    code, out, err = cli("--db", str(db_path), "export", str(exported))
    assert (code, out, err.count("\n")) == (1, "", 1) and err.startswith("error: ")
    assert exported.read_bytes() == before
    assert stat.S_IMODE(exported.stat().st_mode) == 0o640


def test_a_successful_export_replaces_the_file_and_keeps_its_mode(
    ana: Memory, exported: Path
) -> None:
    exported.chmod(0o600)
    ana.add("one more thing", user_id="bob")
    counts = ana.export(exported)
    assert counts["memory"] == json.loads(exported.read_text().splitlines()[-1])["counts"]["memory"]
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert [p.name for p in exported.parent.iterdir() if p.name.endswith(".partial")] == []


def test_an_export_cut_short_on_stdout_cannot_be_imported(
    ana: Memory, db_path: Path, tmp_path: Path
) -> None:
    swell_one_memory(db_path)
    code, out, _ = cli("--db", str(db_path), "export")
    assert code == 1 and out.startswith('{"type": "header"')
    with Memory(tmp_path / "copy.db") as copy, pytest.raises(InvalidInput, match="truncated"):
        copy.import_(io.StringIO(out))


# -- row 3: a truncated or altered file writes nothing ----------------------------------------
@pytest.mark.parametrize("keep", [1, 2, 9, -1], ids=["header", "one-record", "half", "no-trailer"])
def test_a_file_truncated_at_a_line_boundary_imports_nothing(
    exported: Path, tmp_path: Path, keep: int
) -> None:
    lines = exported.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:keep]))
    with Memory(tmp_path / "copy.db") as copy:
        with pytest.raises(InvalidInput, match="truncated"):
            copy.import_(part)
        assert records_in(copy) == EMPTY
    code, out, err = cli("--db", str(tmp_path / "copy.db"), "import", str(part))
    assert (code, out) == (1, "") and err.startswith("error: the import ends after")


def test_a_file_cut_inside_a_line_imports_nothing(exported: Path, tmp_path: Path) -> None:
    data = exported.read_bytes()
    with Memory(tmp_path / "copy.db") as copy:
        for cut in (len(data) // 2, len(data) - 10):
            with pytest.raises(InvalidInput, match=r"not a valid record|truncated"):
                copy.import_(io.StringIO(data[:cut].decode()))
        assert records_in(copy) == EMPTY


def altered(path: Path, change: str) -> str:
    lines = path.read_text().splitlines(keepends=True)
    if change == "text":
        record = json.loads(lines[3])
        record["content" if "content" in record else "text"] += "!"
        lines[3] = json.dumps(record, ensure_ascii=False) + "\n"
    elif change == "dropped":
        del lines[4]
    elif change == "repeated":
        lines.insert(4, lines[4])
    elif change == "counts":
        trailer = json.loads(lines[-1])
        trailer["counts"]["memory"] += 1
        lines[-1] = json.dumps(trailer) + "\n"
    elif change == "after-trailer":
        lines.append(lines[2])
    return "".join(lines)


@pytest.mark.parametrize("change", ["text", "dropped", "repeated", "counts", "after-trailer"])
def test_an_altered_file_imports_nothing(exported: Path, tmp_path: Path, change: str) -> None:
    with Memory(tmp_path / "copy.db") as copy:
        with pytest.raises(InvalidInput, match=r"checksum|trailer|appears twice|records"):
            copy.import_(io.StringIO(altered(exported, change)))
        assert records_in(copy) == EMPTY


def test_the_untouched_file_imports_whole(exported: Path, tmp_path: Path) -> None:
    with Memory(tmp_path / "copy.db") as copy:
        counts = copy.import_(exported)
        assert counts == json.loads(exported.read_text().splitlines()[-1])["counts"]
        assert records_in(copy)["episodes"] == len(CONVERSATION) + 1


def test_an_export_without_a_trailer_needs_unverified(exported: Path, tmp_path: Path) -> None:
    """Formats 1-3 had no trailer: refused unless the caller vouches for the file."""
    lines = exported.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    old = "".join([json.dumps({**header, "version": 3}) + "\n", *lines[1:-1]])
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text(old)
    with Memory(tmp_path / "copy.db") as copy:
        with pytest.raises(InvalidInput, match="format 3 export, which has no trailer"):
            copy.import_(legacy)
        assert records_in(copy) == EMPTY
    code, _, err = cli("--db", str(tmp_path / "copy.db"), "import", str(legacy))
    assert code == 1 and "--unverified" in err
    code, out, _ = cli("--db", str(tmp_path / "copy.db"), "import", "--unverified", str(legacy))
    assert code == 0 and out.startswith("imported")
    with Memory(tmp_path / "other.db") as other:
        assert other.import_(legacy, unverified=True) == json.loads(lines[-1])["counts"]


# -- row 9 and the line limit ---------------------------------------------------------------
def test_a_line_over_the_limit_is_refused(exported: Path, tmp_path: Path) -> None:
    lines = exported.read_text().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["content"] = "x" * MAX_LINE_BYTES
    long = tmp_path / "long.jsonl"
    long.write_text(lines[0] + json.dumps(record) + "\n" + "".join(lines[2:]))
    with Memory(tmp_path / "copy.db") as copy:
        with pytest.raises(InvalidInput, match=f"line 2 .* longer than {MAX_LINE_BYTES} bytes"):
            copy.import_(long)
        assert records_in(copy) == EMPTY


def test_importing_dev_zero_stops_at_the_line_limit(tmp_path: Path) -> None:
    """It once read without end (4 GB in 8 s). The child caps its own address space at
    2 GiB, so a regression fails with a MemoryError instead of taking the machine, and
    reports its peak resident memory (VmHWM: this process's, not the forked parent's)."""
    peak = tmp_path / "peak"
    capped = (
        "import atexit, pathlib, re, resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        f"atexit.register(lambda: pathlib.Path({str(peak)!r}).write_text(re.search("
        "r'VmHWM:\\s+(\\d+)', pathlib.Path('/proc/self/status').read_text())[1])); "
        "sys.argv = ['remem', *sys.argv[1:]]; "
        "runpy.run_module('remem.interfaces.cli', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", capped, "--db", str(tmp_path / "z.db"), "import", "/dev/zero"],
        capture_output=True, timeout=120,
    )  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err == f"error: line 1 of the import is longer than {MAX_LINE_BYTES} bytes, the " \
        "limit: this is not a remem export\n"  # fmt: skip
    assert int(peak.read_text()) < 400 * 1024  # kB: the interpreter, the store, one capped line


# -- row 11: a refused import names none of another tenant's ids ------------------------------
def test_another_tenants_export_names_none_of_its_ids(
    ana: Memory, db_path: Path, exported: Path
) -> None:
    theirs = {json.loads(line).get("id") for line in exported.read_text().splitlines()[1:-1]} - {
        None
    }
    with Memory(db_path, tenant="globex") as other:
        with pytest.raises(InvalidInput, match="collides") as refused:
            other.import_(exported)
        assert not [i for i in theirs if i in str(refused.value)]
        assert other.list().total == 0
    code, _, err = cli("--db", str(db_path), "--tenant", "globex", "import", str(exported))
    assert code == 1 and "collides" in err and not [i for i in theirs if i in err]
    with pytest.raises(InvalidInput, match=r"collides .*\(e\.g\. (ep|mem|ent)_"):
        ana.import_(exported)  # the tenant's own ids: named, they are its own


# -- remem backup: a consistent copy of a live SQLite store -----------------------------------
def test_a_backup_of_a_store_being_written_is_one_consistent_snapshot(
    db_path: Path, tmp_path: Path
) -> None:
    """A writer adds (one episode, one memory, one event per add, in one transaction)
    while backups are taken: each copy holds whole adds only, and the writer never fails."""
    stop, failures, added = threading.Event(), [], [0]

    def write() -> None:
        with Memory(db_path, llm=None) as writer:
            while not stop.is_set():
                try:
                    writer.add(f"note number {added[0]}", user_id="w")
                    added[0] += 1
                except Exception as exc:  # any failure fails the test below
                    failures.append(exc)
                    return

    with Memory(db_path, llm=None) as memory:
        memory.add("before the writer", user_id="w")
        thread = threading.Thread(target=write)
        thread.start()
        try:
            copies = []
            for n in range(3):
                while added[0] < 5 * (n + 1) and thread.is_alive():
                    time.sleep(0.01)
                copies.append(memory.backup(tmp_path / f"copy-{n}.db"))
            code, out, _ = cli("--db", str(db_path), "backup", str(tmp_path / "copy-cli.db"))
        finally:
            stop.set()
            thread.join()
    assert failures == [] and code == 0 and out.startswith("backed up")
    sizes = []
    for path in [Path(c["path"]) for c in copies] + [tmp_path / "copy-cli.db"]:
        assert not Path(f"{path}-wal").exists()  # one self-contained file
        with Memory(path, llm=None) as copy:
            stats = copy.stats()
            whole = (stats["episodes"], stats["events"], stats["memories"]["episode"]["active"])
            assert whole[0] == whole[1] == whole[2], whole
            sizes.append(whole[0])
    assert sizes == sorted(sizes) and sizes[0] >= 6


def test_a_backup_replaces_an_old_copy_only_when_whole(ana: Memory, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    target.write_bytes(b"the previous backup")
    done = ana.backup(target)
    assert done == {"path": str(target), "bytes": target.stat().st_size}
    with Memory(target, llm=None) as copy:
        assert copy.stats()["episodes"] == len(CONVERSATION)
    with pytest.raises(InvalidInput, match="the database itself"):
        ana.backup(ana.store.path)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="cannot write"):
        ana.backup(tmp_path / "no" / "such" / "dir.db")
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []
