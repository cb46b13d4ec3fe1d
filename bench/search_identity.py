"""Every dev question's top-10 (ids, scores, boosts), so a speed change proves it ranks alike.

    PYTHONPATH=src python bench/search_identity.py --stores /tmp/remem-eval-work3 --out a.json
    PYTHONPATH=/other/checkout/src python bench/search_identity.py ... --out b.json
    python bench/search_identity.py --compare a.json b.json

Reads the stores `remem eval --workdir W --keep` left (one per dev conversation), each
COPIED to a temporary folder first, so the kept ones stay as they are. Recalls are
counted (``track_recalls=True``, unlike the eval), so the lifecycle priors of each later
question see the recall counts the earlier ones wrote: the write path is compared too.
Scores are written as ``repr`` of the float, so "identical" means bit for bit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from recall_dump import DEV_SETS  # the same five dev sets, read from ../shared/data

from remem import Memory
from remem.eval.datasets import load
from remem.eval.runner import INGEST_VERSION, USER
from remem.providers.local_embedder import LocalEmbedder


def _folder(stores: Path, conversation_id: str, model_id: str) -> Path:
    name = f"{conversation_id}-{model_id}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return stores / f"{safe}-v{INGEST_VERSION}"


def _hit(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.memory.id,
        "score": repr(hit.score),
        "boosts": {k: repr(v) for k, v in sorted(hit.boosts.items())},
        "signals": sorted(hit.signals),
        "access_count": hit.memory.access_count,
        "flags": list(hit.flags),
    }


def run_set(name: str, stores: Path, embedder: LocalEmbedder) -> dict[str, Any]:
    dataset, path = DEV_SETS[name]
    out: dict[str, Any] = {}
    for conversation in load(dataset, path):
        kept = _folder(stores, conversation.id, embedder.model_id)
        if not (kept / "ingested").exists():
            print(f"  {name}: no kept store for {conversation.id}, skipped", file=sys.stderr)
            continue
        last = max((t.timestamp for t in conversation.turns() if t.timestamp), default=None)
        with tempfile.TemporaryDirectory(prefix="remem-identity-") as tmp:
            shutil.copy(kept / "memory.db", Path(tmp) / "memory.db")
            memory = Memory(Path(tmp) / "memory.db", embedder=embedder, llm=None)
            try:
                rows = []
                for question in conversation.questions:
                    found = memory.search(
                        question.text,
                        user_id=USER,
                        limit=10,
                        kinds="episode",
                        asked_at=question.question_date or last,
                    )
                    rows.append([_hit(h) for h in found.hits])
                out[conversation.id] = rows
            finally:
                memory.close()
    return out


def compare(a: Path, b: Path) -> int:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    differ = 0
    questions = 0
    for dev_set, conversations in left["sets"].items():
        for conversation, rows in conversations.items():
            other = right["sets"].get(dev_set, {}).get(conversation)
            for n, row in enumerate(rows):
                questions += 1
                if other is None or n >= len(other) or other[n] != row:
                    differ += 1
                    if differ <= 5:
                        print(f"differs: {dev_set} {conversation} question {n}")
    print(f"{questions} questions compared, {differ} differ")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=Path, default=Path("/tmp/remem-eval-work3"))
    parser.add_argument("--sets", nargs="+", default=list(DEV_SETS), choices=list(DEV_SETS))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2)
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    embedder = LocalEmbedder.shared()
    began = time.perf_counter()
    sets = {name: run_set(name, args.stores, embedder) for name in args.sets}
    result = {"seconds": round(time.perf_counter() - began, 1), "sets": sets}
    args.out.write_text(json.dumps(result) + "\n")
    print(f"{sum(len(r) for s in sets.values() for r in s.values())} questions: {args.out}")


if __name__ == "__main__":
    main()
