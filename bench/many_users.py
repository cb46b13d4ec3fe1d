"""Many users in one SQLite store: search latency and memory against one user, same run.

    python bench/many_users.py --users 2000 --each 100 --budget-mb 64

Store A holds ``--users`` users of ``--each`` memories; store B holds one user with
``--single`` memories (the issue's one-user 10k case). Both are written through the store
(``insert_memories``, one transaction per user, corpus vectors from
``bench/embed_cache.py``), then searched through ``Memory.search`` with fresh questions
embedded by the real model: on A, each query goes to a random user, so most find their
partition dropped (``REMEM_INDEX_BUDGET_MB``) and read it from SQL again; on B every
query hits the one partition. Reported: p50/p95 of both and their ratio, the partitions
held and dropped, the index's bytes against the budget, and RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import corpus
import embed_cache
import machine
import numpy as np

from remem import Memory
from remem.model import MemoryRecord, Scope
from remem.providers.local_embedder import LocalEmbedder

START = corpus.START


def fill(memory: Memory, texts: list[str], vectors: np.ndarray, users: int, each: int) -> None:
    store = memory.store
    for user in range(users):
        scope = Scope(tenant=memory.tenant, user_id=f"user{user}")
        rows = []
        for i in range(each):
            n = (user * each + i) % len(texts)
            record = MemoryRecord(
                id=f"m{user}_{i}", scope=scope, kind="episode", text=texts[n],
                valid_from=START, recorded_at=START,
            )  # fmt: skip
            rows.append((record, vectors[n]))
        with store.transaction():
            store.insert_memories(rows)


def timed_searches(memory: Memory, queries: Sequence[str], users: int) -> list[float]:
    rng = random.Random(5)
    out = []
    for query in queries:
        user = f"user{rng.randrange(users)}"
        began = time.perf_counter()
        memory.search(query, user_id=user, limit=10)
        out.append((time.perf_counter() - began) * 1000)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["REMEM_INDEX_BUDGET_MB"] = str(args.budget_mb)
    real = LocalEmbedder.shared()
    texts = [t for s in corpus.sessions(100_000, 50, 7) for t in s.texts]
    vectors, _ = embed_cache.corpus_vectors(texts, real, args.cache)
    queries = corpus.queries(2 * (args.queries + args.warmup), 9, exclude=set())
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=args.db_dir) as work:
        for name, users, each in (
            ("one user", 1, args.single),
            ("many users", args.users, args.each),
        ):
            memory = Memory(Path(work) / f"{users}.db", embedder=real)
            began = time.perf_counter()
            fill(memory, texts, vectors, users, each)
            filled = time.perf_counter() - began
            chunk, queries = (
                queries[: args.queries + args.warmup],
                queries[args.queries + args.warmup :],
            )
            timed_searches(memory, chunk[: args.warmup], users)
            with machine.Contention() as contention:
                ms = timed_searches(memory, chunk[args.warmup :], users)
            index = memory.store._index  # type: ignore[attr-defined]
            result[name] = {
                "users": users,
                "memories_each": each,
                "write_s": round(filled, 1),
                "search_ms": {
                    q: round(float(np.percentile(ms, int(q[1:]))), 2) for q in ("p50", "p95", "p99")
                },
                "partitions_held": len(index.parts),
                "partitions_dropped": index.evictions,
                "index_mib": round(sum(p.nbytes for p in index.parts.values()) / 2**20, 1),
                "rss_mib": machine.rss_mib()["rss"],
                "contention": contention.summary(),
            }
            print(f"  {name}: {result[name]}", file=sys.stderr)
            memory.close()
    one, many = result["one user"]["search_ms"], result["many users"]["search_ms"]
    return {
        "command": "python bench/many_users.py " + " ".join(sys.argv[1:]),
        "machine": machine.describe(),
        "budget_mib": args.budget_mb,
        "by_store": result,
        "many_to_one_p50_p95": [round(many[q] / one[q], 2) for q in ("p50", "p95")],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--each", type=int, default=100)
    parser.add_argument("--single", type=int, default=10_000, help="memories of the one user")
    parser.add_argument("--budget-mb", type=int, default=64)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--db-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "many.json")
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
