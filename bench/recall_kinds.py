"""Third round of issue 12: can the ranker tell kinds of question apart (BEAM @5 ≥ 0.58)?

The shipped ranker fills BEAM's top 5 with user turns, which costs the questions about what
the assistant said. Every variant here adds one idea to the shipped 18 features (or reorders
the shipped ranker's output) and is scored as bench/recall_lab.py scores the fitted ones:
across conversations and leave-one-dataset-out. Nothing here ships (docs/recall.md).

    PYTHONPATH=src python bench/recall_kinds.py --dump /tmp/recall/dump     # ~7 minutes

Besides the variants it prints two ceilings: a model told each question's share of
assistant turns among its gold (the best any question-kind feature crossed with the role can
do), and one linear model per BEAM category (the best any question-kind feature can do with
these signals); and, per BEAM category, how many gold turns reach the candidate pool.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import recall_lab as lab

from remem.providers.local_embedder import LocalEmbedder
from remem.stores.tokens import stem, tokenize

Column = Callable[[dict[str, Any], dict[str, Any]], np.ndarray]
Reorder = Callable[[dict[str, Any], dict[str, Any], np.ndarray], np.ndarray]

#: A small vocabulary for "the query asks about what the assistant said" (idea 1 of the brief).
YOU = re.compile(r"\byou(r|rs)?\b", re.I)
YOU_SAID = re.compile(
    r"\b(did you|have you|you(?:'ve| have)? (?:recommend|suggest|mention|said|explain|told|advis"
    r"|propos|gave|provid|describ|outlin|show|list|shar))",
    re.I,
)
SUMMARY = re.compile(r"\b(summar|overview|recap|list|across|throughout)", re.I)
SENTENCES = re.compile(r"(?<=[.?!])\s+")


# ------------------------------------------------------------ question-level features


def _assistant(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return (~c["turns"]["user"][q["idx"]]).astype(float)


def _centroids(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    t = c["turns"]
    if "centroids" not in t:
        user = t["user"]
        both = user.any() and (~user).any()
        t["centroids"] = (t["vectors"][~user].mean(0), t["vectors"][user].mean(0)) if both else None
    return t["centroids"]  # type: ignore[no-any-return]


def role_centroid(c: dict[str, Any], q: dict[str, Any]) -> float:
    """Cosine of the query to the mean assistant turn minus to the mean user turn."""
    cent = _centroids(c)
    return float(q["vector"] @ cent[0] - q["vector"] @ cent[1]) if cent else 0.0


def dense_assistant_share(c: dict[str, Any], q: dict[str, Any]) -> float:
    """Share of assistant turns among the dense search's top 10."""
    return float((~c["turns"]["user"][lab.rank(q["dense"], 10)]).mean())


def dense_role_gap(c: dict[str, Any], q: dict[str, Any]) -> float:
    """Mean cosine of the assistant turns among dense's top 50 minus that of the user turns."""
    top = lab.rank(q["dense"], lab.POOL_K)
    user = c["turns"]["user"][top]
    if user.all() or not user.any():
        return 0.0
    return float(q["dense"][top][~user].mean() - q["dense"][top][user].mean())


def matches(pattern: re.Pattern[str]) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    return lambda c, q: float(bool(pattern.search(q["question"].text)))


def gold_assistant_share(c: dict[str, Any], q: dict[str, Any]) -> float:
    """An oracle: the share of the question's gold turns that are the assistant's."""
    gold = q["gold"]
    return float((~c["turns"]["user"][gold]).mean()) if gold.any() else 0.0


def crossed(kind: Callable[..., float], base: str | None = None) -> Column:
    """assistant × the question-level ``kind`` (× the shipped feature ``base``)."""

    def column(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        col = _assistant(c, q) * kind(c, q)
        return col * q["X0"][:, lab.FEATURES.index(base)] if base else col

    return column


# --------------------------------------------------------------- turn-level features


def neighbour(feature: str, side: str) -> Column:
    """The shipped ``feature`` of the turn before/after, when that turn is a candidate."""

    def column(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        t, idx = c["turns"], q["idx"]
        row = np.full(len(t["text"]), -1)
        row[idx] = np.arange(len(idx))
        other = t[side][idx]
        local = np.where(other >= 0, row[np.maximum(other, 0)], -1)
        return np.where(local >= 0, q["X0"][np.maximum(local, 0), lab.FEATURES.index(feature)], 0)

    return column


def coverage(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    """Share of the query's terms in the turn, stemmed as BM25 stems them (BM25 saturates:
    a turn that repeats one rare term can outscore one that has every term once)."""
    t = c["turns"]
    if "stems" not in t:
        t["stems"] = [set(tokenize(text)) for text in t["text"]]
    terms = {stem(w) for w in q["terms"]}
    if not terms:
        return np.zeros(len(q["idx"]))
    return np.array([len(terms & t["stems"][i]) / len(terms) for i in q["idx"]])


def user_coverage(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return coverage(c, q) * c["turns"]["user"][q["idx"]]


def _position(t: dict[str, Any]) -> np.ndarray:
    session = t["session"]
    starts = np.r_[True, session[1:] != session[:-1]]
    index = np.arange(len(session))
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def log_position(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return np.log1p(_position(c["turns"])[q["idx"]])


def opens_session(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return (_position(c["turns"])[q["idx"]] <= 1).astype(float)


# ------------------------------------------------------------ reorderings of the ranker


def assistant_slot(by_dense: bool) -> Reorder:
    """When the top 5 holds no assistant turn, the best one (by ranker or dense) is 5th."""

    def reorder(c: dict[str, Any], q: dict[str, Any], s: np.ndarray) -> np.ndarray:
        user = c["turns"]["user"]
        order = list(lab.rank(s, lab.DEPTH))
        if user.all() or not order or not user[order[:5]].all():
            return s
        pool = lab.rank(np.where(user, -np.inf, q["dense"] if by_dense else s), 1)
        if not len(pool):
            return s
        rest = [i for i in order if i != pool[0]]
        return _ordered(len(s), [*rest[:4], int(pool[0]), *rest[4:]])

    return reorder


def mmr(penalty: float, above: float = 0.0, depth: int = 20) -> Reorder:
    """Maximal marginal relevance over the top ``depth``: a turn's score less ``penalty`` ×
    (its highest cosine to a turn already taken, above ``above``)."""

    def reorder(c: dict[str, Any], q: dict[str, Any], s: np.ndarray) -> np.ndarray:
        order = list(lab.rank(s, lab.DEPTH))
        head = order[:depth]
        V = c["turns"]["vectors"][head]
        sim, closest, left, taken = V @ V.T, np.zeros(len(head)), list(range(len(head))), []
        while left:
            gain = [s[head[j]] - penalty * max(closest[j] - above, 0.0) for j in left]
            j = left.pop(int(np.argmax(gain)))
            taken.append(head[j])
            closest = np.maximum(closest, sim[j])
        return _ordered(len(s), taken + order[depth:])

    return reorder


def _ordered(n: int, order: list[int]) -> np.ndarray:
    out = np.full(n, -np.inf)
    out[order] = -np.arange(len(order), dtype=float)
    return out


# ---------------------------------------------------------------------------- harness


def with_columns(data: lab.Data, columns: dict[str, Column]) -> tuple[str, ...]:
    """Each question's X: the shipped features, then ``columns``."""
    for d in data.values():
        for c in d["conversations"]:
            for q in c["questions"]:
                extra = [col(c, q) for col in columns.values()]
                q["X"] = np.column_stack([q["X0"], *extra]) if extra else q["X0"]
    return (*lab.FEATURES, *columns)


def validate(
    data: lab.Data, features: tuple[str, ...], reorder: Reorder | None = None
) -> dict[str, lab.Results]:
    """Across conversations and leave-one-dataset-out, as bench/recall_lab.py validates."""
    shipped_ranker = lab.ranker

    def ranker(model: dict[str, Any]) -> lab.Scorer:
        base = shipped_ranker(model)
        if reorder is None:
            return base

        def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
            s = base(c, q)
            return reorder(c, q, s) if np.isfinite(s).any() else s

        return score

    lab.ranker = ranker  # evaluate() inside the validations scores with lab.ranker
    try:
        return {
            "in-set": lab.evaluate(
                data, ranker(lab.fit_pairs(data, list(data), features=features))
            ),
            "across conversations": lab.across_conversations(
                data, lab.fit_pairs, features=features
            ),
            "leave one dataset out": lab.lodo(data, lab.fit_pairs, features=features),
        }
    finally:
        lab.ranker = shipped_ranker


def mixed_vectors(data: lab.Data, prev: float, nxt: float, base: dict[str, np.ndarray]) -> None:
    """Each turn's vector plus ``prev``/``nxt`` × its neighbours' (no re-embedding), renormed."""
    for d in data.values():
        for c in d["conversations"]:
            t = c["turns"]
            V = base[c["id"]]
            P = np.where((t["prev"] >= 0)[:, None], V[np.maximum(t["prev"], 0)], 0.0)
            N = np.where((t["next"] >= 0)[:, None], V[np.maximum(t["next"], 0)], 0.0)
            W = V + prev * P + nxt * N
            t["vectors"] = W / np.linalg.norm(W, axis=1, keepdims=True)
            for q in c["questions"]:
                q["dense"] = t["vectors"] @ q["vector"]


def sentence_dense(data: lab.Data) -> int:
    """Each question's dense score as the best over its sentences (each embedded alone)."""
    embedder, n = LocalEmbedder(threads=1), 0
    for d in data.values():
        for c in d["conversations"]:
            for q in c["questions"]:
                parts = [s for s in SENTENCES.split(q["question"].text.strip()) if s]
                q["sentences"] = q["dense"]
                if len(parts) > 1:
                    q["sentences"] = (c["turns"]["vectors"] @ embedder.embed(parts).T).max(1)
                    n += 1
    return n


def user_pools(k: int) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, np.ndarray]]:
    """The ranker's pool plus the best ``k`` user turns of BM25 and of dense (two more
    searches, filtered to the user's turns): more gold reaches the pool, does it reach the top?"""
    shipped = lab.signals

    def signals(c: dict[str, Any], q: dict[str, Any]) -> dict[str, np.ndarray]:
        S, user = shipped(c, q), c["turns"]["user"]
        if user.any() and not user.all():
            S["bfound"] = S["bfound"] | (lab.top_ranks(S["bm25"], user, k) > 0)
            S["dfound"] = S["dfound"] | (lab.top_ranks(S["dense"], user, k) > 0)
        return S

    return signals


def by_category(data: lab.Data) -> dict[str, tuple[int, float, float, float]]:
    """BEAM, per category: questions, the shipped ranker's message recall@5 (in-set), the
    most 5 turns can hold, and the share of gold turns that reach the candidate pool."""
    score = lab.ranker(lab.fit_pairs(data, list(data)))
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for c in data["beam"]["conversations"]:
        for q in c["questions"]:
            gold = q["gold"]
            if gold.any():
                n = gold.sum()
                top = lab.rank(score(c, q), 5)
                rows.setdefault(q["question"].category, []).append(
                    (gold[top].sum() / n, min(1.0, 5 / n), gold[q["idx"]].sum() / n)
                )
    return {k: (len(v), *(float(x) for x in np.mean(v, axis=0))) for k, v in sorted(rows.items())}


def per_category_ceiling(data: lab.Data) -> dict[str, dict[int, float]]:
    """BEAM alone, across conversations: the shipped features, and every one of them also
    crossed with the question's category (an oracle: nine linear models in one)."""
    beam = {"beam": data["beam"]}
    questions = [q for c in beam["beam"]["conversations"] for q in c["questions"]]
    kinds = sorted({q["question"].category for q in questions})
    plain = lab.across_conversations(beam, lab.fit_pairs)["beam"]
    for q in questions:
        one_hot = np.array([q["question"].category == k for k in kinds], dtype=float)
        q["X"] = np.column_stack([q["X0"], np.kron(q["X0"], one_hot)])
    features = (*lab.FEATURES, *(f"{f}#{k}" for f in lab.FEATURES for k in kinds))
    crossed = lab.across_conversations(beam, lab.fit_pairs, features=features)["beam"]
    for q in questions:
        q["X"] = q["X0"]
    return {"fitted on BEAM alone": plain, "the same, crossed with the category": crossed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dump", type=Path, default=Path("/tmp/recall/dump"))
    args = parser.parse_args()
    data = lab.load(args.dump)
    lab.build(data)
    for d in data.values():
        for c in d["conversations"]:
            for q in c["questions"]:
                q["X0"], q["gold"] = q["X"], lab.gold_mask(d, c, q)
    kinds: dict[str, Callable[..., float]] = {
        "query says you/your": matches(YOU),
        "query asks what you said/suggested": matches(YOU_SAID),
        "query asks for a summary/list": matches(SUMMARY),
        "query closer to the assistant turns' centroid": role_centroid,
        "assistant share of dense top 10": dense_assistant_share,
        "assistant − user mean cosine in dense top 50": dense_role_gap,
    }
    variants: dict[str, tuple[dict[str, Column], Reorder | None]] = {"shipped": ({}, None)}
    for name, kind in kinds.items():
        variants[f"assistant × {name}"] = ({name: crossed(kind)}, None)
        variants[f"assistant × {name}, × dz, × drr"] = (
            {
                name: crossed(kind),
                f"{name}*dz": crossed(kind, "dz"),
                f"{name}*drr": crossed(kind, "drr"),
            },
            None,
        )
    variants["oracle: assistant × gold's assistant share"] = (
        {"oracle": crossed(gold_assistant_share)},
        None,
    )
    variants["prev_brr, prev_drr (the rank features of the turn before)"] = (
        {"prev_brr": neighbour("brr", "prev"), "prev_drr": neighbour("drr", "prev")},
        None,
    )
    variants["query-term coverage, user × coverage"] = (
        {"coverage": coverage, "user*coverage": user_coverage},
        None,
    )
    variants["log(1 + position in session)"] = ({"log_position": log_position}, None)
    variants["opens its session (position ≤ 1)"] = ({"opens": opens_session}, None)
    variants["best assistant turn (ranker) 5th when the top 5 has none"] = (
        {},
        assistant_slot(False),
    )
    variants["best assistant turn (dense) 5th when the top 5 has none"] = ({}, assistant_slot(True))
    for penalty, above in ((1.0, 0.0), (2.0, 0.5), (4.0, 0.7)):
        variants[f"MMR over the top 20, penalty {penalty} above cosine {above}"] = (
            {},
            mmr(penalty, above),
        )
    rows: dict[str, lab.Results] = {}
    for name, (columns, reorder) in variants.items():
        for how, result in validate(data, with_columns(data, columns), reorder).items():
            rows[f"{name}: {how}"] = result
        print(name, flush=True)
    with_columns(data, {})
    base = {c["id"]: c["turns"]["vectors"] for d in data.values() for c in d["conversations"]}
    for prev, nxt in ((0.3, 0.0), (0.2, 0.2), (0.0, 0.5)):
        mixed_vectors(data, prev, nxt, base)
        rows[f"turn vector + {prev} × previous + {nxt} × next: dense alone"] = lab.evaluate(
            data, lab.dense_only
        )
        lab.build(data)
        for how, result in validate(data, lab.FEATURES).items():
            rows[f"turn vector + {prev} × previous + {nxt} × next: {how}"] = result
        print(prev, nxt, flush=True)
    mixed_vectors(data, 0.0, 0.0, base)
    shipped_signals = lab.signals
    lab.signals = user_pools(50)  # candidates() looks it up in lab
    lab.build(data)
    for how, result in validate(data, lab.FEATURES).items():
        rows[f"pool + the best 50 user turns of BM25 and of dense: {how}"] = result
    wider = by_category(data)
    lab.signals = shipped_signals
    lab.build(data)
    for d in data.values():
        for c in d["conversations"]:
            for q in c["questions"]:
                q["X0"] = q["X"]
    n = sentence_dense(data)
    rows[f"dense, best over the query's sentences ({n} questions have several)"] = lab.evaluate(
        data, lambda c, q: q["sentences"].astype(np.float64)
    )
    print(lab.table(rows))
    for name, result in per_category_ceiling(data).items():
        print(f"{name}, across conversations: @5 {result[5]:.3f}, @10 {result[10]:.3f}")
    print("\nBEAM by category: questions, ranker @5, most possible @5, gold in the pool")
    for kind, (n, recall, most, pool) in by_category(data).items():
        print(
            f"  {kind}: {n}, {recall:.3f}, {most:.3f}, {pool:.3f}"
            f" (with the user pools: {wider[kind][1]:.3f} @5, {wider[kind][3]:.3f} in the pool)"
        )


if __name__ == "__main__":
    main()
