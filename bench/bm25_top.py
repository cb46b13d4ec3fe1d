"""BM25 top-k on a saved SQLite search index: every posting scored, against bounded (MaxScore).

    cd bench && PYTHONPATH=../src:. python bm25_top.py --index /tmp/scale3-s1m/bench.db.index

Loads the index folder a store saved beside its file (``<db>.index``, read only: its
columns are mapped copy-on-write), draws fresh questions (``corpus.queries``), takes their
words as a search does (``text.terms.query_terms``) and ranks every partition's top-k
both ways, alternating query by query: the full pass (``text_scores`` scoring every
posting, then ``top`` over the partition) and the bounded one (``bm25_top``). Per query
it checks the two agree: the same scores rank by rank, bit for bit, and the same rows
(the full pass's ties at the k-th broken by position, as the bounded one breaks them).
Reported: wall and CPU ms per query of each, and their ratio, with no filter, directives
only, and the newest 2% and 10% of the rows (a time window).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import corpus
import machine
import numpy as np

from remem.stores import bm25_top, index_file
from remem.stores.bm25_top import Lexical
from remem.stores.row_index import RowIndex, Window
from remem.text.terms import query_terms


def timed(run: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def reference(index: RowIndex, scores: dict[Any, Any], k: int, window: Window) -> list[int]:
    """The full pass's top-k keys with ties broken by position."""
    keys, values = [], []
    for key, full in scores.items():
        part = index.parts[key]
        ok = part.admitted(window, full.rows)
        keys.append(part.keys.view[full.rows[ok]])
        values.append(full.scores[ok])
    all_keys, all_values = np.concatenate(keys), np.concatenate(values)
    return all_keys[np.lexsort((all_keys, -all_values))[:k]].tolist()


def run(index: RowIndex, queries: list[str], k: int) -> dict[str, Any]:
    parts = list(index.parts)
    saved = bm25_top.BOUNDED_FROM
    times: dict[str, list[tuple[float, float]]] = {}
    differ = engaged = 0
    when = np.concatenate([p.when.view for p in index.parts.values()])
    when = when[np.isfinite(when)]
    windows = {
        "no window": Window(),
        "directives only": Window(directive=True),
        "newest 2% of rows": Window(after=float(np.quantile(when, 0.98))),
        "newest 10% of rows": Window(after=float(np.quantile(when, 0.90))),
    }
    for window_name, window in windows.items():
        for query in queries:
            terms = query_terms(query)
            results = {}
            for name, start in (("full", 10**12), ("bounded", saved)):
                bm25_top.BOUNDED_FROM = start
                (scores, (keys, values, _)), wall, cpu = timed(
                    lambda t=terms, w=window: (
                        s := index.text_scores(t, parts),
                        index.top(s, k, w),
                    )
                )
                times.setdefault(f"{window_name}: {name}", []).append((wall, cpu))
                results[name] = (scores, keys, values)
            bm25_top.BOUNDED_FROM = saved
            full_scores, _, full_values = results["full"]
            bounded_scores, keys, values = results["bounded"]
            if not any(isinstance(s, Lexical) for s in bounded_scores.values()):
                continue  # the postings were too few to bound: the full pass ran both times
            engaged += 1
            same = values.tobytes() == full_values.tobytes() and keys.tolist() == reference(
                index, full_scores, k, window
            )
            differ += not same
    summary: dict[str, Any] = {
        "queries": len(queries),
        "k": k,
        "bounded (query, window) pairs": engaged,
        "of them differ": differ,
    }
    for name, pairs in times.items():
        wall = np.array([p[0] for p in pairs])
        cpu = np.array([p[1] for p in pairs])
        summary[name] = {
            "wall_p50_ms": round(float(np.percentile(wall, 50)), 2),
            "wall_p95_ms": round(float(np.percentile(wall, 95)), 2),
            "cpu_mean_ms": round(float(cpu.mean()), 2),
        }
    for window_name in windows:
        full, bounded = summary[f"{window_name}: full"], summary[f"{window_name}: bounded"]
        summary[f"{window_name}: bounded ÷ full"] = {
            key: round(bounded[key] / full[key], 3) for key in full
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="a <db>.index folder")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=150, help="rows ranked (a search asks 3 x 50)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    index = index_file.load(args.index, lambda stamp: True)
    if index is None:
        raise SystemExit(f"{args.index}: no index saved there")
    rows = sum(p.size for p in index.parts.values())
    queries = corpus.queries(args.queries, args.seed, exclude=set())
    with machine.Contention() as contention:
        summary = run(index, queries, args.k)
    summary["rows"] = rows
    summary["contention"] = contention.summary()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
