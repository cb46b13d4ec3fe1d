"""Retrieval metrics over ranked id lists, as the benchmarks' official scripts define them.

Every metric takes ``ranked`` (best first) and ``gold`` ids and first applies `dedupe`:
an id that appears several times in a ranking (e.g. a turn reached both directly and
through its session summary) counts once, at its first position.

Return value ``None`` means "not applicable": the question is excluded from averages
(`aggregate` skips ``None``).

- LoCoMo (``task_eval/evaluation.py``): `evidence_recall` = |gold ∩ top-k| / |gold|;
  a question without evidence scores 1.0 (the official script appends 1).
- LongMemEval (``src/retrieval/eval_utils.py``): `recall_any`, `recall_all`,
  `ndcg_any`, and `lme_turn2session` for session-level scores from a turn ranking.
  The official averages skip abstention questions (``'_abs' in question_id``);
  `score_question` returns ``None`` for them.
- BEAM: `message_recall` = |gold ∩ top-k| / |gold| over ``source_chat_ids``; ``None``
  when a question has no source ids (abstention and a few summarization/preference
  questions), so they are excluded from the average.
- HaluMem: `session_recall_any` = 1 if any gold session is in the top k; ``None``
  when there is no gold session (Memory Boundary questions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from remem.eval.datasets import Question

__all__ = [
    "HEADLINE",
    "KS",
    "SIGNAL_TOLERANCE",
    "aggregate",
    "below_best_signal",
    "dcg",
    "dedupe",
    "evidence_recall",
    "lme_turn2session",
    "message_recall",
    "ndcg_any",
    "recall_all",
    "recall_any",
    "score_question",
    "session_ranking",
    "session_recall_any",
]

KS: tuple[int, ...] = (1, 3, 5, 10, 25, 50)

#: The headline metric of each benchmark (others are in the JSON).
HEADLINE: dict[str, tuple[str, ...]] = {
    "locomo": ("evidence_recall",),
    "longmemeval": ("session_recall_any", "turn_recall_any", "session_ndcg_any"),
    "beam": ("message_recall",),
    "halumem": ("session_recall_any",),
}


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Distinct ids in order of first appearance."""
    return list(dict.fromkeys(ranked))


def _top(ranked: Sequence[str], k: int) -> list[str]:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return dedupe(ranked)[:k]


# ------------------------------------------------------------------ LoCoMo / BEAM


def evidence_recall(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """LoCoMo evidence recall@k: |gold ∩ top-k| / |gold|; empty gold -> 1.0."""
    gold_set = set(gold)
    if not gold_set:
        return 1.0
    return len(gold_set.intersection(_top(ranked, k))) / len(gold_set)


def message_recall(ranked: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """BEAM message recall@k: fraction of ``source_chat_ids`` in the top k.

    Returns ``None`` for a question without source ids (abstention questions and a
    few others): such questions are excluded from the average, not scored 0 or 1.
    """
    gold_set = set(gold)
    if not gold_set:
        return None
    return len(gold_set.intersection(_top(ranked, k))) / len(gold_set)


def session_recall_any(ranked: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """HaluMem session recall@k: 1.0 if any gold session is in the top k, else 0.0.

    ``ranked`` are session ids (see `session_ranking`).  ``None`` without gold sessions.
    """
    gold_set = set(gold)
    if not gold_set:
        return None
    return float(any(sid in gold_set for sid in _top(ranked, k)))


# -------------------------------------------------------------------- LongMemEval


def recall_any(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """LongMemEval recall_any@k: 1.0 if any gold id is in the top k.

    As official (``any`` over an empty list): empty gold -> 0.0.
    """
    top = set(_top(ranked, k))
    return float(any(doc in top for doc in gold))


def recall_all(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """LongMemEval recall_all@k: 1.0 if every gold id is in the top k.

    As official (``all`` over an empty list): empty gold -> 1.0.
    """
    top = set(_top(ranked, k))
    return float(all(doc in top for doc in gold))


def dcg(relevances: Sequence[float], k: int) -> float:
    """Official LongMemEval DCG: ``rel[0] + sum(rel[i] / log2(i + 1) for i >= 1)``.

    Note positions 1 and 2 are both undiscounted (``log2(2) == 1``); this is the
    formula in ``eval_utils.dcg``, not the ``log2(i + 2)`` textbook variant.
    """
    rels = list(relevances)[:k]
    if not rels:
        return 0.0
    return float(rels[0]) + sum(float(r) / math.log2(i + 1) for i, r in enumerate(rels) if i)


def ndcg_any(
    ranked: Sequence[str],
    gold: Collection[str],
    k: int,
    corpus: Collection[str] | None = None,
) -> float:
    """LongMemEval ndcg_any@k with binary relevance (1 if the id is gold).

    The official ideal DCG is computed over the whole corpus: ``sorted(relevances of all
    corpus ids)`` truncated at k, i.e. as many 1s as there are gold ids *in the
    corpus*.  Pass ``corpus`` (all retrievable ids) to count exactly those; without it
    every gold id is assumed to be retrievable.  Ideal DCG 0 (no gold) -> 0.0.
    """
    gold_set = set(gold)
    top = _top(ranked, k)
    n_relevant = len(gold_set & set(corpus)) if corpus is not None else len(gold_set)
    ideal = dcg([1] * min(n_relevant, k), k)
    if ideal == 0:
        return 0.0
    return dcg([1 if doc in gold_set else 0 for doc in top], k) / ideal


def lme_turn2session(
    ranked_turns: Sequence[str],
    gold_turns: Collection[str],
    session_of: Mapping[str, str] | Callable[[str], str],
    k: int,
    corpus_size: int | None = None,
) -> tuple[float, float, float]:
    """Session-level (recall_any, recall_all, ndcg_any)@k from a *turn* ranking.

    Reproduces the official ``evaluate_retrieval_turn2session``.  There, each turn id
    is mapped to its session id, but non-gold turns of an answer session carry a
    ``noans`` prefix, so a session "is retrieved" only through one of its gold
    (``has_answer``) turns; the cut-off grows from k until the top holds k distinct
    such keys (or the whole ranking); nDCG then counts each gold *turn* in that
    cut-off as relevant against an ideal of all gold turns.  Here the key of a turn
    is ``(session, turn is gold)``, which is equivalent.

    ``corpus_size`` (number of retrievable turns) only matters when the ranking never
    reaches k distinct keys; it defaults to ``len(ranked_turns)``.
    """
    lookup = session_of.get if isinstance(session_of, Mapping) else session_of
    gold_set = set(gold_turns)
    turns = dedupe(ranked_turns)
    keys: list[tuple[Any, bool]] = [(lookup(t), t in gold_set) for t in turns]
    gold_sessions = {lookup(t) for t in gold_set}

    effective_k = k
    seen: set[tuple[Any, bool]] = set(keys[:effective_k])
    size = len(turns) if corpus_size is None else max(corpus_size, len(turns))
    while effective_k <= size and len(seen) < k:
        effective_k += 1
        if effective_k <= len(keys):
            seen.add(keys[effective_k - 1])

    recalled = {session for session, is_gold in keys[:effective_k] if is_gold}
    r_any = float(any(s in recalled for s in gold_sessions))
    r_all = float(all(s in recalled for s in gold_sessions))
    ideal = dcg([1] * min(len(gold_set), effective_k), effective_k)
    if ideal == 0:
        nd = 0.0
    else:
        nd = dcg([1 if is_gold else 0 for _, is_gold in keys[:effective_k]], effective_k) / ideal
    return r_any, r_all, nd


# ------------------------------------------------------------------------ helpers


def session_ranking(
    ranked_turns: Sequence[str], session_of: Mapping[str, str] | Callable[[str], str | None]
) -> list[str]:
    """Session ids in order of their first turn in ``ranked_turns``.

    Ids the mapping does not know (a Mapping without the key, or a callable returning
    ``None``) are skipped.
    """
    lookup = session_of.get if isinstance(session_of, Mapping) else session_of
    return dedupe(s for t in ranked_turns if (s := lookup(t)) is not None)


def score_question(
    dataset: str,
    question: Question,
    ranked_turns: Sequence[str],
    session_of: Mapping[str, str],
    ks: Sequence[int] = KS,
    ranked_sessions: Sequence[str] | None = None,
    corpus_turns: Collection[str] | None = None,
) -> dict[str, Any]:
    """One `aggregate` row for ``question`` given a ranking of turn ids.

    Row keys: ``id``, ``category``, ``abstention`` and ``<metric>@<k>``:

    - locomo: ``evidence_recall@k`` over turn ids.
    - longmemeval: ``turn_recall_any/turn_recall_all/turn_ndcg_any@k`` over turn ids
      (``corpus_turns`` for the official ideal DCG; defaults to all keys of
      ``session_of``) and ``session_recall_any/session_recall_all/session_ndcg_any@k``
      -- via `lme_turn2session` from the turn ranking, or, when ``ranked_sessions``
      is given (session-granularity retrieval), directly against
      ``gold_session_ids``.  All ``None`` for abstention questions (official averages
      skip ``_abs``).
    - beam: ``message_recall@k`` (``None`` without source ids).
    - halumem: ``session_recall_any@k`` over ``ranked_sessions`` or, by default, the
      sessions of ``ranked_turns`` (``None`` without gold sessions).
    """
    row: dict[str, Any] = {
        "id": question.id,
        "category": question.category,
        "abstention": question.abstention,
    }
    turns = dedupe(ranked_turns)
    if dataset == "locomo":
        for k in ks:
            row[f"evidence_recall@{k}"] = evidence_recall(turns, question.gold_turn_ids, k)
    elif dataset == "longmemeval":
        corpus = corpus_turns if corpus_turns is not None else set(session_of)
        gold_t = question.gold_turn_ids
        for k in ks:
            if question.abstention:
                for name in ("recall_any", "recall_all", "ndcg_any"):
                    row[f"turn_{name}@{k}"] = None
                    row[f"session_{name}@{k}"] = None
                continue
            row[f"turn_recall_any@{k}"] = recall_any(turns, gold_t, k)
            row[f"turn_recall_all@{k}"] = recall_all(turns, gold_t, k)
            row[f"turn_ndcg_any@{k}"] = ndcg_any(turns, gold_t, k, corpus)
            if ranked_sessions is None:
                s_any, s_all, s_ndcg = lme_turn2session(
                    turns, gold_t, session_of, k, corpus_size=len(corpus)
                )
            else:
                gold_s = question.gold_session_ids
                s_any = recall_any(ranked_sessions, gold_s, k)
                s_all = recall_all(ranked_sessions, gold_s, k)
                s_ndcg = ndcg_any(ranked_sessions, gold_s, k, set(session_of.values()))
            row[f"session_recall_any@{k}"] = s_any
            row[f"session_recall_all@{k}"] = s_all
            row[f"session_ndcg_any@{k}"] = s_ndcg
    elif dataset == "beam":
        for k in ks:
            row[f"message_recall@{k}"] = message_recall(turns, question.gold_turn_ids, k)
    elif dataset == "halumem":
        sessions = (
            dedupe(ranked_sessions)
            if ranked_sessions is not None
            else session_ranking(turns, session_of)
        )
        for k in ks:
            row[f"session_recall_any@{k}"] = session_recall_any(
                sessions, question.gold_session_ids, k
            )
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    return row


_ROW_META = frozenset({"id", "category", "abstention"})


def aggregate(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Average every metric overall and per category.

    A row is a mapping with an optional ``category`` plus metric name -> float or
    ``None``; ``None`` values (not applicable) are skipped, as are the keys ``id``,
    ``category`` and ``abstention`` and non-numeric values.  Returns::

        {"overall": {metric: mean}, "n": {metric: count},
         "by_category": {category: {metric: mean}},
         "n_by_category": {category: {metric: count}}, "questions": number_of_rows}
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    cat_sums: dict[str, dict[str, float]] = {}
    cat_counts: dict[str, dict[str, int]] = {}
    n_rows = 0
    for row in rows:
        n_rows += 1
        category = str(row.get("category", "unknown"))
        cs = cat_sums.setdefault(category, {})
        cc = cat_counts.setdefault(category, {})
        for name, value in row.items():
            if name in _ROW_META or value is None or isinstance(value, bool):
                continue
            if not isinstance(value, (int, float)):
                continue
            sums[name] = sums.get(name, 0.0) + float(value)
            counts[name] = counts.get(name, 0) + 1
            cs[name] = cs.get(name, 0.0) + float(value)
            cc[name] = cc.get(name, 0) + 1
    return {
        "overall": {m: sums[m] / counts[m] for m in sums},
        "n": dict(counts),
        "by_category": {
            c: {m: cat_sums[c][m] / cat_counts[c][m] for m in cat_sums[c]} for c in sorted(cat_sums)
        },
        "n_by_category": {c: dict(cat_counts[c]) for c in sorted(cat_counts)},
        "questions": n_rows,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile of ``values``; None when there are none (a report shows a dash)."""
    return float(np.percentile(values, q)) if values else None


#: How far the default may trail its best single signal before a report flags it.
SIGNAL_TOLERANCE = 0.005


def below_best_signal(
    systems: Mapping[str, Mapping[str, Any]],
    metric: str,
    ks: Sequence[int] = (5, 10),
    default: str = "remem",
    signals: Sequence[str] = ("bm25", "dense"),
    tolerance: float = SIGNAL_TOLERANCE,
) -> list[dict[str, Any]]:
    """Per k, the default against the best single signal run beside it (``aggregate`` outputs).

    Each entry: ``k``, ``default`` (its score), ``signal`` and ``best`` (the best signal and
    its score), ``margin`` (default - best) and ``ok`` (margin >= -tolerance). Empty when the
    run lacks the default or every signal, or the metric is missing.
    """
    if default not in systems:
        return []
    checks = []
    for k in ks:
        key = f"{metric}@{k}"
        mine = systems[default]["overall"].get(key)
        scored = [
            (systems[s]["overall"][key], s)
            for s in signals
            if s in systems and systems[s]["overall"].get(key) is not None
        ]
        if mine is None or not scored:
            continue
        best, signal = max(scored)
        margin = mine - best
        checks.append(
            {
                "k": k,
                "default": mine,
                "signal": signal,
                "best": best,
                "margin": margin,
                "ok": margin >= -tolerance,
            }
        )
    return checks
