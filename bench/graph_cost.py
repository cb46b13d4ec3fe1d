"""What the knowledge graph costs without an LLM: ms per add by offline extractor, ms per search.

    python bench/graph_cost.py --turns 300 --queries 100

Each extractor ("none", "regex", "spacy") ingests the same seeded chat turns, one
``Memory.add`` per 2-turn exchange, into its own SQLite file, with the real local
embedder; then the same queries run with and without the graph signal. Medians of
wall time; spaCy's one-time load is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from remem import Memory
from remem.pipeline import extract
from remem.recipes import RECIPES

NAMES = ["Ana", "Rita", "Tomás", "Lena", "Omar", "Priya", "Jonas", "Mei"]
PLACES = ["Lisbon", "Porto", "Berlin", "Kyoto", "Nairobi", "Lima", "Oslo", "Hanoi"]
THINGS = ["a bakery", "the museum", "a marathon", "a concert", "the library", "a new job"]


def turns(n: int) -> list[list[dict[str, str]]]:
    adds = []
    for i in range(n // 2):
        who, where, what = NAMES[i % 8], PLACES[(i * 3) % 8], THINGS[(i * 5) % 6]
        adds.append(
            [
                {"role": "user", "content": f"Yesterday {who} and I went to {what} in {where}."},
                {"role": "assistant", "content": f"That sounds fun! How was {where}?"},
            ]
        )
    return adds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    adds = turns(args.turns)
    queries = [
        f"What did I do with {NAMES[i % 8]} in {PLACES[i % 8]}?" for i in range(args.queries)
    ]
    started = time.perf_counter()
    extract._spacy_pipeline()
    print(f"spaCy load (once per process): {1000 * (time.perf_counter() - started):.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        with Memory(Path(tmp) / "warm.db", llm=None) as warm:
            warm.embedder.embed(["warm up"])
        for name in extract.EXTRACTORS:
            with Memory(Path(tmp) / f"{name}.db", llm=None, extractor=name) as memory:
                spent = []
                for conversation in adds:
                    t = time.perf_counter()
                    memory.add(conversation, user_id="u")
                    spent.append(time.perf_counter() - t)
                line = f"{name:6s} add: median {1000 * statistics.median(spent):.2f} ms"
                line += f" ({len(memory.entities(user_id='u'))} entities)"
                for recipe in (replace(RECIPES["hybrid"], graph=0.0), RECIPES["hybrid"]):
                    took = []
                    for q in queries:
                        t = time.perf_counter()
                        memory.search(q, user_id="u", recipe=recipe)
                        took.append(time.perf_counter() - t)
                    line += (
                        f"; search graph={recipe.graph}: {1000 * statistics.median(took):.2f} ms"
                    )
                print(line)


if __name__ == "__main__":
    main()
