"""Input an adversarial pass found breaking a backend, each refused with ``InvalidInput``
before any store sees it (so SQLite and PostgreSQL answer alike), or accepted and readable
everywhere. Runs on both backends; ``test_properties.py`` generalises these cases.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from remem import InvalidInput, Memory
from remem._time import to_utc
from remem.interfaces.cli import app
from tests.adversarial import nested
from tests.stores.conftest import Backend


def snapshot(memory: Memory) -> list[str]:
    out = io.StringIO()
    memory.export(out)
    return [x for x in out.getvalue().splitlines() if '"type": "header"' not in x]


def nothing_stored(memory: Memory) -> bool:
    stats = memory.stats()
    return (stats["episodes"], stats["events"], stats["memories"]) == (0, 0, {})


# -- row 1: times before year 1000 -------------------------------------------------------------
@pytest.mark.parametrize(
    "when", ["0999-01-01", "0001-01-01T00:00:00Z", "0042-06-30T12:00:00+02:00", "0100-03-01"]
)
def test_a_time_before_year_1000_breaks_no_read(backend: Backend, when: str) -> None:
    memory = backend.memory(llm=None)
    old = memory.add("Rome was founded long ago", user_id="u", timestamp=when).memories[0]
    new = memory.add("Lisbon is sunny today", user_id="u").memories[0]
    assert memory.get(old.id).valid_from == to_utc(when)
    assert [m.id for m in memory.list(user_id="u").items] == [new.id, old.id]
    assert {h.id for h in memory.search("Rome founded", user_id="u")} >= {old.id}
    before_1000 = memory.search("Rome founded", user_id="u", before="1000-01-01")
    assert [h.id for h in before_1000] == [old.id]
    assert memory.export(io.StringIO())["memory"] == 2
    memory.maintain(user_id="u")
    memory.summarize(user_id="u")
    memory.profile(user_id="u", refresh=True)
    assert memory.context("Rome", user_id="u").text
    assert [e.op for e in memory.history(old.id)] == ["add"]
    memory.update(old.id, "Rome was founded in 753 BC")
    memory.delete(old.id)
    assert memory.forget(old.id) >= 1


def test_rows_written_with_an_unpadded_year_still_read_and_go(tmp_path: Path) -> None:
    """SQLite files written before the fix hold '999-01-01T...' (strftime's %Y)."""
    db = tmp_path / "old.db"
    with Memory(db, llm=None) as memory:
        old = memory.add("an old turn", user_id="u", timestamp="0999-01-01").memories[0]
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE memories SET valid_from = '999-01-01T00:00:00.000000Z'")
        raw.execute("UPDATE episodes SET occurred_at = '999-01-01T00:00:00.000000Z'")
    with Memory(db, llm=None) as memory:
        assert memory.get(old.id).valid_from == to_utc("0999-01-01")
        assert [m.id for m in memory.list(user_id="u").items] == [old.id]
        assert memory.export(io.StringIO())["episode"] == 1
        memory.delete(old.id)
        assert memory.forget(old.id) >= 1


def test_opening_a_file_pads_the_years_an_older_remem_wrote(tmp_path: Path) -> None:
    """Migration m009 rewrites them, so time order in SQL is right again."""
    db = tmp_path / "old.db"
    with Memory(db, llm=None) as memory:
        old = memory.add("an old turn", user_id="u", timestamp="0999-01-01").memories[0]
        new = memory.add("a new turn", user_id="u", timestamp="2026-01-01").memories[0]
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE memories SET valid_from = '999-01-01T00:00:00.000000Z' WHERE id = ?",
                    (old.id,))  # fmt: skip
        raw.execute("UPDATE episodes SET occurred_at = '999-01-01T00:00:00.000000Z'")
        raw.execute("DELETE FROM schema_migrations WHERE version = 9")  # as written before it
    with Memory(db, llm=None) as memory:
        assert [h.id for h in memory.search("turn", user_id="u", before="1000-01-01")] == [old.id]
        assert [h.id for h in memory.search("turn", user_id="u", after="1000-01-01")] == [new.id]
    with sqlite3.connect(db) as raw:
        assert raw.execute(
            "SELECT valid_from FROM memories WHERE id = ?", (old.id,)
        ).fetchone() == ("0999-01-01T00:00:00.000000Z",)


# -- rows 5, 6, 7: what no backend can store is InvalidInput, and nothing is written -----------
BAD_ADDS: list[Any] = [
    pytest.param({"metadata": {"x": float("nan")}}, "NaN", id="nan"),
    pytest.param({"metadata": {"x": [float("-inf")]}}, "infinite", id="infinity"),
    pytest.param({"messages": "hi \ud800 there"}, "surrogate", id="surrogate-text"),
    pytest.param({"metadata": {"k": "\udc80"}}, "surrogate", id="surrogate-value"),
    pytest.param({"metadata": {"\udc80": "v"}}, "surrogate", id="surrogate-key"),
    pytest.param({"user_id": "\ud800"}, "surrogate", id="surrogate-user"),
    pytest.param({"messages": [{"content": "hi", "speaker": "A\udcff"}]}, "speaker", id="speaker"),
    pytest.param({"metadata": nested(300)}, "deeper than 32", id="depth-300"),
    pytest.param({"metadata": nested(5000)}, "deeper than 32", id="depth-5000"),
    pytest.param({"metadata": {"k": 2**64}}, "64 bits", id="big-int"),
    pytest.param({"metadata": {"k": 1e16}}, "2\\*\\*53", id="big-float"),
    pytest.param({"metadata": {"when": object()}}, "not JSON", id="object"),
]


@pytest.mark.parametrize(("change", "message"), BAD_ADDS)
def test_what_no_backend_can_store_is_invalid_input(
    backend: Backend, change: dict[str, Any], message: str
) -> None:
    memory = backend.memory(llm=None)
    arguments = {"messages": "hello", "user_id": "u", **change}
    with pytest.raises(InvalidInput, match=message):
        memory.add(arguments.pop("messages"), **arguments)
    assert nothing_stored(memory)


def test_updates_reasons_and_filters_are_checked_alike(backend: Backend) -> None:
    memory = backend.memory(llm=None)
    kept = memory.add("hello", user_id="u", metadata={"k": 1}).memories[0]
    before = snapshot(memory)
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: memory.update(kept.id, metadata={"x": float("nan")}), "NaN"),
        (lambda: memory.update(kept.id, metadata=nested(300)), "deeper"),
        (lambda: memory.update(kept.id, "new \ud800"), "surrogate"),
        (lambda: memory.update(kept.id, "new", reason="why \x00"), "NUL"),
        (lambda: memory.delete(kept.id, reason="\udcff"), "surrogate"),
        (lambda: memory.list(metadata={"k": float("inf")}), "infinite"),
        (lambda: memory.search("hello", metadata={"k": "\ud800"}), "surrogate"),
        (lambda: memory.search("hello \ud800"), "surrogate"),
        (lambda: memory.get("mem\x00"), "NUL"),
        (lambda: memory.forget("mem\ud800"), "surrogate"),
        (lambda: memory.get(kept.id, version=2**70), "version"),
        (lambda: memory.list(offset=2**70), "offset"),
    ]
    for call, message in calls:
        with pytest.raises(InvalidInput, match=message):
            call()
    assert snapshot(memory) == before


def test_an_import_line_with_nan_or_deep_metadata_imports_nothing(backend: Backend) -> None:
    source = backend.memory(llm=None)
    source.add("hello", user_id="u", metadata={"k": 1})
    lines = list(source.export_lines())
    target = Memory(backend.target, tenant="other", llm=None)
    try:
        for bad in ('{"k": NaN}', '{"k": Infinity}', json.dumps(nested(300))):
            text = "".join(lines).replace('"metadata": {"k": 1}', f'"metadata": {bad}', 1)
            with pytest.raises(InvalidInput, match=r"not a JSON number|deeper|not a valid record"):
                target.import_(io.StringIO(text))
            assert nothing_stored(target)
    finally:
        target.close()


def test_a_database_location_with_a_nul_is_invalid_input(tmp_path: Path) -> None:
    for location in (str(tmp_path / "a\x00b.db"), "postgresql://u\x00@127.0.0.1/db"):
        with pytest.raises(InvalidInput, match="NUL"):
            Memory(location, llm=None)


# -- row 8: the backends once disagreed; now the layer above them decides ----------------------
@pytest.mark.postgres
def test_both_backends_accept_and_refuse_the_same_values(
    new_backend: Callable[[str], Backend],
) -> None:
    both = [new_backend("sqlite").memory(llm=None), new_backend("postgres").memory(llm=None)]
    cases: list[dict[str, Any]] = [
        {"user_id": "a\x00b"},
        {"metadata": {"k": "\udc80"}},
        {"metadata": {"a\\b": "v"}},
        {"metadata": {"k": "a\x00b"}},
        {"metadata": {"k": 1e308, "n": -(2**63)}},
        {"metadata": {"k": 1.2345678901234567e15, "n": 2**63 - 1, "z": -0.0, "t": 5e-324}},
        {"timestamp": "0001-01-01T00:00:00+01:00"},
        {"timestamp": "9999-12-31T23:59:59.999999"},
    ]
    for case in cases:
        outcomes = []
        for memory in both:
            try:
                added = memory.add(
                    "a note", **{"user_id": "u", "timestamp": "2026-01-01", **case}
                ).memories[0]
                stored = memory.get(added.id)
                outcomes.append(("stored", stored.metadata, stored.valid_from))
            except InvalidInput as exc:
                outcomes.append(("refused", str(exc), None))
        assert outcomes[0] == outcomes[1], case


@pytest.mark.postgres
def test_migrate_names_the_record_the_target_cannot_take(
    tmp_path: Path, new_backend: Callable[[str], Backend]
) -> None:
    """A row an older remem let into SQLite: migrate names it and copies nothing."""
    source = tmp_path / "old.db"
    with Memory(source, llm=None) as memory:
        memory.add("fine", user_id="u")
        bad = memory.add("odd metadata", user_id="u", metadata={"k": "v"}).memories[0]
    with sqlite3.connect(source) as raw:
        raw.execute("UPDATE memories SET metadata = ? WHERE id = ?", ('{"k": "\\udc80"}', bad.id))
    target = new_backend("postgres")
    result = CliRunner().invoke(app, ["--db", str(source), "migrate", target.target])
    assert result.exit_code == 1
    assert f"memory '{bad.id}'" in result.stderr and "surrogate" in result.stderr
    assert result.stderr.count("\n") == 1
    with Memory(target.target, llm=None) as copy:
        assert nothing_stored(copy)
