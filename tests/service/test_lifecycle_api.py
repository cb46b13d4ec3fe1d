"""The lifecycle over HTTP: layers, pin, maintain, summaries, profile, context; background upkeep."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from remem import Client, Memory
from remem.model import MaintenanceReport
from remem.providers.embedder import Embedder
from remem.service import KeyStore, create_app
from tests.service.conftest import ServerThread, Service

T0 = datetime(2020, 1, 1, tzinfo=UTC)  # long before any test runs: faded by now

TRIP = [
    {"role": "user", "content": "I am planning a trip to Japan in October with my partner."},
    {"role": "assistant", "content": "Kyoto in October is beautiful."},
    {"role": "user", "content": "Our budget for the trip is about 3000 euros."},
]


def test_lifecycle_routes_mirror_the_facade(service: Service) -> None:
    m = service.client("acme")
    added = m.add(TRIP, user_id="ana", session_id="s1")
    note = m.add("The spare key is under the blue flowerpot", user_id="ana").memories[0]
    assert m.pin(note.id).pinned is True
    assert [x.id for x in m.list(user_id="ana", layers="long").items] == [note.id]
    assert m.search("spare key", user_id="ana", layers=["long"])[0].id == note.id
    report = m.maintain(user_id="ana", archive_below=1.0)
    assert isinstance(report, MaintenanceReport)
    assert report.archived == len(TRIP) and report.scanned == len(TRIP) + 1
    assert m.list(user_id="ana", status="archived").total == len(TRIP)
    budget = m.search("trip budget euros", user_id="ana", archived=True)[0]
    assert budget.memory.status == "active"  # recalled: restored
    assert budget.id == added.memories[2].id
    written = m.summarize(user_id="ana")
    assert {x.metadata.get("summary") for x in written} == {"session", "running"}
    profile = m.profile(user_id="ana")
    assert profile.kind == "profile" and "Japan" in profile.text
    assert m.profile(user_id="ana", refresh=True).id == profile.id
    block = m.context("what is the trip budget?", user_id="ana", budget_tokens=120)
    assert block.tokens <= 120 and budget.id in block.cited
    # tenants stay apart here too
    other = service.client("globex")
    assert other.list(user_id="ana").total == 0
    assert other.context("trip budget", user_id="ana", budget_tokens=100).lines == ()


def test_the_server_maintains_every_tenant_with_a_key_in_the_background(
    tmp_path: Path, embedder: Embedder
) -> None:
    location = str(tmp_path / "bg.db")
    keys = KeyStore(location)
    token = keys.create("acme")[1]
    keys.create("globex")
    with Memory(location, tenant="acme") as seed:
        old = seed.add("A remark from two months ago", user_id="u", timestamp=T0).memories[0]
    app = create_app(location, embedder=embedder, keys=keys, maintain_every_s=3600)
    server = ServerThread(app).start()
    try:
        runner = app.state.remem.maintenance
        deadline = time.monotonic() + 30
        while runner.passes < 1:  # the first pass runs as the server starts
            assert time.monotonic() < deadline, "no maintenance pass"
            time.sleep(0.01)
        with Client(server.url, api_key=token) as client:
            archived = client.list(user_id="u", status="archived").items
            assert [m.id for m in archived] == [old.id]
    finally:
        server.stop()
        keys.close()
    assert runner.failures == 0
    assert not runner.running  # stopped with the app
