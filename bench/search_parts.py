"""CPU time of each part of ``Memory.search`` on a kept store, so two versions compare on a
loaded machine.

    PYTHONPATH=src python bench/search_parts.py --db /tmp/speed-bench/remem-bench-*/bench.db

Wall-clock latency on a machine shared with other work measures the other work; the CPU
time this process spends does not (much). The store (kept by ``ingest_search.py
--keep-db``) is copied first: searches write recall counts. Query vectors are computed
before timing, so what is timed is the engine above the model: the retrievals
(``store.text_search`` / ``vector_search``), the graph signal, fusion, the ranker, the
guard, episode reads and recall counting. Run it with ``PYTHONPATH`` pointing at each
version, alternating.
"""

from __future__ import annotations

import argparse
import functools
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
from remem.providers.local_embedder import LocalEmbedder
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
STORE_PARTS = ("get_episodes", "vector_search", "text_search")


def _timed(samples: dict[str, list[float]], name: str, call: Callable[..., Any]) -> Any:
    @functools.wraps(call)
    def run(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            samples.setdefault(name, []).append((time.process_time() - began) * 1000)

    return run


def measure(db: Path, queries: list[str], warmup: int, asked_at: str) -> dict[str, Any]:
    embedder = LocalEmbedder.shared()
    for query in queries:
        embedder.embed_query(query)  # the model is not what is compared
    memory = Memory(db, embedder=embedder)
    samples: dict[str, list[float]] = {}
    for name in PARTS:
        setattr(search_module, name, _timed(samples, name, getattr(search_module, name)))
    for name in STORE_PARTS:
        setattr(memory.store, name, _timed(samples, f"store.{name}", getattr(memory.store, name)))
    search = _timed(samples, "Memory.search", memory.search)
    for query in queries[:warmup]:
        search(query, user_id=USER, limit=10, asked_at=asked_at)
    samples.clear()
    for query in queries[warmup:]:
        search(query, user_id=USER, limit=10, asked_at=asked_at)
    memory.close()
    n = len(queries) - warmup
    found = {
        name: {
            "ms_per_search": round(sum(values) / n, 3),
            "calls_per_search": round(len(values) / n, 2),
        }
        for name, values in samples.items()
    }
    whole = samples["Memory.search"]
    found["Memory.search"]["p50"] = round(statistics.median(whole), 3)
    found["Memory.search"]["p95"] = round(statistics.quantiles(whole, n=20)[-1], 3)
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
    args = parser.parse_args()
    texts = [t for s in corpus.sessions(args.size, 50, args.seed) for t in s.texts]
    queries = corpus.queries(args.queries + args.warmup, args.seed + 1, exclude=set(texts))
    with tempfile.TemporaryDirectory(prefix="remem-parts-", dir=args.db.parent.parent) as tmp:
        for path in args.db.parent.glob(args.db.name + "*"):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, Path(tmp) / path.name)
        found = measure(Path(tmp) / args.db.name, queries, args.warmup, args.asked_at)
    result = {"command": "python bench/search_parts.py " + " ".join(sys.argv[1:]), "cpu": found}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
