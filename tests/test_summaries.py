"""Session and running summaries, the profile and insights, offline (extractive)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from remem import InvalidInput, Memory, NotFound, ProviderError
from remem.pipeline import summaries
from remem.text.sentences import sentences
from remem.text.tokens import count_tokens

T0 = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

TRIP = [
    ("user", "I am planning a trip to Japan in October with my partner."),
    ("assistant", "Great! Do you want to see Tokyo, Kyoto or both?"),
    ("user", "Kyoto for the temples. We love quiet temples and old gardens."),
    ("assistant", "Kyoto in October has mild weather and autumn colours begin."),
    ("user", "Our budget for the Japan trip is about 3000 euros."),
    ("assistant", "That budget works for ten days if you use trains."),
    ("user", "ok"),
]
WORK = [
    ("user", "I work as a nurse at Santa Maria hospital in Lisbon."),
    ("assistant", "Nursing is demanding. How are your shifts?"),
    ("user", "Night shifts twice a week, which makes sleep hard."),
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mem(tmp_path: Path, clock: Clock) -> Iterator[Memory]:
    with Memory(tmp_path / "m.db", clock=clock) as m:
        yield m


def add_session(mem: Memory, session: str, turns: list[tuple[str, str]], when: datetime) -> None:
    mem.add(
        [
            {"role": role, "content": text, "timestamp": when + timedelta(minutes=i)}
            for i, (role, text) in enumerate(turns)
        ],
        user_id="ana",
        session_id=session,
    )


def test_extractive_session_summary_keeps_central_sentences_within_budget(
    mem: Memory, clock: Clock
) -> None:
    add_session(mem, "trip", TRIP, T0)
    turns = mem.list(user_id="ana", kinds="episode").items
    draft = summaries.session_summary(turns, budget_tokens=40)
    assert draft is not None and draft.method == "extractive"
    assert count_tokens(draft.text) <= 40
    assert "Japan" in draft.text  # the session's central topic
    assert "ok" not in draft.text.split()  # too short to say anything
    cited = {m.id for m in draft.sources}
    assert cited <= {m.id for m in turns}
    assert all(any(s in m.text for m in draft.sources) for s in sentences(draft.text))


def test_summarize_writes_session_and_running_summaries_once(mem: Memory, clock: Clock) -> None:
    add_session(mem, "trip", TRIP, T0)
    add_session(mem, "work", WORK, T0 + 3 * DAY)
    clock.now = T0 + 4 * DAY
    written = mem.summarize(user_id="ana")
    kinds = sorted((m.metadata["summary"], m.scope.session_id) for m in written)
    assert kinds == [("running", None), ("session", "trip"), ("session", "work")]
    trip = next(m for m in written if m.scope.session_id == "trip")
    assert trip.kind == "summary" and trip.layer == "long"
    assert trip.valid_from == T0 and trip.metadata["turns"] == len(TRIP)
    # provenance: the turns of the sentences it kept; sources: their memory ids
    sources = [mem.get(i) for i in trip.metadata["sources"]]
    assert all(s.scope.session_id == "trip" for s in sources)
    assert set(trip.provenance) == {e for s in sources for e in s.provenance}
    running = next(m for m in written if m.metadata["summary"] == "running")
    assert "2026-05-02:" in running.text and "2026-05-05:" in running.text
    assert set(running.metadata["sources"]) <= {m.id for m in written}
    # nothing changed: nothing is rewritten
    assert mem.summarize(user_id="ana") == []
    # a new turn in a session: that session and the running summary get a new version
    clock.now += DAY
    mem.add(
        "Also I want to visit Nara to see the deer in Japan.",
        user_id="ana",
        session_id="trip",
        timestamp=T0 + 10 * timedelta(minutes=1),
    )
    again = mem.summarize(user_id="ana", session_id="trip")
    assert [m.scope.session_id for m in again if m.metadata["summary"] == "session"] == ["trip"]
    assert next(m for m in again if m.scope.session_id == "trip").version == 2
    assert [e.op for e in mem.history(trip.id)] == ["add", "update"]


def test_summaries_are_found_by_search(mem: Memory) -> None:
    add_session(mem, "trip", TRIP, T0)
    mem.summarize(user_id="ana")
    hits = mem.search("Japan trip plans", user_id="ana", kinds="summary")
    assert hits[0].memory.metadata["summary"] in ("session", "running")


def test_profile_lists_stable_facts_and_recent_changes_and_follows_invalidation(
    mem: Memory, clock: Clock
) -> None:
    home = mem.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
    job = mem.add("Ana works as a nurse", user_id="ana", kind="fact").memories[0]
    add_session(mem, "work", WORK, T0)
    clock.now = T0 + 60 * DAY
    profile = mem.profile(user_id="ana")
    assert profile.kind == "profile" and profile.pinned and profile.layer == "long"
    items = {i["memory_id"]: i for i in profile.metadata["items"]}
    assert items[home.id]["section"] == "stable" and items[job.id]["section"] == "stable"
    assert f"[{home.id}] Ana lives in Lisbon (since 2026-05-02)" in profile.text
    statement = next(i for i in items.values() if i["change"] == "statement")
    assert "nurse at Santa Maria" in statement["text"]
    assert mem.profile(user_id="ana").version == 1  # stored, not rebuilt
    # the fact changes: the profile follows by itself, with what it was
    clock.now += DAY
    mem.update(home.id, "Ana lives in Porto", user_id="ana")
    profile = mem.profile(user_id="ana")
    assert profile.version == 2
    changed = next(i for i in profile.metadata["items"] if i["memory_id"] == home.id)
    assert (changed["section"], changed["change"], changed["previous"]) == (
        "recent",
        "updated",
        "Ana lives in Lisbon",
    )
    assert "changed 2026-07-02: Ana lives in Porto (was: Ana lives in Lisbon)" in profile.text
    # the job fact is invalidated (its validity ended): a recent change, then it drops out
    clock.now += DAY
    mem.update(job.id, valid_to=clock.now - timedelta(hours=1), user_id="ana")
    ended = next(
        i for i in mem.profile(user_id="ana").metadata["items"] if i["memory_id"] == job.id
    )
    assert ended["change"] == "ended" and ended["section"] == "recent"
    clock.now += 45 * DAY
    refreshed = mem.profile(user_id="ana", refresh=True)
    assert job.id not in {i["memory_id"] for i in refreshed.metadata["items"]}
    # deleting a fact removes it at once
    mem.delete(home.id, user_id="ana")
    assert home.id not in {i["memory_id"] for i in mem.profile(user_id="ana").metadata["items"]}
    with pytest.raises(InvalidInput, match="user_id or agent_id"):
        mem.profile()


def test_insights_cite_the_memories_they_come_from(mem: Memory) -> None:
    add_session(mem, "trip", TRIP, T0)
    turns = mem.list(user_id="ana", kinds="episode").items
    sources = [turns[0].id, turns[2].id]
    insight = mem.add_insight(
        "Ana plans trips around quiet, historic places.", sources, user_id="ana"
    )
    assert insight.kind == "insight" and insight.metadata["sources"] == sources
    assert set(insight.provenance) == set(turns[0].provenance) | set(turns[2].provenance)
    assert mem.search("what kind of places does Ana like", user_id="ana", kinds="insight")[
        0
    ].id == (insight.id)
    with pytest.raises(InvalidInput, match="at least one source"):
        mem.add_insight("Unfounded", [], user_id="ana")
    with pytest.raises(NotFound):
        mem.add_insight("Unfounded", ["mem_nope"], user_id="ana")
    before = mem.list(user_id="ana", kinds="insight").total
    with pytest.raises(NotFound):
        mem.add_insight("Other user's memory", [turns[0].id], user_id="bo")
    assert mem.list(user_id="ana", kinds="insight").total == before


class _FailsOnProfiles:
    """The real embedder, except that embedding a profile fails (a provider outage)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id, self.dimension = inner.model_id, inner.dimension

    def embed(self, texts: Any) -> Any:
        if any(t.startswith("Profile of") for t in texts):
            raise ProviderError("embedding service unavailable")
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)


def test_a_fact_change_and_its_profile_refresh_commit_together(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Memory(path) as mem:
        fact = mem.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
        mem.profile(user_id="ana")
        embedder = mem.embedder
    with Memory(path, embedder=_FailsOnProfiles(embedder)) as broken:
        with pytest.raises(ProviderError):
            broken.update(fact.id, "Ana lives in Porto", user_id="ana")
        assert broken.get(fact.id).text == "Ana lives in Lisbon"  # nothing half-done
        assert [e.op for e in broken.history(fact.id)] == ["add"]


def test_delete_all_keeps_the_profile_true(mem: Memory, clock: Clock) -> None:
    home = mem.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
    assert f"[{home.id}]" in mem.profile(user_id="ana").text
    clock.now = T0 + DAY
    assert mem.delete_all(user_id="ana") >= 1
    assert mem.history(home.id)[-1].at == clock.now  # the Memory's clock, not the wall clock
    assert f"[{home.id}]" not in mem.profile(user_id="ana").text
