"""The ``remem`` CLI end to end: real SQLite files in temp dirs, in-process and as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from remem import Memory
from remem.interfaces.cli import app

PET = "I adopted a golden retriever puppy named Max"


class Cli:
    """Runs ``remem --db <db> ...`` in process, with stdout and stderr kept apart."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, db: Path | None = None) -> Result:
        return self.runner.invoke(app, ["--db", str(db or self.db), *args], input=input)

    def ok(self, *args: str, **kwargs: object) -> Result:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, **kwargs: object) -> object:
        result = self.ok(*args, "--json", **kwargs)
        assert result.stderr == ""
        return json.loads(result.stdout)

    def add(self, text: str, *args: str) -> str:
        return self.json("add", text, *args)["memories"][0]["id"]  # type: ignore[index]

    def counts(self) -> dict[str, object]:
        stats = self.json("stats")
        return {key: stats[key] for key in ("episodes", "events", "memories")}  # type: ignore[index]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One database for the module; tests keep apart by user id."""
    return Cli(tmp_path_factory.mktemp("cli") / "remem.db")


def _ids(page_or_results: object) -> list[str]:
    data: dict = page_or_results  # type: ignore[assignment]
    if "hits" in data:
        return [hit["memory"]["id"] for hit in data["hits"]]
    return [item["id"] for item in data["items"]]


def test_add_then_search_finds_a_paraphrase_and_says_why(cli: Cli) -> None:
    pet = cli.add(PET, "--user", "ana")
    cli.add("The quarterly budget review moved to Thursday", "--user", "ana")
    found = cli.json("search", "what pet does the user have", "--user", "ana")
    assert _ids(found)[0] == pet
    assert "dense" in found["hits"][0]["signals"]  # type: ignore[index]

    table = cli.ok("search", "golden retriever", "--user", "ana").stdout
    assert "golden retriever" in table
    assert pet in table
    assert "bm25 #1" in table
    assert "dense #1" in table


def test_search_resolves_time_phrases_against_asked_at(cli: Cli) -> None:
    budget = cli.add(
        "The budget meeting moved to Tuesday", "-u", "when", "--timestamp", "2024-05-07"
    )
    args = ("search", "what happened last month", "--user", "when", "--asked-at", "2024-06-15")
    found = cli.json(*args)
    assert found["time_window"][0].startswith("2024-05-01")  # type: ignore[index]
    assert _ids(found)[0] == budget
    assert "time named in the query: 2024-05-01" in cli.ok(*args).stdout


def test_every_command_prints_parsable_json_and_nothing_else(cli: Cli) -> None:
    memory_id = cli.add("Ana's favourite colour is teal", "--user", "json", "-m", "source=test")
    assert cli.json("show", memory_id)["metadata"]["source"] == "test"  # type: ignore[index]
    assert cli.json("history", memory_id)[0]["op"] == "add"  # type: ignore[index]
    assert cli.json("list", "--user", "json")["total"] == 1  # type: ignore[index]
    assert cli.json("search", "colour", "--user", "json")["query"] == "colour"  # type: ignore[index]
    assert cli.json("stats")["backend"] == "sqlite"  # type: ignore[index]
    assert cli.json("update", memory_id, "Ana likes teal")["version"] == 2  # type: ignore[index]
    assert cli.json("delete", memory_id)["status"] == "deleted"  # type: ignore[index]
    assert cli.json("forget", memory_id, "--yes")["id"] == memory_id  # type: ignore[index]


def test_add_reads_messages_from_a_file_or_stdin(cli: Cli, tmp_path: Path) -> None:
    turns = [
        {"role": "user", "content": "I moved to Lisbon last spring", "speaker": "Ana"},
        {"role": "assistant", "content": "How do you like Lisbon?", "timestamp": "2024-03-01"},
    ]
    as_list = tmp_path / "turns.json"
    as_list.write_text(json.dumps(turns))
    added = cli.json("add", "--file", str(as_list), "--user", "file", "--session", "s1")
    texts = [m["text"] for m in added["memories"]]  # type: ignore[index]
    assert texts == ["Ana: I moved to Lisbon last spring", "How do you like Lisbon?"]
    assert added["episodes"][1]["occurred_at"].startswith("2024-03-01")  # type: ignore[index]

    jsonl = "\n".join(json.dumps(t) for t in turns) + "\n"
    added = cli.json("add", "-", "--user", "file", "--session", "s2", input=jsonl)
    assert len(added["memories"]) == 2  # type: ignore[index]
    assert cli.json("list", "--user", "file", "--session", "s2")["total"] == 2  # type: ignore[index]


def test_list_pages_newest_first(cli: Cli) -> None:
    lines = [json.dumps({"role": "user", "content": f"note number {i}"}) for i in range(5)]
    cli.ok("add", "-", "--user", "pager", input="\n".join(lines))
    pages = [
        cli.json("list", "--user", "pager", "--limit", "2", "--offset", str(o)) for o in (0, 2, 4)
    ]
    assert [p["next_offset"] for p in pages] == [2, 4, None]  # type: ignore[index]
    seen = [text for p in pages for text in (i["text"] for i in p["items"])]  # type: ignore[index]
    assert seen == [f"note number {i}" for i in reversed(range(5))]

    table = cli.ok("list", "--user", "pager", "--limit", "2").stdout
    assert "1-2 of 5; next: --offset 2" in table


def test_list_keeps_an_event_time_range(cli: Cli) -> None:
    days = ["2024-03-01", "2024-03-05", "2024-03-09"]
    lines = [json.dumps({"role": "user", "content": f"diary {d}", "timestamp": d}) for d in days]
    cli.ok("add", "-", "--user", "diary", input="\n".join(lines))
    page = cli.json("list", "--user", "diary", "--after", "2024-03-02", "--before", "2024-03-09")
    assert [i["text"] for i in page["items"]] == ["diary 2024-03-05"]  # type: ignore[index]
    assert cli.json("list", "--user", "diary", "--after", "2024-03-02")["total"] == 2  # type: ignore[index]
    bad = cli("list", "--user", "diary", "--after", "not a date")
    assert bad.exit_code != 0 and "not a date" in bad.stderr


def test_update_show_and_history(cli: Cli) -> None:
    memory_id = cli.add("Ana works at Acme", "--user", "versions")
    cli.ok("update", memory_id, "Ana works at Globex", "--reason", "changed jobs")
    with Memory(cli.db) as memory:  # the library and the CLI see the same records
        memory.update(memory_id, importance=0.9, reason="promoted")

    current = cli.json("show", memory_id)
    assert (current["text"], current["version"], current["importance"]) == (  # type: ignore[index]
        "Ana works at Globex",
        3,
        0.9,
    )
    first = cli.json("show", memory_id, "--version", "1")
    assert (first["text"], first["status"]) == ("Ana works at Acme", "superseded")  # type: ignore[index]
    believed = cli.json("show", memory_id, "--as-of", current["recorded_at"])  # type: ignore[index]
    assert believed["version"] == 3  # type: ignore[index]

    events = cli.json("history", memory_id)
    assert [(e["op"], e["reason"]) for e in events] == [  # type: ignore[union-attr, index]
        ("add", None),
        ("update", "changed jobs"),
        ("update", "promoted"),
    ]
    table = cli.ok("history", memory_id).stdout
    assert "changed jobs" in table
    assert "Ana works at Globex" in table


def test_delete_hides_from_search_and_list(cli: Cli) -> None:
    memory_id = cli.add("Ana is allergic to peanuts", "--user", "gone")
    assert memory_id in _ids(cli.json("search", "peanut allergy", "--user", "gone"))

    assert "deleted" in cli.ok("delete", memory_id, "--reason", "wrong person").stdout
    assert memory_id not in _ids(cli.json("search", "peanut allergy", "--user", "gone"))
    assert cli.json("list", "--user", "gone")["total"] == 0  # type: ignore[index]
    assert cli.json("history", memory_id)[-1]["reason"] == "wrong person"  # type: ignore[index]


def test_forget_asks_first_then_erases(cli: Cli) -> None:
    memory_id = cli.add("Ana's passport number is X1234567", "--user", "forget")

    refused = cli("forget", memory_id)  # no terminal to ask on, no --yes
    assert refused.exit_code == 1
    assert "--yes" in refused.stderr
    assert cli.json("show", memory_id)["id"] == memory_id  # type: ignore[index]

    assert "forgot" in cli.ok("forget", memory_id, "--yes").stdout
    gone = cli("show", memory_id)
    assert (gone.exit_code, gone.stderr) == (1, f"error: no memory {memory_id}\n")
    # One content-free event remains, so the log still shows that something was erased.
    trail = cli.json("history", memory_id)
    assert [(e["op"], e["payload"]) for e in trail] == [("forget", {})]  # type: ignore[union-attr, index]
    assert "X1234567" not in cli.ok("export").stdout


def test_export_import_round_trip(cli: Cli, tmp_path: Path) -> None:
    cli.add(PET, "--user", "move")
    exported = tmp_path / "export.jsonl"
    counts = cli.json("export", str(exported))
    assert counts["memory"] >= 1  # type: ignore[index]

    fresh = tmp_path / "fresh.db"
    assert cli.json("import", str(exported), db=fresh) == counts

    def everything(db: Path) -> list[tuple[str, str]]:
        page = cli.json("list", "--limit", "1000", db=db)
        return sorted((item["id"], item["text"]) for item in page["items"])  # type: ignore[index]

    assert everything(fresh) == everything(cli.db)
    hits = cli.json("search", "what pet does the user have", "--user", "move", db=fresh)
    assert hits["hits"][0]["memory"]["text"] == PET  # type: ignore[index]

    again = cli("import", str(exported), db=fresh)  # same ids twice: all or nothing
    assert again.exit_code == 1
    assert again.stderr.startswith("error: import collides")

    to_stdout = cli.ok("export")
    lines = [json.loads(line) for line in to_stdout.stdout.splitlines()]
    assert lines[0]["type"] == "header"
    assert "exported" in to_stdout.stderr
    other = tmp_path / "other.db"
    assert cli.json("import", "-", db=other, input=to_stdout.stdout) == counts


BAD_INPUT = [
    pytest.param(["add", ""], "empty", id="empty-text"),
    pytest.param(["add", "   "], "empty", id="blank-text"),
    pytest.param(["add", "hi", "--timestamp", "yesterday-ish"], "ISO 8601", id="bad-time"),
    pytest.param(["add", "hi", "--importance", "2"], "importance", id="bad-importance"),
    pytest.param(["add", "-"], "empty", id="empty-stdin"),
    pytest.param(["add", "--file", "/nonexistent/turns.json"], "cannot read", id="no-file"),
    pytest.param(["search", "pets", "--after", "last week"], "ISO 8601", id="bad-after"),
    pytest.param(["search", "pets", "--limit", "0"], "limit", id="bad-limit"),
    pytest.param(["search", "pets", "--asked-at", "soon"], "asked_at", id="bad-asked-at"),
    pytest.param(["show", "mem_unknown"], "no memory mem_unknown", id="show-unknown"),
    pytest.param(["history", "mem_unknown"], "mem_unknown", id="history-unknown"),
    pytest.param(["update", "mem_unknown", "x"], "mem_unknown", id="update-unknown"),
    pytest.param(["update", "mem_unknown"], "at least one", id="update-nothing"),
    pytest.param(["delete", "mem_unknown"], "mem_unknown", id="delete-unknown"),
    pytest.param(["forget", "mem_unknown", "--yes"], "mem_unknown", id="forget-unknown"),
    pytest.param(["import", "/nonexistent/export.jsonl"], "cannot open", id="import-no-file"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_one_line_on_stderr_and_writes_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    before = cli.counts()
    result = cli(*args, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert cli.counts() == before


def test_bad_messages_file_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    before = cli.counts()
    turns = tmp_path / "turns.jsonl"
    turns.write_text('{"role": "user", "content": "fine"}\n{"role": "user", "content": ""}\n')
    result = cli("add", "--file", str(turns))
    assert (result.exit_code, result.stderr) == (
        1,
        "error: message 1 content is empty: there is nothing to remember\n",
    )
    turns.write_text('{"role": "user", "content": "fine"}\nnot json\n')
    result = cli("add", "--file", str(turns))
    assert result.exit_code == 1
    assert "line 2" in result.stderr
    # a key given twice means two things: refused, not the last one silently kept
    turns.write_text('{"role": "user", "content": "fine"}\n{"role": "user", "role": "system"}\n')
    result = cli("add", "--file", str(turns))
    assert result.exit_code == 1
    assert "line 2" in result.stderr and "'role' appears twice" in result.stderr
    turns.write_text('[{"role": "user", "content": "a", "content": "b"}]')
    result = cli("add", "--file", str(turns))
    assert result.exit_code == 1 and "'content' appears twice" in result.stderr
    assert cli.counts() == before


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["search"], id="missing-query"),
        pytest.param(["search", "pets", "--recipe", "magic"], id="unknown-recipe"),
        pytest.param(["list", "--kind", "rumour"], id="unknown-kind"),
        pytest.param(["add"], id="no-text-no-file"),
        pytest.param(["add", "hi", "--metadata", "novalue"], id="bad-metadata"),
        pytest.param(["frobnicate"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    before = cli.counts()
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert cli.counts() == before


def test_global_options_tenant_and_env(cli: Cli) -> None:
    cli.add("only in the default tenant", "--user", "tenants")
    assert cli.json("--tenant", "acme", "list")["total"] == 0  # type: ignore[index]
    via_env = cli.runner.invoke(
        app, ["list", "--user", "tenants", "--json"], env={"REMEM_DATABASE_URL": str(cli.db)}
    )
    assert json.loads(via_env.stdout)["total"] == 1
    blank = cli("--tenant", " ", "stats")
    assert (blank.exit_code, blank.stderr.startswith("error: bad scope")) == (1, True)


def test_stored_text_is_printed_verbatim(cli: Cli) -> None:
    memory_id = cli.add("[bold]x[/bold] [red]", "--user", "markup")
    assert "[bold]x[/bold] [red]" in cli.ok("show", memory_id).stdout
    listed = cli.ok("list", "--user", "markup").stdout
    assert "[bold]x[/bold]" in listed
    assert "[red]" in listed


# -- as a real process: exit codes and the stdout/stderr contract -------------------------------
def _remem(*args: str, db: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REMEM_DATABASE_URL": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "remem.interfaces.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_python_dash_m_remem_is_the_same_command(tmp_path: Path) -> None:
    env = {**os.environ, "REMEM_DATABASE_URL": str(tmp_path / "m.db")}
    run = [sys.executable, "-m", "remem", "add", "the boiler is serviced in May", "--json"]
    added = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert (added.returncode, added.stderr) == (0, "")
    assert json.loads(added.stdout)["memories"][0]["text"] == "the boiler is serviced in May"
    found = _remem("search", "when is the boiler serviced", "--json", db=tmp_path / "m.db")
    assert "the boiler is serviced in May" in found.stdout


def test_process_json_on_stdout_errors_on_stderr(tmp_path: Path) -> None:
    db = tmp_path / "proc.db"
    turns = json.dumps([{"role": "user", "content": PET}, {"role": "user", "content": "hi"}])
    added = _remem("add", "-", "--user", "ana", "--json", db=db, stdin=turns)
    assert (added.returncode, added.stderr) == (0, "")
    assert len(json.loads(added.stdout)["memories"]) == 2

    bad = _remem("add", "hi", "--timestamp", "yesterday-ish", "--json", db=db)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "error: timestamp: 'yesterday-ish' is not an ISO 8601 time (e.g. 2026-05-02T10:00:00Z)"
    ]
    assert "Traceback" not in bad.stderr

    usage = _remem("search", db=db)
    assert usage.returncode == 2
    assert usage.stdout == ""
    assert "QUERY" in usage.stderr.upper()


def test_installed_script_exports_clean_jsonl_to_stdout(tmp_path: Path) -> None:
    script = shutil.which("remem", path=str(Path(sys.executable).parent)) or shutil.which("remem")
    if script is None:
        pytest.skip("the remem console script is not installed")
    db = tmp_path / "script.db"
    env = {**os.environ, "REMEM_DATABASE_URL": str(db)}
    run = lambda *args: subprocess.run(  # noqa: E731
        [script, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert run("add", PET).returncode == 0
    exported = run("export")
    assert exported.returncode == 0
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["type"] for r in records] == [
        "header",
        "episode",
        "memory",
        "event",
        "entity",  # "Max", found by the offline extractor
        "entity_link",
        "trailer",  # counts and checksum: a cut-short copy cannot import
    ]
    assert exported.stderr.strip() == (
        "exported 1 episodes, 1 memories, 1 events, 1 entities, 1 entity links"
    )

    missing = run("show", "mem_unknown")
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        1,
        "",
        "error: no memory mem_unknown\n",
    )


def test_lifecycle_commands(cli: Cli) -> None:
    kept = cli.add("The spare key is under the blue flowerpot", "--user", "liz", "-s", "a")
    faded = cli.add("We chatted about the weather in passing", "--user", "liz", "-s", "a")
    fact = cli.add("Liz lives in Dublin", "--user", "liz", "--kind", "fact")
    assert cli.json("pin", kept)["pinned"] is True
    report = cli.json("maintain", "--user", "liz", "--archive-below", "1")
    assert report["archived"] == 2 and report["scanned"] == 3  # all but the pinned one
    archived = cli.json("list", "--user", "liz", "--archived")
    assert set(_ids(archived)) == {faded, fact}
    assert _ids(cli.json("list", "--user", "liz", "--layer", "long")) == [kept]
    found = cli.json("search", "weather chat", "--user", "liz", "--archived")
    assert found["hits"][0]["memory"]["id"] == faded
    assert found["hits"][0]["memory"]["status"] == "active"  # recalled: restored
    assert cli.json("pin", kept, "--off")["pinned"] is False
    written = cli.json("summarize", "--user", "liz")
    assert {m["metadata"].get("summary") for m in written} == {"session", "running"}
    profile = cli.ok("profile", "--user", "liz").stdout
    assert "Profile of liz" in profile
    block = cli.json("context", "where is the spare key", "--user", "liz", "--budget", "120")
    assert block["tokens"] <= 120 and kept in block["text"]
    assert "spare key" in cli.ok("context", "spare key", "--user", "liz").stdout
    bad = cli("maintain", "--archive-below", "2")
    assert bad.exit_code == 1 and "archive_below" in bad.stderr
