"""The HTTP service against the facade in-process, on the same 100k-memory store, in one run.

    python bench/http_service.py --size 100000 --requests 300 --clients 1 4

The store is built once at store level (``backends.ingest``): the synthetic chat corpus of
``corpus.py`` (seed 7, sessions of 50 turns, 10 users of one tenant) with vectors of the real
local model for the first ``--vocabulary`` turns (cached in ``--cache``) and mixes of two of
them for the rest, as ``bench/backends.py --vocabulary`` does. Then, for each number of
concurrent clients, the same searches and adds run twice:

- in-process: ``Memory.search`` / ``Memory.add`` on one shared ``Memory`` from N threads;
- HTTP: ``remem serve`` in a subprocess (API key auth on), N threads each with its own
  ``remem.Client`` (keep-alive), requests to 127.0.0.1.

Searches embed every query with the real model in both modes (each query text is new);
adds embed their text too. Requests/s is completed calls over wall time; p50/p95 are per
call. Results: Markdown on stdout, JSON in bench/results/http_service.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import backends
import corpus
import machine
import numpy as np

from remem import Client, Memory
from remem.providers.local_embedder import LocalEmbedder
from remem.service.keys import KeyStore
from remem.stores.sqlite import SQLiteStore
from remem.testing.served import served

ROOT = Path(__file__).resolve().parent
ASKED_AT = "2026-01-01T00:00:00Z"


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    calls: Sequence[Callable[[], Any]], clients: int, server_pid: int | None
) -> dict[str, Any]:
    """Run ``calls`` from ``clients`` threads; throughput, latency and CPU use of others."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    position = iter(range(len(calls)))

    def worker() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            began = time.perf_counter()
            try:
                calls[index]()
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    server_before = _process_cpu(server_pid) if server_pid else 0.0
    with machine.Contention() as window:
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    server_cpu = (_process_cpu(server_pid) - server_before) if server_pid else 0.0
    capacity = window.wall * (os.cpu_count() or 1)
    others = max(0.0, window.busy - window.own - server_cpu) / capacity
    values = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "rps": round(len(latencies) / window.wall, 1),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "wall_s": round(window.wall, 2),
        "cpu_s": {"bench": round(window.own, 2), "server": round(server_cpu, 2)},
        "others_cpu_share": round(others, 3),
    }


def build_store(args: argparse.Namespace, db: Path) -> tuple[list[str], str]:
    real = LocalEmbedder.shared()
    print(f"building {args.size} turns", file=sys.stderr)
    texts, turns, events = backends.build_records(args.size, args.seed)
    vectors, note = backends.corpus_vectors(texts, real, args.cache, args.vocabulary, args.seed)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = SQLiteStore(db)
    store.bind_embedder(real.model_id, real.dimension)
    print("ingesting", file=sys.stderr)
    backends.ingest(store, turns, vectors, events)
    store.close()
    return texts, note


def _search(facade: Callable[[], Any], text: str, user: str) -> Any:
    return facade().search(text, user_id=user, limit=10, asked_at=ASKED_AT)


def _add(facade: Callable[[], Any], text: str, user: str) -> Any:
    return facade().add(text, user_id=user, session_id=f"bench-{user}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="searches per run; adds: half")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vocabulary", type=int, default=10_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "remem-bench-http"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "http_service.json")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / "bench.db"
    texts, note = build_store(args, db)
    keys = KeyStore(db)
    token = keys.create(backends.TENANT, "bench")[1]
    keys.close()

    runs = len(args.clients) * 2
    questions = corpus.queries(args.requests * runs, args.seed, set(texts))
    notes = corpus.queries(args.requests * runs // 2, args.seed + 1, set(texts) | set(questions))
    result: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "machine": machine.describe(),
        "size": args.size,
        "vectors": note,
        "runs": [],
    }

    memory = Memory(db, embedder=LocalEmbedder.shared(), tenant=backends.TENANT)
    with served(db) as server:
        url = server.url
        per_thread = threading.local()

        def remote() -> Client:
            if not hasattr(per_thread, "client"):  # one keep-alive connection per client thread
                per_thread.client = Client(url, api_key=token)
            return per_thread.client

        facades: dict[str, tuple[Callable[[], Any], int | None]] = {
            "in-process": (lambda: memory, None),
            "http": (remote, server.pid),
        }
        # warm both: the vector index loads on the first search of each process
        memory.search("warm up the index", user_id="u0", asked_at=ASKED_AT)
        Client(url, api_key=token).search("warm up the index", user_id="u0", asked_at=ASKED_AT)
        q, n = iter(questions), iter(notes)
        for clients in args.clients:
            for mode, (facade, pid) in facades.items():
                searches = [
                    functools.partial(_search, facade, next(q), f"u{i % 10}")
                    for i in range(args.requests)
                ]
                adds = [
                    functools.partial(_add, facade, next(n), f"u{i % 10}")
                    for i in range(args.requests // 2)
                ]
                for op, calls in (("search", searches), ("add", adds)):
                    print(f"{mode} {op} x{len(calls)}, {clients} client(s)", file=sys.stderr)
                    stats = run_load(calls, clients, pid)
                    result["runs"].append({"mode": mode, "op": op, "clients": clients, **stats})
                    print(f"  {stats}", file=sys.stderr)
    memory.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


def markdown(result: dict[str, Any]) -> str:
    by = {(r["mode"], r["op"], r["clients"]): r for r in result["runs"]}
    lines = [
        "| op | clients | in-process req/s | HTTP req/s | HTTP / in-process | "
        "in-process p50 / p95 ms | HTTP p50 / p95 ms | errors | other CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op in ("search", "add"):
        for clients in sorted({r["clients"] for r in result["runs"]}):
            local, http = by[("in-process", op, clients)], by[("http", op, clients)]
            lines.append(
                f"| {op} | {clients} | {local['rps']} | {http['rps']} | "
                f"{http['rps'] / local['rps']:.2f} | {local['p50_ms']} / {local['p95_ms']} | "
                f"{http['p50_ms']} / {http['p95_ms']} | {local['errors'] + http['errors']} | "
                f"{max(local['others_cpu_share'], http['others_cpu_share']):.0%} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
