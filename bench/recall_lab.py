"""Retrieval experiments on the dumps of bench/recall_dump.py: a fusion variant scored in seconds.

A *scorer* maps (conversation, question) to one score per turn; the turns are ranked by it
and scored with the benchmarks' own metrics (`remem.eval.metrics`), exactly as `remem eval`
scores them. ``rrf_family()`` is a numpy copy of the ``hybrid`` recipe before issue 12
(it reproduces `remem eval` to the third decimal); the learned ranker's features come from
the production code (`remem.retrieval.ranker`), so what is fitted here is what ships.

    PYTHONPATH=src python bench/recall_lab.py            # every variant tried for issue 12
    PYTHONPATH=src python bench/recall_lab.py --quick    # the hand-written ones only
    PYTHONPATH=src python bench/recall_lab.py --vectors date_self_prev --sets locomo beam
                                # with contextual turn vectors (bench/recall_contextual.py)

Fitted variants are reported in-set, across conversations (each conversation ranked by a
model fitted without it) and leave-one-dataset-out (LoCoMo, BEAM, HaluMem: fitted on two,
scored on the third).
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from remem.eval import metrics
from remem.retrieval import ranker as rk

SETS = ("locomo", "beam", "halumem0", "halumem3", "halumem12")
#: The three dev datasets for leave-one-dataset-out: HaluMem's users are one dataset.
GROUPS = {"locomo": ["locomo"], "beam": ["beam"], "halumem": ["halumem0", "halumem3", "halumem12"]}
#: Each dataset carries the same total weight in a fit (HaluMem's three users share one).
SET_WEIGHTS = {"halumem0": 1 / 3, "halumem3": 1 / 3, "halumem12": 1 / 3}
#: How deep the eval ranks (metrics.KS ends at 50) and how many turns each ranker search returns.
DEPTH = 50
POOL_K = 50
#: The hybrid recipe's abstention floor (cosine of the closest memory), when no time window helps.
ABSTAIN_BELOW = 0.2
FEATURES = (
    "bn", "brr", "dz", "drr", "win", "user", "directive",
    "prev_bn", "next_bn", "prev_dz", "next_dz", "sess_bn", "sess_dz", "speaker",
    "user*bn", "user*brr", "user*dz", "user*drr", "past*directive",
    "you*assistant", "you*assistant*drr", "past*drr",
)  # fmt: skip

Data = dict[str, dict[str, Any]]
Scorer = Callable[[dict[str, Any], dict[str, Any]], np.ndarray]
Results = dict[str, dict[int, float]]


# ------------------------------------------------------------------------------- data


def load(dump: Path, sets: tuple[str, ...] = SETS, vectors: str | None = None) -> Data:
    """The dumps of ``sets``; ``vectors`` names turn vectors embedded another way
    (``<set>.<vectors>.npy``, one row per turn in dump order) to use for the dense signal.
    """
    data = {}
    for name in sets:
        data[name] = pickle.loads((dump / f"{name}.pkl").read_bytes())
        other = np.load(dump / f"{name}.{vectors}.npy") if vectors else None
        offset = 0
        for c in data[name]["conversations"]:
            t = c["turns"]
            if other is not None:
                t["vectors"] = other[offset : offset + len(t["text"])]
                offset += len(t["text"])
            sessions, roles = t["session_ids"], t["role"]
            t["session_of"] = dict(
                zip(t["turn_id"], (sessions[s] for s in t["session"]), strict=True)
            )
            t["user"] = np.array([r == "user" for r in roles])
            t["words"] = np.array([len(x.split()) for x in t["text"]])
            t["speaker_first"] = [s.split()[0].lower() if s else None for s in t["speaker"]]
            t["prev"], t["next"] = _neighbours(t["session"])
            for q in c["questions"]:
                q["dense"] = t["vectors"] @ q["vector"]
                q["in_window"] = _window_mask(t["time"], q["window"])
    return data


def _neighbours(session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each turn's previous and next turn in its session (-1 at a session's edge)."""
    n = len(session)
    same = np.r_[False, session[1:] == session[:-1]]
    return np.where(same, np.arange(n) - 1, -1), np.where(
        np.r_[same[1:], False], np.arange(n) + 1, -1
    )


def _window_mask(times: np.ndarray, window: tuple[float, float] | None) -> np.ndarray | None:
    if window is None:
        return None
    with np.errstate(invalid="ignore"):
        return (times >= window[0]) & (times < window[1])


def top_ranks(scores: np.ndarray, mask: np.ndarray | None = None, k: int = DEPTH) -> np.ndarray:
    """1-based rank of each turn among the top k of ``scores`` (0: not in the top k)."""
    s = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float64)
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    order = np.argsort(-s, kind="stable")
    order = order[np.isfinite(s[order])][:k]
    ranks = np.zeros(len(s), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def _bm25(q: dict[str, Any]) -> np.ndarray:
    return np.where(q["bm25"] > 0, q["bm25"].astype(np.float64), -np.inf)


# ---------------------------------------------------------------------------- scoring


def rank(scores: np.ndarray, k: int = DEPTH) -> np.ndarray:
    s = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-s, kind="stable")[:k]
    return order[np.isfinite(s[order])]


def _rows(d: dict[str, Any], scorer: Scorer, ks: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    for c in d["conversations"]:
        t = c["turns"]
        for q in c["questions"]:
            ranked = [t["turn_id"][i] for i in rank(scorer(c, q))]
            rows.append(
                metrics.score_question(d["dataset"], q["question"], ranked, t["session_of"], ks)
            )
    return rows


def evaluate(data: Data, scorer: Scorer, ks: tuple[int, ...] = (5, 10)) -> Results:
    out = {}
    for name, d in data.items():
        metric = metrics.HEADLINE[d["dataset"]][0]
        overall = metrics.aggregate(_rows(d, scorer, ks))["overall"]
        out[name] = {k: overall.get(f"{metric}@{k}", float("nan")) for k in ks}
    return out


def by_category(d: dict[str, Any], scorer: Scorer, k: int = 5) -> dict[str, float]:
    metric = f"{metrics.HEADLINE[d['dataset']][0]}@{k}"
    agg = metrics.aggregate(_rows(d, scorer, (k,)))
    return {cat: v[metric] for cat, v in agg["by_category"].items() if metric in v}


def table(results: dict[str, Results]) -> str:
    sets = list(dict.fromkeys(s for r in results.values() for s in r))
    lines = ["| variant | " + " | ".join(f"{s} @5 / @10" for s in sets) + " |"]
    lines.append("|---" * (len(sets) + 1) + "|")
    for name, r in results.items():
        cells = [f"{r[s][5]:.3f} / {r[s][10]:.3f}" if s in r else "–" for s in sets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- hand-written scorers


def bm25_only(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return _bm25(q)


def dense_only(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    return q["dense"].astype(np.float64)


def _rrf(ranks: np.ndarray, weight: float, k: int) -> np.ndarray:
    return np.where(ranks > 0, weight / (k + ranks), 0.0)


def _fused_rrf(
    c: dict[str, Any], q: dict[str, Any], wb: float, wd: float, wdir: float, k: int
) -> tuple[np.ndarray, bool]:
    t = c["turns"]
    bm, de, win = _bm25(q), q["dense"], q["in_window"]
    s = _rrf(top_ranks(bm), wb, k) + _rrf(top_ranks(de), wd, k)
    on_time = win is not None and bool(win.any())
    if on_time:
        s += _rrf(top_ranks(bm, win), wb, k) + _rrf(top_ranks(de, win), wd, k)
    if wdir and t["directive"].any():
        s += _rrf(top_ranks(de, t["directive"], 5), wdir, k)
    return s, on_time


def rrf_family(
    wb: float = 0.5,
    wd: float = 1.0,
    wdir: float = 0.3,
    ub: float = 0.5,
    k: int = 60,
    spread: tuple[float, float] = (0.0, 0.0),
) -> Scorer:
    """Weighted RRF of BM25, dense, their in-window twins and directives, user turns x(1+ub),
    abstaining under cosine 0.2: ``rrf_family()`` is the hybrid recipe before issue 12.
    ``spread`` adds that share of the previous / next turn's fused score (neighbour credit)."""

    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        t = c["turns"]
        s, on_time = _fused_rrf(c, q, wb, wd, wdir, k)
        if q["dense"].max() < ABSTAIN_BELOW and not on_time:
            return np.full(len(s), -np.inf)
        if any(spread):
            s = s + spread[0] * _at(s, t["prev"], 0.0) + spread[1] * _at(s, t["next"], 0.0)
        s = s * np.where(t["user"], 1 + ub, 1.0)
        return np.where(s > 0, s, -np.inf)

    return score


def _at(x: np.ndarray, index: np.ndarray, missing: float) -> np.ndarray:
    return np.where(index >= 0, x[np.maximum(index, 0)], missing)


def _zpool(x: np.ndarray, k: int, floor: float = -3.0) -> np.ndarray:
    """z-score among the top k (what a top-k search returns); ``floor`` below them."""
    ok = np.isfinite(x)
    top = np.sort(x[ok])[::-1][:k]
    if len(top) < 2:
        return np.where(ok, 0.0, floor)
    z = (x - top.mean()) / (top.std() + 1e-6)
    return np.where(ok & (x >= top[-1]), z, floor)


def score_fusion(
    wd: float = 0.5,
    ub: float = 0.5,
    wt: float = 2.0,
    wdir: float = 1.0,
    nb: float = 0.0,
    k: int = DEPTH,
) -> Scorer:
    """Score-level fusion: BM25 and dense each z-scored among their top k, weighted and summed,
    plus additive user, window and directive terms and ``nb`` of the best neighbour."""

    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        t = c["turns"]
        zb, zd = _zpool(_bm25(q), k), _zpool(q["dense"].astype(np.float64), k)
        f = zb + wd * zd + wdir * t["directive"] * (zd > -3) + ub * t["user"]
        if q["in_window"] is not None:
            f = f + wt * q["in_window"]
        if nb:
            both = zb + wd * zd
            f = f + nb * 0.5 * np.maximum(_at(both, t["prev"], -3.0), _at(both, t["next"], -3.0))
        return f

    return score


def dense_prf(beta: float, n: int) -> Scorer:
    """Dense only, the query moved towards its n closest turns (Rocchio pseudo-relevance feedback)."""

    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        V = c["turns"]["vectors"]
        v = q["vector"] + beta * V[rank(q["dense"], n)].mean(0)
        return V @ (v / np.linalg.norm(v))

    return score


def session_diversity(base: Scorer, lam: float, depth: int = 20) -> Scorer:
    """``base`` re-ranked greedily over its top ``depth``: each hit already taken from a session
    costs the next one from it ``lam``."""

    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        x = base(c, q)
        sess = c["turns"]["session"]
        order = list(rank(x))
        head, taken, counts = order[:depth], [], {}
        while head:
            j = head.pop(int(np.argmax([x[i] - lam * counts.get(sess[i], 0) for i in head])))
            taken.append(j)
            counts[sess[j]] = counts.get(sess[j], 0) + 1
        out = np.full(len(x), -np.inf)
        for r, i in enumerate(taken + order[depth:]):
            out[i] = -r
        return out

    return score


# ------------------------------------------------------------------- learned ranker


def signals(c: dict[str, Any], q: dict[str, Any]) -> dict[str, np.ndarray]:
    """Which turns each search of the ranker's pool returns: BM25 and dense top ``POOL_K``,
    again inside the query's time window when it names one, and the 5 closest directives."""
    t = c["turns"]
    b, d, win = _bm25(q), q["dense"].astype(np.float64), q["in_window"]
    brank, drank = top_ranks(b, k=POOL_K), top_ranks(d, k=POOL_K)
    bfound, dfound = brank > 0, drank > 0
    if win is not None:
        bfound |= top_ranks(b, win, POOL_K) > 0
        dfound |= top_ranks(d, win, POOL_K) > 0
    standing = (
        top_ranks(d, t["directive"], 5) > 0 if t["directive"].any() else np.zeros(len(d), bool)
    )
    return {
        "bm25": b, "dense": d, "brank": brank, "drank": drank, "bfound": bfound,
        "dfound": dfound | standing, "standing": standing,
        "win": win if win is not None else np.zeros(len(b), bool),
    }  # fmt: skip


def candidates(c: dict[str, Any], q: dict[str, Any]) -> tuple[np.ndarray, rk.Candidates]:
    """The turns some search returned (their indices), as the production ranker sees them."""
    t = c["turns"]
    S = signals(c, q)
    idx = np.flatnonzero(S["bfound"] | S["dfound"])
    row = np.full(len(t["text"]), -1)
    row[idx] = np.arange(len(idx))
    terms = set(q["terms"])

    def local(index: np.ndarray) -> np.ndarray:
        return np.where(index >= 0, row[np.maximum(index, 0)], -1)

    return idx, rk.Candidates(
        bm25=np.where(S["bfound"], S["bm25"], np.nan)[idx],
        bm25_rank=S["brank"][idx],
        cosine=np.where(S["dfound"], S["dense"], np.nan)[idx],
        dense_rank=S["drank"][idx],
        dense_scores=S["dense"][S["drank"] > 0],
        in_window=S["win"][idx],
        user=t["user"][idx],
        directive=S["standing"][idx],
        speaker=np.array([s in terms for s in t["speaker_first"]])[idx],
        prev=local(t["prev"][idx]),
        next=local(t["next"][idx]),
        session=t["session"][idx],
        past=rk.asks_about_the_past(q["question"].text),
        you=rk.asks_the_assistant(q["question"].text),
    )


def gold_mask(d: dict[str, Any], c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    """Gold turns; HaluMem's gold is sessions, so its silver turns (see bench/recall_dump.py)."""
    if d["dataset"] == "halumem":
        return q.get("silver", np.zeros(len(c["turns"]["text"]), bool))
    return np.isin(c["turns"]["turn_id"], list(q["question"].gold_turn_ids))


def build(data: Data, features: tuple[str, ...] = FEATURES) -> None:
    """Each question's candidates (``idx``), feature matrix (``X``) and labels (``y``)."""
    for d in data.values():
        for c in d["conversations"]:
            for q in c["questions"]:
                q["idx"], cand = candidates(c, q)
                q["X"] = rk.feature_matrix(cand, features)
                q["y"] = gold_mask(d, c, q)[q["idx"]]


def ranker(model: dict[str, Any]) -> Scorer:
    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        s = np.full(len(c["turns"]["text"]), -np.inf)
        win = q["in_window"]
        if q["dense"].max() < ABSTAIN_BELOW and (win is None or not win.any()):
            return s  # the recipe abstains: nothing stored is close to the query
        s[q["idx"]] = q["X"] @ model["coef"]
        return s

    return score


def _newton(Z: np.ndarray, y: np.ndarray, w: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method."""
    beta = np.zeros(Z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(Z @ beta, -30, 30)))
        g = Z.T @ (w * (p - y)) + reg * beta
        H = (Z * (w * p * (1 - p))[:, None]).T @ Z + np.diag(reg)
        step = np.linalg.solve(H, g)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def _questions(data: Data, names: list[str], weights: dict[str, float]):  # type: ignore[no-untyped-def]
    """(question, weight) with each set's questions sharing its weight equally."""
    for name in names:
        usable = [
            q
            for c in data[name]["conversations"]
            for q in c["questions"]
            if q["y"].any() and not q["y"].all()
        ]
        for q in usable:
            yield q, weights.get(name, 1.0) / len(usable)


def fit_pairs(
    data: Data,
    names: list[str],
    l2: float = 1.0,
    head: int = 30,
    weights: dict[str, float] = SET_WEIGHTS,
    features: tuple[str, ...] = FEATURES,
) -> dict[str, Any]:
    """Pairwise logistic regression: each gold candidate against the ``head`` strongest
    non-gold ones by BM25 or dense rank (those it has to beat). Shipped."""
    brr, drr = features.index("brr"), features.index("drr")
    Ds, ws = [], []
    for q, weight in _questions(data, names, weights):
        X, y = q["X"], q["y"]
        neg = np.flatnonzero(~y)
        hard = neg[np.argsort(-np.maximum(X[neg, brr], X[neg, drr]), kind="stable")[:head]]
        D = (X[y][:, None, :] - X[hard][None, :, :]).reshape(-1, X.shape[1])
        Ds.append(D)
        ws.append(np.full(len(D), weight / len(D)))
    D, w = np.concatenate(Ds), np.concatenate(ws)
    sd = D.std(0) + 1e-9
    # mirrored pairs make the problem symmetric: no intercept
    Z = np.r_[D / sd, -D / sd]
    y = np.r_[np.ones(len(D)), np.zeros(len(D))]
    beta = _newton(Z, y, np.r_[w, w] / 2, l2 * np.ones(Z.shape[1]))
    return {"coef": beta / sd}


def fit_pointwise(
    data: Data, names: list[str], l2: float = 1.0, weights: dict[str, float] = SET_WEIGHTS
) -> dict[str, Any]:
    """Pointwise logistic regression, gold and non-gold balanced within each question (tried)."""
    Xs, ys, ws = [], [], []
    for q, weight in _questions(data, names, weights):
        X, y = q["X"], q["y"]
        Xs.append(X)
        ys.append(y)
        ws.append(weight * np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum()))
    X, y, w = np.concatenate(Xs), np.concatenate(ys).astype(float), np.concatenate(ws)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.c_[(X - mu) / sd, np.ones(len(X))]
    beta = _newton(Z, y, w, l2 * np.r_[np.ones(X.shape[1]), 0.0])
    return {"coef": beta[:-1] / sd}


Fitter = Callable[..., dict[str, Any]]


def lodo(data: Data, fitter: Fitter, **kw: Any) -> Results:
    """Each dataset scored by a model fitted on the other two."""
    out: Results = {}
    for held, members in GROUPS.items():
        train = [s for g, m in GROUPS.items() if g != held for s in m if s in data]
        model = fitter(data, train, **kw)
        out.update(evaluate({s: data[s] for s in members if s in data}, ranker(model)))
    return out


def across_conversations(data: Data, fitter: Fitter, folds: int = 5, **kw: Any) -> Results:
    """Fold f holds out every folds-th conversation of each set (of HaluMem, user f): each
    conversation is ranked by a model that never saw it; question-weighted over folds."""
    single = [s for s in data if len(data[s]["conversations"]) == 1]
    rows: dict[str, list[tuple[int, dict[int, float]]]] = {s: [] for s in data}
    for f in range(folds):
        train, test = {}, {}
        for s, d in data.items():
            if s in single:
                (test if single.index(s) == f else train)[s] = d
                continue
            convs = d["conversations"]
            test[s] = {**d, "conversations": [c for i, c in enumerate(convs) if i % folds == f]}
            train[s] = {**d, "conversations": [c for i, c in enumerate(convs) if i % folds != f]}
        model = fitter(train, list(train), **kw)
        for s, d in test.items():
            if d["conversations"]:
                n = sum(len(c["questions"]) for c in d["conversations"])
                rows[s].append((n, evaluate({s: d}, ranker(model))[s]))
    return {
        s: {k: sum(n * r[k] for n, r in v) / sum(n for n, _ in v) for k in (5, 10)}
        for s, v in rows.items()
        if v
    }


def validate(data: Data, fitter: Fitter, **kw: Any) -> dict[str, Results]:
    return {
        "in_set": evaluate(data, ranker(fitter(data, list(data), **kw))),
        "across_conversations": across_conversations(data, fitter, **kw),
        "leave_one_dataset_out": lodo(data, fitter, **kw),
    }


# ------------------------------------------------------------------------------- main

#: Hand-written variants tried for issue 12 (scored in-set: nothing is fitted).
TRIED: dict[str, Scorer] = {
    "bm25 alone": bm25_only,
    "dense alone": dense_only,
    "RRF hybrid before issue 12 (bm25 0.5, dense 1, user x1.5)": rrf_family(),
    "RRF, bm25 1, dense 1": rrf_family(wb=1.0),
    "RRF, bm25 1, dense 0.5, k 20": rrf_family(wb=1.0, wd=0.5, k=20),
    "RRF without the user boost": rrf_family(ub=0.0),
    "RRF + neighbour spread 0.3 / 0.3": rrf_family(spread=(0.3, 0.3)),
    "RRF bm25 1, k 20 + neighbour spread 0.5 / 0.5": rrf_family(wb=1.0, k=20, spread=(0.5, 0.5)),
    "score fusion (z), dense 0.5, user +0.5": score_fusion(),
    "score fusion (z), dense 0.5, user +3, neighbours 0.3": score_fusion(ub=3.0, nb=0.3),
    "score fusion (z), dense 1, user +1.5, neighbours 0.3": score_fusion(wd=1.0, ub=1.5, nb=0.3),
    "dense + pseudo-relevance feedback (0.3, top 5)": dense_prf(0.3, 5),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dump", type=Path, default=Path("/tmp/recall/dump"))
    parser.add_argument("--quick", action="store_true", help="hand-written variants only")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--vectors", help="turn vectors of bench/recall_contextual.py instead")
    args = parser.parse_args()
    started = time.perf_counter()
    data = load(args.dump, tuple(args.sets), args.vectors)
    results = {name: evaluate(data, scorer) for name, scorer in TRIED.items()}
    print(table(results), flush=True)
    if args.quick:
        return
    build(data)
    fitted: dict[str, Results] = {}
    shipped = fit_pairs(data, list(data))
    fitted["shipped ranker + session diversity 0.25 (in-set)"] = evaluate(
        data, session_diversity(ranker(shipped), 0.25)
    )
    for name, fitter, kw in (
        ("pairwise LR (shipped)", fit_pairs, {}),
        ("pointwise LR", fit_pointwise, {}),
        ("pairwise, HaluMem users weighted 1 each", fit_pairs, {"weights": {}}),
        ("pairwise, all non-gold as negatives", fit_pairs, {"head": 10**6}),
    ):
        for how, r in validate(data, fitter, **kw).items():
            fitted[f"{name}: {how}"] = r
        print(name, flush=True)
    with_length = {
        s: {**d, "conversations": [
            {**c, "questions": [
                {**q, "X": np.c_[q["X"], np.log1p(c["turns"]["words"][q["idx"]])]}
                for q in c["questions"]
            ]}
            for c in d["conversations"]
        ]}
        for s, d in data.items()
    }  # fmt: skip
    for how, r in validate(with_length, fit_pairs, features=(*FEATURES, "loglen")).items():
        fitted[f"with log(1 + words of the turn) (dropped): {how}"] = r
    for name, drop in (
        ("without neighbour features", {"prev_bn", "next_bn", "prev_dz", "next_dz"}),
        ("without session features", {"sess_bn", "sess_dz"}),
        ("without user x signal", {"user*bn", "user*brr", "user*dz", "user*drr"}),
    ):
        kept = tuple(f for f in FEATURES if f not in drop)
        cols = [FEATURES.index(f) for f in kept]
        sub = {
            s: {
                **d,
                "conversations": [
                    {**c, "questions": [{**q, "X": q["X"][:, cols]} for q in c["questions"]]}
                    for c in d["conversations"]
                ],
            }
            for s, d in data.items()
        }
        fitted[f"{name}: across_conversations"] = across_conversations(
            sub, fit_pairs, features=kept
        )
        print(name, flush=True)
    print(table(fitted))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
