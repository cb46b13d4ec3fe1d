"""CPU time of ``Memory.add`` of long turns against ``LocalEmbedder.embed`` alone, and a profile.

    PYTHONPATH=src python bench/long_turns.py --data ../shared/data --turns 10

Long turns (BEAM-500K-like; the 500K track is not in the dev data) are consecutive BEAM 100K
turns joined until each holds ``--words`` words. Three adds of ``--turns`` turns each go to
one store, each followed by the embedder alone on the same texts; CPU time
(``time.process_time``) is compared, so the ratio holds on a loaded machine. The third add
is profiled (cProfile, cumulative, to stdout).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

from remem import Memory
from remem.providers.local_embedder import LocalEmbedder

ADDS = 3


def long_turns(data: Path, words: int, count: int) -> list[str]:
    texts: list[str] = []
    chats = sorted((data / "beam" / "chats" / "100K").iterdir(), key=lambda p: int(p.name))
    for chat in chats:
        for batch in json.loads((chat / "chat.json").read_text()):
            for session in batch["turns"]:
                texts.extend(turn["content"] for turn in session)
    joined, current = [], []
    for text in texts:
        current.append(text)
        if sum(len(c.split()) for c in current) >= words:
            joined.append("\n\n".join(current))
            current = []
        if len(joined) == count:
            break
    return joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--turns", type=int, default=10, help="turns per add")
    parser.add_argument("--words", type=int, default=2500, help="words per turn")
    args = parser.parse_args()
    texts = long_turns(args.data, args.words, 1 + ADDS * args.turns)
    embedder = LocalEmbedder.shared()
    embedder.embed(["load the model"])
    profiler = cProfile.Profile()
    add_cpu = alone_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory(Path(tmp) / "long.db", embedder=embedder)
        memory.add([{"role": "user", "content": texts[0]}], user_id="u", session_id="s0")
        for n in range(ADDS):
            batch = texts[1 + n * args.turns : 1 + (n + 1) * args.turns]
            roles = ("user", "assistant")
            messages = [{"role": roles[i % 2], "content": t} for i, t in enumerate(batch)]
            began = time.process_time()
            if n == ADDS - 1:
                profiler.enable()
            memory.add(messages, user_id="u", session_id=f"s{n + 1}")
            profiler.disable()
            added = time.process_time()
            embedder.embed(batch)
            add_cpu += added - began
            alone_cpu += time.process_time() - added
        memory.close()
    print(
        f"{ADDS * args.turns} turns of ~{args.words} words: add {add_cpu:.2f} CPU s, "
        f"LocalEmbedder.embed alone {alone_cpu:.2f} CPU s, add / embed alone "
        f"{add_cpu / alone_cpu:.2f}"
    )
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
