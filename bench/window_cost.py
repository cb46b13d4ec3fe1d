"""What reading long memories in windows costs at ingest: CPU time, before against after.

    cd bench && PYTHONPATH=../src python window_cost.py --data ../../shared/data

The same dev turns are embedded, then added to a fresh store (``Memory.add``, one session
per add, as ``remem eval`` ingests), once by the packaged model reading each memory's first
256 tokens (``FirstWindow``, releases before windows) and once in up to 8 windows (the
default now); BEAM 100K's turns (assistant turns ~900 tokens) and LoCoMo's (all under 256
tokens: they must not slow). CPU time (``time.process_time``) is compared within one run, so
the ratios hold on a loaded machine; turns/s are per CPU second.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remem import Memory
from remem.providers.embedder import Embedder
from remem.providers.local_embedder import FirstWindow, LocalEmbedder


def beam_sessions(data: Path, turns: int) -> list[list[dict[str, str]]]:
    sessions: list[list[dict[str, str]]] = []
    for chat in sorted((data / "beam/chats/100K").iterdir(), key=lambda p: int(p.name)):
        for batch in json.loads((chat / "chat.json").read_text()):
            for session in batch["turns"]:
                sessions.append([{"role": t["role"], "content": t["content"]} for t in session])
                if sum(map(len, sessions)) >= turns:
                    return sessions
    return sessions


def locomo_sessions(data: Path, turns: int) -> list[list[dict[str, str]]]:
    sessions: list[list[dict[str, str]]] = []
    for sample in json.loads((data / "locomo/locomo10_dev5.json").read_text()):
        conversation = sample["conversation"]
        for key in sorted(k for k in conversation if k.startswith("session_") and k[8:].isdigit()):
            sessions.append([{"role": "user", "content": t["text"]} for t in conversation[key]])
            if sum(map(len, sessions)) >= turns:
                return sessions
    return sessions


def cpu(work: Callable[[], Any]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def ingest(embedder: Embedder, sessions: list[list[dict[str, str]]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory(Path(tmp) / "m.db", embedder=embedder, llm=None)
        memory.add("warm up", user_id="u")
        took = cpu(
            lambda: [memory.add(s, user_id="u", session_id=f"s{i}") for i, s in enumerate(sessions)]
        )
        memory.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../../shared/data"))
    parser.add_argument("--turns", type=int, default=300, help="turns of each dataset")
    args = parser.parse_args()
    local = LocalEmbedder.shared()
    first = FirstWindow(local)
    local.embed(["load the model"])
    local._load()
    for name, sessions in (
        ("BEAM 100K", beam_sessions(args.data, args.turns)),
        ("LoCoMo dev5", locomo_sessions(args.data, args.turns)),
    ):
        texts = [t["content"] for s in sessions for t in s]
        windows = sum(min(8, 1 + len(e.overflowing)) for e in local._encode(texts, 8))
        embed = {e.model_id: cpu(lambda e=e, t=texts: e.embed(t)) for e in (first, local)}
        add = {e.model_id: ingest(e, sessions) for e in (first, local)}
        before, after = first.model_id, local.model_id
        print(
            f"{name}: {len(texts)} turns, {windows} windows ({windows / len(texts):.2f} a turn)\n"
            f"  embed alone CPU s: first window {embed[before]:.1f}, windows {embed[after]:.1f}"
            f"  (x{embed[after] / embed[before]:.2f})\n"
            f"  ingest CPU s: first window {add[before]:.1f}, windows {add[after]:.1f}"
            f"  (x{add[after] / add[before]:.2f}); turns per CPU s "
            f"{len(texts) / add[before]:.1f} -> {len(texts) / add[after]:.1f}\n"
            f"  ingest / embed alone: first window x{add[before] / embed[before]:.2f}, "
            f"windows x{add[after] / embed[after]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
