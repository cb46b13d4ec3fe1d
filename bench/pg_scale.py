"""PostgreSQL + pgvector with one user holding everything: bulk load with the HNSW index built
during the load vs after it, and vector search latency and recall on the result.

    scripts/postgres.sh start
    python bench/pg_scale.py --size 100000 --queries 200

Each strategy loads the same memories (the synthetic turns of ``corpus.py``, seed 7, with the
real model's vectors from ``embed_cache.py``) into a fresh schema through the store
(``insert_memories``, ``--batch`` rows per transaction, the way ``load`` writes):

- **during**: ``bind_embedder`` creates the HNSW index first, so every insert updates it;
- **after**: the index is dropped before the load and built once at the end with the same
  definition (``USING hnsw (embedding vector_cosine_ops)``, pgvector's defaults m = 16,
  ef_construction = 64) and ``maintenance_work_mem`` = ``--build-memory``.

- **load**: remem's own bulk path, ``Store.load`` (behind ``remem import`` and ``remem
  migrate``) of every row in one call: past ``bulk_rows`` it drops the index and builds it
  once after, concurrently;
- **load-indexed**: the same call with ``bulk_rows`` out of reach, so the rows go in with
  the index in place (what ``load`` did before the bulk path).

``--strategies`` picks some (default: after during); the 1M run takes ``after`` alone.

Then ``--queries`` searches run on the loaded store: ``vector_search`` for the user, top-10,
the query embedded by the real model inside the timing, and recall@10 against an exact numpy
top-10 over the same vectors (a hit counts when its exact score reaches the 10th best). The
baseline, timed in the same run over the same queries: the real model's query embedding plus
an exact numpy top-10 over every vector (what a store without an index does at best). The
schemas are dropped at the end. Results: Markdown on stdout, JSON in
``bench/results/pg_scale.json``.

``--keep`` keeps the loaded schema; ``--schema NAME`` measures a kept one without loading.
``--ef-search N ...`` sweeps ``hnsw.ef_search`` (``vector_search`` alone, queries embedded
beforehand, exact numpy top-10 timed beside each query); ``--memory-search`` times the whole
``Memory.search`` (query embedding included) next to embedding + exact numpy, at the
sweep's smallest ``ef_search`` with recall@10 >= 0.98 (else the store's own).
``--text-search`` (with ``--schema``, nothing else runs) times BM25 alone: ``text_search`` as
planned past ``bm25_plan.BUDGET`` against ranking every match, and their top-10/50 overlap.

Vectors past ``--real`` rows (default 100,000: what the embedding cache holds from one hour
of embedding) are not embedded: row i past it gets the normalised mixture
``w * a + (1 - w) * b`` of two real corpus vectors picked at random (``w`` uniform in
[0.25, 0.75], seeded). Mixtures stay inside the region real sentence vectors occupy, with
neighbourhoods of a similar density, unlike Gaussian noise, whose neighbours are all nearly
equidistant and make a graph index look worse (or, after clustering, better) than on text.
Their texts repeat the corpus's; only vector search is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import corpus
import embed_cache
import machine
import numpy as np
import psycopg

from remem import Memory
from remem.model import MemoryRecord, Scope
from remem.providers.local_embedder import LocalEmbedder
from remem.stores import MemoryFilter
from remem.stores.postgres import PostgresStore, bm25_plan, connection
from remem.text.terms import query_terms

ROOT = Path(__file__).resolve().parent
SCOPE = Scope(tenant="bench", user_id="u")
LIMIT = 10
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def server_url(given: str | None) -> str:
    url = given or os.environ.get("REMEM_TEST_POSTGRES_URL")
    url_file = ROOT.parent / ".remem-pg" / "url"
    if not url and url_file.exists():
        url = url_file.read_text().strip()
    if not url:
        sys.exit("no PostgreSQL: run scripts/postgres.sh start, or pass --url")
    return url


def with_schema(url: str, schema: str, *settings: str) -> str:
    """``url`` on ``schema``, with server settings (``name=value``) for its sessions."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    options = " ".join(f"-c{x}" for x in (f"search_path={schema},public", *settings))
    query.append(("options", options))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def corpus_vectors(texts: list[str], args: argparse.Namespace) -> np.ndarray:
    """Real vectors for the first ``--real`` rows, mixtures of two of them for the rest."""
    real = min(args.real, len(texts))
    vectors, _ = embed_cache.corpus_vectors(texts[:real], LocalEmbedder(), args.cache)
    extra = len(texts) - real
    if extra <= 0:
        return vectors
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
    out[:real] = vectors
    rng = np.random.default_rng(args.seed)
    for start in range(real, len(texts), 100_000):
        n = min(100_000, len(texts) - start)
        a, b = rng.integers(0, real, size=(2, n))
        w = rng.uniform(0.25, 0.75, size=(n, 1)).astype(np.float32)
        mixed = w * unit[a] + (1 - w) * unit[b]
        out[start : start + n] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def load(store: PostgresStore, texts: list[str], vectors: np.ndarray, batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(texts), batch):
        rows = [
            (
                MemoryRecord(id=f"m{i}", scope=SCOPE, kind="fact", text=texts[i], recorded_at=T0),
                vectors[i],
            )
            for i in range(start, min(start + batch, len(texts)))
        ]
        with store.transaction():
            store.insert_memories(rows)
    return time.perf_counter() - began


def bulk_load(store: PostgresStore, texts: list[str], vectors: np.ndarray, bulk: bool) -> float:
    """One ``Store.load`` of every row, as an import hands them over (timed: the load alone)."""
    if not bulk:
        store.bulk_rows = sys.maxsize
    items = [
        ("memory", (MemoryRecord(id=f"m{i}", scope=SCOPE, kind="fact", text=t, recorded_at=T0),
                    vectors[i]))
        for i, t in enumerate(texts)
    ]  # fmt: skip
    began = time.perf_counter()
    store.load(items)
    return time.perf_counter() - began


def strategy(
    url: str, name: str, texts: list[str], vectors: np.ndarray, args: argparse.Namespace
) -> tuple[str, dict[str, float]]:
    schema = f"pgscale_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    # The bulk path keeps a larger maintenance_work_mem of the URL (docs/postgres.md).
    store = PostgresStore(with_schema(url, schema, f"maintenance_work_mem={args.build_memory}"))
    store.bind_embedder("all-MiniLM-L6-v2-onnx-int8", vectors.shape[1])
    out: dict[str, float] = {}
    with psycopg.connect(with_schema(url, schema), autocommit=True) as conn:
        if name.startswith("load"):
            out["total_s"] = bulk_load(store, texts, vectors, name == "load")
            conn.execute("ANALYZE memories")
            store.close()
            return schema, out
        if name == "after":
            conn.execute("DROP INDEX memories_embedding")
        out["load_s"] = load(store, texts, vectors, args.batch)
        if name == "after":
            began = time.perf_counter()
            conn.execute(f"SET maintenance_work_mem = '{args.build_memory}'")
            conn.execute(
                "CREATE INDEX memories_embedding ON memories "
                "USING hnsw (embedding vector_cosine_ops)"
            )
            out["build_s"] = time.perf_counter() - began
        conn.execute("ANALYZE memories")
    out["total_s"] = out["load_s"] + out.get("build_s", 0.0)
    store.close()
    return schema, out


def searches(
    url: str, schema: str, data: tuple[np.ndarray, list[str]], args: argparse.Namespace
) -> dict[str, float]:
    unit, questions = data
    store = PostgresStore(with_schema(url, schema))
    model = LocalEmbedder()  # its own query cache: the truth below asked every question
    flt = MemoryFilter(scope=SCOPE)
    truth = LocalEmbedder()
    q = np.stack([truth.embed_query(x) for x in questions])
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    tenth = np.stack([np.partition(unit @ row, -LIMIT)[-LIMIT] for row in q])
    warm = corpus.queries(5, args.seed + 1, set())
    for text in warm:
        store.vector_search(model.embed_query(text), flt, LIMIT)
    exact_ms = []
    baseline = LocalEmbedder()
    for text in [*warm, *questions]:
        began = time.perf_counter()
        v = baseline.embed_query(text)
        scores = unit @ (v / np.linalg.norm(v))
        top = np.argpartition(scores, -LIMIT)[-LIMIT:]
        top[np.argsort(-scores[top])]
        exact_ms.append((time.perf_counter() - began) * 1000)
    exact_ms = exact_ms[len(warm) :]
    ms, recalls = [], []
    for n, text in enumerate(questions):
        began = time.perf_counter()
        found = store.vector_search(model.embed_query(text), flt, LIMIT)
        ms.append((time.perf_counter() - began) * 1000)
        rows = [int(m.id[1:]) for m, _ in found]
        recalls.append(float(np.mean([q[n] @ unit[r] >= tenth[n] - 1e-5 for r in rows] or [0])))
    store.close()
    return {
        "p50_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "recall_at_10": float(np.mean(recalls)),
        "exact_p50_ms": statistics.median(exact_ms),
        "exact_p95_ms": percentile(exact_ms, 0.95),
    }


def ef_sweep(
    url: str, schema: str, data: tuple[np.ndarray, list[str]], efs: list[int]
) -> list[dict[str, float]]:
    """``vector_search`` top-10 at each ``hnsw.ef_search`` (the store's ``EF_SEARCH``, set per
    pooled session as remem sets it), queries embedded once beforehand: the index's own cost
    and recall, next to an exact numpy top-10 over the same queries in the same run."""
    unit, questions = data
    model = LocalEmbedder()
    q = np.stack([model.embed_query(x) for x in questions])
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    tenth = np.stack([np.partition(unit @ row, -LIMIT)[-LIMIT] for row in q])
    flt = MemoryFilter(scope=SCOPE)
    default = connection.EF_SEARCH
    rows = []
    try:
        for ef in efs:
            connection.EF_SEARCH = ef
            store = PostgresStore(with_schema(url, schema))
            for row in q[:10]:  # warm: the index pages this setting walks
                store.vector_search(row, flt, LIMIT)
            ms, exact_ms, recalls = [], [], []
            for n, row in enumerate(q):
                began = time.perf_counter()
                found = store.vector_search(row, flt, LIMIT)
                ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                np.argpartition(unit @ row, -LIMIT)[-LIMIT:]
                exact_ms.append((time.perf_counter() - began) * 1000)
                hits = [int(m.id[1:]) for m, _ in found]
                recalls.append(
                    float(np.mean([q[n] @ unit[r] >= tenth[n] - 1e-5 for r in hits] or [0]))
                )
            store.close()
            rows.append(
                {
                    "ef_search": ef,
                    "p50_ms": statistics.median(ms),
                    "p95_ms": percentile(ms, 0.95),
                    "recall_at_10": float(np.mean(recalls)),
                    "min_recall": float(np.min(recalls)),
                    "exact_p50_ms": statistics.median(exact_ms),
                    "exact_p95_ms": percentile(exact_ms, 0.95),
                }
            )
            print(f"ef_search {ef}: {rows[-1]}", file=sys.stderr)
    finally:
        connection.EF_SEARCH = default
    return rows  # fmt: skip


def memory_searches(
    url: str, schema: str, data: tuple[np.ndarray, list[str]], warm: list[str]
) -> dict[str, float]:
    """The whole ``Memory.search`` (hybrid: BM25, dense, the rest; query embedding included)
    on the loaded store, next to the real model's embedding + an exact numpy top-10 of the
    same queries, alternating in the same run."""
    unit, questions = data
    memory = Memory(
        store=PostgresStore(with_schema(url, schema)), embedder=LocalEmbedder(), tenant="bench"
    )
    baseline = LocalEmbedder()
    for text in warm:
        memory.search(text, user_id=SCOPE.user_id, limit=LIMIT)
        baseline.embed_query(text)
    ms, exact_ms = [], []
    for text in questions:
        began = time.perf_counter()
        memory.search(text, user_id=SCOPE.user_id, limit=LIMIT)
        ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        v = baseline.embed_query(text)
        np.argpartition(unit @ (v / np.linalg.norm(v)), -LIMIT)[-LIMIT:]
        exact_ms.append((time.perf_counter() - began) * 1000)
    memory.close()
    return {
        "ef_search": connection.EF_SEARCH,
        "p50_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "exact_p50_ms": statistics.median(exact_ms),
        "exact_p95_ms": percentile(exact_ms, 0.95),
    }


def text_searches(url: str, schema: str, questions: list[str]) -> dict[str, float]:
    """``text_search`` (k = 50) as the store plans it next to ranking every match (the plan's
    budget out of reach), alternating per question; overlap@n counts a planned hit when its
    score reaches the exact n-th best (duplicate texts tie)."""
    store = PostgresStore(with_schema(url, schema))
    flt = MemoryFilter(scope=SCOPE)
    budget, ms, exact_ms, overlap = bm25_plan.BUDGET, [], [], {10: [], 50: []}
    for n, text in enumerate([questions[0], *questions]):
        terms = query_terms(text)
        began = time.perf_counter()
        planned = [s for _, s in store.text_search(terms, flt, 50)]
        took = (time.perf_counter() - began) * 1000
        bm25_plan.BUDGET = 10**15
        try:
            began = time.perf_counter()
            exact = [s for _, s in store.text_search(terms, flt, 50)]
            exact_took = (time.perf_counter() - began) * 1000
        finally:
            bm25_plan.BUDGET = budget
        if n == 0 or not exact:
            continue  # the first question warms both
        ms.append(took)
        exact_ms.append(exact_took)
        for k, values in overlap.items():
            bar = exact[min(k, len(exact)) - 1] - 1e-6
            values.append(sum(s >= bar for s in planned[:k]) / min(k, len(exact)))
    store.close()
    return {
        "p50_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "every_match_p50_ms": statistics.median(exact_ms),
        "every_match_p95_ms": percentile(exact_ms, 0.95),
        "overlap_at_10": float(np.mean(overlap[10])),
        "worst_overlap_at_10": float(min(overlap[10])),
        "overlap_at_50": float(np.mean(overlap[50])),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL (database with the vector extension)")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--build-memory", default="1GB", help="maintenance_work_mem of the build")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["after", "during"],
        choices=["after", "during", "load", "load-indexed"],
    )
    parser.add_argument(
        "--real", type=int, default=100_000, help="rows with real vectors; mixtures past them"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "pg_scale.json")
    parser.add_argument("--keep", action="store_true", help="keep the schemas")
    parser.add_argument("--schema", help="measure this loaded schema (from --keep): no load")
    parser.add_argument(
        "--ef-search", type=int, nargs="*", default=[], help="hnsw.ef_search values to sweep"
    )
    parser.add_argument(
        "--memory-search", action="store_true", help="also time the whole Memory.search"
    )
    parser.add_argument(
        "--text-search", action="store_true", help="only BM25, bounded vs every match"
    )
    args = parser.parse_args()
    url = server_url(args.url)
    texts = [m["content"] for s in corpus.sessions(args.size, 50, args.seed) for m in s.messages]
    if args.text_search and args.schema:
        questions = corpus.queries(args.queries, args.seed, set(texts))
        result = text_searches(url, args.schema, questions)
        print(json.dumps({"machine": machine.describe(), "text_search": result}, indent=2))
        return
    vectors = corpus_vectors(texts, args)
    print(f"vectors ready: {vectors.shape}", file=sys.stderr)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    questions = corpus.queries(args.queries, args.seed, set(texts))
    results: dict[str, Any] = {}
    schemas = []
    try:
        for name in [] if args.schema else args.strategies:
            schema, results[name] = strategy(url, name, texts, vectors, args)
            schemas.append(schema)
            print(f"{name}: {results[name]}", file=sys.stderr)
        measured = args.schema or schemas[0]
        results["search"] = searches(url, measured, (unit, questions), args)
        print(f"search: {results['search']}", file=sys.stderr)
        if args.ef_search:
            results["ef_sweep"] = ef_sweep(url, measured, (unit, questions), args.ef_search)
        if args.memory_search:
            warm = corpus.queries(10, args.seed + 2, set(texts))
            # At the sweep's smallest ef_search with recall@10 >= 0.98, else the store's own.
            good = [
                r["ef_search"] for r in results.get("ef_sweep", []) if r["recall_at_10"] >= 0.98
            ]
            default, connection.EF_SEARCH = (
                connection.EF_SEARCH,
                min(good, default=connection.EF_SEARCH),
            )
            try:
                results["memory_search"] = memory_searches(url, measured, (unit, questions), warm)
            finally:
                connection.EF_SEARCH = default
            print(f"memory search: {results['memory_search']}", file=sys.stderr)
    finally:
        if not args.keep:
            with psycopg.connect(url, autocommit=True) as admin:
                for schema in schemas:
                    admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    report = {"machine": machine.describe(), "args": {k: str(v) for k, v in vars(args).items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**report, **results}, indent=2))
    print(table(args.size, results))


def table(size: int, results: dict[str, Any]) -> str:
    """Each strategy's seconds and its ratio to the fastest; then search on the first one,
    the ef_search sweep and the whole ``Memory.search`` when measured."""
    loads = {k: v for k, v in results.items() if isinstance(v, dict) and "total_s" in v}
    lines = []
    if loads:
        fastest = min(v["total_s"] for v in loads.values())
        lines += [
            "| memories (one user) | strategy | seconds (load + build) | ÷ fastest |",
            "|---|---|---|---|",
        ]
        for name, out in loads.items():
            split = f" ({out['load_s']:.0f} + {out['build_s']:.0f})" if "build_s" in out else ""
            lines.append(
                f"| {size:,} | {name} | {out['total_s']:.0f}{split} "
                f"| {out['total_s'] / fastest:.2f} |"
            )
        lines.append("")
    search = results["search"]
    lines += [
        "| memories (one user) | search p50 / p95 ms | recall@10 | embedding + exact p50 / p95 ms "
        "| p95 ÷ exact p95 |",
        "|---|---|---|---|---|",
        f"| {size:,} | {search['p50_ms']:.1f} / {search['p95_ms']:.1f} "
        f"| {search['recall_at_10']:.3f} "
        f"| {search['exact_p50_ms']:.1f} / {search['exact_p95_ms']:.1f} "
        f"| {search['p95_ms'] / search['exact_p95_ms']:.2f} |",
    ]
    if results.get("ef_sweep"):
        lines += [
            "",
            "| hnsw.ef_search | vector_search p50 / p95 ms | recall@10 (min) "
            "| exact numpy p50 / p95 ms | p95 ÷ exact p95 |",
            "|---|---|---|---|---|",
        ]
        for row in results["ef_sweep"]:
            lines.append(
                f"| {row['ef_search']} | {row['p50_ms']:.1f} / {row['p95_ms']:.1f} "
                f"| {row['recall_at_10']:.3f} ({row['min_recall']:.1f}) "
                f"| {row['exact_p50_ms']:.1f} / {row['exact_p95_ms']:.1f} "
                f"| {row['p95_ms'] / row['exact_p95_ms']:.2f} |"
            )
    if results.get("memory_search"):
        m = results["memory_search"]
        lines += [
            "",
            "| `Memory.search` (hybrid), ef_search | p50 / p95 ms | embedding + exact p50 / p95 ms "
            "| p50 / p95 ratio |",
            "|---|---|---|---|",
            f"| {m['ef_search']} | {m['p50_ms']:.1f} / {m['p95_ms']:.1f} "
            f"| {m['exact_p50_ms']:.1f} / {m['exact_p95_ms']:.1f} "
            f"| {m['p50_ms'] / m['exact_p50_ms']:.2f} / {m['p95_ms'] / m['exact_p95_ms']:.2f} |",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
