"""The context builder and its token counter: cited lines, dates, and a budget never exceeded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remem import InvalidInput, Memory
from remem.retrieval.context import focus
from remem.text.tokens import clip, count_tokens

T0 = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
CITE = re.compile(r"^- \[(mem_[0-9a-z]+)\] ")

LONG_ANSWER = " ".join(
    f"Point {i}: the Lisbon apartment search needs a careful look at neighbourhood {i}, "
    f"its rent, its transport and its noise at night."
    for i in range(40)
)


def test_token_counter_follows_its_documented_rule() -> None:
    assert count_tokens("") == 0 and count_tokens("   \n") == 0
    assert count_tokens("the cat sat") == 3
    assert count_tokens("internationalisation") == 4  # 20 letters: 1 + 19 // 6
    assert count_tokens("in 2026, 12345 people.") == 1 + 2 + 1 + 2 + 1 + 1
    assert count_tokens("東京") == 2  # one per non-Latin character
    assert count_tokens("[mem_01abc]") == 6  # [ mem _ 01 abc ]


@given(st.text(max_size=400), st.integers(min_value=0, max_value=60))
def test_clip_never_exceeds_and_keeps_a_prefix(text: str, budget: int) -> None:
    clipped = clip(text, budget)
    assert count_tokens(clipped) <= budget
    if count_tokens(text) <= budget:
        assert clipped == text
    else:
        assert text.startswith(clipped.removesuffix("…").rstrip())


@given(st.integers(min_value=1, max_value=120))
def test_focus_keeps_the_sentences_about_the_query(budget: int) -> None:
    text = "We talked about cats. The rent in Alfama is 1200 euros. Dogs are fine too."
    picked = focus(text, {"rent", "alfama"}, budget)
    assert count_tokens(picked) <= budget
    if budget >= count_tokens("The rent in Alfama is 1200 euros.") + 1:
        assert "rent in Alfama" in picked


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def lisbon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Memory]:
    clock = Clock()
    with Memory(tmp_path_factory.mktemp("ctx") / "m.db", clock=clock) as mem:
        mem.add("Ana lives in Lisbon", user_id="ana", kind="fact", timestamp=T0)
        mem.add("Ana's budget for rent is 1200 euros a month", user_id="ana", kind="fact")
        for day, (question, answer) in enumerate(
            [
                ("I need an apartment in Lisbon, where should I look?", LONG_ANSWER),
                ("I adopted a dog called Max last week.", "Max will love the parks."),
                ("My sister Rita visits from Porto in June.", "Lovely, plan a day trip."),
            ]
        ):
            when = T0 + timedelta(days=day)
            mem.add(
                [
                    {"role": "user", "speaker": "Ana", "content": question, "timestamp": when},
                    {"role": "assistant", "content": answer, "timestamp": when},
                ],
                user_id="ana",
                session_id=f"s{day}",
            )
        clock.now = T0 + timedelta(days=5)
        mem.summarize(user_id="ana")
        yield mem


def test_context_mixes_profile_facts_and_dated_turns_each_citing_its_memory(
    lisbon: Memory,
) -> None:
    block = lisbon.context("Where is Ana looking for an apartment?", user_id="ana")
    assert block.tokens == count_tokens(block.text) <= block.budget_tokens == 1000
    sections = {line.section for line in block.lines}
    assert {"profile", "fact", "episode"} <= sections
    assert "## About the user" in block.text and "## Relevant conversation" in block.text
    for line in block.text.splitlines():
        if line.startswith("- "):
            cited = CITE.match(line)
            assert cited, line
            assert lisbon.get(cited.group(1)) is not None
    turns = [x for x in block.lines if x.section == "episode"]
    assert all(re.search(r"\] 2026-05-0\d, (user|assistant) turn", x.text) for x in turns)
    # the long answer is cut down to its sentences about the query, not dropped
    long_line = next(x for x in turns if "Point" in x.text)
    assert long_line.tokens <= max(48, 1000 // 6)
    assert set(block.cited) == {x.memory_id for x in block.lines}


@settings(max_examples=40, deadline=None)
@given(
    budget=st.integers(min_value=16, max_value=1500),
    query=st.sampled_from(
        ["apartment in Lisbon", "dog", "sister visit", "rent budget", "what happened in June"]
    ),
)
def test_the_budget_is_never_exceeded(lisbon: Memory, budget: int, query: str) -> None:
    block = lisbon.context(query, user_id="ana", budget_tokens=budget)
    assert count_tokens(block.text) == block.tokens <= budget
    assert sum(x.tokens for x in block.lines) <= block.tokens


def test_context_counts_only_cited_memories_as_recalled(tmp_path: Path) -> None:
    with Memory(tmp_path / "r.db", clock=Clock()) as mem:
        for i in range(8):
            mem.add(f"Note {i} about the garden: roses need water on day {i}.", user_id="u")
        block = mem.context("garden roses", user_id="u", budget_tokens=100, profile=False)
        cited = set(block.cited)
        assert 0 < len(cited) < 8
        counts = {m.id: m.access_count for m in mem.list(user_id="u", kinds="episode").items}
        assert {i for i, n in counts.items() if n} == cited


def test_context_rejects_bad_budgets(lisbon: Memory) -> None:
    with pytest.raises(InvalidInput, match="at least 16"):
        lisbon.context("x", user_id="ana", budget_tokens=5)
    with pytest.raises(InvalidInput, match="integer"):
        lisbon.context("x", user_id="ana", budget_tokens=10.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="recipe"):
        lisbon.context("x", user_id="ana", recipe="nope")


def test_context_before_a_time_leaves_out_what_was_learned_later(lisbon: Memory) -> None:
    cutoff = T0 + timedelta(days=1)
    block = lisbon.context("Ana", user_id="ana", before=cutoff, budget_tokens=1500)
    assert all(x.when is None or x.when < cutoff for x in block.lines)
    assert not any(x.section == "overview" for x in block.lines)  # written after the cutoff
    later = lisbon.context("Ana", user_id="ana", budget_tokens=1500)
    assert any(x.section == "overview" for x in later.lines)


@pytest.mark.parametrize(
    "memory_id", ["mem_aaaaaaaaaaaaaaaaaaaaaaaaaa", "mem_1a2b3c4d5e6f7g8h9i0j1k2l3m"]
)
def test_the_overview_shows_a_line_whatever_its_id_costs(memory_id: str) -> None:
    """Ids are random and cost 2 to 27 tokens: the overview's share must not depend on them."""
    from remem.model import MemoryRecord, ProfileItem, Scope
    from remem.retrieval.context import build_context

    at = datetime(2026, 1, 1, tzinfo=UTC)
    overview = MemoryRecord(
        id=memory_id, scope=Scope(user_id="ana"), kind="summary", recorded_at=at,
        text="2026-01-01: Our budget for the Japan trip is 3000 euros.",
    )  # fmt: skip
    profile = [
        ProfileItem(section="recent", text="I am planning a trip to Japan.", memory_id=memory_id,
                    since=at),
    ]  # fmt: skip
    block = build_context("Japan trip budget", 400, profile=profile, overview=overview)
    assert block.tokens <= 400
    assert [line.section for line in block.lines] == ["profile", "overview"]
    assert count_tokens(block.lines[1].text.split(": ", 1)[1]) >= 8  # words, not just the id
