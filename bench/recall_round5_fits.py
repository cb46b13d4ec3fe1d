"""Fifth round of issue 12: other ways to fit the ranker's features (bench/recall_round5.py).

Coordinate ascent on recall@5 + @10 itself (from the pairwise fit), plain or constrained so
that no set falls below the pairwise fit while BEAM rises; and LambdaMART trees (lightgbm,
when importable: it is not a remem dependency, the lab installs it with
``pip install --target``). Scored as bench/recall_lab.py scores fitted rankers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import recall_lab as lab


def _per_set(
    prepared: dict[str, list[tuple[np.ndarray, np.ndarray, int | None]]], w: np.ndarray
) -> dict[str, tuple[float, float]]:
    """Fast recall@5/@10 per set (HaluMem: any gold session) of the linear model ``w``."""
    out = {}
    for s, rows in prepared.items():
        at5 = at10 = 0.0
        for X, gold, n in rows:
            sc = X @ w
            top = np.argsort(-sc, kind="stable")[:10]
            h5, h10 = gold[top[:5]], gold[top]
            at5 += h5.any() if n is None else h5.sum() / n
            at10 += h10.any() if n is None else h10.sum() / n
        out[s] = (at5 / len(rows), at10 / len(rows))
    return out


def _prepare(
    data: lab.Data, names: list[str]
) -> dict[str, list[tuple[np.ndarray, np.ndarray, int | None]]]:
    prepared: dict[str, list[tuple[np.ndarray, np.ndarray, int | None]]] = {}
    for s in names:
        d, rows = data[s], []
        for c in d["conversations"]:
            t = c["turns"]
            for q in c["questions"]:
                question = q["question"]
                if d["dataset"] == "halumem" and question.gold_session_ids:
                    sessions = [t["session_ids"][i] for i in t["session"][q["idx"]]]
                    rows.append((q["X"], np.isin(sessions, list(question.gold_session_ids)), None))
                elif d["dataset"] != "halumem" and question.gold_turn_ids:
                    ids = np.asarray(t["turn_id"])[q["idx"]]
                    gold = np.isin(ids, list(question.gold_turn_ids))
                    rows.append((q["X"], gold, len(question.gold_turn_ids)))
        prepared[s] = rows
    return prepared


def fit_ascent(
    data: lab.Data,
    names: list[str],
    features: tuple[str, ...] = lab.FEATURES,
    constrained: bool = False,
    **_: Any,
) -> dict[str, Any]:
    """Coordinate ascent on recall@5 + @10 (each dataset weighted as in the fit), from the
    pairwise fit. ``constrained``: maximise BEAM, no set may fall below the pairwise fit."""
    w = lab.fit_pairs(data, names, features=features)["coef"].copy()
    prepared = _prepare(data, names)
    base = _per_set(prepared, w)

    def objective(r: dict[str, tuple[float, float]]) -> float:
        if not constrained:
            return sum(lab.SET_WEIGHTS.get(s, 1.0) * (a + b) for s, (a, b) in r.items())
        if "beam" not in r or any(r[s][0] < base[s][0] or r[s][1] < base[s][1] for s in r):
            return -1.0
        return (
            r["beam"][0]
            + 0.5 * r["beam"][1]
            + 0.1 * sum(a + b for s, (a, b) in r.items() if s != "beam")
        )

    best = objective(base)
    for _ in range(3):
        moved = False
        for j in range(len(w)):
            for step in (0.5, 0.25, 0.1, -0.1, -0.25, -0.5):
                while True:
                    trial = w.copy()
                    trial[j] += step * max(abs(w[j]), 0.1)
                    score = objective(_per_set(prepared, trial))
                    if score <= best + 1e-9:
                        break
                    w, best, moved = trial, score, True
        if not moved:
            break
    return {"coef": w}


def fits(old: lab.Data, features: tuple[str, ...]) -> dict[str, lab.Results]:
    """Each fit of ``features`` (the columns of ``old``), validated three ways."""
    out = {}
    for name, kw in (
        ("coordinate ascent on recall", {}),
        ("the same, constrained", {"constrained": True}),
    ):
        for how, r in lab.validate(old, fit_ascent, features=features, **kw).items():
            out[f"{name}: {how}"] = r
        print(name, flush=True)
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        print("lightgbm is not importable: LambdaMART skipped")
        return out
    shipped_ranker = lab.ranker
    lab.ranker = _tree_scorer  # validate() scores through lab.ranker
    try:
        for params, rounds in (
            ({}, 150),
            ({"num_leaves": 3}, 300),
            ({"num_leaves": 15, "min_data_in_leaf": 200}, 100),
        ):
            for how, r in lab.validate(old, fit_trees, params=params, rounds=rounds).items():
                out[f"LambdaMART {params or 'leaves 7'}, {rounds} trees: {how}"] = r
            print("trees", params, flush=True)
    finally:
        lab.ranker = shipped_ranker
    return out


def fit_trees(
    data: lab.Data, names: list[str], params: dict[str, Any], rounds: int, **_: Any
) -> dict[str, Any]:
    import lightgbm as lgb

    X, y, w, groups = [], [], [], []
    for q, weight in lab._questions(data, names, lab.SET_WEIGHTS):
        X.append(q["X"])
        y.append(q["y"].astype(int))
        w.append(np.full(len(q["y"]), weight))
        groups.append(len(q["y"]))
    weights = np.concatenate(w)
    config = {
        "objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 7,
        "min_data_in_leaf": 100, "lambdarank_truncation_level": 10, "verbose": -1,
        "num_threads": 1, "seed": 1, "deterministic": True, "force_row_wise": True, **params,
    }  # fmt: skip
    train = lgb.Dataset(
        np.concatenate(X), np.concatenate(y), weight=weights / weights.mean(), group=groups
    )
    return {"booster": lgb.train(config, train, num_boost_round=rounds)}


def _tree_scorer(model: dict[str, Any]) -> lab.Scorer:
    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        s = np.full(len(c["turns"]["text"]), -np.inf)
        win = q["in_window"]
        if q["dense"].max() < lab.ABSTAIN_BELOW and (win is None or not win.any()):
            return s
        s[q["idx"]] = model["booster"].predict(q["X"])
        return s

    return score
