"""Ingest rate, search latency, dense recall and memory of remem when ONE user holds N memories.

    python bench/ingest_search.py --sizes 10000 100000 --queries 200

Every turn goes through the real facade, ``Memory.add`` (one call per 50-turn
session), or with ``--add-many N`` ``Memory.add_many`` (one call per N sessions, each
still its own add). The first ``--sample`` turns are embedded by the real local model
inside ``Memory.add``; the rest take their vectors from an on-disk cache filled
once by the same model, so a 100k run takes minutes, not an hour. Searches
always embed the query with the real model: every query is a fresh text, so no
cache can answer it. docs/benchmarks.md says what each number includes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import corpus
import embed_cache
import machine
import numpy as np

from remem import Memory
from remem.model import Scope, SearchResults
from remem.providers.local_embedder import LocalEmbedder
from remem.recipes import RECIPES
from remem.retrieval import search as search_module
from remem.stores import MemoryFilter
from remem.text import timeq
from remem.text.terms import query_terms

USER = "bench-user"
LIMIT = 10
HYBRID = RECIPES["hybrid"]
# What hybrid_search asks each retriever for; the breakdown times the same calls.
POOL = max(HYBRID.candidates, LIMIT)
# The standing-directive signal: a dense search restricted to turns tagged as directives.
DIRECTIVES = getattr(HYBRID, "directives", 0) > 0
DIRECTIVES_POOL: int = getattr(search_module, "DIRECTIVES_POOL", 5)
SEGMENT = 10_000
TARGET_P95_MS = 25.0
TARGET_SIZE = 100_000
ROOT = Path(__file__).resolve().parent


# -- timing -------------------------------------------------------------------
def percentiles(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "p99": round(float(np.percentile(values, 99)), 3),
        "mean": round(float(values.mean()), 3),
        "n": len(values),
    }


@dataclass
class Timings:
    """Milliseconds per call, by component."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def time(self, name: str, call: Callable[[], Any]) -> Any:
        began = time.perf_counter_ns()
        out = call()
        self.samples.setdefault(name, []).append((time.perf_counter_ns() - began) / 1e6)
        return out

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: percentiles(values) for name, values in self.samples.items()}


# -- ingest -------------------------------------------------------------------
@dataclass
class Segment:
    start: int
    end: int
    embedding: str
    seconds: float
    embed_seconds: float
    alone_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        turns = self.end - self.start
        store = self.seconds - self.embed_seconds
        alone = (
            {
                "embedder_alone_turns_per_s": round(turns / self.alone_seconds, 1),
                "ingest_to_embedder_alone": round(self.alone_seconds / self.seconds, 3),
            }
            if self.alone_seconds
            else {}
        )
        return {
            **alone,
            "turns": f"{self.start}-{self.end}",
            "embedding": self.embedding,
            "seconds": round(self.seconds, 2),
            "turns_per_s": round(turns / self.seconds, 1),
            "embed_seconds": round(self.embed_seconds, 2),
            "without_embedding_turns_per_s": round(turns / store, 1),
        }


class Loader:
    """Writes sessions through ``Memory.add``, the first ``sample`` turns with real embedding."""

    def __init__(
        self,
        memory: Memory,
        embedder: embed_cache.CachedEmbedder,
        sessions: Sequence[corpus.Session],
        sample: int,
        add_many: int = 0,
    ) -> None:
        self.memory, self.embedder, self.sessions, self.sample = memory, embedder, sessions, sample
        self.add_many = add_many
        self.loaded = 0
        self.next_session = 0
        self.ids: list[str] = []
        self.segments: list[Segment] = []
        self.last_turn_at = corpus.START

    @property
    def asked_at(self) -> datetime:
        """Questions are asked an hour after the last stored turn, so time phrases hit the corpus."""
        return self.last_turn_at + timedelta(hours=1)

    def _add(self, sessions: Sequence[corpus.Session]) -> float:
        """One ``add`` (or, with ``--add-many``, one ``add_many`` of ``sessions``)."""
        began = time.perf_counter()
        if self.add_many:
            results = self.memory.add_many(
                {"messages": list(s.messages), "user_id": USER, "session_id": s.session_id}
                for s in sessions
            )
        else:
            (session,) = sessions
            results = [
                self.memory.add(list(session.messages), user_id=USER, session_id=session.session_id)
            ]
        seconds = time.perf_counter() - began
        self.ids.extend(m.id for r in results for m in r.memories)
        self.last_turn_at = datetime.fromisoformat(sessions[-1].messages[-1]["timestamp"])
        return seconds

    def _alone(self) -> float:
        """``LocalEmbedder.embed`` alone on the texts the call just embedded (one call, as
        add_many makes it), right after it: the baseline of the ingest ratio, same load."""
        began = time.perf_counter()
        self.embedder.real.embed(self.embedder.live_texts)
        seconds = time.perf_counter() - began
        self.embedder.live_texts = []
        return seconds

    def _segment(self, end: int, live: bool) -> Segment:
        self.embedder.live = live
        start, embedded, seconds, alone = self.loaded, self.embedder.embed_seconds, 0.0, 0.0
        while self.loaded < end:
            sessions: list[corpus.Session] = []
            while self.loaded < end and len(sessions) < max(1, self.add_many):
                sessions.append(self.sessions[self.next_session])
                self.next_session += 1
                self.loaded += len(sessions[-1].messages)
            seconds += self._add(sessions)
            alone += self._alone() if live else 0.0
        spent = self.embedder.embed_seconds - embedded
        kind = "real" if live else "cached"
        return Segment(start, self.loaded, kind, seconds, spent, alone)

    def load_to(self, target: int) -> None:
        while self.loaded < target:
            live = self.loaded < self.sample
            stop = self.sample if live else (self.loaded // SEGMENT + 1) * SEGMENT
            segment = self._segment(min(target, stop), live)
            self.segments.append(segment)
            print(f"  loaded {segment.summary()}", file=sys.stderr)


# -- search -------------------------------------------------------------------
def brute_top(matrix: np.ndarray, vector: np.ndarray, k: int) -> np.ndarray:
    """The baseline: exact top-k rows by dot product over one plain float32 array."""
    scores = matrix @ vector
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def dense_recall(
    found: Sequence[str], matrix: np.ndarray, vector: np.ndarray, ids: list[str]
) -> float:
    """Share of remem's dense top-k that is in the exact top-k (rows tied with the k-th count)."""
    scores = matrix @ vector
    kth = -np.partition(-scores, LIMIT - 1)[LIMIT - 1]
    truth = {ids[i] for i in np.flatnonzero(scores >= kth - 1e-6)}
    return len(set(found) & truth) / LIMIT


@dataclass
class Probe:
    """What one timed query needs: the facade, the real model, the baseline and the asking time."""

    memory: Memory
    real: LocalEmbedder
    matrix: np.ndarray
    ids: list[str]
    asked_at: datetime

    @property
    def flt(self) -> MemoryFilter:
        return MemoryFilter(scope=Scope(tenant=self.memory.tenant, user_id=USER))

    def search(self, query: str) -> SearchResults:
        return self.memory.search(query, user_id=USER, limit=LIMIT, asked_at=self.asked_at)


def _cold(store: Any, call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with the store's per-query score cache emptied first, so it pays its own scoring."""

    def run() -> Any:
        getattr(store, "drop_score_cache", lambda: None)()
        return call()

    return run


def _time_narrowed(p: Probe, query: str, vector: np.ndarray, t: Timings) -> None:
    """The second retrieval pass hybrid search makes when the query names a time."""
    window = timeq.resolve(query, p.asked_at)
    if window is None:
        return
    flt = replace(p.flt, event_after=window.start, event_before=window.end)
    terms = query_terms(query)
    store = p.memory.store
    t.time("bm25_time", _cold(store, lambda: store.text_search(terms, flt, POOL)))
    t.time("dense_time", _cold(store, lambda: store.vector_search(vector, flt, POOL)))


def _directive(p: Probe, vector: np.ndarray, t: Timings) -> None:
    """The standing-directive retrieval hybrid search makes on every query, when enabled."""
    if DIRECTIVES:
        standing = replace(p.flt, metadata={"directive": True})
        store = p.memory.store
        t.time(
            "directive",
            _cold(store, lambda: store.vector_search(vector, standing, DIRECTIVES_POOL)),
        )


def _search_once(p: Probe, query: str, t: Timings) -> tuple[float, int]:
    store, flt = p.memory.store, p.flt
    results = t.time("search", lambda: p.search(query))
    timed = "search_time_phrase" if results.time_window else "search_no_time_phrase"
    t.add(timed, t.samples["search"][-1])
    vector = t.time("embed", lambda: p.real.embed([query])[0])
    t.time("bm25", _cold(store, lambda: store.text_search(query_terms(query), flt, POOL)))
    t.time("dense", _cold(store, lambda: store.vector_search(vector, flt, POOL)))
    _time_narrowed(p, query, vector, t)
    _directive(p, vector, t)
    t.time("brute", lambda: brute_top(p.matrix, vector, LIMIT))
    s = t.samples
    t.add("embed_plus_brute", s["embed"][-1] + s["brute"][-1])
    if not results.time_window:
        parts = ("embed", "bm25", "dense", *(("directive",) if DIRECTIVES else ()))
        t.add("search_other", s["search"][-1] - sum(s[name][-1] for name in parts))
    found = [m.id for m, _ in store.vector_search(vector, flt, LIMIT)]
    return dense_recall(found, p.matrix, vector, p.ids), len(results)


def measure(p: Probe, queries: Sequence[str], warmup: Sequence[str]) -> dict[str, Any]:
    for query in warmup:
        p.search(query)
    timings, recalls, hits = Timings(), [], []
    with machine.Contention() as contention:
        for query in queries:
            recall, found = _search_once(p, query, timings)
            recalls.append(recall)
            hits.append(found)
    ms = timings.summary()
    return {
        "latency_ms": ms,
        "time_phrase_queries": ms.get("search_time_phrase", {}).get("n", 0),
        "queries_with_fewer_than_limit_hits": sum(n < LIMIT for n in hits),
        "ratio_search_to_embed_plus_brute": {
            q: round(ms["search"][q] / ms["embed_plus_brute"][q], 2) for q in ("p50", "p95")
        },
        "ratio_vector_search_to_brute": {
            q: round(ms["dense"][q] / ms["brute"][q], 2) for q in ("p50", "p95")
        },
        "dense_recall_at_10": round(float(np.mean(recalls)), 4),
        "contention": contention.summary(),
    }


def profile(p: Probe, queries: Sequence[str], out: Path) -> None:
    """cProfile of ``Memory.search`` over fresh queries; the hottest functions go to ``out``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        p.search(query)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    out.write_text(text.getvalue())
    print(f"  profile of {len(queries)} searches: {out}", file=sys.stderr)


# -- cold start in a fresh process ---------------------------------------------
def probe(db: str, queries: list[str], asked_at: str) -> dict[str, Any]:
    """Open an existing store in this (fresh) process: model load, index load, warm searches, RSS."""
    began = time.perf_counter()
    embedder = LocalEmbedder.shared()
    memory = Memory(db, embedder=embedder)
    opened = time.perf_counter()
    embedder.embed(["load the model"])
    loaded = time.perf_counter()
    memory.search(queries[0], user_id=USER, limit=LIMIT, asked_at=asked_at)
    first = time.perf_counter()
    timings = Timings()
    for query in queries[1:]:
        timings.time(
            "search", lambda q=query: memory.search(q, user_id=USER, limit=LIMIT, asked_at=asked_at)
        )
    memory.close()
    return {
        "open_s": round(opened - began, 3),
        "model_load_s": round(loaded - opened, 3),
        "first_search_s": round(first - loaded, 3),
        "search_ms": timings.summary()["search"],
        "rss_mib": machine.rss_mib(),
    }


def run_probe(db: Path, queries: list[str], asked_at: datetime) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--probe", str(db)],
        input=json.dumps({"queries": queries, "asked_at": asked_at.isoformat()}),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


# -- the run --------------------------------------------------------------------
def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def _corpus_summary(texts: Sequence[str], sessions: Sequence[corpus.Session]) -> dict[str, Any]:
    lengths = np.array([len(t) for t in texts])
    return {
        "turns": len(texts),
        "sessions": len(sessions),
        "distinct_texts": len(set(texts)),
        "chars_mean": round(float(lengths.mean()), 1),
        "chars_p50": int(np.percentile(lengths, 50)),
        "chars_max": int(lengths.max()),
    }


@dataclass
class Plan:
    """Distinct queries: timed and warm-up ones per size, then the fresh-process probe's."""

    sizes: list[int]
    pool: list[str]
    timed: int
    warmup: int
    profiled: int

    def for_size(self, position: int) -> tuple[list[str], list[str]]:
        start = position * (self.timed + self.warmup)
        warm = self.pool[start : start + self.warmup]
        return self.pool[start + self.warmup : start + self.warmup + self.timed], warm

    @property
    def _after_sizes(self) -> int:
        return len(self.sizes) * (self.timed + self.warmup)

    @property
    def profile_queries(self) -> list[str]:
        return self.pool[self._after_sizes : self._after_sizes + self.profiled]

    @property
    def probe_queries(self) -> list[str]:
        return self.pool[self._after_sizes + self.profiled :]


def _plan(args: argparse.Namespace, texts: Sequence[str]) -> Plan:
    sizes = sorted(set(args.sizes))
    total = (args.warmup + args.queries) * len(sizes) + args.profile + min(args.queries, 50) + 1
    pool = corpus.queries(total, args.seed, exclude=set(texts))
    return Plan(sizes, pool, args.queries, args.warmup, args.profile)


def _measure_size(
    args: argparse.Namespace,
    memory: Memory,
    db: Path,
    embedder: embed_cache.CachedEmbedder,
    loader: Loader,
    plan: Plan,
    position: int,
) -> dict[str, Any]:
    size = plan.sizes[position]
    matrix = np.concatenate(embedder.stored)
    embedder.stored = [matrix]
    assert matrix.shape[0] == len(loader.ids) == size
    p = Probe(memory, embedder.real, matrix, loader.ids, loader.asked_at)
    last = position == len(plan.sizes) - 1
    return _search_and_describe(p, plan, position, db, args.out if args.profile and last else None)


def _search_and_describe(
    p: Probe, plan: Plan, position: int, db: Path, profile_out: Path | None
) -> dict[str, Any]:
    """The timed searches of one size, and what the store and process held meanwhile."""
    queries, warmup = plan.for_size(position)
    print(f"  searching {p.matrix.shape[0]} memories with {len(queries)} queries", file=sys.stderr)
    found = measure(p, queries, warmup)
    found["asked_at"] = p.asked_at.isoformat()
    directive = {"directive": True}
    found["directive_memories"] = p.memory.list(user_id=USER, metadata=directive, limit=1).total
    found["baseline_matrix_mib"] = round(p.matrix.nbytes / 2**20, 1)
    found["rss_mib"] = machine.rss_mib()
    found["db_mib"] = round(_db_bytes(db) / 2**20, 1)
    if profile_out is not None:
        profile(p, plan.profile_queries, profile_out.with_suffix(".profile.txt"))
    return found


def _copy_store(kept: Path, workdir: Path) -> Path:
    """A copy of a store kept by ``--keep-db`` (its WAL and saved index too): searches write
    recall counts, and the kept one must stay as it was for the next run."""
    for path in kept.parent.glob(kept.name + "*"):
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, workdir / path.name.replace(kept.name, "bench.db", 1))
    return workdir / "bench.db"


def _kept_vectors(db: Path) -> tuple[np.ndarray, list[str], datetime]:
    """The bench user's memory ids and vectors in insertion order (the baseline's matrix),
    and when the last of them happened."""
    with closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT m.id, v.vector, m.valid_from FROM memories m JOIN vectors v USING (rk) "
            "WHERE m.user_id = ? ORDER BY m.rk",
            (USER,),
        ).fetchall()
    matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob, _ in rows])
    return matrix, [i for i, _, _ in rows], max(datetime.fromisoformat(r[2]) for r in rows)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.reuse_db:
        return run_reused(args)
    sessions = list(corpus.sessions(max(args.sizes), args.session_turns, args.seed))
    texts = [t for s in sessions for t in s.texts]
    real = LocalEmbedder.shared()
    print(f"corpus: {len(texts)} turns; vectors from {args.cache}", file=sys.stderr)
    vectors, cache_info = embed_cache.corpus_vectors(texts, real, args.cache)
    plan = _plan(args, texts)
    embedder = embed_cache.CachedEmbedder(real, texts, vectors)
    workdir = Path(tempfile.mkdtemp(prefix="remem-bench-", dir=args.db_dir))
    db = workdir / "bench.db"
    memory = Memory(db, embedder=embedder)
    loader = Loader(memory, embedder, sessions, args.sample, args.add_many)
    by_size: dict[str, Any] = {}
    try:
        for position, size in enumerate(plan.sizes):
            loader.load_to(size)
            by_size[str(size)] = _measure_size(args, memory, db, embedder, loader, plan, position)
        embedder.drop_cache()
        del vectors
        gc.collect()
        rss_after = machine.rss_mib()
        memory.close()
        cold = run_probe(db, plan.probe_queries, loader.asked_at)
    finally:
        if args.keep_db:
            print(f"kept {db}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "command": "python bench/ingest_search.py " + " ".join(sys.argv[1:]),
        "machine": machine.describe(),
        "config": {
            "seed": args.seed,
            "session_turns": args.session_turns,
            "sessions_per_add_many": args.add_many or None,
            "sample_real_embedding_turns": args.sample,
            "queries_per_size": args.queries,
            "limit": LIMIT,
            "retriever_pool": POOL,
            "hybrid_recipe": repr(HYBRID),
            "user": "one user holds every memory",
        },
        "corpus": _corpus_summary(texts, sessions),
        "embedding_cache": cache_info,
        "ingest": [s.summary() for s in loader.segments],
        "sizes": by_size,
        "rss_mib_after_dropping_cache": rss_after,
        "cold_start_fresh_process": cold,
    }


def run_reused(args: argparse.Namespace) -> dict[str, Any]:
    """Search measures on a copy of a kept store: no ingest, minutes saved per profile run."""
    (size,) = args.sizes
    workdir = Path(tempfile.mkdtemp(prefix="remem-bench-", dir=args.db_dir))
    try:
        db = _copy_store(args.reuse_db, workdir)
        matrix, ids, last = _kept_vectors(db)
        if len(ids) != size:
            raise SystemExit(f"{args.reuse_db} holds {len(ids)} memories, not --sizes {size}")
        real = LocalEmbedder.shared()
        plan = _plan(args, corpus_texts(args, size))
        memory = Memory(db, embedder=real)
        p = Probe(memory, real, matrix, ids, last + timedelta(hours=1))
        found = _search_and_describe(p, plan, 0, db, args.out if args.profile else None)
        memory.close()
        cold = run_probe(db, plan.probe_queries, p.asked_at)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "command": "python bench/ingest_search.py " + " ".join(sys.argv[1:]),
        "machine": machine.describe(),
        "config": {"seed": args.seed, "queries_per_size": args.queries, "limit": LIMIT},
        "ingest": [],
        "sizes": {str(size): found},
        "cold_start_fresh_process": cold,
    }


def corpus_texts(args: argparse.Namespace, size: int) -> list[str]:
    """The corpus's turns (the queries are drawn so that none of them is one)."""
    return [t for s in corpus.sessions(size, args.session_turns, args.seed) for t in s.texts]


# -- report -------------------------------------------------------------------
COMPONENTS = (
    ("search", "`Memory.search` end to end (incl. query embedding)"),
    ("search_no_time_phrase", "… queries without a time phrase"),
    ("search_time_phrase", "… queries with a time phrase (4 retrievals)"),
    ("embed", "query embedding alone"),
    ("bm25", f"BM25: `store.text_search` (k={POOL})"),
    ("dense", f"dense: `store.vector_search` (k={POOL})"),
    ("bm25_time", "BM25 again, narrowed to the time window"),
    ("dense_time", "dense again, narrowed to the time window"),
    ("directive", f"directive signal: `vector_search` on directive turns (k={DIRECTIVES_POOL})"),
    ("search_other", "rest of `search`, queries without a time phrase"),
    ("brute", "baseline: numpy `matrix @ q` + argpartition (top-10)"),
    ("embed_plus_brute", "baseline + query embedding"),
)


def _cells(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "- | - | -"
    return f"{stats['p50']:.1f} | {stats['p95']:.1f} | {stats['p99']:.1f}"


def markdown(result: dict[str, Any]) -> str:
    sizes = result["sizes"]
    head = " | ".join(f"{int(s):,}: p50 | p95 | p99" for s in sizes)
    lines = [f"| latency (ms) | {head} |", "|---" * (1 + 3 * len(sizes)) + "|"]
    for key, label in COMPONENTS:
        cells = " | ".join(_cells(v["latency_ms"].get(key)) for v in sizes.values())
        lines.append(f"| {label} | {cells} |")
    lines += ["", f"| per size | {' | '.join(f'{int(s):,}' for s in sizes)} |"]
    lines.append("|---" * (1 + len(sizes)) + "|")
    rows = {
        "search ÷ (embedding + brute force), p50 / p95": lambda v: "{p50} / {p95}".format(
            **v["ratio_search_to_embed_plus_brute"]
        ),
        "vector_search ÷ brute force, p50 / p95": lambda v: "{p50} / {p95}".format(
            **v["ratio_vector_search_to_brute"]
        ),
        "dense recall@10 vs brute force": lambda v: f"{v['dense_recall_at_10']:.3f}",
        "queries answered with < 10 hits (abstained)": lambda v: str(
            v["queries_with_fewer_than_limit_hits"]
        ),
        "queries with a time phrase": lambda v: str(v["time_phrase_queries"]),
        "memories tagged as standing directives": lambda v: str(v["directive_memories"]),
        "process RSS (MiB, bench arrays included)": lambda v: f"{v['rss_mib']['rss']:.0f}",
        "SQLite file + WAL (MiB)": lambda v: f"{v['db_mib']:.0f}",
        "CPU used by other processes while timing": lambda v: (
            f"{100 * v['contention']['foreign_cpu_share']:.0f}%"
        ),
    }
    for label, cell in rows.items():
        lines.append(f"| {label} | {' | '.join(cell(v) for v in sizes.values())} |")
    lines += [
        "",
        "| ingest through `Memory.add` | embedding | turns/s | turns/s without embedding "
        "| `LocalEmbedder.embed` alone, same texts (turns/s) | ingest ÷ embedder alone |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for seg in result["ingest"]:
        alone = seg.get("embedder_alone_turns_per_s")
        lines.append(
            f"| turns {seg['turns']} | {seg['embedding']} | {seg['turns_per_s']:.0f} "
            f"| {seg['without_embedding_turns_per_s']:.0f} | {alone or '-'} "
            f"| {seg.get('ingest_to_embedder_alone', '-')} |"
        )
    cold = result["cold_start_fresh_process"]
    lines += [
        "",
        f"Fresh process on the {max(int(s) for s in sizes):,}-memory store: open "
        f"{cold['open_s']:.2f} s, model load {cold['model_load_s']:.2f} s, first search "
        f"(loads the vector index) {cold['first_search_s']:.2f} s, then search p50/p95 "
        f"{cold['search_ms']['p50']:.1f}/{cold['search_ms']['p95']:.1f} ms, "
        f"RSS {cold['rss_mib']['rss']:.0f} MiB.",
    ]
    return "\n".join(lines)


def verdict(result: dict[str, Any]) -> str:
    at = result["sizes"].get(str(TARGET_SIZE))
    if at is None:
        return f"target not checked: no run at {TARGET_SIZE:,} memories"
    p95 = at["latency_ms"]["search"]["p95"]
    met = "MET" if p95 <= TARGET_P95_MS else "MISSED"
    return f"target search p95 <= {TARGET_P95_MS:.0f} ms at {TARGET_SIZE:,}: {met} ({p95:.1f} ms)"


# -- command line -----------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="timed queries per size")
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries per size")
    parser.add_argument("--sample", type=int, default=5_000, help="turns embedded for real")
    parser.add_argument("--session-turns", type=int, default=50, help="turns per Memory.add")
    parser.add_argument(
        "--add-many",
        type=int,
        default=0,
        metavar="N",
        help="write N sessions per Memory.add_many call (default: one Memory.add per session)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--db-dir", type=Path, default=None, help="where the store is created")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--reuse-db",
        type=Path,
        help="search a copy of a store kept by --keep-db (same --sizes and --seed): no ingest",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ingest_search.json")
    parser.add_argument(
        "--profile", type=int, default=0, help="fresh queries to cProfile at the largest size"
    )
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for n in [*args.sizes, args.sample]:
        if n % args.session_turns:
            parser.error(f"{n} is not a multiple of --session-turns {args.session_turns}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.probe:
        request = json.loads(sys.stdin.read())
        print(json.dumps(probe(args.probe, request["queries"], request["asked_at"])))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = run(args)
    result["verdict"] = verdict(result)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\n{result['verdict']}\nJSON: {args.out}")


if __name__ == "__main__":
    main()
