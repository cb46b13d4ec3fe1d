"""``remem keys`` and ``remem serve`` from the command line; the server as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remem import Client, Unauthorized
from remem.interfaces.cli import app
from remem.testing.served import served

runner = CliRunner()


def remem(db: Path, *args: str) -> dict | list:
    result = runner.invoke(app, ["--db", str(db), *args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    made = remem(db, "keys", "create", "acme", "--name", "ci")
    assert made["tenant"] == "acme" and made["key"].startswith(f"remem_{made['id']}_")
    remem(db, "keys", "create", "globex")
    listed = remem(db, "keys", "list")
    assert [k["tenant"] for k in listed] == ["acme", "globex"]
    assert "key" not in listed[0] and made["key"] not in (tmp_path / "keys.db").read_bytes().decode(
        "latin-1"
    )
    assert remem(db, "keys", "list", "--tenant", "globex")[0]["tenant"] == "globex"
    assert remem(db, "keys", "revoke", made["id"])["revoked_at"] is not None
    missing = runner.invoke(app, ["--db", str(db), "keys", "revoke", "nope"])
    assert missing.exit_code == 1 and "no API key nope" in missing.stderr


def test_no_auth_is_refused_on_a_public_interface(tmp_path: Path) -> None:
    for command in (["serve"], ["mcp", "--transport", "http"]):
        result = runner.invoke(
            app, ["--db", str(tmp_path / "x.db"), *command, "--host", "0.0.0.0", "--no-auth"]
        )
        assert result.exit_code == 1 and "loopback" in result.stderr


def test_remem_serve_as_a_subprocess(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    token = remem(db, "keys", "create", "acme")["key"]
    with served(db, ready_within_s=60) as server:
        with Client(server.url, api_key=token) as m:
            m.add("served over HTTP", user_id="ana")
            assert m.list(user_id="ana").items[0].text == "served over HTTP"
        with Client(server.url, api_key="") as anonymous, pytest.raises(Unauthorized):
            anonymous.list()
