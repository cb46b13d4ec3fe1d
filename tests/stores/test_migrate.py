"""`remem migrate` moves a whole store, every tenant, to another backend and back."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from remem import Memory
from remem.interfaces.cli import app
from tests.stores.conftest import Backend


def dump(memory: Memory) -> list:
    return [
        (kind, item.model_dump() if kind not in ("memory", "entity") else item[0].model_dump())
        for kind, item in memory.store.dump(None)
        if kind != "event"
    ]


def test_migrate_sqlite_to_other_backend_and_back(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    with Memory(source) as m:
        m.add("Ana moved to Lisbon.", user_id="ana")
        Memory(source, tenant="acme").add("Acme ships on Fridays.", user_id="ops")
        first = m.update(m.list(user_id="ana").items[0].id, "Ana moved to Porto.")
        before = dump(m)
    runner = CliRunner()
    target = backend.target
    out = runner.invoke(app, ["--db", str(source), "migrate", target])
    assert out.exit_code == 0, out.output
    back = tmp_path / "back.db"
    again = runner.invoke(app, ["--db", target, "migrate", str(back)])
    assert again.exit_code == 0, again.output
    with Memory(back) as m:
        assert dump(m) == before
        assert m.get(first.id, version=1).status == "superseded"
        assert Memory(back, tenant="acme").search("shipping day", user_id="ops")[0].text
    clash = runner.invoke(app, ["--db", str(source), "migrate", str(back)])
    assert clash.exit_code == 1 and "collides" in clash.stderr
