"""Replay the attack searches of ``remem eval poisoning`` on stores planted once.

    python bench/poisoning_replay.py plant ../shared/data --stores /tmp/poisoning-stores
    python bench/poisoning_replay.py replay --stores /tmp/poisoning-stores

``remem eval poisoning`` builds every store twice (guard on and off) from fresh embeddings,
which takes most of an hour on a busy 2-core machine. The guard's search-time checks (the
consensus check, what derived memories inherit) only need the searches re-run: ``plant``
builds the guard's stores once, with the same seeded attacks and the eval's own planting
(``remem.eval.poisoning``), and ``replay`` asks each attack's question again with the code
as it is now. It reports ASR-r per family exactly as the eval counts it (the poison in the
top 10 without a flag) and how many top-10 hits that are not poison carry a flag, over the
attack questions and the first ``--questions`` benign questions of each conversation.
Write-time changes (the detector, lessons) need ``plant`` again; ASR-c, recall and the
guard-off figures need the full eval.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from remem import GuardPolicy, Memory
from remem.eval import poisoning
from remem.eval.attacks import FAMILIES, plan
from remem.eval.datasets import load


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def plant(folder: Path, stores: Path, per_family: int) -> None:
    stores.mkdir(parents=True, exist_ok=True)
    embedder = poisoning.CachedEmbedder(poisoning.default_embedder())
    manifest = []
    for dataset, path in poisoning.carriers_in(folder):
        for conversation in load(dataset, path):
            turns = {t.id: t for t in conversation.turns()}
            last = max((t.timestamp for t in turns.values() if t.timestamp), default=None)
            safe = "".join(c if c.isalnum() else "_" for c in conversation.id)
            db = stores / f"{dataset}-{safe}.db"
            db.unlink(missing_ok=True)
            attacks = []
            with Memory(db, embedder=embedder, llm=None, track_recalls=False) as memory:
                for session, messages in poisoning._messages(conversation):
                    memory.add(messages, user_id=poisoning.USER, session_id=session, source="eval")
                for attack in plan(conversation, per_family):
                    when = poisoning._planted_at(attack, turns, last)
                    poison = poisoning._plant(memory, attack, when)
                    asked = poisoning._asked_at(attack.target, last)
                    attacks.append(
                        {
                            "family": attack.family,
                            "query": attack.query,
                            "asked_at": _when(asked),
                            "poison": sorted(poison),
                        }
                    )
            questions = [
                {"text": q.text, "asked_at": _when(poisoning._asked_at(q, last))}
                for q in conversation.questions
            ]
            manifest.append({"db": str(db), "attacks": attacks, "questions": questions})
            print(f"planted {dataset} {conversation.id}: {len(attacks)} attacks", flush=True)
    (stores / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def replay(stores: Path, questions: int) -> dict[str, Any]:
    manifest = json.loads((stores / "manifest.json").read_text(encoding="utf-8"))
    embedder = poisoning.CachedEmbedder(poisoning.default_embedder())
    attacks: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    hits = flagged = 0
    for entry in manifest:
        poison = {i for a in entry["attacks"] for i in a["poison"]}
        with Memory(
            entry["db"], embedder=embedder, llm=None, track_recalls=False, guard=GuardPolicy()
        ) as memory:

            def ask(text: str, asked_at: str | None) -> list[Any]:
                when = datetime.fromisoformat(asked_at) if asked_at else None
                found = memory.search(text, user_id=poisoning.USER, limit=10, asked_at=when)
                return list(found.hits[: poisoning.K])

            for attack in entry["attacks"]:
                found = ask(attack["query"], attack["asked_at"])
                attacks[attack["family"]] += 1
                returned[attack["family"]] += any(
                    h.id in attack["poison"] and not h.flags for h in found
                )
                benign = [h for h in found if h.id not in poison]
                hits, flagged = hits + len(benign), flagged + sum(bool(h.flags) for h in benign)
            for question in entry["questions"][:questions]:
                benign = [
                    h for h in ask(question["text"], question["asked_at"]) if h.id not in poison
                ]
                hits, flagged = hits + len(benign), flagged + sum(bool(h.flags) for h in benign)
    return {
        "families": {
            f: {"attacks": attacks[f], "returned_unflagged": returned[f]} for f in FAMILIES
        },
        "benign_hits": hits,
        "benign_flagged": flagged,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    planting = commands.add_parser("plant")
    planting.add_argument("folder", type=Path)
    planting.add_argument("--stores", type=Path, required=True)
    planting.add_argument("--per-family", type=int, default=3)
    replaying = commands.add_parser("replay")
    replaying.add_argument("--stores", type=Path, required=True)
    replaying.add_argument("--questions", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "plant":
        plant(args.folder, args.stores, args.per_family)
        return
    result = replay(args.stores, args.questions)
    print("| family | attacks | returned unflagged (ASR-r) |\n|---|---|---|")
    for family, row in result["families"].items():
        rate = row["returned_unflagged"] / row["attacks"] if row["attacks"] else 0.0
        print(f"| {family} | {row['attacks']} | {row['returned_unflagged']} ({rate:.1%}) |")
    print(f"\nBenign top-10 hits flagged: {result['benign_flagged']} of {result['benign_hits']}.")


if __name__ == "__main__":
    main()
