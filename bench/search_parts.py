"""CPU time of each part of ``Memory.search`` on a kept store, so two versions compare on a
loaded machine.

    PYTHONPATH=src python bench/search_parts.py --db /tmp/speed-bench/remem-bench-*/bench.db

Wall-clock latency on a machine shared with other work measures the other work; the CPU
time this process spends does not (much). The store (kept by ``ingest_search.py
--keep-db``) is copied first: searches write recall counts. Query vectors are computed
before timing, so what is timed is the engine above the model: the retrievals
(``store.text_search`` / ``vector_search``), the graph signal, fusion, the ranker, the
guard (its search by the claims' words apart), episode reads, the entity link walks, the
recall-count write and Python's garbage collections. Run it with ``PYTHONPATH`` pointing at
each version, alternating. ``--tail N`` also prints the ``N`` slowest searches part by part
(what the p95 is made of).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import corpus

from remem import Memory
from remem.pipeline import lifecycle
from remem.providers.local_embedder import LocalEmbedder
from remem.retrieval import guarded
from remem.retrieval import search as search_module

USER = "bench-user"
PARTS = (
    "_retrieve",
    "graph_ranking",
    "reciprocal_rank_fusion",
    "rerank",
    "apply_priors",
    "guard_ranking",
)
STORE_PARTS = ("get_episodes", "vector_search", "text_search", "entity_links")
#: Parts below the search's own module: the guard's search by the claims' words, and the
#: recall-count write after the search.
MODULE_PARTS = ((guarded, "_about_claims", "guard.claims"), (lifecycle, "recall", "recall"))


def _timed(now: dict[str, float], name: str, call: Callable[..., Any]) -> Any:
    """``call``, adding its CPU time to ``now[name]`` (the search in progress)."""

    @functools.wraps(call)
    def run(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            now[name] = now.get(name, 0.0) + (time.process_time() - began) * 1000

    return run


def _collections(now: dict[str, float]) -> Callable[[str, dict[str, int]], None]:
    """A ``gc.callbacks`` entry adding each collection's CPU time to ``now["gc.genN"]``."""
    began = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.process_time()
            return
        name = f"gc.gen{info['generation']}"
        now[name] = now.get(name, 0.0) + (time.process_time() - began[0]) * 1000

    return callback


def _p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[-1], 3)


def measure(
    db: Path, queries: list[str], warmup: int, asked_at: str, tail: int = 0
) -> dict[str, Any]:
    embedder = LocalEmbedder.shared()
    for query in queries:
        embedder.embed_query(query)  # the model is not what is compared
    memory = Memory(db, embedder=embedder)
    now: dict[str, float] = {}
    for name in PARTS:
        setattr(search_module, name, _timed(now, name, getattr(search_module, name)))
    for name in STORE_PARTS:
        setattr(memory.store, name, _timed(now, f"store.{name}", getattr(memory.store, name)))
    for module, name, label in MODULE_PARTS:
        setattr(module, name, _timed(now, label, getattr(module, name)))
    search = _timed(now, "Memory.search", memory.search)
    collections = _collections(now)
    gc.callbacks.append(collections)
    searches: list[tuple[dict[str, float], str]] = []
    try:
        for n, query in enumerate(queries):
            now.clear()
            search(query, user_id=USER, limit=10, asked_at=asked_at)
            if n >= warmup:
                searches.append((dict(now), query))
    finally:
        gc.callbacks.remove(collections)
        memory.close()
    names = sorted({name for parts, _ in searches for name in parts})
    found: dict[str, Any] = {}
    for name in names:
        values = [parts.get(name, 0.0) for parts, _ in searches]
        found[name] = {
            "ms_per_search": round(sum(values) / len(values), 3),
            "p95": _p95(values),
            "searches_over_half_ms": sum(1 for v in values if v >= 0.5),
        }
    whole = [parts["Memory.search"] for parts, _ in searches]
    found["Memory.search"]["p50"] = round(statistics.median(whole), 3)
    found["Memory.search"]["p99"] = round(statistics.quantiles(whole, n=100)[-1], 3)
    slowest = sorted(searches, key=lambda s: -s[0]["Memory.search"])[:tail]
    found["slowest"] = [
        {"query": query, **{k: round(v, 1) for k, v in parts.items() if v >= 0.5}}
        for parts, query in slowest
    ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a store kept by --keep-db")
    parser.add_argument("--size", type=int, default=100_000, help="turns the store holds")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--asked-at", default="2024-08-07T15:32:40+00:00")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tail", type=int, default=0, help="also list the N slowest searches")
    args = parser.parse_args()
    texts = [t for s in corpus.sessions(args.size, 50, args.seed) for t in s.texts]
    queries = corpus.queries(args.queries + args.warmup, args.seed + 1, exclude=set(texts))
    with tempfile.TemporaryDirectory(prefix="remem-parts-", dir=args.db.parent.parent) as tmp:
        for path in args.db.parent.glob(args.db.name + "*"):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, Path(tmp) / path.name)
        found = measure(Path(tmp) / args.db.name, queries, args.warmup, args.asked_at, args.tail)
    result = {"command": "python bench/search_parts.py " + " ".join(sys.argv[1:]), "cpu": found}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
