"""Fifth round of issue 12 (BEAM @5 ≥ 0.58): every variant measured, in one command.

Each variant starts from the ranker as it was before this round (the 18 features of rounds
one to four) and is scored as bench/recall_lab.py scores fitted rankers: in-set, across
conversations and leave-one-dataset-out. Groups (docs/recall.md, "fifth round"):

- ``features``: one idea added to the 18 and the ranker refitted (the shipped
  ``past*directive`` among them);
- ``fits``: other ways to fit the same 18 features: coordinate ascent on recall@5/@10 itself,
  and (when lightgbm is importable; it is not a remem dependency) LambdaMART trees;
- ``diagnose``: why information-extraction questions lose to dense alone (by feature);
- ``queries``: the query rewritten before BM25 and dense: question-scaffolding words dropped,
  and a list the query names ("including A, B and C") searched one item at a time and fused.
  These need the kept eval stores (``--workdir``) to run BM25 on the rewritten queries.

    PYTHONPATH=src python bench/recall_round5.py --dump /tmp/recall/dump \\
        --workdir /tmp/remem-eval-work [--groups features fits queries]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import recall_lab as lab
import recall_round5_fits as other_fits

from remem.retrieval import ranker as rk
from remem.text.terms import query_terms

#: The ranker's features before this round (without the question-kind products it added).
OLD = tuple(f for f in lab.FEATURES if not {"past", "you"} & set(f.split("*")))
Column = Callable[[dict[str, Any], dict[str, Any]], np.ndarray]

#: Requests for something new ("how do I…", "can you show me…"), the other side of ``rk.PAST``.
REQUEST = re.compile(
    r"^\s*(?:can|could|would|will)\s+you\b|\bhow\s+(?:can|do|should|would|could)\s+i\b"
    r"|\bwhat\s+(?:are|is)\s+(?:some|the\s+best|a\s+good)\b"
    r"|\bi'?m\s+(?:looking|trying|planning|thinking|wondering)\b|\bhelp\s+me\b"
    r"|\bwould\s+you\s+suggest\b|\bshould\s+i\b",
    re.I,
)
#: A looser "about the past": any past auxiliary or verb of saying, with or without a person.
LOOSE_PAST = re.compile(
    r"\b(?:did|had|was|were)\b|\b(?:said|mentioned|told|asked|suggested|recommended|discussed"
    r"|decided|planned|brought)\b",
    re.I,
)
#: Words that describe the conversation rather than its content (dropped from BM25 terms).
SCAFFOLD = frozenset(
    ("conversation", "conversations", "discussion", "discussions", "chat", "chats", "brought",
     "mention", "mentioned", "items", "throughout")
)  # fmt: skip
LIST = re.compile(r"\b(?:including|such as|covering|focusing on|like)\s+(.+)$", re.I)
ITEMS = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,\s*|\s+(?:and|or)\s+)")


# ----------------------------------------------------------------------- helpers


def _col(q: dict[str, Any], name: str) -> np.ndarray:
    return q["X"][:, OLD.index(name)]  # type: ignore[no-any-return]


def _flag(pattern: re.Pattern[str], q: dict[str, Any]) -> float:
    return float(bool(pattern.search(q["question"].text)))


def with_columns(data: lab.Data, column: Column) -> lab.Data:
    """``data`` with ``column(c, q)`` (rows: candidates) appended to each question's ``X``."""
    return {
        s: {**d, "conversations": [
            {**c, "questions": [{**q, "X": np.c_[q["X"], column(c, q)]} for q in c["questions"]]}
            for c in d["conversations"]
        ]}
        for s, d in data.items()
    }  # fmt: skip


def old_features(data: lab.Data) -> lab.Data:
    """Each question's ``X`` with the 18 features of rounds one to four only."""
    keep = [lab.FEATURES.index(f) for f in OLD]
    return {
        s: {**d, "conversations": [
            {**c, "questions": [{**q, "X": q["X"][:, keep]} for q in c["questions"]]}
            for c in d["conversations"]
        ]}
        for s, d in data.items()
    }  # fmt: skip


def _directive_rank(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    t = c["turns"]
    if not t["directive"].any():
        return np.zeros(len(q["idx"]))
    r = lab.top_ranks(q["dense"].astype(np.float64), t["directive"], 5)[q["idx"]]
    return np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0)


def _session_other(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    """The best bn / dz of the other candidates of its session (not its own)."""
    sess = c["turns"]["session"][q["idx"]]
    out = []
    for name, missing in (("bn", 0.0), ("dz", rk.FLOOR)):
        v, o = _col(q, name), np.full(len(sess), missing)
        for s in np.unique(sess):
            rows = np.flatnonzero(sess == s)
            if len(rows) > 1:
                order = np.argsort(-v[rows])
                o[rows] = np.where(rows == rows[order[0]], v[rows[order[1]]], v[rows[order[0]]])
        out.append(o)
    return np.stack(out, 1)


def _peaks(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
    d, b = np.sort(q["dense"])[::-1], np.sort(q["bm25"])[::-1]
    dp = (d[0] - d[1:10].mean()) / (d[:50].std() + 1e-6)
    bp = (b[0] - b[1:10].mean()) / b[0] if b[0] > 0 else 0.0
    cols = (_col(q, "dz") * dp, _col(q, "drr") * dp, _col(q, "bn") * bp, _col(q, "brr") * bp)
    return np.stack(cols, 1)


def _past(pattern: re.Pattern[str], *names: str) -> Column:
    return lambda c, q: np.stack([_flag(pattern, q) * _col(q, n) for n in names], 1)


def _you(*names: str) -> Column:
    """The query asks what the assistant said, × the assistant's turns (× ``names``)."""

    def column(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        you = _flag(rk.YOU, q) * (1 - _col(q, "user"))
        return np.stack([you * (_col(q, n) if n else 1.0) for n in names], 1)

    return column


def _both(*columns: Column) -> Column:
    return lambda c, q: np.concatenate([column(c, q) for column in columns], axis=1)


#: name -> (new feature names, their columns)
FEATURE_VARIANTS: dict[str, tuple[tuple[str, ...], Column]] = {
    "past*directive, past*drr, you*assistant, you*assistant*drr (shipped)": (
        ("p*dir", "p*drr", "y*a", "y*a*drr"),
        _both(_past(rk.PAST, "directive", "drr"), _you("", "drr")),
    ),
    "past*directive, you*assistant, you*assistant*drr": (
        ("p*dir", "y*a", "y*a*drr"),
        _both(_past(rk.PAST, "directive"), _you("", "drr")),
    ),
    "the same, past × user*brr instead of past*drr": (
        ("p*dir", "p*ubrr", "y*a", "y*a*drr"),
        _both(_past(rk.PAST, "directive", "user*brr"), _you("", "drr")),
    ),
    "the same, past × user*brr and past*drr": (
        ("p*dir", "p*ubrr", "p*drr", "y*a", "y*a*drr"),
        _both(_past(rk.PAST, "directive", "user*brr", "drr"), _you("", "drr")),
    ),
    "past*directive (kept first)": (("past*directive",), _past(rk.PAST, "directive")),
    "past*directive, you*assistant, you*drr (any turn)": (
        ("p*dir", "y*a", "y*drr"),
        _both(_past(rk.PAST, "directive"), _you(""), _past(rk.YOU, "drr")),
    ),
    "past*directive, you*assistant, you*next_bn": (
        ("p*dir", "y*a", "y*next_bn"),
        _both(_past(rk.PAST, "directive"), _you(""), _past(rk.YOU, "next_bn")),
    ),
    "past*directive, you*assistant": (
        ("p*dir", "y*a"),
        _both(_past(rk.PAST, "directive"), _you("")),
    ),
    "past*directive, you*assistant*drr": (
        ("p*dir", "y*a*drr"),
        _both(_past(rk.PAST, "directive"), _you("drr")),
    ),
    "past*directive, you*assistant, you*assistant*dz": (
        ("p*dir", "y*a", "y*a*dz"),
        _both(_past(rk.PAST, "directive"), _you("", "dz")),
    ),
    "past*directive, you*assistant, you*assistant*drr, you*assistant*dz": (
        ("p*dir", "y*a", "y*a*drr", "y*a*dz"),
        _both(_past(rk.PAST, "directive"), _you("", "drr", "dz")),
    ),
    "past × directive, user": (("p*dir", "p*user"), _past(rk.PAST, "directive", "user")),
    "past × directive, user, dz, drr": (
        ("p*dir", "p*user", "p*dz", "p*drr"),
        _past(rk.PAST, "directive", "user", "dz", "drr"),
    ),
    "past × directive, user*brr": (
        ("p*dir", "p*ubrr"),
        _past(rk.PAST, "directive", "user*brr"),
    ),
    "looser past (any past verb) × directive": (("lp*dir",), _past(LOOSE_PAST, "directive")),
    "request × directive": (("req*dir",), _past(REQUEST, "directive")),
    "request × directive, past × directive": (
        ("req*dir", "p*dir"),
        lambda c, q: np.c_[_past(REQUEST, "directive")(c, q), _past(rk.PAST, "directive")(c, q)],
    ),
    "directive × dz, directive × drr": (
        ("dir*dz", "dir*drr"),
        lambda c, q: np.stack([_col(q, "directive") * _col(q, n) for n in ("dz", "drr")], 1),
    ),
    "1 / rank among the 5 closest directives": (("dir_rr",), _directive_rank),
    "the same, and past*directive": (
        ("dir_rr", "p*dir"),
        lambda c, q: np.c_[_directive_rank(c, q), _past(rk.PAST, "directive")(c, q)],
    ),
    "best of the other candidates of its session": (("sess_bn_o", "sess_dz_o"), _session_other),
    "dz, drr, bn, brr × how peaked each search is": (("dz*p", "drr*p", "bn*p", "brr*p"), _peaks),
}


#: Each crossed with "asks about the past" on top of past*directive and the you features:
#: the sweep that chose ``past*drr`` (across conversations only).
SWEEP = ("user", "user*brr", "user*bn", "bn", "brr", "dz", "drr", "next_bn", "prev_bn",
         "sess_bn", "win")  # fmt: skip


def sweep(old: lab.Data) -> dict[str, lab.Results]:
    out = {}
    for name in SWEEP:
        column = _both(_past(rk.PAST, "directive", name), _you("", "drr"))
        names = (*OLD, "p*dir", f"p*{name}", "y*a", "y*a*drr")
        ac = lab.across_conversations(with_columns(old, column), lab.fit_pairs, features=names)
        out[f"past*directive, you*assistant(*drr), past × {name}: across_conversations"] = ac
    return out


def features(data: lab.Data) -> dict[str, lab.Results]:
    out: dict[str, lab.Results] = {}
    old = old_features(data)
    for how, r in lab.validate(old, lab.fit_pairs, features=OLD).items():
        out[f"the 18 of rounds 1-4: {how}"] = r
    for name, (names, column) in FEATURE_VARIANTS.items():
        for how, r in lab.validate(
            with_columns(old, column), lab.fit_pairs, features=(*OLD, *names)
        ).items():
            out[f"{name}: {how}"] = r
        print(name, flush=True)
    return {**out, **sweep(old)}


# ----------------------------------------------------------------------- queries


def subqueries(text: str) -> list[str]:
    """One query per item of a list of three or more the question names ("including A, B
    and C"), each with the content words before the list (the topic)."""
    found = LIST.search(text.strip().rstrip("?.!"))
    if not found:
        return []
    items = [i.strip() for i in ITEMS.split(found.group(1)) if query_terms(i)]
    head = " ".join(query_terms(text[: found.start()]))
    return [f"{head} {item}" for item in items] if len(items) >= 3 else []


def _bm25(memory: Any, flt: Any, row: dict[str, int], terms: list[str]) -> np.ndarray:
    """The store's own BM25 score of every dumped turn for ``terms``."""
    scores = np.zeros(len(row), dtype=np.float32)
    for record, score in memory.store.text_search(terms, flt, len(row)):
        if record.id in row:
            scores[row[record.id]] = score
    return scores


def _rewrites(data: lab.Data, workdir: Path) -> None:
    """Per question: BM25 of its terms without scaffolding words (``bm25_scaffold``) and,
    for a question naming a list, BM25 and vector of each item's query (``subs``)."""
    from recall_dump import DEV_SETS

    from remem.eval.datasets import load
    from remem.eval.runner import USER, _conversation_store
    from remem.model import Scope
    from remem.providers.embedder import default_embedder
    from remem.stores.base import MemoryFilter

    embedder = default_embedder()
    for name, d in data.items():
        dataset, path = DEV_SETS[name]
        dumped = {c["id"]: c for c in d["conversations"]}
        for conversation in load(dataset, path):
            c = dumped[conversation.id]
            row = {m: i for i, m in enumerate(c["turns"]["memory_id"])}
            with _conversation_store(workdir, conversation, keep=True, embedder=embedder) as memory:
                flt = MemoryFilter(
                    scope=Scope(tenant=memory.tenant, user_id=USER), kinds=("episode",)
                )

                for q in c["questions"]:
                    kept = [t for t in q["terms"] if t not in SCAFFOLD]
                    q["bm25_scaffold"] = (
                        _bm25(memory, flt, row, kept) if kept != q["terms"] else q["bm25"]
                    )
                    q["subs"] = [
                        {
                            "terms": query_terms(s),
                            "bm25": _bm25(memory, flt, row, query_terms(s)),
                            "vector": embedder.embed_query(s),
                        }
                        for s in subqueries(q["question"].text)
                    ]


def _scores(c: dict[str, Any], q: dict[str, Any], coef: np.ndarray) -> np.ndarray:
    """The ranker's score of every candidate of ``q`` (no abstention), -inf elsewhere."""
    idx, cand = lab.candidates(c, q)
    s = np.full(len(c["turns"]["text"]), -np.inf)
    s[idx] = rk.feature_matrix(cand, OLD) @ coef
    return s


def _ranked(c: dict[str, Any], q: dict[str, Any], coef: np.ndarray) -> np.ndarray:
    return lab.rank(_scores(c, q, coef), lab.POOL_K)


def _fused_subqueries(coef: np.ndarray, k: int = 60) -> lab.Scorer:
    """The ranker's list fused (reciprocal rank) with one ranker list per list item."""

    def score(c: dict[str, Any], q: dict[str, Any]) -> np.ndarray:
        lists = [_ranked(c, q, coef)]
        for sub in q["subs"]:
            dense = c["turns"]["vectors"] @ sub["vector"]
            lists.append(_ranked(c, {**q, **sub, "dense": dense}, coef))
        fused = np.zeros(len(c["turns"]["text"]))
        for ranked in lists:
            fused[ranked] += 1.0 / (k + np.arange(1, len(ranked) + 1))
        return np.where(fused > 0, fused, -np.inf)

    return score


def queries(data: lab.Data, workdir: Path) -> dict[str, lab.Results]:
    _rewrites(data, workdir)
    old, out = old_features(data), {}
    coef = lab.fit_pairs(old, list(old), features=OLD)["coef"]
    out["the 18 of rounds 1-4, no abstention (in-set)"] = lab.evaluate(
        old, lambda c, q: _scores(c, q, coef)
    )
    out["the 18, each list item searched too, fused (in-set)"] = lab.evaluate(
        old, _fused_subqueries(coef)
    )
    n = sum(
        bool(q["subs"]) for d in data.values() for c in d["conversations"] for q in c["questions"]
    )
    print(f"{n} questions name a list of three or more", flush=True)
    scaffold = {
        s: {**d, "conversations": [
            {**c, "questions": [{**q, "bm25": q["bm25_scaffold"]} for q in c["questions"]]}
            for c in d["conversations"]
        ]}
        for s, d in data.items()
    }  # fmt: skip
    out["BM25 alone without scaffolding words"] = lab.evaluate(scaffold, lab.bm25_only)
    lab.build(scaffold, OLD)
    for how, r in lab.validate(scaffold, lab.fit_pairs, features=OLD).items():
        out[f"the 18, BM25 without scaffolding words: {how}"] = r
    return out


def diagnose(data: lab.Data, category: str = "information_extraction") -> None:
    """Why the ranker of rounds 1-4 loses BEAM's information-extraction questions to dense
    alone: for each gold turn in dense's top 5 but not the ranker's, each feature's share of
    the score gap between the ranker's 5th (non-gold) hit and it, averaged."""
    old = old_features(data)
    coef = lab.fit_pairs(old, list(old), features=OLD)["coef"]
    gaps = []
    for c in old["beam"]["conversations"]:
        for q in (q for q in c["questions"] if q["question"].category == category):
            gold = lab.gold_mask(old["beam"], c, q)
            s = _scores(c, q, coef)
            top, row = lab.rank(s, 5), {i: r for r, i in enumerate(q["idx"])}
            fifth = top[-1]
            for i in lab.rank(q["dense"], 5):
                if gold[i] and i not in top and i in row and not gold[fifth]:
                    gaps.append((q["X"][row[fifth]] - q["X"][row[i]]) * coef)
    mean = np.mean(gaps, axis=0)
    print(f"{len(gaps)} gold turns dense puts in its top 5 and the ranker does not; the ranker's")
    print("5th hit minus each, by feature (positive: the feature keeps the 5th above it):")
    print(" ".join(f"{f} {v:+.2f}" for f, v in zip(OLD, mean, strict=True) if abs(v) >= 0.01))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dump", type=Path, default=Path("/tmp/recall/dump"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/remem-eval-work"))
    parser.add_argument("--groups", nargs="*", default=["diagnose", "features", "fits", "queries"])
    args = parser.parse_args()
    started = time.perf_counter()
    data = lab.load(args.dump)
    lab.build(data)
    results: dict[str, lab.Results] = {}
    if "diagnose" in args.groups:
        diagnose(data)
    if "features" in args.groups:
        results.update(features(data))
    if "fits" in args.groups:
        results.update(other_fits.fits(old_features(data), OLD))
    if "queries" in args.groups:
        results.update(queries(data, args.workdir))
    print(lab.table(results))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
