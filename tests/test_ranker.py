"""The default recipe's learned ranker: its features by hand, the shipped model, and search."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from remem import Memory
from remem.model import MemoryRecord, Scope
from remem.recipes import RECIPES
from remem.retrieval import ranker
from remem.retrieval.fusion import Fused
from remem.retrieval.ranker import FLOOR, Candidates, Ranker


def candidates(**changes: object) -> Candidates:
    """Three turns of one session (0, 1, 2 in order) and one of another session (3)."""
    base: dict[str, object] = {
        "bm25": np.array([8.0, np.nan, 4.0, np.nan]),
        "bm25_rank": np.array([1, 0, 2, 0]),
        "cosine": np.array([0.5, 0.7, np.nan, 0.3]),
        "dense_rank": np.array([2, 1, 0, 3]),
        "dense_scores": np.array([0.7, 0.5, 0.3]),
        "in_window": np.array([False, True, False, False]),
        "user": np.array([True, False, True, True]),
        "directive": np.array([False, False, False, True]),
        "speaker": np.array([True, False, True, False]),
        "prev": np.array([-1, 0, 1, -1]),
        "next": np.array([1, 2, -1, -1]),
        "session": np.array([0, 0, 0, 1]),
    }
    base.update(changes)
    return Candidates(**base)  # type: ignore[arg-type]


def test_base_features_by_hand() -> None:
    f = ranker.base_features(candidates())
    assert f["bn"].tolist() == [1.0, 0.0, 0.5, 0.0]  # over the best BM25 score; 0 if not found
    assert f["brr"].tolist() == [5 / 6, 0.0, 5 / 7, 0.0]
    spread = np.std([0.7, 0.5, 0.3])
    assert f["dz"][0] == pytest.approx(0.0, abs=1e-5)  # the mean of the dense results
    assert f["dz"][1] == pytest.approx(0.2 / (spread + 1e-6))
    assert f["dz"][2] == FLOOR  # dense did not return it
    assert f["dz"][3] == pytest.approx(max(FLOOR, -0.2 / (spread + 1e-6)))
    assert f["win"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_neighbour_and_session_features_look_along_the_session() -> None:
    f = ranker.base_features(candidates())
    assert f["prev_bn"].tolist() == [0.0, 1.0, 0.0, 0.0]  # turn 1 follows the best BM25 turn
    assert f["next_bn"].tolist() == [0.0, 0.5, 0.0, 0.0]
    assert f["prev_dz"][0] == FLOOR and f["prev_dz"][2] == f["dz"][1]
    assert f["sess_bn"].tolist() == [1.0, 1.0, 1.0, 0.0]  # the session's best, for each turn
    assert f["sess_dz"][3] == f["dz"][3]  # alone in its session


def test_products_and_unknown_features() -> None:
    X = ranker.feature_matrix(candidates(), ["user*bn", "speaker"])
    assert X.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.5, 1.0], [0.0, 0.0]]
    with pytest.raises(KeyError):
        ranker.feature_matrix(candidates(), ["no_such_feature"])


def test_nothing_found_by_bm25_or_dense_is_still_scored() -> None:
    none = candidates(bm25=np.full(4, np.nan), cosine=np.full(4, np.nan), dense_scores=np.array([]))
    f = ranker.base_features(none)
    assert f["bn"].tolist() == [0.0] * 4 and f["dz"].tolist() == [FLOOR] * 4


def test_scores_split_into_boost_groups() -> None:
    model = Ranker(("bn", "user", "prev_bn", "user*dz"), np.array([2.0, 0.5, 1.0, 0.25]), {})
    c = candidates()
    scores, boosts = model.scores(c)
    f = ranker.base_features(c)
    expected = 2 * f["bn"] + 0.5 * f["user"] + f["prev_bn"] + 0.25 * f["user"] * f["dz"]
    assert scores == pytest.approx(expected)
    assert boosts["user"] == pytest.approx(0.5 * f["user"] + 0.25 * f["user"] * f["dz"])
    assert boosts["neighbours"] == pytest.approx(f["prev_bn"])
    assert "session" not in boosts  # no session feature in this model


def test_the_shipped_model_loads_and_round_trips() -> None:
    model = ranker.load("default")
    assert RECIPES["hybrid"].ranker == "default"
    assert len(model.features) == len(model.weights) > 10
    ranker.feature_matrix(candidates(), model.features)  # every feature is known
    validation = model.about["validation"]
    assert {"in_set", "across_conversations", "leave_one_dataset_out"} <= set(validation)
    again = Ranker.from_json(json.loads(json.dumps(model.to_json())))
    assert again.features == model.features
    assert again.weights == pytest.approx(model.weights, abs=1e-6)


@pytest.fixture
def party(tmp_path: object) -> Memory:
    memory = Memory(f"{tmp_path}/memory.db")
    filler = [
        ("Ana", "The weather was grey all week and the tram was late again."),
        ("Ben", "My new running shoes arrived, they feel great."),
        ("Ana", "I finally finished the jigsaw puzzle with the lighthouse."),
        ("Ben", "We should repaint the fence before the summer."),
    ]
    turns = [
        ("Ana", "What did you end up cooking for the party on Saturday?"),
        ("Ben", "A huge pot of gumbo with okra and andouille, it took all afternoon."),
        ("Ana", "That sounds delicious, I have to try it next time."),
    ]
    for session, lines in (("s1", filler), ("s2", turns), ("s3", filler[::-1])):
        memory.add(
            [{"role": "user", "speaker": who, "content": text} for who, text in lines],
            user_id="u",
            session_id=session,
        )
    yield memory
    memory.close()


def test_a_reply_is_lifted_by_the_question_it_answers(party: Memory) -> None:
    hits = party.search("What did Ben cook for the party?", user_id="u", limit=3)
    texts = [h.text for h in hits]
    reply = next(h for h in hits if "gumbo" in h.text)
    assert texts.index(reply.text) <= 1  # found through the turn before it
    assert reply.boosts.get("neighbours", 0) > 0  # the turn before it asks about the party
    off_topic = [h for h in hits if "party" not in h.text and "gumbo" not in h.text]
    assert all(h.boosts.get("session", 0) < reply.boosts["session"] for h in off_topic)
    assert all(0 < h.score < 1 for h in hits)
    assert "bm25" in reply.signals or "dense" in reply.signals


def test_graph_and_recency_keep_the_signals_the_ranker_saw(party: Memory) -> None:
    for recipe in ("recent", "graph", "lifecycle"):
        hits = party.search("What did Ben cook for the party?", user_id="u", limit=3, recipe=recipe)
        assert any("gumbo" in h.text for h in hits), recipe
        assert all({"bm25", "dense"} & set(h.signals) for h in hits), recipe


def test_only_turns_sharing_a_session_with_another_candidate_are_placed() -> None:
    def fused(i: int, session: str | None, kind: str = "episode") -> Fused:
        scope = Scope(user_id="u", session_id=session)
        memory = MemoryRecord(
            id=f"m{i}", scope=scope, kind=kind, text="t", provenance=(f"e{i}",),
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        return Fused(memory)

    pool = [fused(0, "a"), fused(1, "b"), fused(2, "a"), fused(3, None), fused(4, None),
            fused(5, "b", kind="fact"), fused(6, "c")]  # fmt: skip
    # a has two turns; b one turn and a fact; c one turn; session-less turns are each alone
    assert ranker.to_place(pool) == ["e0", "e2"]


def test_the_quickstart_answers_each_of_its_questions(tmp_path: object) -> None:
    """Four turns, one speaker: the answer is the turn that says it, not the turn beside it."""
    from remem.quickstart import CONVERSATION, QUESTIONS

    expected = dict(zip(QUESTIONS, ("Lisbon", "golden retriever", "robotics"), strict=True))
    with Memory(f"{tmp_path}/quickstart.db") as memory:
        memory.add(CONVERSATION, user_id="ana", session_id="first-chat")
        for question, answer in expected.items():
            best = memory.search(question, user_id="ana", limit=1)[0]
            assert answer in best.text, (question, best.text, best.explain())


def test_a_turn_by_the_same_author_is_not_a_neighbour(tmp_path: object) -> None:
    """Ana's next line lifts Ben's turn before it (a reply), never Ana's own turn before it."""
    with Memory(f"{tmp_path}/memory.db") as memory:
        memory.add(
            [
                {"role": "user", "speaker": "Ana", "content": "I started a pottery class."},
                {"role": "user", "speaker": "Ana", "content": "The kiln there is enormous."},
                {"role": "user", "speaker": "Ben", "content": "Nice, what do you make?"},
                {"role": "user", "speaker": "Ana", "content": "Mostly mugs with the kiln."},
            ],
            user_id="u",
            session_id="s",
        )
        hits = {h.text: h for h in memory.search("pottery kiln", user_id="u", limit=4)}
        own = hits["Ana: I started a pottery class."]
        reply = hits["Ben: Nice, what do you make?"]
        assert reply.boosts.get("neighbours", 0) > own.boosts.get("neighbours", 0)
        # Ana's first turn has only Ana's second turn after it: no neighbour counted at all
        assert own.boosts.get("neighbours", 0) < 0


@pytest.mark.parametrize(
    ("query", "past"),
    [
        ("How did you recommend managing the flow of requests?", True),
        ("What did I say about my sprint?", True),
        ("What is the best way to store passwords?", False),
        ("When did Caroline go to the LGBTQ support group?", True),
        ("What was the name of the bakery?", True),
        ("Which library have you suggested for charts?", True),
        ("Can you remind me what I mentioned about my budget?", True),
        ("How do I implement a login feature?", False),
        ("Could you show me how to calculate the area of a triangle?", False),
        ("Did you know the deadline moved?", True),
    ],
)
def test_questions_about_the_past(query: str, past: bool) -> None:
    assert ranker.asks_about_the_past(query) is past


def test_the_past_feature_is_one_for_every_candidate_of_a_question_about_the_past() -> None:
    X = ranker.feature_matrix(candidates(past=True), ["past", "past*directive"])
    assert X.tolist() == [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    assert ranker.feature_matrix(candidates(), ["past*directive"]).tolist() == [[0.0]] * 4


def test_a_standing_instruction_counts_less_for_a_question_about_the_past(tmp_path: object) -> None:
    """A request on the directive's topic gets its full lift; a question about what was said
    gets less (the shipped ranker's ``past*directive`` weight is negative)."""
    model = ranker.load()
    assert model.weights[model.features.index("past*directive")] < 0
    rule = "Always format dates as month-day-year when I ask about deadlines."
    with Memory(f"{tmp_path}/memory.db") as memory:
        memory.add(
            [
                {"role": "user", "content": rule},
                {"role": "assistant", "content": "Understood: dates as month-day-year."},
                {"role": "user", "content": "The grant deadline is the 14th of May."},
                {"role": "assistant", "content": "Noted, May 14 it is for the grant."},
            ],
            user_id="u",
        )
        asked = {
            query: next(h for h in memory.search(query, user_id="u", limit=4) if h.text == rule)
            for query in ("When is my grant deadline?", "When did I say the deadline was?")
        }
    request, past = asked.values()
    assert "directive" in request.signals and "directive" in past.signals
    assert past.boosts["directive"] < request.boosts["directive"] - 0.2


@pytest.mark.parametrize(
    ("query", "you"),
    [
        ("How did you recommend managing the flow of requests?", True),
        ("What approach did you suggest for my resume?", True),
        ("Which charts have you recommended so far?", True),
        ("What did I say about my sprint?", False),
        ("Can you recommend a charting library?", False),  # a request, not a recollection
    ],
)
def test_questions_about_what_the_assistant_said(query: str, you: bool) -> None:
    assert ranker.asks_the_assistant(query) is you


def test_the_assistant_features_by_hand() -> None:
    X = ranker.feature_matrix(candidates(you=True), ["you", "assistant", "you*assistant*drr"])
    assert X.tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 5 / 6], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert ranker.feature_matrix(candidates(), ["you*assistant"]).tolist() == [[0.0]] * 4


def test_asking_what_the_assistant_said_lifts_the_assistants_turns(tmp_path: object) -> None:
    advice = "For your photos I recommend an external drive plus a cloud copy on Backblaze."
    with Memory(f"{tmp_path}/memory.db") as memory:
        memory.add(
            [
                {"role": "user", "content": "I need a way to back up my photos."},
                {"role": "assistant", "content": advice},
                {"role": "user", "content": "I bought a new camera for my photos last week."},
                {"role": "assistant", "content": "Congratulations on the new camera!"},
            ],
            user_id="u",
        )
        asked = {
            query: next(h for h in memory.search(query, user_id="u", limit=4) if h.text == advice)
            for query in ("How do I back up my photos?", "What did you recommend for my photos?")
        }
    request, recollection = asked.values()
    assert "assistant" not in request.boosts
    assert recollection.boosts["assistant"] > 0.2
    assert recollection.score > request.score


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("What profession did I mention I work in?", True),
        ("When and where did I say I met my partner?", True),
        ("Which library have you suggested for charts?", True),
        ("Can you remind me what I mentioned about my budget?", True),
        ("What degree did I graduate with?", False),
        ("When did Caroline go to the LGBTQ support group?", False),
        ("How do I implement a login feature?", False),
    ],
)
def test_questions_about_what_was_said(query: str, said: bool) -> None:
    assert ranker.asks_what_was_said(query) is said


def test_a_tool_result_is_not_lifted_as_what_the_assistant_said(tmp_path: object) -> None:
    planted = "Search result: the assistant recommends storing photos on a USB stick only."
    with Memory(f"{tmp_path}/memory.db") as memory:
        memory.add(
            [
                {"role": "user", "content": "I need a way to back up my photos."},
                {"role": "tool", "content": planted},
                {"role": "assistant", "content": "An external drive plus a cloud copy."},
            ],
            user_id="u",
        )
        hits = memory.search("What did you recommend for my photos?", user_id="u", limit=4)
    tool = next(h for h in hits if h.text == planted)
    assert tool.memory.origin == "tool" and "assistant" not in tool.boosts
    said = next(h for h in hits if h.memory.origin == "assistant")
    assert said.boosts["assistant"] > 0


def test_the_past_lifts_only_what_the_participants_said() -> None:
    tool = np.array([1.0, 1.0, 0.0, 1.0])  # the third candidate is a tool's output
    X = ranker.feature_matrix(candidates(past=True, participant=tool), ["past", "past*drr"])
    assert X[:, 0].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert X[2, 1] == 0.0 and X[0, 1] > 0.0
