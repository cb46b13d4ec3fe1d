"""SQLite vs PostgreSQL (pgvector): ingest rate, search latency and HNSW recall on the SAME data.

    python bench/backends.py --size 100000 --queries 200

Both stores receive the same records, built once: the synthetic chat corpus of
``corpus.py`` (seed 7, sessions of 50 turns, spread over 10 users of one tenant)
with vectors made by the real local model (``embed_cache.py``; ``--vocabulary N``
embeds only the first N turns and gives every later turn a mix of two of those
real vectors instead, see docs/benchmarks-backends.md). Queries are the corpus
questions, embedded once by the real model before timing starts.

Ingest is store-level (``transaction`` + ``insert_episodes`` + ``insert_memories``
+ ``append_events``, 100 turns per transaction, vectors precomputed), the way
``Memory.add`` writes. Searches are timed per call, alternating which backend goes
first; ``Memory.search`` runs the full hybrid pipeline over the store with an
embedder that returns the precomputed query vector, so the numbers are store plus
retrieval, not ONNX. Recall@10 compares each backend's ``vector_search`` with an
exact numpy top-10 over the same vectors and filter (a hit counts when its exact
score reaches the 10th best, so verbatim duplicate turns do not count as misses).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import corpus
import embed_cache
import machine
import numpy as np

from remem import Memory
from remem._ids import new_id
from remem.model import Episode, Event, MemoryRecord, Scope
from remem.pipeline.ingest import build_turns
from remem.providers.local_embedder import LocalEmbedder
from remem.recipes import RECIPES
from remem.stores import MemoryFilter, Store
from remem.stores.sqlite import SQLiteStore
from remem.text.terms import query_terms

ROOT = Path(__file__).resolve().parent
TENANT = "bench"
USERS = 10
BATCH = 100
LIMIT = 10
POOL = max(RECIPES["hybrid"].candidates, LIMIT * 3)  # what hybrid_search asks each retriever for
WARMUP = 10


# -- data ---------------------------------------------------------------------------------
def build_records(
    size: int, seed: int
) -> tuple[list[str], list[tuple[Episode, MemoryRecord]], list[Event]]:
    """The corpus as the exact records ``Memory.add`` would write, one session per call."""
    texts: list[str] = []
    turns: list[tuple[Episode, MemoryRecord]] = []
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for index, session in enumerate(corpus.sessions(size, 50, seed)):
        scope = Scope(tenant=TENANT, user_id=f"u{index % USERS}", session_id=session.session_id)
        built = build_turns(list(session.messages), scope=scope, first_seq=0, now=now)
        texts += session.texts
        turns += [(t.episode, t.memory) for t in built]  # benign corpus: none quarantined
    events = [
        Event(
            id=new_id("ev"),
            at=now,
            op="add",
            memory_id=m.id,
            version=m.version,
            scope=m.scope,
            payload=m.model_dump(mode="json"),
        )
        for _, m in turns
    ]
    return texts, turns, events


def corpus_vectors(
    texts: Sequence[str], embedder: Any, cache: Path, vocabulary: int | None, seed: int
) -> tuple[np.ndarray, str]:
    """Real vectors for every turn, or for the first ``vocabulary`` turns plus mixes of them."""
    if not vocabulary or vocabulary >= len(texts):
        vectors, info = embed_cache.corpus_vectors(texts, embedder, cache)
        return (
            vectors,
            f"real model vectors for all {len(texts)} turns ({info['computed']} computed now)",
        )
    real, info = embed_cache.corpus_vectors(texts[:vocabulary], embedder, cache)
    rng = np.random.default_rng(seed)
    extra = len(texts) - vocabulary
    a, b = rng.integers(0, vocabulary, extra), rng.integers(0, vocabulary, extra)
    mixed = 0.75 * real[a] + 0.25 * real[b] + rng.normal(0, 0.01, (extra, real.shape[1]))
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    vectors = np.concatenate([real, mixed.astype(np.float32)])
    return vectors, (
        f"real model vectors for the first {vocabulary} turns ({info['computed']} computed now); "
        f"each later turn 0.75*v_a + 0.25*v_b + N(0, 0.01) of two random real ones, renormalised"
    )


class FixedQueries:
    """The Embedder protocol answering queries with vectors computed before timing started."""

    def __init__(self, real: Any, table: dict[str, np.ndarray]) -> None:
        self.real, self.table = real, table

    @property
    def model_id(self) -> str:
        return self.real.model_id

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.table[text]


# -- CPU accounting -----------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU used so far by every local ``postgres`` process (exited backends via the postmaster)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name == "postgres":
            fields = text[text.rindex(")") + 2 :].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / _TICK


class Window:
    """Wall time, this process's CPU, the local PostgreSQL server's CPU, and everyone else's."""

    def __enter__(self) -> Window:
        self.contention = machine.Contention().__enter__()
        self.server = postgres_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.contention.__exit__(*exc)
        self.server = postgres_cpu_seconds() - self.server

    @property
    def wall(self) -> float:
        return self.contention.wall

    def summary(self) -> dict[str, float]:
        c = self.contention
        capacity = c.wall * (os.cpu_count() or 1)
        foreign = max(0.0, c.busy - c.own - self.server) / capacity if capacity else 0.0
        return {
            "wall_s": round(c.wall, 2),
            "bench_cpu_s": round(c.own, 2),
            "postgres_cpu_s": round(self.server, 2),
            "other_processes_cpu_share": round(foreign, 3),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }


# -- backends -----------------------------------------------------------------------------
def postgres_url(given: str | None) -> str:
    url = given or os.environ.get("REMEM_TEST_POSTGRES_URL")
    if not url:
        path = ROOT.parent / ".remem-pg" / "url"
        if not path.exists():
            sys.exit("no PostgreSQL: pass --postgres-url or run scripts/postgres.sh start")
        url = path.read_text().strip()
    return url


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    old = dict(parse_qsl(parts.query)).get("options", "")
    options = f"{old} -csearch_path={schema},public".strip()
    encoded = urlencode([*query, ("options", options)], quote_via=quote)
    return urlunsplit(parts._replace(query=encoded))


def fresh_postgres(url: str, schema: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return with_schema(url, schema)


def postgres_info(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        vector = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()[0]  # type: ignore[index]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "synchronous_commit")
        }
    return {"server": version, "pgvector": vector, **settings}


def ingest(
    store: Store,
    turns: Sequence[tuple[Episode, MemoryRecord]],
    vectors: np.ndarray,
    events: Sequence[Event],
) -> dict[str, float]:
    began = time.perf_counter()
    with Window() as window:
        for start in range(0, len(turns), BATCH):
            batch = turns[start : start + BATCH]
            with store.transaction():
                store.insert_episodes([e for e, _ in batch])
                store.insert_memories([(m, vectors[start + i]) for i, (_, m) in enumerate(batch)])
                store.append_events(events[start : start + BATCH])
            if (start // BATCH) % 100 == 99:
                done = start + len(batch)
                rate = done / (time.perf_counter() - began)
                print(f"  {done}/{len(turns)} turns, {rate:.0f}/s", file=sys.stderr)
    return {"turns_per_s": round(len(turns) / window.wall, 1), **window.summary()}


# -- measuring ----------------------------------------------------------------------------
def percentiles(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
    }


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def search_all(
    names: Sequence[str],
    stores: dict[str, Store],
    memories: dict[str, Memory],
    queries: Sequence[str],
    query_vectors: dict[str, np.ndarray],
    scope: Scope,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Latency per (operation, backend), alternating which backend runs first.

    The first ``WARMUP`` queries run once untimed first (SQLite loads its vector index then).
    """
    flt = MemoryFilter(scope=scope)
    ops: dict[str, Callable[[str, str], Any]] = {
        "text_search": lambda b, q: stores[b].text_search(query_terms(q), flt, POOL),
        "vector_search": lambda b, q: stores[b].vector_search(query_vectors[q], flt, POOL),
        "Memory.search": lambda b, q: memories[b].search(
            q, user_id=scope.user_id, limit=LIMIT, asked_at="2026-01-01T00:00:00Z"
        ),
    }
    samples = {op: {b: [] for b in names} for op in ops}
    top: dict[str, dict[str, list[list[tuple[str, float]]]]] = {
        op: {b: [] for b in names} for op in ops
    }
    for i, query in enumerate([*queries[:WARMUP], *queries]):
        order = names if i % 2 == 0 else list(reversed(names))
        for op, call in ops.items():
            for backend in order:
                # Each call pays its own scoring: no score cached by the previous operation.
                getattr(stores[backend], "drop_score_cache", lambda: None)()
                seconds, result = timed(lambda c=call, b=backend, q=query: c(b, q))
                if i >= WARMUP:
                    samples[op][backend].append(seconds)
                    ranked = (
                        [(h.memory.id, h.score) for h in result.hits]
                        if hasattr(result, "hits")
                        else [(m.id, score) for m, score in result]
                    )
                    top[op][backend].append(ranked)
    return {op: {b: percentiles(s) for b, s in per.items()} for op, per in samples.items()}, top


def exact_scores(matrix: np.ndarray, mask: np.ndarray | None, query: np.ndarray) -> np.ndarray:
    scores = matrix @ query
    return scores if mask is None else np.where(mask, scores, -np.inf)


def recall(
    stores: dict[str, Store],
    matrix: np.ndarray,
    row_of: dict[str, int],
    users: np.ndarray,
    queries: Sequence[str],
    query_vectors: dict[str, np.ndarray],
    scope: Scope,
) -> dict[str, float]:
    mask = None if scope.user_id is None else users == scope.user_id
    flt = MemoryFilter(scope=scope)
    found = {b: 0 for b in stores}
    for query in queries:
        scores = exact_scores(matrix, mask, query_vectors[query])
        # the corpus repeats some turns verbatim ("sounds good"): any of equal vectors will do
        kth = np.partition(-scores, LIMIT - 1)[LIMIT - 1]
        for backend, store in stores.items():
            got = [row_of[m.id] for m, _ in store.vector_search(query_vectors[query], flt, LIMIT)]
            found[backend] += sum(1 for row in set(got) if -scores[row] <= kth + 1e-5)
    return {b: round(n / (LIMIT * len(queries)), 4) for b, n in found.items()}


def overlap(reference: list[list[tuple[str, float]]], other: list[list[tuple[str, float]]]) -> dict:
    """How alike two backends rank: shared top-10 ids, same top-1, and tie-aware agreement.

    Tie-aware: the share of ``other``'s top 10 that ``reference`` scores at least as high as its
    own 10th hit. The corpus repeats sentence templates, so many rows tie exactly and any of
    them is as right as another.
    """
    shared, same_top, tie_aware = [], [], []
    for ref, got in zip(reference, other, strict=True):
        a, b = [i for i, _ in ref[:LIMIT]], [i for i, _ in got[:LIMIT]]
        shared.append(len(set(a) & set(b)) / max(1, min(len(a), len(b))))
        same_top.append(bool(a and b and a[0] == b[0]))
        if ref:
            score = dict(ref)
            kth = ref[min(LIMIT, len(ref)) - 1][1]
            tie_aware.append(sum(1 for i in b if score.get(i, -np.inf) >= kth - 1e-9) / len(a))
    return {
        "overlap_at_10": round(float(np.mean(shared)), 3),
        "same_top1": round(float(np.mean(same_top)), 3),
        "tie_aware_at_10": round(float(np.mean(tie_aware)), 3),
    }


# -- report -------------------------------------------------------------------------------
def table(result: dict[str, Any]) -> str:
    names = result["backends"]
    lines = [
        f"| measure | {' | '.join(names)} |",
        f"|---|{'---|' * len(names)}",
        f"| ingest, turns/s (batches of {BATCH}) | "
        + " | ".join(f"{result['ingest'][b]['turns_per_s']:.0f}" for b in names)
        + " |",
    ]
    for scenario, label in (("tenant", "whole tenant"), ("user", "one user (10%)")):
        lat = result["latency"][scenario]
        for op in lat:
            cells = [f"{lat[op][b]['p50_ms']:.1f} / {lat[op][b]['p95_ms']:.1f}" for b in names]
            lines.append(f"| {op} p50 / p95 ms, {label} | {' | '.join(cells)} |")
        rec = result["recall"][scenario]
        lines.append(
            f"| vector recall@10, {label} | {' | '.join(f'{rec[b]:.3f}' for b in names)} |"
        )
    sizes = " | ".join(f"{result['bytes'][b] / 2**20:.0f}" for b in names)
    lines.append(f"| store size, MB | {sizes} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vocabulary", type=int, default=None,
                        help="embed only the first N turns; later turns mix two of their vectors")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--schema", default="bench_backends")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "remem-bench-backends"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "backends.json")
    parser.add_argument("--keep", action="store_true", help="keep both stores afterwards")
    args = parser.parse_args()

    real = LocalEmbedder.shared()
    print(f"building {args.size} turns", file=sys.stderr)
    texts, turns, events = build_records(args.size, args.seed)
    vectors, vector_note = corpus_vectors(texts, real, args.cache, args.vocabulary, args.seed)
    queries = corpus.queries(args.queries, args.seed, set(texts))
    query_vectors = {q: real.embed_query(q) for q in queries}
    row_of = {m.id: i for i, (_, m) in enumerate(turns)}
    users = np.array([m.scope.user_id for _, m in turns])

    args.workdir.mkdir(parents=True, exist_ok=True)
    sqlite_path = args.workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(sqlite_path) + suffix).unlink(missing_ok=True)
    base_url = postgres_url(args.postgres_url)
    pg_url = fresh_postgres(base_url, args.schema)
    from remem.stores.postgres import PostgresStore

    stores: dict[str, Store] = {
        "sqlite": SQLiteStore(sqlite_path),
        "postgres": PostgresStore(pg_url),
    }
    names = list(stores)
    result: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "machine": machine.describe(),
        "postgres": postgres_info(pg_url),
        "size": args.size,
        "users": USERS,
        "queries": len(queries),
        "vectors": vector_note,
        "backends": names,
        "ingest": {},
        "latency": {},
        "recall": {},
        "agreement": {},
    }
    for name, store in stores.items():
        store.bind_embedder(real.model_id, real.dimension)
        print(f"ingesting into {name}", file=sys.stderr)
        result["ingest"][name] = ingest(store, turns, vectors, events)
        print(f"  {name}: {result['ingest'][name]}", file=sys.stderr)
    began = time.perf_counter()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:  # what autovacuum would do soon after
        conn.execute("VACUUM ANALYZE")
    result["postgres"]["vacuum_analyze_s"] = round(time.perf_counter() - began, 1)

    fixed = FixedQueries(real, query_vectors)
    memories = {
        name: Memory(store=store, embedder=fixed, tenant=TENANT) for name, store in stores.items()
    }
    for scenario, scope in (
        ("tenant", Scope(tenant=TENANT)),
        ("user", Scope(tenant=TENANT, user_id="u3")),
    ):
        print(f"searching: {scenario}", file=sys.stderr)
        with Window() as window:
            latency, top = search_all(names, stores, memories, queries, query_vectors, scope)
        result["latency"][scenario] = latency
        result["latency"][scenario + "_contention"] = window.summary()
        result["recall"][scenario] = recall(
            stores, vectors, row_of, users, queries, query_vectors, scope
        )
        result["agreement"][scenario] = {
            op: overlap(per["sqlite"], per["postgres"]) for op, per in top.items()
        }
    result["bytes"] = {
        name: store.stats(Scope(tenant=TENANT))["bytes"] for name, store in stores.items()
    }
    for key in ("tenant_contention", "user_contention"):
        result.setdefault("contention", {})[key.split("_")[0]] = result["latency"].pop(key)

    for store in stores.values():
        store.close()
    if not args.keep:
        import psycopg

        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE")
        for suffix in ("", "-wal", "-shm"):
            Path(str(sqlite_path) + suffix).unlink(missing_ok=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print()
    print("agreement sqlite vs postgres:", json.dumps(result["agreement"]))
    print("contention:", json.dumps(result["contention"]))
    print(f"vectors: {vector_note}")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
