"""What the guard costs a search: ``Memory.search`` with the guard on and off, same store.

    python bench/poisoning.py --size 100000 --queries 300

One synthetic user holds ``--size`` turns of the ``corpus.py`` chat corpus (user and
assistant turns alternate, so the consensus check has unverified hits to judge in most
searches); vectors come from the ``embed_cache`` of ``ingest_search.py`` (filled by its
first run). Two ``Memory`` objects open the one SQLite file, one with ``GuardPolicy()``
and one with ``GuardPolicy.off()``, and answer the same fresh queries in alternation, so
both see the same machine load; the report gives p50/p95/p99 of each and their ratio.

The attack-success side of the guard is ``remem eval poisoning`` (docs/security.md);
``--eval PATH`` runs it from here too.
"""

from __future__ import annotations

import argparse
import json
import shutil
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

from remem import GuardPolicy, Memory
from remem.providers.local_embedder import LocalEmbedder

USER = "bench-user"
ROOT = Path(__file__).resolve().parent


def _percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {f"p{p}": round(float(np.percentile(ms, p)), 2) for p in (50, 95, 99)}


def latency(args: argparse.Namespace) -> dict[str, Any]:
    sessions = list(corpus.sessions(args.size, 50, args.seed))
    texts = [t for s in sessions for t in s.texts]
    real = LocalEmbedder.shared()
    vectors, _ = embed_cache.corpus_vectors(texts, real, args.cache)
    embedder = embed_cache.CachedEmbedder(real, texts, vectors)
    workdir = Path(tempfile.mkdtemp(prefix="remem-guard-bench-"))
    db = workdir / "bench.db"
    try:
        with Memory(db, embedder=embedder, llm=None, track_recalls=False) as writer:
            for session in sessions:
                writer.add(list(session.messages), user_id=USER, session_id=session.session_id)
        queries = corpus.queries(args.queries + args.warmup, args.seed, exclude=set(texts))
        times: dict[str, list[float]] = {"guard": [], "off": []}
        disputed = 0
        with (
            Memory(db, embedder=embedder, llm=None, track_recalls=False) as on,
            Memory(db, embedder=embedder, llm=None, guard=GuardPolicy.off()) as off,
            machine.Contention() as contention,
        ):
            for n, query in enumerate(queries):
                for name, memory in (("guard", on), ("off", off))[:: 1 if n % 2 else -1]:
                    started = time.perf_counter()
                    found = memory.search(query, user_id=USER)
                    if n >= args.warmup:
                        times[name].append(time.perf_counter() - started)
                        disputed += name == "guard" and any(h.flags for h in found)
        result = {name: _percentiles(t) for name, t in times.items()}
        ratio = {p: round(result["guard"][p] / result["off"][p], 3) for p in result["guard"]}
        return {
            "command": "python bench/poisoning.py " + " ".join(sys.argv[1:]),
            "machine": machine.describe(),
            "size": args.size,
            "queries": args.queries,
            "search_ms": result,
            "guard_over_off": ratio,
            "searches_with_a_disputed_hit": disputed,
            "contention": contention.summary(),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "poisoning.json")
    parser.add_argument("--eval", type=Path, help="also run `remem eval poisoning` on PATH")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    report: dict[str, Any] = {"latency": latency(args)}
    if args.eval:
        from remem.eval import poisoning

        with tempfile.TemporaryDirectory() as scratch:
            summary = poisoning.evaluate(args.eval, workdir=scratch).summary()
        report["eval"] = {k: v for k, v in summary.items() if k != "cases"}
        print(poisoning.markdown(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["latency"], indent=2))


if __name__ == "__main__":
    main()
