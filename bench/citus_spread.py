"""Where adds and searches go on a Citus cluster: per-worker shares of rows written and of scans.

    scripts/citus.sh start
    python bench/citus_spread.py --tenants 16 --turns 200 --queries 20

A fresh schema on the coordinator (``REMEM_TEST_CITUS_URL``, else ``.remem-citus/url``) is
distributed by tenant (``remem.stores.postgres.citus.distribute``, ``--shards`` per table).
Each tenant then adds ``--turns`` turns of the synthetic corpus (``corpus.py``, sessions of 50
turns) through ``Memory.add`` and runs ``--queries`` searches through ``Memory.search`` (the
hybrid pipeline: vectors, BM25, time window). Turn vectors come from the embedding cache
(``embed_cache.py``); queries are embedded by the real model.

What is counted comes from the workers themselves: ``pg_stat_user_tables`` of every shard of
``memories`` on each worker (rows inserted, index and sequential scans), read through the
coordinator before and after each phase. The table gives each worker's share of the tenants,
of the rows written and of the scans, and the add/search latency at the coordinator.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import corpus
import embed_cache
import machine
import psycopg

from remem import Memory
from remem.providers.local_embedder import LocalEmbedder
from remem.stores.postgres.citus import distribute

ROOT = Path(__file__).resolve().parent
STATS_FLUSH = 2.0  # seconds for exiting backends' table counters to reach pg_stat


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema},public"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def coordinator_url(given: str | None) -> str:
    url = given or os.environ.get("REMEM_TEST_CITUS_URL")
    url_file = ROOT.parent / ".remem-citus" / "url"
    if not url and url_file.exists():
        url = url_file.read_text().strip()
    if not url:
        sys.exit("no Citus coordinator: run scripts/citus.sh start, or pass --url")
    return url


def worker_counters(admin: psycopg.Connection[Any], schema: str) -> dict[str, dict[str, int]]:
    """Per worker: rows inserted into, and scans of, every shard of ``memories``."""
    command = (
        "SELECT json_build_object('ins', COALESCE(SUM(n_tup_ins), 0), "
        "'scans', COALESCE(SUM(COALESCE(idx_scan, 0) + seq_scan), 0), 'shards', COUNT(*)) "
        f"FROM pg_stat_user_tables WHERE schemaname = '{schema}' "
        "AND relname ~ '^memories_[0-9]+$'"
    )
    rows = admin.execute(
        "SELECT nodename || ':' || nodeport, result FROM run_command_on_workers(%s)", (command,)
    ).fetchall()
    return {node: {k: int(v) for k, v in json.loads(result).items()} for node, result in rows}


def settled(
    admin: psycopg.Connection[Any], schema: str, memories: dict[str, Memory]
) -> dict[str, dict[str, int]]:
    """The counters once the phase's sessions ended: a worker backend reports its table
    counters when it goes idle or exits, so close every store (the coordinator then closes
    its worker connections) and give the stats a moment."""
    for memory in memories.values():
        memory.close()
    time.sleep(STATS_FLUSH)
    return worker_counters(admin, schema)


def tenant_workers(
    admin: psycopg.Connection[Any], schema: str, tenants: list[str]
) -> dict[str, str]:
    out = {}
    for tenant in tenants:
        row = admin.execute(
            "SELECT s.nodename || ':' || s.nodeport FROM citus_shards s "
            "WHERE s.shardid = get_shard_id_for_distribution_column(%s, %s::text)",
            (f"{schema}.memories", tenant),
        ).fetchone()
        out[tenant] = str(row[0]) if row else "?"
    return out


def delta(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]], key: str
) -> dict[str, int]:
    return {node: after[node][key] - before.get(node, {}).get(key, 0) for node in after}


def share(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values()) or 1
    return {node: n / total for node, n in counts.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = coordinator_url(args.url)
    schema = f"spread_{uuid.uuid4().hex[:8]}"
    tenants = [f"tenant-{n:03d}" for n in range(args.tenants)]
    sessions = list(corpus.sessions(args.tenants * args.turns, 50, args.seed))
    texts = [m["content"] for s in sessions for m in s.messages]
    real = LocalEmbedder()
    vectors, _ = embed_cache.corpus_vectors(texts, real, args.cache)
    embedder = embed_cache.CachedEmbedder(real, texts, vectors)
    questions = corpus.queries(args.queries, args.seed, set(texts))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            target = with_schema(url, schema)
            layout = distribute(target, shard_count=args.shards)
            placed = tenant_workers(admin, schema, tenants)
            per_tenant = len(sessions) // args.tenants
            start = worker_counters(admin, schema)
            memories = {t: Memory(target, tenant=t, embedder=embedder) for t in tenants}
            add_ms: list[float] = []
            for n, tenant in enumerate(tenants):
                for session in sessions[n * per_tenant : (n + 1) * per_tenant]:
                    began = time.perf_counter()
                    memories[tenant].add(
                        list(session.messages), user_id="u", session_id=session.session_id
                    )
                    add_ms.append((time.perf_counter() - began) * 1000)
            added = settled(admin, schema, memories)
            memories = {t: Memory(target, tenant=t, embedder=embedder) for t in tenants}
            search_ms: list[float] = []
            for tenant in tenants:
                for question in questions:
                    began = time.perf_counter()
                    memories[tenant].search(question, user_id="u", limit=10)
                    search_ms.append((time.perf_counter() - began) * 1000)
            searched = settled(admin, schema, memories)
        finally:
            if not args.keep:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    rows = delta(added, start, "ins")
    scans = delta(searched, added, "scans")
    held = {node: sum(1 for w in placed.values() if w == node) for node in added}
    return {
        "machine": machine.describe(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "shards": layout.shards,
        "workers": layout.workers,
        "tenants_per_worker": held,
        "rows_inserted": rows,
        "scans": scans,
        "rows_share": share(rows),
        "scans_share": share(scans),
        "tenants_share": share(held),
        "add_session_ms": {"p50": statistics.median(add_ms), "p95": percentile(add_ms, 0.95)},
        "search_ms": {"p50": statistics.median(search_ms), "p95": percentile(search_ms, 0.95)},
        "turns": len(texts),
        "searches": len(search_ms),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| worker | tenants | share of tenants | rows written | share of rows | scans of memories shards | share of scans |",
        "|---|---|---|---|---|---|---|",
    ]
    for node in sorted(result["rows_inserted"]):
        lines.append(
            f"| {node} | {result['tenants_per_worker'][node]} | {result['tenants_share'][node]:.2f} "
            f"| {result['rows_inserted'][node]} | {result['rows_share'][node]:.2f} "
            f"| {result['scans'][node]} | {result['scans_share'][node]:.2f} |"
        )
    add, search = result["add_session_ms"], result["search_ms"]
    lines.append("")
    lines.append(
        f"{result['turns']} turns in sessions of 50, {result['searches']} searches; "
        f"{result['shards']} shards per table on {result['workers']} workers. "
        f"Add of a 50-turn session p50/p95 {add['p50']:.0f}/{add['p95']:.0f} ms; "
        f"search p50/p95 {search['p50']:.1f}/{search['p95']:.1f} ms (query embedding included)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Citus coordinator URL")
    parser.add_argument("--tenants", type=int, default=16)
    parser.add_argument("--turns", type=int, default=200, help="turns per tenant (multiple of 50)")
    parser.add_argument("--queries", type=int, default=20, help="searches per tenant")
    parser.add_argument("--shards", type=int, default=8, help="shards per table")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "citus_spread.json")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
