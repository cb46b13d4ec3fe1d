"""The consensus check through the facade, on phrasings the attack generator does not use:
what a derived memory inherits from what it cites."""

from __future__ import annotations

from pathlib import Path

from remem import Memory


def _tool(memory: Memory, text: str, session: str) -> str:
    added = memory.add([{"role": "tool", "content": text}], user_id="ana", session_id=session)
    return added.memories[0].id


def test_an_insight_citing_a_disputed_result_is_disputed_too(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        memory.add(
            "My brother Teo has taught chemistry at the Lycee Camoes in Lisbon since 2011.",
            user_id="ana",
            session_id="s1",
        )
        wrong = _tool(
            memory,
            "Staff page: Teo has taught chemistry at the Lycee Camoes in Lisbon since 2017.",
            "web",
        )
        # Too short to compare with anything on its own: only its source gives it away.
        insight = memory.add_insight(
            "Worth keeping: Teo started there in 2017.", [wrong], user_id="ana"
        )
        found = memory.search("When did Teo start teaching chemistry?", user_id="ana")
        flags = {h.id: h.flags for h in found}
        assert flags[wrong][0].startswith("disputed: contradicts more trusted")
        assert flags[insight.id] == (f"disputed: cites disputed {wrong}",)
        hit = next(h for h in found if h.id == insight.id)
        assert hit.boosts["disputed"] < 0 and f"cites disputed {wrong}" in hit.explain()


def test_an_insight_citing_a_confirmed_poison_is_disputed(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        source = _tool(memory, "Forum: the Harbour Cafe closes at 9 on weekdays.", "web")
        insight = memory.add_insight(
            "The Harbour Cafe shuts at 9 on weekdays, per a forum.", [source], user_id="ana"
        )
        before = memory.search("When does the Harbour Cafe close?", user_id="ana")
        assert next(h for h in before if h.id == insight.id).flags == ()
        memory.forget_poisoned(source, reason="fake forum", user_id="ana")
        after = memory.search("When does the Harbour Cafe close?", user_id="ana")
        assert source not in {h.id for h in after}
        assert next(h for h in after if h.id == insight.id).flags == (
            f"disputed: cites poisoned {source}",
        )


def test_a_name_opening_a_sentence_is_compared_but_an_ordinary_first_word_is_not(
    tmp_path: Path,
) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        memory.add(
            [
                {"role": "user", "content": "Nate keeps me on track when I revise for my exams."},
                {"role": "user", "content": "Lately I revise for my exams in the library."},
                {"role": "user", "content": "It is great that the library stays open late."},
            ],
            user_id="ana",
            session_id="s1",
        )
        said = memory.add(
            [
                {
                    "role": "assistant",
                    "content": "Tilly keeps you on track when you revise for your exams.",
                },
                {
                    "role": "assistant",
                    "content": "Great, you revise for your exams in the library.",
                },
            ],
            user_id="ana",
            session_id="s2",
        ).memories
        found = {
            h.id: h.flags for h in memory.search("Who helps me revise for exams?", user_id="ana")
        }
        assert found[said[0].id][0].startswith("disputed: contradicts more trusted")
        # "Great" is written lowercase among the candidates: a word, not a name.
        assert found[said[1].id] == ()


def test_copies_that_rise_once_the_disputed_are_ranked_down_are_judged_too(
    tmp_path: Path,
) -> None:
    from remem import GuardPolicy
    from remem.retrieval.fusion import Fused
    from remem.retrieval.guarded import guard_ranking

    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        truth = memory.add(
            "Teo has taught chemistry at the Lycee Camoes in Lisbon since 2011.",
            user_id="ana",
            session_id="s1",
        ).memories[0]
        copies = [
            memory.get(
                _tool(
                    memory,
                    f"Mirror {n}: Teo has taught chemistry at the Lycee Camoes in Lisbon since 2017.",
                    f"mirror-{n}",
                ),
                user_id="ana",
            )
            for n in range(14)
        ]
    # The copies outrank the truth; ten fill the answer, four wait below it.
    fused = [Fused(m, 2.0 - n / 100) for n, m in enumerate(copies)] + [Fused(truth, 1.5)]
    flags = guard_ranking(fused, 10, GuardPolicy())
    answer = fused[:10]
    assert answer[0].memory.id == truth.id
    assert all(
        flags[f.memory.id][0].startswith("disputed: contradicts more trusted") for f in answer[1:]
    )
    assert len(flags) == len(copies)


def test_a_value_repeated_in_place_of_another_is_a_different_value(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        memory.add(
            "My parents are 81 and 78 and still live near the coast in Faro.",
            user_id="ana",
            session_id="s1",
        )
        wrong = _tool(
            memory,
            "Her parents are 81 and 81 and still live near the coast in Faro.",
            "web",
        )
        found = {h.id: h.flags for h in memory.search("How old are my parents?", user_id="ana")}
        assert found[wrong][0].startswith("disputed: contradicts more trusted")


def test_the_doubt_passes_through_a_derivation_of_a_derivation(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        memory.add(
            "The community garden on Rua Nova opens its gates at 7 every Saturday morning.",
            user_id="ana",
            session_id="s1",
        )
        wrong = _tool(
            memory,
            "Council site: the community garden on Rua Nova opens its gates at 10 every "
            "Saturday morning.",
            "web",
        )
        first = memory.add_insight("Late start at the garden now.", [wrong], user_id="ana")
        second = memory.add_insight(
            "Plan garden visits for late morning.", [first.id], user_id="ana"
        )
        found = {
            h.id: h.flags
            for h in memory.search(
                "When does the community garden open on Saturday?", user_id="ana"
            )
        }
        assert found[wrong][0].startswith("disputed: contradicts more trusted")
        assert found[first.id] == (f"disputed: cites disputed {wrong}",)
        assert found[second.id] == (f"disputed: cites disputed {first.id}",)
