"""Full garbage collections in a serving process, with the start-up heap frozen or not.

    PYTHONPATH=src python bench/service_gc.py --db /tmp/speed-bench/remem-bench-*/bench.db

Starts the HTTP app (``create_app``, its lifespan run by Starlette's test client, no
sockets) over a COPY of a store kept by ``ingest_search.py --keep-db``, serves warm-up
searches, then times (wall clock) every full collection during more searches and five
forced ones. ``--no-freeze`` undoes the service's ``gc.freeze`` right after start-up, so
one version of the code measures both (docs/service.md, ``remem/service/heap.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import corpus
from fastapi.testclient import TestClient

from remem.providers.local_embedder import LocalEmbedder
from remem.service import create_app

USER = "bench-user"


def measure(db: Path, queries: list[str], warmup: int, freeze: bool) -> dict[str, Any]:
    app = create_app(db, embedder=LocalEmbedder.shared(), auth=False, llm=None)
    full: list[float] = []
    began = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            full.append((time.perf_counter() - began[0]) * 1000)

    with TestClient(app) as client:
        frozen = gc.get_freeze_count()
        if not freeze:
            gc.unfreeze()
        for n, query in enumerate(queries):
            if n == warmup:
                gc.callbacks.append(callback)
            body = {"query": query, "user_id": USER, "limit": 10}
            response = client.post("/v1/search", json=body)
            response.raise_for_status()
        for _ in range(5):
            gc.collect()
        gc.callbacks.remove(callback)
    return {
        "frozen_at_start_up": frozen,
        "freeze": freeze,
        "full_collections": len(full),
        "full_ms": [round(x, 2) for x in full],
        "full_ms_median": round(statistics.median(full), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a store kept by --keep-db")
    parser.add_argument("--size", type=int, default=100_000, help="turns the store holds")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-freeze", action="store_true", help="unfreeze after start-up")
    args = parser.parse_args()
    texts = [t for s in corpus.sessions(args.size, 50, args.seed) for t in s.texts]
    queries = corpus.queries(args.queries + args.warmup, args.seed + 1, exclude=set(texts))
    del texts
    with tempfile.TemporaryDirectory(prefix="remem-gc-", dir=args.db.parent.parent) as tmp:
        for path in args.db.parent.glob(args.db.name + "*"):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, Path(tmp) / path.name)
        found = measure(Path(tmp) / args.db.name, queries, args.warmup, not args.no_freeze)
    command = "python bench/service_gc.py " + " ".join(sys.argv[1:])
    print(json.dumps({"command": command, **found}, indent=2))


if __name__ == "__main__":
    main()
