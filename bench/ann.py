"""The dense signal of one large partition: exact scan against the ANN graph, side by side.

    python bench/ann.py --sizes 100000 1000000 --queries 200

One ``RowIndex`` partition (the SQLite store's search index, ``stores/row_index.py``)
holds N rows; the same queries run through its graph (``stores/ann.py``) and through
the exact baseline (numpy ``matrix @ q`` + argpartition over the same float32 rows) in
the same process. Reported: graph build and incremental add rates, top-10 latency
(p50/p95), recall@10 against exact (rows tied with the 10th count) with no filter, a
broad time window, a selective one and directives only, and saving / loading the index
file (what a new process reads instead of rebuilding).

Vectors: the bench corpus's turns embedded by the real model (``bench/embed_cache.py``,
100k cached). Past the cache (1M rows would need ~2 hours of the model here), further rows
are made from cached ones, one of two ways (``--extra``):

- ``mix`` (the default): a random mixture of two or three real vectors (Dirichlet weights),
  renormalised. Each is distinct and lies between real sentences, as a new turn about the
  same things would: the realistic case.
- ``jitter``: one real vector plus Gaussian noise (sigma 0.01 per dimension, cosine ~0.98
  to its source), renormalised: each real vector about ten times as a cluster of
  near-copies, the hard case for a graph (a corpus of near-identical re-sent messages).

Queries are fresh questions embedded by the real model.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import corpus
import embed_cache
import machine
import numpy as np

from remem.providers.local_embedder import LocalEmbedder
from remem.stores import ann, index_file
from remem.stores.row_index import MIN_FETCH, OVERFETCH, Part, RowIndex, Window

PART = ("bench", "user")
K = 10
ROOT = Path(__file__).resolve().parent
MINUTE = 60.0


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples)
    return {q: round(float(np.percentile(values, int(q[1:]))), 3) for q in ("p50", "p95", "p99")}


def vectors_for(size: int, cache: Path, seed: int, extra: str) -> tuple[np.ndarray, int]:
    """``size`` corpus vectors: real ones from the cache, then rows made from them."""
    cached = 100_000
    sessions = corpus.sessions(min(size, cached), 50, seed)
    texts = [t for s in sessions for t in s.texts][: min(size, cached)]
    real, _ = embed_cache.corpus_vectors(texts, LocalEmbedder.shared(), cache)
    if size <= len(real):
        return real[:size], len(real[:size])
    rng = np.random.default_rng(seed)
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), size, 100_000):
        end = min(start + 100_000, size)
        block = (
            mixtures(real, end - start, rng) if extra == "mix" else jittered(real, end - start, rng)
        )
        out[start:end] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, len(real)


def mixtures(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows, each a Dirichlet-weighted sum of two or three random real vectors."""
    weights = rng.dirichlet(np.ones(3), n).astype(np.float32)
    weights[rng.random(n) < 0.5, 2] = 0.0  # half of them mix two
    sources = rng.integers(0, len(real), (n, 3))
    return np.einsum("nk,nkd->nd", weights, real[sources])


def jittered(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows, each a random real vector plus noise (cosine ~0.98 to it)."""
    block = real[rng.integers(0, len(real), n)]
    return block + rng.normal(0, 0.01, block.shape).astype(np.float32)


def exact_top(matrix: np.ndarray, query: np.ndarray, ok: np.ndarray | None) -> np.ndarray:
    """The baseline: exact scores of the admitted rows and the 10th best of them."""
    scores = matrix @ query
    if ok is not None:
        scores[~ok] = -np.inf
    return scores


def recall(found: np.ndarray, scores: np.ndarray) -> float:
    """Share of the found top-10 that is in the exact top-10 (rows tied with the 10th count)."""
    finite = int(np.isfinite(scores).sum())
    want = min(K, finite)
    if want == 0:
        return 1.0
    kth = -np.partition(-scores, want - 1)[want - 1]
    return float(np.sum(scores[found - 1] >= kth - 1e-6)) / want


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter_ns()
    out = call()
    return out, (time.perf_counter_ns() - began) / 1e6


def windows(size: int, rng: np.random.Generator) -> dict[str, Callable[[], Window]]:
    """Filters as search makes them: none, time windows of 80%, 10% and 2% of the rows
    (a window past ``EXACT_UNDER`` rows and 1/16 of the partition goes through the graph
    with the filter inside it; a smaller one is scored exactly), directives only."""

    def window(share: float) -> Callable[[], Window]:
        rows = int(size * share)

        def make() -> Window:
            start = float(rng.integers(0, size - rows))
            return Window(after=start * MINUTE, before=(start + rows) * MINUTE)

        return make

    return {
        "none": Window,
        "time window, 80% of rows": window(0.8),
        "time window, 10% of rows": window(0.1),
        "time window, 2% of rows": window(0.02),
        "directives only (0.2%)": lambda: Window(directive=True),
    }


def measure_size(size: int, queries: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    matrix, real_rows = vectors_for(size, args.cache, args.seed, args.extra)
    when = np.arange(size, dtype=np.float64) * MINUTE
    directive = np.arange(size) % 500 == 0
    index = RowIndex(matrix.shape[1], ann_rows=1)
    keys = np.arange(1, size + 1, dtype=np.int64)
    tail = min(args.incremental, size // 10)
    head = size - tail
    index.add(PART, keys[:head], list(matrix[:head]), list(when[:head]), list(directive[:head]))
    part = index.parts[PART]
    _, build_ms = timed(part.ensure_ann)
    began = time.perf_counter()
    for row in range(head, size):  # one row per add: as a store adds a turn at a time
        index.add(PART, [keys[row]], [matrix[row]], [when[row]], [directive[row]])
    add_s = time.perf_counter() - began
    rng = np.random.default_rng(args.seed)
    by_filter: dict[str, Any] = {}
    with machine.Contention() as contention:
        for name, make in windows(size, rng).items() if not args.skip_filters else ():
            ann_ms, exact_ms, recalls, admitted = [], [], [], []
            for query in queries:
                window = make()
                ok = part.admitted(window)
                scores, baseline = timed(lambda q=query, ok=ok: exact_top(matrix, q, ok))
                found, took = timed(
                    lambda w=window, q=query: index.top(index.dense_scores(q, [PART]), K, w)
                )
                ann_ms.append(took)
                exact_ms.append(baseline)
                recalls.append(recall(found[0], scores))
                admitted.append(found[2])
            by_filter[name] = {
                "ann_ms": percentiles(ann_ms),
                "exact_ms": percentiles(exact_ms),
                "ratio_p50_p95": [
                    round(float(np.percentile(ann_ms, q) / np.percentile(exact_ms, q)), 3)
                    for q in (50, 95)
                ],
                "recall_at_10": round(float(np.mean(recalls)), 4),
                "min_recall_at_10": round(float(np.min(recalls)), 2),
                "admitted_rows_mean": int(np.mean(admitted)),
            }
            print(f"  {size} {name}: {by_filter[name]}", file=sys.stderr)
        beams = beam_sweep(part, matrix, queries) if args.sweep else {}
    saved = file_roundtrip(index, queries[0], args.db_dir)
    return {
        "rows": size,
        "real_vector_rows": real_rows,
        "extra_rows": args.extra if size > real_rows else "none",
        "graph_build_s": round(build_ms / 1000, 1),
        "graph_build_rows_per_s": round(head / (build_ms / 1000)),
        "incremental_adds": tail,
        "incremental_rows_per_s": round(tail / add_s) if tail else None,
        "filters": by_filter,
        "beam_sweep": beams,
        "index_file": saved,
        "rss_mib": machine.rss_mib(),
        "contention": contention.summary(),
    }


#: Candidates a search asks the dense signal for (``recipes.SearchRecipe.candidates``).
SEARCH_K = 50
#: Beams the sweep tries, besides the one ``ann.ef_search`` gives at the graph's size.
BEAMS = (64, 100, 128, 160, 200, 256, 400, 800, 1600)


def recall_at(found: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of the exact top-``k`` (rows tied with the ``k``-th count) among ``found``."""
    want = min(k, int(np.isfinite(scores).sum()))
    if want == 0:
        return 1.0
    kth = -np.partition(-scores, want - 1)[want - 1]
    return float(np.sum(scores[found] >= kth - 1e-6)) / want


def beam_sweep(part: Part, matrix: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Unfiltered graph candidates as a search asks them (``fetch`` rows for its
    ``SEARCH_K`` dense candidates, as ``Part.nearest`` asks), rescored exactly, at each
    beam: recall@10 and recall@50 against exact, and the graph search's latency."""
    graph, fetch, out = part.ensure_ann(), max(OVERFETCH * SEARCH_K, MIN_FETCH), {}
    default = ann.ef_search(len(graph.rows), fetch)
    chosen = ann.ef_search
    try:
        for beam in sorted({*BEAMS, default}):
            ann.ef_search = lambda nodes, k, beam=beam: beam  # type: ignore[assignment]
            at10, at50, took_ms = [], [], []
            for query in queries:
                rows, took = timed(lambda q=query: graph.search(q, fetch))
                ranked = rows[np.argsort(-(matrix[rows] @ query), kind="stable")]
                exact = matrix @ query
                at10.append(recall_at(ranked[:K], exact, K))
                at50.append(recall_at(ranked[:SEARCH_K], exact, SEARCH_K))
                took_ms.append(took)
            out[str(beam)] = {
                "default": beam == default,
                "recall_at_10": round(float(np.mean(at10)), 4),
                "min_recall_at_10": round(float(np.min(at10)), 2),
                "recall_at_50": round(float(np.mean(at50)), 4),
            } | percentiles(took_ms)
            print(f"  beam {beam}: {out[str(beam)]}", file=sys.stderr)
    finally:
        ann.ef_search = chosen
    return out


def file_roundtrip(index: RowIndex, query: np.ndarray, where: Path | None) -> dict[str, float]:
    """Save the index, drop it, load it back and search once: what a new process pays."""
    with tempfile.TemporaryDirectory(dir=where) as work:
        target = Path(work) / "bench.db.index"
        stamp = index_file.Stamp("bench", index.dimension, index.max_key, "last")
        _, save_ms = timed(lambda: index_file.save(index, stamp, target))
        mib = sum(f.stat().st_size for f in target.iterdir()) / 2**20
        index.parts.clear()  # the caller's copy goes: RSS holds one index, as a new process does
        gc.collect()
        loaded, load_ms = timed(lambda: index_file.load(target, lambda s: s == stamp))
        assert loaded is not None and loaded.parts[PART].ann is not None
        _, first_ms = timed(lambda: loaded.top(loaded.dense_scores(query, [PART]), K))
    return {
        "mib": round(mib),
        "save_s": round(save_ms / 1000, 2),
        "load_s": round(load_ms / 1000, 2),
        "first_search_after_load_ms": round(first_ms, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Command: `{result['command']}`",
        "",
        "| rows | filter | admitted rows | ANN p50 / p95 (ms) | exact p50 / p95 (ms) "
        "| ANN ÷ exact p50 / p95 | recall@10 (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in result["sizes"]:
        for name, f in size["filters"].items():
            a, e, r = f["ann_ms"], f["exact_ms"], f["ratio_p50_p95"]
            lines.append(
                f"| {size['rows']:,} | {name} | {f['admitted_rows_mean']:,} "
                f"| {a['p50']} / {a['p95']} | {e['p50']} / {e['p95']} | {r[0]} / {r[1]} "
                f"| {f['recall_at_10']:.3f} ({f['min_recall_at_10']}) |"
            )
    lines += [
        "",
        "| rows | real vectors (rows past them) | graph build (s, rows/s) | incremental adds (rows/s) "
        "| index file (MiB) | save / load (s) | first search after load (ms) | CPU used by others |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sizes"]:
        f = s["index_file"]
        lines.append(
            f"| {s['rows']:,} | {s['real_vector_rows']:,} ({s['extra_rows']}) | {s['graph_build_s']} "
            f"({s['graph_build_rows_per_s']:,}) | {s['incremental_rows_per_s']:,} | {f['mib']:,} "
            f"| {f['save_s']} / {f['load_s']} | {f['first_search_after_load_ms']} "
            f"| {s['contention']['foreign_cpu_share']:.0%} |"
        )
    sweeps = [s for s in result["sizes"] if s["beam_sweep"]]
    if sweeps:
        lines += [
            "",
            f"| rows | beam (* = `ann.ef_search`'s at this size) | recall@10 (min) | recall@{SEARCH_K} "
            "| graph search p50 / p95 (ms) |",
            "|---|---|---|---|---|",
        ]
        for s in sweeps:
            for beam, b in s["beam_sweep"].items():
                mark = "*" if b["default"] else ""
                lines.append(
                    f"| {s['rows']:,} | {beam}{mark} | {b['recall_at_10']:.4f} ({b['min_recall_at_10']}) "
                    f"| {b['recall_at_50']:.4f} | {b['p50']} / {b['p95']} |"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--incremental", type=int, default=2_000, help="rows added one by one")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sweep", action="store_true", help="recall at other search beams")
    parser.add_argument(
        "--skip-filters", action="store_true", help="only the build, the sweep and the file"
    )
    parser.add_argument(
        "--extra", choices=("mix", "jitter"), default="mix", help="how rows past the cache are made"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--db-dir", type=Path, default=None, help="where the index file goes")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ann.json")
    args = parser.parse_args(argv)
    real = LocalEmbedder.shared()
    questions = corpus.queries(args.queries, args.seed, exclude=set())
    queries = real.embed(questions).astype(np.float32)
    sizes = [measure_size(size, queries, args) for size in sorted(set(args.sizes))]
    result = {
        "command": "python bench/ann.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine.describe(),
        "sizes": sizes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
