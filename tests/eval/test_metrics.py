"""Metric functions on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from remem.eval.datasets import Question
from remem.eval.metrics import (
    KS,
    aggregate,
    below_best_signal,
    dcg,
    dedupe,
    evidence_recall,
    lme_turn2session,
    message_recall,
    ndcg_any,
    recall_all,
    recall_any,
    score_question,
    session_ranking,
    session_recall_any,
)


def test_ks_and_dedupe() -> None:
    assert KS == (1, 3, 5, 10, 25, 50)
    assert dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    assert dedupe([]) == []


def test_evidence_recall_counts_distinct_ids() -> None:
    ranked = ["a", "b", "a", "c"]
    assert evidence_recall(ranked, {"a", "c"}, 1) == 0.5
    assert evidence_recall(ranked, {"a", "c"}, 2) == 0.5
    # without dedupe the top 3 would be a, b, a -> 0.5
    assert evidence_recall(ranked, {"a", "c"}, 3) == 1.0
    assert evidence_recall(ranked, ["a", "a", "c", "z"], 50) == pytest.approx(2 / 3)
    assert evidence_recall(ranked, [], 5) == 1.0  # LoCoMo: no evidence -> 1
    assert evidence_recall([], {"a"}, 5) == 0.0
    assert evidence_recall(ranked, {"a"}, 0) == 0.0
    with pytest.raises(ValueError):
        evidence_recall(ranked, {"a"}, -1)


def test_message_recall_and_session_recall_any() -> None:
    ranked = ["3", "3", "9", "4", "1"]
    assert message_recall(ranked, ["1", "4"], 3) == 0.5  # distinct top 3: 3, 9, 4
    assert message_recall(ranked, ["1", "4"], 4) == 1.0
    assert message_recall(ranked, [], 5) is None  # excluded from averages
    assert session_recall_any(["s2", "s0"], {"s0", "s5"}, 1) == 0.0
    assert session_recall_any(["s2", "s0"], {"s0", "s5"}, 2) == 1.0
    assert session_recall_any(["s2"], set(), 2) is None


def test_recall_any_all_official_edge_cases() -> None:
    ranked = ["x", "g1", "x", "y", "g2"]
    assert recall_any(ranked, ["g1", "g2"], 1) == 0.0
    assert recall_any(ranked, ["g1", "g2"], 2) == 1.0
    assert recall_all(ranked, ["g1", "g2"], 3) == 0.0  # distinct top 3: x, g1, y
    assert recall_all(ranked, ["g1", "g2"], 4) == 1.0
    # official any([]) / all([])
    assert recall_any(ranked, [], 5) == 0.0
    assert recall_all(ranked, [], 5) == 1.0


def test_dcg_official_formula() -> None:
    # rel[0] + rel[1]/log2(2) + rel[2]/log2(3) + rel[3]/log2(4)
    assert dcg([1, 1, 1, 1], 4) == pytest.approx(1 + 1 + 1 / math.log2(3) + 0.5)
    assert dcg([0, 1], 1) == 0.0
    assert dcg([], 5) == 0.0


def test_ndcg_any_by_hand() -> None:
    ranked = ["x", "g1", "y", "g2"]
    gold = {"g1", "g2"}
    # actual = 0 + 1/log2(2) + 0 + 1/log2(4) = 1.5 ; ideal = 1 + 1/log2(2) = 2
    assert ndcg_any(ranked, gold, 4) == pytest.approx(0.75)
    # k=2: actual = 1 ; ideal = 2
    assert ndcg_any(ranked, gold, 2) == pytest.approx(0.5)
    # a single gold at rank 3: 1/log2(3)
    assert ndcg_any(["x", "y", "g"], {"g"}, 3) == pytest.approx(1 / math.log2(3))
    assert ndcg_any(["x", "y", "g"], {"g"}, 3) == pytest.approx(0.6309297535714575)
    # duplicates removed before ranking: x, g  -> 1/log2(2) = 1 over ideal 1
    assert ndcg_any(["x", "x", "g"], {"g"}, 2) == pytest.approx(1.0)
    # ideal counts only gold ids present in the corpus
    assert ndcg_any(["g1"], gold, 5, corpus=["g1", "x"]) == pytest.approx(1.0)
    assert ndcg_any(["g1"], gold, 5) == pytest.approx(0.5)
    assert ndcg_any(ranked, set(), 5) == 0.0


def test_lme_turn2session_by_hand() -> None:
    session_of = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    gold = {"a1"}  # has_answer turn of answer session A
    ranked = ["a2", "b1", "a1", "b2"]
    # keys: (A, non-gold) (B, -) (A, gold) (B, -): a non-gold turn of A does not recall A
    assert lme_turn2session(ranked, gold, session_of, 1) == (0.0, 0.0, 0.0)
    assert lme_turn2session(ranked, gold, session_of, 2) == (0.0, 0.0, 0.0)
    r_any, r_all, nd = lme_turn2session(ranked, gold, session_of, 3)
    assert (r_any, r_all) == (1.0, 1.0)
    assert nd == pytest.approx(1 / math.log2(3))
    # k beyond the number of distinct keys: the cut-off covers the whole ranking
    assert lme_turn2session(ranked, gold, session_of, 10)[0] == 1.0
    # cut-off grows past k until k distinct keys: b1 b2 b1 -> (B) only, then a1
    r_any, _, nd = lme_turn2session(["b1", "b2", "a1"], gold, session_of, 2)
    assert r_any == 1.0
    assert nd == pytest.approx(1 / math.log2(3))
    # callable mapping works too
    assert lme_turn2session(ranked, gold, session_of.__getitem__, 3)[0] == 1.0


def test_session_ranking() -> None:
    session_of = {"t1": "s1", "t2": "s2", "t3": "s1"}
    assert session_ranking(["t3", "t2", "zz", "t1"], session_of) == ["s1", "s2"]
    assert session_ranking(["t2", "t1"], session_of.get) == ["s2", "s1"]


def _q(**kw: object) -> Question:
    base: dict = {
        "id": "q",
        "text": "?",
        "answer": "a",
        "category": "c",
        "question_date": None,
        "gold_turn_ids": (),
        "gold_session_ids": (),
        "abstention": False,
    }
    base.update(kw)
    return Question(**base)


def test_score_question_per_dataset() -> None:
    session_of = {"D1:1": "D1", "D1:2": "D1", "D2:1": "D2"}
    row = score_question(
        "locomo",
        _q(gold_turn_ids=("D2:1",), category="temporal"),
        ["D1:1", "D1:1", "D2:1"],
        session_of,
        ks=(1, 2),
    )
    assert row == {
        "id": "q",
        "category": "temporal",
        "abstention": False,
        "evidence_recall@1": 0.0,
        "evidence_recall@2": 1.0,
    }

    lme_of = {"s1:1": "s1", "s1:2": "s1", "s2:1": "s2"}
    q = _q(gold_turn_ids=("s2:1",), gold_session_ids=("s2",))
    row = score_question("longmemeval", q, ["s1:1", "s2:1"], lme_of, ks=(1, 2))
    assert row["turn_recall_any@1"] == 0.0 and row["turn_recall_any@2"] == 1.0
    assert row["turn_ndcg_any@2"] == pytest.approx(1.0)  # rank 2 is undiscounted
    assert row["session_recall_all@2"] == 1.0
    row = score_question("longmemeval", q, [], lme_of, ks=(1,), ranked_sessions=["s2", "s1"])
    assert row["session_recall_any@1"] == 1.0 and row["session_ndcg_any@1"] == 1.0
    row = score_question(
        "longmemeval", _q(abstention=True, gold_turn_ids=("s2:1",)), ["s2:1"], lme_of, ks=(1,)
    )
    assert row["turn_recall_any@1"] is None and row["session_ndcg_any@1"] is None

    row = score_question("beam", _q(gold_turn_ids=("4", "6")), ["6", "1"], {}, ks=(1,))
    assert row["message_recall@1"] == 0.5
    assert score_question("beam", _q(), ["6"], {}, ks=(1,))["message_recall@1"] is None

    halu_of = {"s0:0": "s0", "s0:1": "s0", "s1:0": "s1"}
    q = _q(gold_session_ids=("s1",))
    row = score_question("halumem", q, ["s0:1", "s0:0", "s1:0"], halu_of, ks=(1, 2))
    assert (row["session_recall_any@1"], row["session_recall_any@2"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="unknown dataset"):
        score_question("nope", q, [], {})


def test_aggregate_overall_and_by_category() -> None:
    rows = [
        {"id": "1", "category": "temporal", "abstention": False, "r@1": 1.0, "r@5": 1.0},
        {"id": "2", "category": "temporal", "abstention": False, "r@1": 0.0, "r@5": 0.5},
        {"id": "3", "category": "multi-hop", "abstention": True, "r@1": None, "r@5": None},
        {"id": "4", "category": "multi-hop", "r@1": 0.5, "r@5": 1.0, "note": "text"},
    ]
    out = aggregate(rows)
    assert out["questions"] == 4
    assert out["overall"] == {"r@1": pytest.approx(0.5), "r@5": pytest.approx(2.5 / 3)}
    assert out["n"] == {"r@1": 3, "r@5": 3}
    assert out["by_category"]["temporal"] == {"r@1": 0.5, "r@5": 0.75}
    assert out["by_category"]["multi-hop"] == {"r@1": 0.5, "r@5": 1.0}
    assert out["n_by_category"]["multi-hop"] == {"r@1": 1, "r@5": 1}
    assert list(out["by_category"]) == ["multi-hop", "temporal"]
    assert aggregate([]) == {
        "overall": {},
        "n": {},
        "by_category": {},
        "n_by_category": {},
        "questions": 0,
    }


def _systems(**scores: tuple[float, float]) -> dict:
    return {
        name: {"overall": {"evidence_recall@5": at5, "evidence_recall@10": at10}}
        for name, (at5, at10) in scores.items()
    }


def test_below_best_signal_compares_with_the_best_signal_at_each_k() -> None:
    systems = _systems(remem=(0.60, 0.70), bm25=(0.604, 0.72), dense=(0.50, 0.71))
    checks = below_best_signal(systems, "evidence_recall")
    assert [(c["k"], c["signal"], c["ok"]) for c in checks] == [
        (5, "bm25", True),
        (10, "bm25", False),
    ]
    assert checks[0]["margin"] == pytest.approx(-0.004)  # within the 0.005 tolerance
    assert checks[1]["best"] == 0.72 and checks[1]["default"] == 0.70


def test_below_best_signal_needs_the_default_and_a_signal() -> None:
    assert below_best_signal(_systems(bm25=(0.5, 0.6)), "evidence_recall") == []
    assert below_best_signal(_systems(remem=(0.5, 0.6)), "evidence_recall") == []
    assert below_best_signal(_systems(remem=(0.5, 0.6), bm25=(0.1, 0.2)), "message_recall") == []
