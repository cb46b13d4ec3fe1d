"""GET /v1/export streams the export from one snapshot: the server never holds the
tenant's export in memory, keeps serving writes meanwhile, and the trailer carries the
counts the client returns."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import CONVERSATION
from tests.service.conftest import Service


def test_the_export_route_streams_one_snapshot(
    start_service: Callable[..., Service], tmp_path: Path
) -> None:
    service = start_service()
    acme = service.client("acme")
    acme.add(CONVERSATION, user_id="ana", session_id="s1")
    headers = {"Authorization": f"Bearer {service.token('acme')}"}
    with httpx.stream("GET", service.url + "/v1/export", headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # sent as it is read
        lines = response.iter_lines()
        head = [next(lines)]
        acme.add("written during the export", user_id="ana")  # writers go on meanwhile
        text = "\n".join(head + list(lines)) + "\n"
    assert "written during the export" not in text
    trailer = json.loads(text.splitlines()[-1])
    assert trailer["type"] == "trailer" and trailer["counts"]["memory"] == len(CONVERSATION)

    path = tmp_path / "acme.jsonl"
    counts = acme.export(path)
    assert counts == json.loads(path.read_text().splitlines()[-1])["counts"]
    assert counts["memory"] == len(CONVERSATION) + 1
    other = start_service().client("acme")  # ids are unique per SQLite file: another store
    assert other.import_(io.StringIO(text)) == trailer["counts"]
