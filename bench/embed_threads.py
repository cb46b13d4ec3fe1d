"""Where the embedder's cores go: batches side by side vs. threads inside the model.

    PYTHONPATH=../src python embed_threads.py --rounds 3

Two ``LocalEmbedder``s on the same texts, alternating in one process so both see the
same load: "pool" is the shipped one (single-threaded session, a many-text embed's
batches on ``threads`` workers); "intra-op" is the one before it (the same batches one
after another, on a session with ``threads`` intra-op threads), rebuilt here by giving a
one-worker embedder such a session. Texts: every LoCoMo dev5 turn, embedded in one call
(what ``add_many`` does), one call per session (what ``add`` does), and single texts as
queries. The vectors of both are checked to be bitwise the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from remem.providers.local_embedder import LocalEmbedder, model_files

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo10_dev5.json"


def sessions(path: Path) -> list[list[str]]:
    found = []
    for conversation in json.loads(path.read_text()):
        for key, turns in conversation["conversation"].items():
            if key.startswith("session_") and isinstance(turns, list):
                found.append([f"{t['speaker']}: {t['text']}" for t in turns])
    return found


def intra_op(threads: int) -> LocalEmbedder:
    """The embedder as it was: batches in turn, each on ``threads`` intra-op threads."""
    old = LocalEmbedder(threads=1)
    old.embed(["load"])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    old._session = ort.InferenceSession(
        str(model_files()[0]), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return old


def timed(call: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def queries(embedder: LocalEmbedder, texts: list[str], tag: str) -> list[float]:
    out = []
    for i, text in enumerate(texts):
        began = time.perf_counter()
        embedder.embed([f"{text} ({tag} {i})"])
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    by_session = sessions(args.data)
    texts = [t for s in by_session for t in s]
    asked = [t[:80] for t in texts[:: max(1, len(texts) // args.queries)]][: args.queries]
    embedders = {"pool": LocalEmbedder(threads=args.threads), "intra-op": intra_op(args.threads)}
    embedders["pool"].embed(["load"])
    same = np.array_equal(embedders["pool"].embed(texts), embedders["intra-op"].embed(texts))
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in embedders}
    for r in range(args.rounds):
        for name, e in embedders.items():
            got = rows[name]
            wall, cpu = timed(lambda e=e: e.embed(texts))
            got.setdefault("one_call_turns_per_s", []).append(len(texts) / wall)
            got.setdefault("one_call_turns_per_cpu_s", []).append(len(texts) / cpu)
            wall, cpu = timed(lambda e=e: [e.embed(s) for s in by_session])
            got.setdefault("per_session_turns_per_s", []).append(len(texts) / wall)
            ms = queries(e, asked, f"{name}{r}")
            got.setdefault("query_p50_ms", []).append(float(np.percentile(ms, 50)))
            got.setdefault("query_p95_ms", []).append(float(np.percentile(ms, 95)))
    report = {
        "command": "python bench/embed_threads.py " + " ".join(sys.argv[1:]),
        "load_average": os.getloadavg(),
        "turns": len(texts),
        "sessions": len(by_session),
        "threads": args.threads,
        "vectors_bitwise_same": same,
        "runs": {
            n: {k: [round(v, 1) for v in vs] for k, vs in got.items()} for n, got in rows.items()
        },
        "pool_to_intra_op_median": {
            k: round(float(np.median(rows["pool"][k]) / np.median(rows["intra-op"][k])), 2)
            for k in rows["pool"]
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
