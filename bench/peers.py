"""remem beside chromadb, lancedb and mem0 (open source, ``infer=False``), in one run, on the
same texts and the same vectors.

    python -m venv --system-site-packages /tmp/peers-venv
    /tmp/peers-venv/bin/pip install chromadb lancedb mem0ai      # bench-only, not remem's deps
    cd bench && PYTHONPATH=../src:. /tmp/peers-venv/bin/python peers.py --size 100000 --queries 200

Texts are the synthetic chat turns of ``corpus.py`` (seed 7, sessions of 50 turns, one user
holds all of them). Their vectors come from remem's packaged model through the embedding cache
(``embed_cache.py``), and every system stores exactly those: remem and chroma/lance are handed
them; mem0 fetches them over the OpenAI protocol from ``embedding_server.py`` on loopback, which
answers a stored text with its cached vector and anything else (a query) with the real model.

- **ingest**: items (turns) per second into each system, vectors already computed (mem0 also
  pays one loopback HTTP call per turn, which is how it embeds).
- **search**: p50/p95 per query, query embedding by the real model included for every system
  (remem and mem0 embed inside their ``search``; for chroma and lance it is timed with the
  query). remem is timed with its ``dense`` recipe (the same task as the others: top-10 by
  vector) and with the default ``hybrid``, the two taking turns question by question;
  mem0 runs its default search (``rerank=False``).
- **recall@10**: the hits of each system's vector search against an exact numpy top-10 over
  the same vectors (a hit counts when its exact score reaches the 10th best). For remem it is
  its store's ``vector_search`` (the dense signal), since ``Memory.search`` then applies
  policy on top (the guard, folding turns) that would count as misses here.

Results: a Markdown table (ratios to remem) on stdout and JSON in ``bench/results/peers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import corpus
import embed_cache
import machine
import numpy as np
from embedding_server import EmbeddingServer

os.environ.setdefault("MEM0_TELEMETRY", "False")  # no calls home from a benchmark

from remem import Memory
from remem.model import Scope
from remem.providers.local_embedder import LocalEmbedder
from remem.stores import MemoryFilter

ROOT = Path(__file__).resolve().parent
USER = "u"
LIMIT = 10
WARMUP = 5


class Data:
    """The corpus with each distinct turn once (chat repeats "Thanks!"; a system that folds
    repeats would otherwise lose recall for it), its vectors, the queries, the exact top-10."""

    def __init__(self, size: int, queries: int, seed: int, cache: Path) -> None:
        sessions = list(corpus.sessions(size, 50, seed))
        every = [m["content"] for s in sessions for m in s.messages]
        self.real = LocalEmbedder()
        vectors, _ = embed_cache.corpus_vectors(every, self.real, cache)
        seen: set[str] = set()
        rows: list[int] = []
        self.sessions: list[tuple[str, list[dict[str, Any]]]] = []
        i = 0
        for s in sessions:
            kept = []
            for m in s.messages:
                if m["content"] not in seen:
                    seen.add(m["content"])
                    kept.append(m)
                    rows.append(i)
                i += 1
            if kept:
                self.sessions.append((s.session_id, kept))
        self.texts = [every[r] for r in rows]
        self.vectors = vectors[rows]
        self.row = {t: n for n, t in enumerate(self.texts)}
        # the first WARMUP questions only warm up; none is a stored turn, so no cache answers it
        asked = corpus.queries(queries + WARMUP, seed, seen)
        self.warmup, self.questions = asked[:WARMUP], asked[WARMUP:]
        qv = np.stack([self.real.embed_query(q) for q in self.questions]).astype(np.float32)
        unit = self.vectors / np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = unit
        self.qunit = qv / np.linalg.norm(qv, axis=1, keepdims=True)
        self.tenth = np.sort(self.qunit @ unit.T, axis=1)[:, -LIMIT]  # exact 10th best score

    def fresh(self) -> LocalEmbedder:
        """A model instance of its own for a system's queries: the embedder keeps a cache of
        recent queries, and the truth above already asked every question once."""
        return LocalEmbedder()

    def recall(self, query: int, texts: list[str]) -> float:
        """Share of the exact top-10 found (by score, so ties count)."""
        hits = 0
        for text in texts[:LIMIT]:
            row = self.row.get(text)
            score = -1.0 if row is None else float(self.qunit[query] @ self.unit[row])
            hits += score >= self.tenth[query] - 1e-5
        return hits / LIMIT


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_searches(
    data: Data,
    search: Callable[[str], list[str]],
    index: Callable[[str], list[str]] | None = None,
) -> dict[str, float]:
    """Latency of ``search``; recall of ``index`` (untimed) when given, else of ``search``."""
    return timed_together(data, {"": search}, index)[""]


def timed_together(
    data: Data,
    searches: dict[str, Callable[[str], list[str]]],
    index: Callable[[str], list[str]] | None = None,
) -> dict[str, dict[str, float]]:
    """``timed_searches`` of several searches of one system, question by question, taking
    turns at going first: none of them pays alone for what the first searches after an
    ingest do (remem: its first BM25 query tokenizes the partition, and SQLite checkpoints
    the ingest's log), nor for a busier minute of the machine."""
    for question in data.warmup:
        for search in searches.values():
            search(question)
    ms: dict[str, list[float]] = {name: [] for name in searches}
    recalls: dict[str, list[float]] = {name: [] for name in searches}
    names = list(searches)
    for n, question in enumerate(data.questions):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            began = time.perf_counter()
            texts = searches[name](question)
            ms[name].append((time.perf_counter() - began) * 1000)
            recalls[name].append(data.recall(n, index(question) if index else texts))
    return {
        name: {
            "p50_ms": statistics.median(ms[name]),
            "p95_ms": percentile(ms[name], 0.95),
            "recall_at_10": float(np.mean(recalls[name])),
        }
        for name in searches
    }


# -- the systems ---------------------------------------------------------------------------
def run_remem(data: Data, work: Path) -> dict[str, Any]:
    embedder = embed_cache.CachedEmbedder(data.fresh(), data.texts, data.vectors)
    memory = Memory(str(work / "remem.db"), embedder=embedder)
    began = time.perf_counter()
    for session_id, messages in data.sessions:
        memory.add(messages, user_id=USER, session_id=session_id)
    ingest = time.perf_counter() - began

    def dense(q: str) -> list[str]:
        return [h.text for h in memory.search(q, user_id=USER, limit=LIMIT, recipe="dense")]

    def hybrid(q: str) -> list[str]:
        return [h.text for h in memory.search(q, user_id=USER, limit=LIMIT)]

    scope = MemoryFilter(scope=Scope(tenant=memory.tenant, user_id=USER))

    def index(q: str) -> list[str]:
        # the dense signal's own top-10: search then applies policy (the guard, folding a
        # turn into its neighbours) that is not the index's business
        found = memory.store.vector_search(embedder.embed_query(q), scope, LIMIT)
        return [m.text for m, _ in found]

    timed = timed_together(data, {"dense": dense, "hybrid": hybrid}, index)
    out = {"ingest_items_s": len(data.texts) / ingest, **timed["dense"], "hybrid": timed["hybrid"]}
    memory.close()
    return out


def run_chroma(data: Data, work: Path) -> dict[str, Any]:
    import chromadb

    client = chromadb.PersistentClient(path=str(work / "chroma"))
    collection = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    batch = min(5000, client.get_max_batch_size())
    began = time.perf_counter()
    for start in range(0, len(data.texts), batch):
        end = min(start + batch, len(data.texts))
        collection.add(
            ids=[str(i) for i in range(start, end)],
            embeddings=data.vectors[start:end],
            documents=data.texts[start:end],
        )
    ingest = time.perf_counter() - began

    model = data.fresh()

    def search(q: str) -> list[str]:
        found = collection.query(
            query_embeddings=[model.embed_query(q)], n_results=LIMIT, include=["documents"]
        )
        return list(found["documents"][0])  # type: ignore[index]

    return {"ingest_items_s": len(data.texts) / ingest, **timed_searches(data, search)}


def run_lance(data: Data, work: Path) -> dict[str, Any]:
    import lancedb
    import pyarrow as pa

    db = lancedb.connect(str(work / "lance"))
    dim = data.vectors.shape[1]
    schema = pa.schema([
        ("id", pa.int64()), ("text", pa.string()), ("vector", pa.list_(pa.float32(), dim))
    ])  # fmt: skip
    table = db.create_table("bench", schema=schema)
    batch = 10_000
    began = time.perf_counter()
    for start in range(0, len(data.texts), batch):
        end = min(start + batch, len(data.texts))
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(data.vectors[start:end].ravel()), dim)
        table.add(pa.table(
            [pa.array(range(start, end), pa.int64()), pa.array(data.texts[start:end]), vectors],
            schema=schema,
        ))  # fmt: skip
    ingest = time.perf_counter() - began

    model = data.fresh()

    def search(q: str) -> list[str]:
        query = model.embed_query(q)
        search = table.search(query).metric("cosine").limit(LIMIT)
        rows = search.select(["text", "_distance"]).to_list()  # lance warns without _distance
        return [r["text"] for r in rows]

    return {"ingest_items_s": len(data.texts) / ingest, **timed_searches(data, search)}


def run_mem0(data: Data, work: Path) -> dict[str, Any]:
    from mem0 import Memory as Mem0

    def lookup(text: str) -> np.ndarray | None:
        row = data.row.get(text)
        return None if row is None else data.vectors[row]

    dim = data.vectors.shape[1]
    model = data.fresh()
    with EmbeddingServer(lookup, model.embed, model.model_id) as server:
        config = {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "collection_name": "bench",
                    "embedding_model_dims": dim,
                    "path": str(work / "qdrant"),
                    "on_disk": True,
                },
            },
            "embedder": {
                "provider": "openai",
                "config": {
                    "model": data.real.model_id,
                    "openai_base_url": server.url,
                    "api_key": "loopback",
                    "embedding_dims": dim,
                },
            },
            # never called with infer=False; configured so nothing reaches out to a real API
            "llm": {
                "provider": "openai",
                "config": {"model": "none", "openai_base_url": server.url, "api_key": "loopback"},
            },
            "history_db_path": str(work / "mem0-history.db"),
        }
        mem0 = Mem0.from_config(config)
        began = time.perf_counter()
        for _, messages in data.sessions:
            mem0.add(messages, user_id=USER, infer=False)
        ingest = time.perf_counter() - began

        def search(q: str) -> list[str]:
            found = mem0.search(q, filters={"user_id": USER}, top_k=LIMIT, threshold=0.0)
            return [r["memory"] for r in found["results"]]

        out = {"ingest_items_s": len(data.texts) / ingest, **timed_searches(data, search)}
        out["embedding_requests"] = server.requests
    return out


SYSTEMS: dict[str, Callable[[Data, Path], dict[str, Any]]] = {
    "remem": run_remem,
    "chromadb": run_chroma,
    "lancedb": run_lance,
    "mem0": run_mem0,
}


def table(results: dict[str, dict[str, Any]]) -> str:
    base = results["remem"]
    lines = [
        "| system | ingest items/s | × remem | search p50 / p95 ms | p95 × remem | recall@10 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | | | |")
            continue
        lines.append(
            f"| {name} | {r['ingest_items_s']:.0f} | {r['ingest_items_s'] / base['ingest_items_s']:.2f} "
            f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {r['p95_ms'] / base['p95_ms']:.2f} "
            f"| {r['recall_at_10']:.3f} |"
        )
    hybrid = base["hybrid"]
    lines.append(
        f"| remem (hybrid) | | | {hybrid['p50_ms']:.1f} / {hybrid['p95_ms']:.1f} "
        f"| {hybrid['p95_ms'] / base['p95_ms']:.2f} | {hybrid['recall_at_10']:.3f} |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "peers.json")
    args = parser.parse_args()
    data = Data(args.size, args.queries, args.seed, args.cache)
    results: dict[str, dict[str, Any]] = {}
    for name in ["remem", *[s for s in args.systems if s != "remem"]]:
        with tempfile.TemporaryDirectory(prefix=f"peers-{name}-") as work:
            began = time.perf_counter()
            try:
                results[name] = SYSTEMS[name](data, Path(work))
            except Exception as exc:  # a peer that fails is reported, not fatal
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            print(f"{name}: {time.perf_counter() - began:.0f} s", file=sys.stderr)
    report = {
        "machine": machine.describe(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "items": len(data.texts),
        "corpus_turns": args.size,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
