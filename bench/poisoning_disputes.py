"""Which benign hits the consensus check disputes, why, and whether they are gold evidence.

    python bench/poisoning_disputes.py --stores /tmp/poisoning-stores --dataset beam

Reads the stores ``poisoning_replay.py plant`` built, copied with every planted memory
deleted (so only benign memories are left to dispute), and asks each benign question of
the conversation with the guard off and on (episodes, top 10, as the eval's recall does).
For every hit of the guard-off top 10 that the check disputes it prints the reason, whether
the hit is gold evidence for the question and whether it stayed in the answer, then counts
them by reason. The poisoning eval's recall only shows the net effect; this shows the hits.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from remem import GuardPolicy, Memory
from remem.errors import NotFound
from remem.eval import poisoning
from remem.eval.datasets import load
from remem.guard import consensus


def _gold(folder: Path, dataset: str) -> dict[tuple[str, str], set[str]]:
    gold = {}
    for name, path in poisoning.carriers_in(folder):
        if name == dataset:
            for conversation in load(name, path):
                for q in conversation.questions:
                    gold[(conversation.id, q.text)] = set(q.gold_turn_ids)
    return gold


def _clean_copy(entry: dict[str, Any], into: Path, embedder: Any) -> Path:
    target = into / Path(entry["db"]).name
    shutil.copy(entry["db"], target)
    with Memory(target, embedder=embedder, llm=None, track_recalls=False) as memory:
        for attack in entry["attacks"]:
            for memory_id in attack["poison"]:
                try:
                    memory.delete(memory_id, user_id=poisoning.USER, reason="planted")
                except NotFound:
                    continue  # held in quarantine, or replaced by a later version
    return target


def _top(memory: Memory, question: str, when: datetime | None) -> list[Any]:
    found = memory.search(
        question, user_id=poisoning.USER, limit=10, kinds="episode", asked_at=when
    )
    return list(found.hits[:10])


def disputes(stores: Path, folder: Path, dataset: str, into: Path) -> list[tuple[Any, ...]]:
    manifest = json.loads((stores / "manifest.json").read_text(encoding="utf-8"))
    embedder = poisoning.CachedEmbedder(poisoning.default_embedder())
    gold = _gold(folder, dataset)
    heard: dict[str, consensus.Verdict] = {}
    check = consensus.check

    def listening(*args: Any, **kwargs: Any) -> dict[str, consensus.Verdict]:
        found = check(*args, **kwargs)
        heard.update(found)
        return found

    consensus.check = listening
    into.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in manifest:
        prefix = f"{dataset}-"
        if not Path(entry["db"]).name.startswith(prefix):
            continue
        db = _clean_copy(entry, into, embedder)
        conversation = Path(entry["db"]).stem[len(prefix) :]
        with (
            Memory(db, embedder=embedder, llm=None, track_recalls=False, guard=GuardPolicy()) as on,
            Memory(
                db, embedder=embedder, llm=None, track_recalls=False, guard=GuardPolicy.off()
            ) as off,
        ):
            for q in entry["questions"]:
                when = datetime.fromisoformat(q["asked_at"]) if q["asked_at"] else None
                plain = _top(off, q["text"], when)
                heard.clear()
                kept = {h.id for h in _top(on, q["text"], when)}
                wanted = gold.get((conversation, q["text"]), set())
                for hit in plain:
                    if hit.id in heard:
                        turn = hit.memory.metadata.get("turn_id")
                        reason = heard[hit.id].reason
                        rows.append(
                            (conversation, q["text"], turn in wanted, hit.id in kept, reason)
                        )
    consensus.check = check
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", default="beam")
    parser.add_argument("--into", type=Path, default=Path("/tmp/poisoning-disputes"))
    args = parser.parse_args(argv)
    rows = disputes(args.stores, args.data, args.dataset, args.into)
    for row in rows:
        print(*row, sep=" | ")
    kinds = Counter(r[4].split(" (")[0].split(" mem_")[0] for r in rows)
    print(
        f"\n{len(rows)} guard-off top-10 hits disputed; gold among them: {sum(r[2] for r in rows)}"
    )
    for kind, n in kinds.most_common():
        print(f"  {n} {kind}")


if __name__ == "__main__":
    main()
