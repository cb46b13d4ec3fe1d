"""Server time of the web inspector's memories page on a 100k-memory store, against the facade
call it wraps, in one run.

    python bench/ui_page.py --size 100000 --repeat 200

The store is built at store level as ``bench/http_service.py`` builds it (the synthetic chat
corpus of ``corpus.py``, seed 7, sessions of 50 turns, 10 users of one tenant, vectors of the
real local model for the first ``--vocabulary`` turns, cached in ``--cache``, mixes of two of
them for the rest; ``backends.ingest`` writes them). Then, in one process and alternating
call by call, each view is timed both ways:

- baseline: ``Memory.list(limit=50, ...)`` on the facade, the data the page shows;
- page: ``GET /ui/memories?...`` through the whole app (``create_app`` with API keys on, the
  key in the UI's cookie) in-process over ASGI (``TestClient``): auth, the facade call, the
  jinja2 template, the security headers. No socket, so the number is server time.

Views: the first page of all memories, the first page of one user, and a page 2,000 rows deep
in one user. Results: Markdown on stdout, JSON in bench/results/ui_page.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backends
import machine

from remem import Memory
from remem.providers.local_embedder import LocalEmbedder
from remem.service import KeyStore, create_app
from remem.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent
#: (name, the page's query string, the same view as Memory.list arguments)
VIEWS: list[tuple[str, str, dict[str, Any]]] = [
    ("all memories, page 1", "", {}),
    ("one user, page 1", "user=u3", {"user_id": "u3"}),
    ("one user, 2,000 rows in", "user=u3&offset=2000", {"user_id": "u3", "offset": 2000}),
]


def build_store(args: argparse.Namespace, db: Path) -> None:
    real = LocalEmbedder.shared()
    print(f"building {args.size} turns", file=sys.stderr)
    texts, turns, events = backends.build_records(args.size, args.seed)
    vectors, _ = backends.corpus_vectors(texts, real, args.cache, args.vocabulary, args.seed)
    store = SQLiteStore(db)
    store.bind_embedder(real.model_id, real.dimension)
    print("ingesting", file=sys.stderr)
    backends.ingest(store, turns, vectors, events)
    store.close()


def _ms(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - began)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def measure(db: Path, repeat: int) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    keys = KeyStore(db)
    token = keys.create(backends.TENANT, "bench")[1]
    model = LocalEmbedder.shared()
    app = create_app(db, keys=keys, embedder=model, llm=None)
    memory = Memory(db, embedder=model, tenant=backends.TENANT, llm=None, track_recalls=False)
    rows = []
    with TestClient(app) as client:
        client.cookies.set("remem_ui_key", token, path="/ui")
        for name, query, arguments in VIEWS:
            url = "/ui/memories" + (f"?{query}" if query else "")
            answer = client.get(url)
            assert answer.status_code == 200 and answer.text.count('<td class="text">') == 50
            page, base = [], []
            for _ in range(repeat):
                base.append(_ms(lambda a=arguments: memory.list(limit=50, **a)))  # type: ignore[misc]
                page.append(_ms(lambda u=url: client.get(u)))  # type: ignore[misc]
            shown, listed = _summary(page), _summary(base)
            rows.append(
                {
                    "view": name,
                    "page": shown,
                    "baseline": listed,
                    "ratio_p50": round(shown["p50_ms"] / listed["p50_ms"], 2),
                }
            )
    memory.close()
    keys.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| view | page p50 ms | page p95 ms | Memory.list p50 ms | page / list (p50) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['view']} | {r['page']['p50_ms']} | {r['page']['p95_ms']} | "
            f"{r['baseline']['p50_ms']} | {r['ratio_p50']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vocabulary", type=int, default=10_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/remem-bench-cache"))
    parser.add_argument("--db", type=Path, help="reuse (or build once) this store file")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ui_page.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = args.db or Path(scratch) / "ui_page.db"
        if not db.exists():
            build_store(args, db)
        with machine.Contention() as window:
            rows = measure(db, args.repeat)
    result = {
        "size": args.size,
        "repeat": args.repeat,
        "machine": machine.describe(),
        "timing_window": window.summary(),
        "views": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    print(f"timing window: {window.summary()}", file=sys.stderr)


if __name__ == "__main__":
    main()
