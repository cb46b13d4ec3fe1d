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


def _said(memory: Memory, role: str, text: str, session: str, day: int) -> str:
    message = {"role": role, "content": text, "timestamp": f"2025-03-{day:02d}T10:00:00+00:00"}
    return memory.add([message], user_id="ana", session_id=session).memories[0].id


APPOINTMENT = (
    "Your passport renewal appointment is at the consulate on Avenida da Liberdade at {} "
    "on the second floor, so bring the old passport and two photos."
)


def test_a_later_assistant_turn_restating_an_earlier_one_with_a_value_changed_is_disputed(
    tmp_path: Path,
) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        first = _said(memory, "assistant", APPOINTMENT.format("14:30"), "s1", 3)
        # Two later sessions restate it word for word with another time, as a steered
        # assistant would; saying it twice is not two voices.
        later = [
            _said(memory, "assistant", APPOINTMENT.format("16:30"), f"s{n}", 3 + n) for n in (2, 3)
        ]
        found = {
            h.id: h.flags
            for h in memory.search("When is my passport renewal appointment?", user_id="ana")
        }
        assert found[first] == ()
        for hit in later:
            assert found[hit][0].startswith(
                f"disputed: changes what the assistant said before ({first}"
            )


def test_a_changed_value_the_owner_confirms_is_not_disputed(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        first = _said(memory, "assistant", APPOINTMENT.format("14:30"), "s1", 3)
        _said(
            memory,
            "user",
            "They moved my passport renewal appointment at the consulate on Avenida da "
            "Liberdade to 16:30 on the second floor.",
            "s2",
            5,
        )
        later = _said(memory, "assistant", APPOINTMENT.format("16:30"), "s2", 5)
        found = {
            h.id: h.flags
            for h in memory.search("When is my passport renewal appointment?", user_id="ana")
        }
        assert found[later] == ()
        assert found[first][0].startswith("disputed: contradicts more trusted")


def test_the_copies_of_a_disputed_claim_are_judged_wherever_they_rank(tmp_path: Path) -> None:
    from remem import GuardPolicy
    from remem.retrieval.fusion import Fused
    from remem.retrieval.guarded import ROUNDS, guard_ranking

    chores = ["water the tomatoes", "walk the dog", "sort the post", "fix the gate"]
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        truth = memory.add(
            "The Harbour Cafe on Rua Direita closes its kitchen doors at 9 on weekdays and at 11 on Fridays.",
            user_id="ana",
            session_id="s0",
        ).memories[0]
        owner = [
            memory.add(
                f"On day {n} of the month I {chores[n % 4]} before lunch.",
                user_id="ana",
                session_id=f"d{n}",
            ).memories[0]
            for n in range(9)
        ]
        copies = [
            memory.get(
                _tool(
                    memory,
                    f"Listing {n}: The Harbour Cafe on Rua Direita closes its kitchen doors at 7 on weekdays "
                    "and at 11 on Fridays.",
                    f"list-{n}",
                ),
                user_id="ana",
            )
            for n in range(ROUNDS + 2)
        ]
    # One copy in the answer, the rest just below it: each would rise alone, one per
    # round, and the last would outlast the rounds.
    fused = (
        [Fused(m, 3.0 - n / 100) for n, m in enumerate(owner)]
        + [Fused(m, 2.9 - n / 100) for n, m in enumerate(copies)]
        + [Fused(truth, 1.0)]
    )
    flags = guard_ranking(fused, 10, GuardPolicy())
    assert set(flags) == {m.id for m in copies}
    assert all(f.memory.id in flags for f in fused[:10] if f.memory.origin == "tool")


def test_a_title_before_a_name_is_part_of_the_name(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", extract_facts=False) as memory:
        memory.add(
            [
                {
                    "role": "user",
                    "content": "Shirley Franco's work inspires my approach to leading teams.",
                },
                {"role": "user", "content": "The director of the shelter rang me about the grant."},
            ],
            user_id="ana",
            session_id="s1",
        )
        # "director" is written in lowercase above, so it is no name on its own; before
        # "Franco" it is part of one.
        wrong = _tool(
            memory, "Director Franco's work inspires my approach to leading teams.", "web"
        )
        found = {
            h.id: h.flags for h in memory.search("Whose work inspires how I lead?", user_id="ana")
        }
        assert found[wrong][0].startswith("disputed: contradicts more trusted")
