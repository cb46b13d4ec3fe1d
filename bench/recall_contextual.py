"""Contextual turn vectors for the dumps: each turn embedded with its session date and the turn before.

Tried for issue 12 (docs/recall.md has the figures). Writes ``<set>.<variant>.npy`` beside
the dumps, one row per turn in dump order, for ``bench/recall_lab.py --vectors <variant>``:

- ``prev_date``: "[date]", the previous turn of the session, then the turn;
- ``date_self_prev``: "[date] turn", then "(replying to: previous turn)", so that a long
  previous turn is what the 256-token limit cuts, not the turn.

    PYTHONPATH=src python bench/recall_contextual.py locomo date_self_prev
"""

from __future__ import annotations

import argparse
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from remem.providers.local_embedder import LocalEmbedder


def text_of(variant: str, text: str, previous: str | None, when: float) -> str:
    date = datetime.fromtimestamp(when, UTC).strftime("%d %B %Y") if when == when else ""
    if variant == "date_self_prev":
        head = f"[{date}] {text}" if date else text
        return f"{head}\n(replying to: {previous})" if previous else head
    if variant == "prev_date":
        return "\n".join(p for p in (f"[{date}]" if date else "", previous or "", text) if p)
    raise ValueError(f"unknown variant {variant!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("set")
    parser.add_argument("variant", choices=("prev_date", "date_self_prev"))
    parser.add_argument("--dump", type=Path, default=Path("/tmp/recall/dump"))
    args = parser.parse_args()
    started = time.perf_counter()
    dump = pickle.loads((args.dump / f"{args.set}.pkl").read_bytes())
    embedder = LocalEmbedder(threads=2)
    out = []
    for c in dump["conversations"]:
        t = c["turns"]
        texts = [
            text_of(
                args.variant,
                text,
                t["text"][i - 1] if i and t["session"][i - 1] == t["session"][i] else None,
                t["time"][i],
            )
            for i, text in enumerate(t["text"])
        ]
        out.append(embedder.embed(texts))
    np.save(args.dump / f"{args.set}.{args.variant}.npy", np.concatenate(out))
    print(f"{args.set} {args.variant}: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
