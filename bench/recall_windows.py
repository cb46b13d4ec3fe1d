"""Fourth round of issue 12: long turns seen whole by the dense signal, in windows.

The packaged model reads 256 tokens; BEAM's assistant turns run to ~900. Each turn of the
dumps (bench/recall_dump.py) is re-embedded as windows of up to 256 tokens that overlap by
``--overlap`` tokens (the tokenizer's own truncation stride), at most ``--windows`` of
them, and each variant below is scored on dense alone, then with the ranker refitted (in-set,
across conversations, leave one dataset out), as bench/recall_lab.py scores the others:

- ``first``: the first window only (what the store holds today);
- ``mean``: the normalised mean of the windows' vectors (one vector per turn);
- ``max``: a turn's cosine is its best window's (one vector per window);
- ``first+mean``: the normalised sum of the first window's vector and the windows' mean;
- and, with the first window's vectors for dense, a ranker feature ``late``: how much better
  the turn's best window (or the windows' mean) matches the query than its first.

A turn of one window keeps its dump vector bit for bit. The window vectors are cached as
``<set>.win<overlap>x<windows>.npz`` beside the dumps; ``<set>.mean<overlap>x<windows>.npy``
(one row per turn: the ``mean`` variant) is what ``recall_lab.py --vectors`` and
``recall_fit.py --vectors`` read.

    PYTHONPATH=src python bench/recall_windows.py --dump /tmp/recall/dump --overlap 32

``--head N`` writes ``<set>.head<N>.npy`` instead: each turn read as its first N tokens only,
for ``recall_lab.py --vectors head<N>`` (a shorter window, the other way round).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import recall_lab as lab

from remem.providers.local_embedder import LocalEmbedder
from remem.providers.onnx_embedder import batches


def window_vectors(
    embedder: LocalEmbedder, texts: list[str], overlap: int, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every window's vector (rows) and each text's first row (``starts``, one past the end)."""
    embedder._load()
    tokenizer = embedder._tokenizer
    tokenizer.enable_truncation(max_length=embedder.settings.max_tokens, stride=overlap)
    try:
        encodings = tokenizer.encode_batch(texts)
    finally:
        tokenizer.enable_truncation(max_length=embedder.settings.max_tokens)
    pieces = [[e, *e.overflowing][:cap] for e in encodings]
    flat = [p for ps in pieces for p in ps]
    starts = np.cumsum([0] + [len(ps) for ps in pieces])
    out = np.empty((len(flat), embedder.dimension), dtype=np.float32)
    for batch in batches([len(p.ids) for p in flat]):
        out[batch] = embedder._run([flat[i] for i in batch])
    return out, starts


def embed_set(dump: Path, name: str, overlap: int, cap: int) -> dict[str, np.ndarray]:
    path = dump / f"{name}.win{overlap}x{cap}.npz"
    if path.exists():
        return dict(np.load(path))
    data = lab.load(dump, (name,))
    texts = [x for c in data[name]["conversations"] for x in c["turns"]["text"]]
    started = time.perf_counter()
    vectors, starts = window_vectors(LocalEmbedder(threads=2), texts, overlap, cap)
    print(f"{name}: {len(texts)} turns, {len(vectors)} windows, "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    np.savez(path, vectors=vectors, starts=starts)
    return {"vectors": vectors, "starts": starts}


def per_turn(first: np.ndarray, win: dict[str, np.ndarray], how: str) -> np.ndarray:
    """One vector per turn (``mean``, ``first+mean``); single-window turns keep ``first``."""
    V, starts = win["vectors"], win["starts"]
    counts = np.diff(starts)
    sums = np.add.reduceat(V, starts[:-1], axis=0)
    mean = sums / counts[:, None]
    mixed = mean if how == "mean" else mean + first
    out = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.where((counts == 1)[:, None], first, out).astype(np.float32)


def use(data: lab.Data, name: str, win: dict[str, np.ndarray], how: str) -> None:
    """Point the dense signal of ``data[name]`` at the variant ``how``."""
    offset = 0
    for c in data[name]["conversations"]:
        t = c["turns"]
        n = len(t["text"])
        if "first" not in t:
            t["first"] = t["vectors"]
        part = {
            "vectors": win["vectors"][win["starts"][offset] : win["starts"][offset + n]],
            "starts": win["starts"][offset : offset + n + 1] - win["starts"][offset],
        }
        offset += n
        if how in ("mean", "first+mean"):
            t["vectors"] = per_turn(t["first"], part, how)
        else:
            t["vectors"] = t["first"]
        for q in c["questions"]:
            if how == "max":
                cos = part["vectors"] @ q["vector"]
                q["dense"] = np.maximum.reduceat(cos, part["starts"][:-1])
            else:
                q["dense"] = t["vectors"] @ q["vector"]


def head_vectors(dump: Path, name: str, tokens: int) -> None:
    """``<set>.head<tokens>.npy``: each turn read as its first ``tokens`` tokens only (turns no
    longer than that keep their dump vector), for ``recall_lab.py --vectors head<tokens>``."""
    data = lab.load(dump, (name,))
    turns = [t for c in data[name]["conversations"] for t in [c["turns"]]]
    vectors = np.concatenate([t["vectors"] for t in turns])
    texts = [x for t in turns for x in t["text"]]
    embedder = LocalEmbedder(threads=2)
    embedder._load()
    tokenizer = embedder._tokenizer
    tokenizer.enable_truncation(max_length=tokens)
    encodings = tokenizer.encode_batch(texts)
    longer = [i for i, e in enumerate(encodings) if e.overflowing]
    for batch in batches([tokens] * len(longer)):
        vectors[[longer[i] for i in batch]] = embedder._run([encodings[longer[i]] for i in batch])
    np.save(dump / f"{name}.head{tokens}.npy", vectors)
    print(f"{name}: {len(longer)} of {len(texts)} turns cut at {tokens} tokens", flush=True)


def late_feature(
    data: lab.Data, wins: dict[str, dict[str, np.ndarray]], out: dict[str, lab.Results]
) -> None:
    """The store's first-window vectors for dense, and as a ranker feature how much better
    a turn's best (or mean) window matches the query than its first (``late``, 0 for a turn
    of one window); also ``late`` crossed with the assistant's turns."""
    for s in data:
        use(data, s, wins[s], "first")
    lab.build(data)
    base = {
        id(q): q["X"] for d in data.values() for c in d["conversations"] for q in c["questions"]
    }
    lead: dict[str, dict[int, np.ndarray]] = {"max": {}, "mean": {}}
    for how, found in lead.items():
        for s in data:
            use(data, s, wins[s], how)
            for c in data[s]["conversations"]:
                for q in c["questions"]:
                    found[id(q)] = (q["dense"] - c["turns"]["first"] @ q["vector"])[q["idx"]]
            use(data, s, wins[s], "first")
    user = lab.FEATURES.index("user")
    for name, how, crossed in (
        ("late", "max", False),
        ("late + assistant x late", "max", True),
        ("late of the mean", "mean", False),
    ):
        for d in data.values():
            for c in d["conversations"]:
                for q in c["questions"]:
                    X, late = base[id(q)], lead[how][id(q)]
                    q["X"] = np.c_[X, late, late * (1 - X[:, user])] if crossed else np.c_[X, late]
        features = (*lab.FEATURES, "late", *(("asst*late",) if crossed else ()))
        for where, r in lab.validate(data, lab.fit_pairs, features=features).items():
            out[f"ranker on first + {name}: {where}"] = r
    print(lab.table({k: v for k, v in out.items() if "late" in k}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dump", type=Path, default=Path("/tmp/recall/dump"))
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--variants", nargs="*", default=["first", "mean", "max", "first+mean"])
    parser.add_argument("--dense-only", action="store_true")
    parser.add_argument("--sets", nargs="*", default=list(lab.SETS))
    parser.add_argument("--head", type=int, help="write turn vectors of the first N tokens")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.head:
        for s in args.sets:
            head_vectors(args.dump, s, args.head)
        return
    data = lab.load(args.dump, tuple(args.sets))
    wins = {s: embed_set(args.dump, s, args.overlap, args.windows) for s in data}
    for s in data:  # one vector per turn, for recall_lab.py / recall_fit.py --vectors
        first = np.concatenate([c["turns"]["vectors"] for c in data[s]["conversations"]])
        mean = per_turn(first, wins[s], "mean")
        np.save(args.dump / f"{s}.mean{args.overlap}x{args.windows}.npy", mean)
    for s, w in wins.items():
        counts = np.diff(w["starts"])
        print(f"{s}: turns over one window {np.mean(counts > 1):.3f}, "
              f"windows per turn {counts.mean():.2f}, at the cap {np.mean(counts == args.windows):.3f}")  # fmt: skip
    dense: dict[str, lab.Results] = {}
    fitted: dict[str, lab.Results] = {}
    for how in args.variants:
        for s in data:
            use(data, s, wins[s], how)
        dense[f"dense alone, {how}"] = lab.evaluate(data, lab.dense_only)
        print(lab.table({k: v for k, v in dense.items() if k.endswith(how)}), flush=True)
        if args.dense_only:
            continue
        lab.build(data)
        for where, r in lab.validate(data, lab.fit_pairs).items():
            fitted[f"ranker on {how}: {where}"] = r
        print(lab.table({k: v for k, v in fitted.items() if f" {how}:" in k}), flush=True)
    if not args.dense_only:
        late_feature(data, wins, fitted)
    print(lab.table(dense))
    if fitted:
        print(lab.table(fitted))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
