"""The CLI never prints a traceback: fuzzed with the corpus the library and store tests use
(``tests/adversarial.py``), every command ends with its output (exit 0), a usage error
(exit 2), or one ``error: ...`` line on stderr (exit 1) that is a typed error, never the
last-resort "a bug in remem" line.

In process for the generated cases (hypothesis, bounded and derandomized); as a real
subprocess for what only a process has: undecodable bytes in argv and on stdin, an
endless input file, a reader that closes the pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from remem.interfaces.cli import app
from tests.adversarial import as_text, ids, keys, metadata, texts, times

BUG = "(a bug in remem"


def check(result: Result) -> None:
    shown = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), (result.exit_code, shown, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in shown
    if result.exit_code == 1:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, shown
        assert BUG not in result.stderr, shown


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A store with a few memories, and their ids (so some fuzzed ids exist)."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    runner = CliRunner()
    made = []
    for text, when in [("Ana moved to Lisbon", "2026-05-02"), ("an old note", "0999-01-01")]:
        result = runner.invoke(
            app, ["--db", str(path), "add", text, "--user", "ana", "--timestamp", when, "--json"]
        )
        assert result.exit_code == 0, result.output
        made.append(result.stdout.split('"id": "mem_', 1)[1].split('"')[0])
    return path, [f"mem_{tail}" for tail in made]


Command = Callable[[dict[str, str]], list[str]]
COMMANDS: list[Command] = [
    lambda a: ["add", a["text"], "--user", a["id"], "--timestamp", a["time"],
               "-m", f"{a['key']}={a['value']}", "--session", a["id2"]],
    lambda a: ["add", "-", "--user", a["id"]],
    lambda a: ["search", a["text"], "--user", a["id"], "--after", a["time"],
               "--before", a["time2"], "--limit", a["number"]],
    lambda a: ["search", a["text"], "--as-of", a["time"], "--asked-at", a["time2"], "-c", a["number"]],
    lambda a: ["list", "--user", a["id"], "--offset", a["number"], "--limit", a["number"]],
    lambda a: ["show", a["memory"], "--as-of", a["time"]],
    lambda a: ["history", a["memory"]],
    lambda a: ["update", a["memory"], a["text"], "--reason", a["text2"]],
    lambda a: ["update", a["memory"], "--importance", a["number"]],
    lambda a: ["delete", a["memory"], "--reason", a["text2"]],
    lambda a: ["forget", a["memory"], "--yes"],
    lambda a: ["pin", a["memory"]],
    lambda a: ["context", a["text"], "--user", a["id"], "--budget", a["number"],
               "--asked-at", a["time"]],
    lambda a: ["profile", "--user", a["id"]],
    lambda a: ["summarize", "--user", a["id"], "--session", a["id2"]],
    lambda a: ["maintain", "--user", a["id"], "--archive-below", a["number"]],
    lambda a: ["--tenant", a["id"], "stats", "--user", a["id2"]],
    lambda a: ["import", "-"],
]  # fmt: skip

NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "1e400", "0x10", "-0", " 5"]),
)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(COMMANDS),
    text=texts(),
    text2=texts(),
    id_=ids(),
    id2=ids(),
    time=times(),
    time2=times(),
    key=keys(),
    meta=metadata(),
    number=NUMBERS,
    stdin=st.one_of(texts(), metadata().map(as_text)),
    pick=st.integers(min_value=0, max_value=3),
)
def test_no_input_makes_the_cli_print_a_traceback(
    db: tuple[Path, list[str]], command: Command, **drawn: Any
) -> None:
    path, existing = db
    values = {name: as_text(value) for name, value in drawn.items()}
    values["id"] = values.pop("id_")
    values["value"] = as_text(drawn["meta"])
    values["memory"] = existing[drawn["pick"]] if drawn["pick"] < len(existing) else values["id"]
    stdin = drawn["stdin"] if isinstance(drawn["stdin"], str) else None
    data = None if stdin is None else stdin.encode("utf-8", "surrogatepass")  # as bytes arrive
    check(CliRunner().invoke(app, ["--db", str(path), *command(values)], input=data))


# -- in a real process ----------------------------------------------------------------------
def remem(db: Path, *args: str | bytes, stdin: bytes = b"", **env: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "remem.interfaces.cli", "--db", str(db), *args],
        input=stdin, capture_output=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode()


def one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and BUG not in err
    for word in words:
        assert word in err, err


def test_undecodable_bytes_in_argv_are_one_line(tmp_path: Path) -> None:
    """Python reads them as lone surrogates (surrogateescape), which no store takes."""
    db = tmp_path / "argv.db"
    one_error_line(*remem(db, "add", b"caf\xe9", "--user", "u")[::2], "Unicode")
    one_error_line(*remem(db, "add", "hello", "--user", b"\xff\xfe")[::2], "Unicode")
    one_error_line(*remem(db, "search", "hi", "-u", b"\xff")[::2], "Unicode")


#: stdin is strict UTF-8 under a UTF-8 locale, and surrogateescape under C/POSIX.
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_undecodable_bytes_on_stdin_are_one_line(tmp_path: Path, locale: str) -> None:
    db = tmp_path / "stdin.db"
    for args in (["add", "-"], ["add", "--file", "-"], ["import", "-"]):
        code, _, err = remem(db, *args, stdin=b"caf\xe9 \xff\n", LC_ALL=locale)
        one_error_line(code, err)


def test_plain_text_on_stdin_is_remembered(tmp_path: Path) -> None:
    code, out, err = remem(
        tmp_path / "t.db", "add", "-", "--user", "u", stdin="plain ünï\n".encode()
    )
    assert code == 0 and "plain ünï" in out, err


def test_an_endless_input_file_is_refused(tmp_path: Path) -> None:
    code, _, err = remem(tmp_path / "z.db", "add", "--file", "/dev/zero")
    one_error_line(code, err, "the limit")


def test_a_reader_closing_the_pipe_is_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "pipe.db"
    assert remem(db, "add", "x" * 50_000, "--user", "u")[0] == 0
    child = subprocess.Popen(
        [sys.executable, "-m", "remem.interfaces.cli", "--db", str(db), "export"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    child.stdout.read(10)
    child.stdout.close()
    err = child.stderr.read().decode()
    child.wait(timeout=120)
    assert "Traceback" not in err and BUG not in err, err
