"""`remem import --from mem0 FILE`: Mem0's exported memories (ids, text, user/agent/run ids,
metadata, timestamps, history) into remem through its own all-or-nothing import."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from remem import InvalidInput, Memory
from remem.integrations.mem0 import mem0_export, read_mem0
from remem.interfaces.cli import app

EXPORT: dict[str, Any] = {
    "count": 3,
    "results": [
        {
            "id": "6b1c4c1e-7c35-4b3a-9a46-2b1f6c0d9a10",
            "memory": "Is vegan",
            "user_id": "alice",
            "agent_id": None,
            "run_id": "onboarding",
            "app_id": "diet-app",
            "metadata": {"source": "chat"},
            "categories": ["food"],
            "created_at": "2024-07-20T01:30:43.345678-07:00",
            "updated_at": "2024-08-02T10:00:00-07:00",
            "history": [
                {
                    "event": "ADD",
                    "new_memory": "Is vegetarian",
                    "old_memory": None,
                    "created_at": "2024-07-20T01:30:43.345678-07:00",
                },
                {
                    "event": "UPDATE",
                    "new_memory": "Is vegan",
                    "old_memory": "Is vegetarian",
                    "created_at": "2024-08-02T10:00:00-07:00",
                },
            ],
        },
        {
            "id": "0f3e4a55-1111-4c2e-8d5b-3a9c0b7e2f00",
            "memory": "Lives in Lyon",
            "user_id": "alice",
            "created_at": "2024-07-21T09:00:00Z",
            "updated_at": "2024-07-21T09:00:00Z",
        },
        {
            "id": "9a9a9a9a-2222-4c2e-8d5b-3a9c0b7e2f00",
            "memory": "Had a cold",
            "agent_id": "nurse",
            "created_at": "2024-07-22T09:00:00Z",
            "history": [
                {"event": "ADD", "new_memory": "Had a cold", "created_at": "2024-07-22T09:00:00Z"},
                {"event": "DELETE", "new_memory": None, "created_at": "2024-07-25T09:00:00Z"},
            ],
        },
    ],
}


def write(tmp_path: Path, data: Any, name: str = "mem0.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_the_cli_imports_a_mem0_export(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    result = CliRunner().invoke(
        app, ["--db", str(db), "import", "--from", "mem0", str(write(tmp_path, EXPORT)), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"memory": 4, "event": 5}
    with Memory(db, llm=None) as memory:
        alice = {m.metadata["mem0_id"]: m for m in memory.list(user_id="alice").items}
        vegan = alice["6b1c4c1e-7c35-4b3a-9a46-2b1f6c0d9a10"]
        assert vegan.text == "Is vegan" and vegan.kind == "fact"
        assert vegan.scope.session_id == "onboarding"
        assert vegan.metadata["source"] == "chat" and vegan.metadata["mem0_app_id"] == "diet-app"
        assert vegan.metadata["mem0_categories"] == ["food"]
        assert vegan.valid_from == datetime(2024, 7, 20, 8, 30, 43, 345678, tzinfo=UTC)
        assert [v.text for v in memory.versions(vegan.id)] == ["Is vegetarian", "Is vegan"]
        assert [e.op for e in memory.history(vegan.id)] == ["add", "update"]
        assert alice["0f3e4a55-1111-4c2e-8d5b-3a9c0b7e2f00"].text == "Lives in Lyon"
        assert memory.list(agent_id="nurse").total == 0  # deleted in Mem0, deleted here
        (cold,) = memory.versions(
            next(e.memory_id for e in memory.store.events("default") if e.op == "delete")
        )
        assert cold.text == "Had a cold" and cold.status == "deleted"
        assert memory.search("vegan diet", user_id="alice").hits[0].memory.id == vegan.id


def test_json_lines_and_plain_lists_read_alike(tmp_path: Path) -> None:
    memories = EXPORT["results"][:2]
    lines = "\n".join(json.dumps(m) for m in memories) + "\n"
    assert read_mem0(write(tmp_path, lines, "m.jsonl")) == memories
    assert read_mem0(write(tmp_path, memories, "m.json")) == memories


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"results": [{"id": "x"}]}, "needs its text"),
        ({"results": [{"memory": "ok", "user_id": 7}]}, "user_id must be a string"),
        ({"results": [{"memory": "ok", "created_at": "yesterday-ish"}]}, "created_at"),
        ({"results": [{"memory": "ok", "history": "lost"}]}, "history"),
        ({"oops": 1}, "not a Mem0 export"),
        ("{not json", "not a Mem0 export"),
        ('{"results": [{"memory": "a", "memory": "b"}]}', "'memory' appears twice"),
        ({"results": []}, "no memories"),
    ],
)
def test_a_bad_export_imports_nothing(tmp_path: Path, bad: Any, message: str) -> None:
    db = tmp_path / "r.db"
    good = EXPORT["results"][1]
    if isinstance(bad, dict) and bad.get("results"):
        bad = {"results": [good, *bad["results"]]}  # the good memory must not land alone
    with Memory(db, llm=None) as memory:
        with pytest.raises(InvalidInput, match=message):
            memory.import_(io.StringIO("".join(mem0_export(write(tmp_path, bad)))))
        assert memory.list(user_id="alice").total == 0
    result = CliRunner().invoke(
        app, ["--db", str(db), "import", "--from", "mem0", str(write(tmp_path, bad))]
    )
    assert result.exit_code == 1 and "error:" in result.output
