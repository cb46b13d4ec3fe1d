"""The facade end to end on a real SQLite file and the real local embedder."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime

import pytest

from remem import (
    RECIPES,
    AsyncMemory,
    InvalidInput,
    Memory,
    NotFound,
    SearchQuery,
    SearchResults,
)
from tests.conftest import CONVERSATION


def snapshot(memory: Memory) -> str:
    """Everything stored, for 'nothing changed' assertions."""
    out = io.StringIO()
    memory.export(out)
    return "\n".join(out.getvalue().splitlines()[1:])  # drop the timestamped header


def test_add_keeps_every_turn_in_order_with_provenance(ana: Memory) -> None:
    page = ana.list(user_id="ana", limit=10)
    assert page.total == len(CONVERSATION)
    texts = [m.text for m in reversed(page.items)]
    assert texts[0] == "Ana: I moved to Lisbon last March."
    assert texts[1] == "Nice! How are you finding Portugal so far?"
    first = page.items[-1]
    assert first.kind == "episode" and first.version == 1 and first.status == "active"
    assert first.valid_from == datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    episodes = ana.store.get_episodes(list(first.provenance), "default")
    assert [e.seq for e in episodes] == [0] and episodes[0].speaker == "Ana"


def test_session_sequence_continues_across_adds(ana: Memory) -> None:
    result = ana.add("And I started learning Portuguese.", user_id="ana", session_id="s1")
    assert result.episodes[0].seq == len(CONVERSATION)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("which pet does the user have?", "golden retriever"),
        ("what city is her home now", "Lisbon"),
        ("which relative works as a heart doctor", "cardiologist"),
    ],
)
def test_search_finds_paraphrases_sharing_no_words(ana: Memory, query: str, expected: str) -> None:
    results = ana.search(query, user_id="ana", limit=2)
    assert expected in results[0].text
    assert "dense" in results[0].signals


def test_search_explains_each_signal_and_cites_the_turn(ana: Memory) -> None:
    hit = ana.search("Lisbon", user_id="ana", limit=1, context_window=1)[0]
    assert hit.signals["bm25"].rank == 1 and hit.signals["dense"].rank == 1
    assert hit.episode is not None and hit.episode.content == "I moved to Lisbon last March."
    assert [e.seq for e in hit.context] == [0, 1]
    assert "bm25 #1" in hit.explain()


def test_search_is_confined_to_the_user(ana: Memory) -> None:
    ana.add("I live in Berlin with my cat.", user_id="bob")
    assert all(
        h.memory.scope.user_id == "ana" for h in ana.search("where do I live", user_id="ana")
    )
    assert [h.memory.scope.user_id for h in ana.search("Berlin cat", user_id="bob")] == ["bob"]


def test_search_filters_kind_metadata_and_event_time(ana: Memory) -> None:
    ana.add(
        "Ana prefers window seats.",
        user_id="ana",
        kind="fact",
        metadata={"topic": "travel"},
        timestamp="2026-06-01T00:00:00Z",
    )
    facts = ana.search("seat preference", user_id="ana", kinds="fact")
    assert [h.memory.kind for h in facts] == ["fact"]
    assert len(ana.search("seat", user_id="ana", metadata={"topic": "travel"})) == 1
    assert len(ana.search("Ana", user_id="ana", metadata={"speaker": "Ana"}, limit=10)) == 3
    june = ana.search("Ana", user_id="ana", after="2026-05-15", limit=10)
    assert [h.memory.text for h in june] == ["Ana prefers window seats."]
    may = ana.search("Ana", user_id="ana", before="2026-05-15", limit=10)
    assert "Ana prefers window seats." not in [h.text for h in may]


def test_update_versions_and_as_of_shows_what_was_believed(ana: Memory) -> None:
    original = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    before_update = datetime.now(UTC)
    new = ana.update(original.id, "Ana: I moved to Porto in June.", reason="moved again")
    assert new.id == original.id and new.version == 2
    assert ana.get(original.id).text == "Ana: I moved to Porto in June."
    old = ana.get(original.id, version=1)
    assert old.status == "superseded" and old.expired_at is not None
    assert ana.get(original.id, as_of=before_update).version == 1
    now_hits = ana.search("Lisbon", user_id="ana", limit=5)
    assert all(h.memory.version == 2 for h in now_hits if h.id == original.id)
    then_hits = ana.search("Lisbon", user_id="ana", limit=1, as_of=before_update)
    assert then_hits[0].id == original.id and then_hits[0].memory.version == 1
    ops = [(e.op, e.version, e.reason) for e in ana.history(original.id)]
    assert ops == [("add", 1, None), ("update", 2, "moved again")]


def test_delete_is_soft_and_forget_is_total(ana: Memory, db_path) -> None:
    target = ana.search("golden retriever", user_id="ana", limit=1)[0].memory
    ana.delete(target.id, reason="user asked")
    assert target.id not in [h.id for h in ana.search("golden retriever puppy", user_id="ana")]
    with pytest.raises(NotFound):
        ana.update(target.id, "again")
    assert [e.op for e in ana.history(target.id)] == ["add", "delete"]
    assert ana.get(target.id, as_of=target.recorded_at).status == "active"

    ana.forget(target.id)
    with pytest.raises(NotFound):
        ana.get(target.id)
    assert [e.op for e in ana.store.events("default", target.id)] == ["forget"]
    assert ana.history(target.id)[0].payload == {}
    raw = db_path.read_bytes() + (db_path.parent / (db_path.name + "-wal")).read_bytes()
    ana.store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    ana.store._db.execute("VACUUM")  # type: ignore[attr-defined]
    raw = db_path.read_bytes()
    assert b"golden retriever" not in raw
    assert ana.search("dog puppy", user_id="ana", limit=10).hits  # the rest is intact


def test_wrong_scope_is_not_found_and_changes_nothing(ana: Memory) -> None:
    target = ana.list(user_id="ana", limit=1).items[0]
    before = snapshot(ana)
    for call in (
        lambda: ana.get(target.id, user_id="bob"),
        lambda: ana.update(target.id, "hijacked", user_id="bob"),
        lambda: ana.delete(target.id, user_id="bob"),
        lambda: ana.forget(target.id, user_id="bob"),
        lambda: ana.history(target.id, user_id="bob"),
    ):
        with pytest.raises(NotFound):
            call()
    assert snapshot(ana) == before
    other_tenant = Memory(ana.store.url.removeprefix("sqlite:///"), tenant="acme")
    with pytest.raises(NotFound):
        other_tenant.get(target.id)
    assert other_tenant.list().total == 0


@pytest.mark.parametrize(
    ("messages", "kwargs", "fragment"),
    [
        ("   ", {}, "empty"),
        ([], {}, "non-empty list"),
        ([{"role": "user", "content": "ok"}, {"role": "user", "content": ""}], {}, "message 1"),
        ([{"role": "robot", "content": "hi"}], {}, "role"),
        ([{"role": "user", "content": "hi", "timestamp": "last tuesday-ish"}], {}, "ISO 8601"),
        ("hi", {"timestamp": "not a time"}, "ISO 8601"),
        ("hi", {"kind": "gossip"}, "kind"),
        ("hi", {"importance": 3}, "importance"),
        ("hi", {"user_id": ""}, "scope"),
        ("hi", {"metadata": ["a"]}, "metadata"),
        ([{"role": "user", "content": "hi", "mood": "x"}], {}, "unknown field"),
    ],
)
def test_bad_input_is_rejected_whole(ana: Memory, messages, kwargs, fragment) -> None:
    before = snapshot(ana)
    with pytest.raises(InvalidInput, match=fragment):
        ana.add(messages, **{"user_id": "ana", **kwargs})
    assert snapshot(ana) == before


def test_bad_search_and_list_arguments(ana: Memory) -> None:
    for kwargs, fragment in (
        ({"query": ""}, "empty"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "kinds": ["nope"]}, "kind"),
        ({"query": "x", "as_of": "soon"}, "ISO 8601"),
        ({"query": "x", "recipe": "magic"}, "recipe"),
        ({"query": "x", "metadata": {"a": [1]}}, "metadata"),
    ):
        with pytest.raises(InvalidInput, match=fragment):
            ana.search(**kwargs)
    with pytest.raises(InvalidInput, match="status"):
        ana.list(status="gone")


def test_list_paginates_newest_first(memory: Memory) -> None:
    memory.add([{"role": "user", "content": f"note number {i}"} for i in range(7)], user_id="u")
    first = memory.list(user_id="u", limit=3)
    second = memory.list(user_id="u", limit=3, offset=first.next_offset or 0)
    last = memory.list(user_id="u", limit=3, offset=second.next_offset or 0)
    seen = [m.text for page in (first, second, last) for m in page.items]
    assert seen == [f"note number {i}" for i in reversed(range(7))]
    assert last.next_offset is None and first.total == 7


def test_export_import_round_trips_losslessly(ana: Memory, tmp_path) -> None:
    target = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    ana.update(target.id, "Ana: I moved to Porto.", reason="moved")
    ana.delete(ana.search("sister", user_id="ana", limit=1)[0].id)
    first = tmp_path / "one.jsonl"
    counts = ana.export(first)
    assert counts == {"episode": 5, "memory": 6, "event": 7, "entity": 5, "entity_link": 6}
    with Memory(tmp_path / "copy.db") as copy:
        assert copy.import_(first) == counts
        second = tmp_path / "two.jsonl"
        copy.export(second)
        strip = lambda p: [json.loads(x) for x in p.read_text().splitlines()[1:]]  # noqa: E731
        assert strip(first) == strip(second)
        assert copy.search("Porto", user_id="ana", limit=1)[0].id == target.id
        with pytest.raises(InvalidInput, match="collides"):
            copy.import_(first)
        assert strip(first) == strip(second)


def test_import_rejects_a_corrupt_file_without_writing(memory: Memory, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "header", "format": "remem-export", "version": 1}\n{"type": "memory"}\n'
    )
    with pytest.raises(InvalidInput, match="line 2"):
        memory.import_(bad)
    assert memory.list().total == 0


def test_reopening_keeps_everything_and_sees_other_writers(db_path) -> None:
    with Memory(db_path) as first:
        first.add("The spare key is under the blue flowerpot.", user_id="ana")
        assert first.search("where is the key", user_id="ana")  # loads the vector index
        with Memory(db_path) as second:
            second.add("The wifi password is on the fridge.", user_id="ana")
        hits = first.search("internet password", user_id="ana", limit=1)
        assert "wifi" in hits[0].text


def test_async_memory(db_path) -> None:
    import asyncio

    async def main() -> str:
        async with AsyncMemory(db_path) as m:
            await m.add("Ana's favourite colour is teal.", user_id="ana")
            results = await m.search("what colour does she like", user_id="ana")
            return results[0].text

    assert "teal" in asyncio.run(main())


def test_search_abstains_with_a_reason_when_nothing_is_relevant(ana: Memory) -> None:
    results = ana.search("quantum chromodynamics lattice gauge simulation", user_id="ana")
    assert results.abstained and len(results) == 0
    assert "similarity" in (results.reason or "")
    assert not ana.search("where does Ana live", user_id="ana").abstained
    plain_dense = ana.search("quantum chromodynamics", user_id="ana", recipe="dense")
    assert not plain_dense.abstained and len(plain_dense) == len(CONVERSATION)  # no floor there


def test_a_question_about_what_was_said_never_abstains(ana: Memory) -> None:
    off_topic = "quantum chromodynamics lattice gauge simulation"
    assert ana.search(off_topic, user_id="ana").abstained
    asked = ana.search(f"what did I say about {off_topic}?", user_id="ana")
    assert not asked.abstained and len(asked) > 0


def _ranking(results: SearchResults) -> list[tuple[str, float, list[str]]]:
    return [(h.id, h.score, sorted(h.signals)) for h in results]


@pytest.mark.parametrize(
    "options",
    [
        {"user_id": "ana"},
        {"user_id": "ana", "session_id": "s1", "limit": 2, "context_window": 1},
        {"user_id": "ana", "kinds": "episode", "metadata": {"speaker": "Ana"}},
        {"user_id": "ana", "after": "2026-05-02T10:00:30Z", "before": "2026-05-03"},
        {"user_id": "ana", "recipe": "bm25", "layers": ["working", "short"]},
        {"user_id": "ana", "as_of": "2030-01-01", "valid_at": "2026-05-02T10:30:00Z"},
        {"user_id": "ana", "archived": True, "asked_at": "2026-06-01", "recipe": "recent"},
    ],
)
def test_a_search_query_and_its_keywords_find_the_same(db_path, options) -> None:
    with Memory(db_path, track_recalls=False) as m:
        m.add(CONVERSATION, user_id="ana", session_id="s1")
        by_keywords = m.search("where does Ana live and which pet", **options)
        by_query = m.search(SearchQuery("where does Ana live and which pet", **options))
    assert by_query.model_dump() == by_keywords.model_dump()
    assert _ranking(by_query) and _ranking(by_query) == _ranking(by_keywords)


def test_a_context_takes_a_search_query_too(db_path) -> None:
    with Memory(db_path, track_recalls=False) as m:
        m.add(CONVERSATION, user_id="ana", session_id="s1")
        options = {"user_id": "ana", "limit": 4, "before": "2026-06-01", "recipe": "recent"}
        by_keywords = m.context("Ana's family", budget_tokens=200, **options)
        by_query = m.context(SearchQuery("Ana's family", **options), budget_tokens=200)
        assert by_query == by_keywords and by_query.cited
        default_limit = m.context(SearchQuery("Ana's family", user_id="ana"))
        assert default_limit == m.context("Ana's family", user_id="ana")
        with pytest.raises(InvalidInput, match="context does not take kinds, valid_at"):
            m.context(SearchQuery("x", kinds="fact", valid_at="2026-01-01"))


def test_a_search_query_is_said_in_one_place(ana: Memory) -> None:
    query = SearchQuery("Lisbon", user_id="ana")
    with pytest.raises(InvalidInput, match="not both: kinds, limit"):
        ana.search(query, limit=3, kinds="fact")
    with pytest.raises(InvalidInput, match="not both: user_id"):
        ana.context(query, user_id="bob")
    assert ana.search(query, limit=10, recipe="hybrid").hits  # keywords left at their defaults


def test_a_search_query_is_checked_normalised_and_frozen() -> None:
    query = SearchQuery(
        "Lisbon",
        kinds="fact",
        layers=["long"],
        after="2026-05-02T12:00:00+02:00",
        metadata={"topic": "travel"},
        recipe="recent",
    )
    assert query.kinds == ("fact",) and query.layers == ("long",)
    assert query.after == datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    assert query.recipe is RECIPES["recent"] and dict(query.metadata or {}) == {"topic": "travel"}
    assert query == SearchQuery(
        "Lisbon",
        kinds=("fact",),
        layers="long",
        after=datetime(2026, 5, 2, 10, 0, tzinfo=UTC),
        metadata={"topic": "travel"},
        recipe=RECIPES["recent"],
    )
    assert set(query.options()) == {"kinds", "layers", "after", "metadata", "recipe"}
    assert repr(SearchQuery("Lisbon", user_id="ana", recipe="recent", metadata={"a": 1})) == (
        "SearchQuery('Lisbon', user_id='ana', metadata={'a': 1}, recipe='recent')"
    )
    assert dataclasses.replace(query, limit=5).limit == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.limit = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        query.metadata["topic"] = "food"  # type: ignore[index]
    for kwargs, fragment in (
        ({"text": " "}, "empty"),
        ({"text": "x", "limit": 0}, "limit"),
        ({"text": "x", "limit": True}, "limit"),
        ({"text": "x", "kinds": ["nope"]}, "kind"),
        ({"text": "x", "layers": "deep"}, "layer"),
        ({"text": "x", "as_of": "soon"}, "ISO 8601"),
        ({"text": "x", "recipe": "magic"}, "recipe"),
        ({"text": "x", "metadata": {"a": [1]}}, "metadata"),
        ({"text": "x", "user_id": " "}, "scope"),
        ({"text": "x", "context_window": 21}, "context_window"),
        ({"text": "x", "archived": "yes"}, "archived"),
    ):
        with pytest.raises(InvalidInput, match=fragment):
            SearchQuery(**kwargs)


def test_async_memory_has_every_method(db_path, tmp_path) -> None:
    import asyncio

    async def main() -> tuple[float, dict[str, int], int]:
        async with AsyncMemory(db_path, llm=None, track_recalls=False) as m:
            added = await m.add("Ana's favourite colour is teal.", user_id="ana")
            held = await m.retention(added.memories[0])
            copied = await m.migrate_to(tmp_path / "copy.db")
            runner = await m.maintain_in_background(3600, user_id="ana")
            runner.stop()
            return held, copied, runner.passes

    held, copied, passes = asyncio.run(main())
    assert 0 < held <= 1 and copied["memory"] == 1 and passes == 1
