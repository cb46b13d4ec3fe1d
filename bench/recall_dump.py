"""Dump every dev question's full signal scores, so fusion variants are tried in seconds.

Ingests each dev set once (through `remem eval`'s own store builder, reused from
``--workdir``), then writes, per conversation, the turns (id, session, role, speaker,
time, directive flag, text, vector) and per question its BM25 score of every turn (the
store's own BM25), its query vector, its time window and its gold ids. HaluMem's gold is
sessions; to fit a turn ranker each question also gets *silver* turns: in its gold
sessions, the turn closest (dense) to each of its evidence texts. bench/recall_lab.py and
bench/recall_fit.py read these pickles; nothing here ranks.

    PYTHONPATH=src python bench/recall_dump.py --workdir /tmp/recall/work --out /tmp/recall/dump
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from remem.eval.datasets import load
from remem.eval.runner import USER, _conversation_store
from remem.model import Scope
from remem.providers.embedder import default_embedder
from remem.stores.base import MemoryFilter
from remem.text import timeq
from remem.text.terms import query_terms

DATA = Path("/work/shared/data")
DEV_SETS: dict[str, tuple[str, Path]] = {
    "locomo": ("locomo", DATA / "locomo/locomo10_dev5.json"),
    "beam": ("beam", DATA / "beam/chats/100K"),
    **{
        f"halumem{u}": (
            "halumem",
            DATA / f"halumem/77samuel_pilot_slices/pilot_slice_user{u}.jsonl",
        )
        for u in (0, 3, 12)
    },
}


def _ts(when: datetime | None) -> float:
    return when.timestamp() if when else float("nan")


def halumem_evidence(path: Path) -> dict[str, list[str]]:
    """Question text -> the memory points it is about (the loader keeps only their sessions)."""
    evidence: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        for session in json.loads(line)["sessions"] if line.strip() else ():
            for q in session.get("questions") or ():
                evidence[q["question"]] = [e["memory_content"] for e in q.get("evidence") or ()]
    return evidence


def silver(memory: Any, turns: dict[str, Any], question: Any, texts: list[str]) -> np.ndarray:
    labels = np.zeros(len(turns["turn_id"]), dtype=bool)
    gold = [
        turns["session_ids"].index(s)
        for s in question.gold_session_ids
        if s in turns["session_ids"]
    ]
    inside = np.isin(turns["session"], gold)
    if texts and inside.any():
        near = memory.embedder.embed(texts) @ turns["vectors"].T
        labels[np.where(inside[None, :], near, -np.inf).argmax(axis=1)] = True
    return labels


def dump_conversation(
    memory: Any, conversation: Any, now: datetime, evidence: dict[str, list[str]]
) -> dict[str, Any]:
    tenant = memory.tenant
    rows = [
        (record, vector)
        for kind, (record, vector) in (
            (k, item) for k, item in memory.store.dump(tenant) if k == "memory"
        )
        if record.kind == "episode" and record.expired_at is None and "turn_id" in record.metadata
    ]
    turn_session = conversation.session_of()
    sessions = list(dict.fromkeys(s.id for s in conversation.sessions))
    key_of = {record.id: i for i, (record, _) in enumerate(rows)}
    turns = {
        "memory_id": [r.id for r, _ in rows],
        "turn_id": [r.metadata["turn_id"] for r, _ in rows],
        "session": np.array([sessions.index(turn_session[r.metadata["turn_id"]]) for r, _ in rows]),
        "role": [r.metadata.get("role", "user") for r, _ in rows],
        "speaker": [r.metadata.get("speaker") for r, _ in rows],
        "time": np.array([_ts(r.valid_from) for r, _ in rows]),
        "directive": np.array([bool(r.metadata.get("directive")) for r, _ in rows]),
        "text": [r.text for r, _ in rows],
        "vectors": np.stack([np.asarray(v, dtype=np.float32) for _, v in rows]),
        "session_ids": sessions,
        "session_dates": [_ts(s.date) for s in conversation.sessions],
    }
    scope = Scope(tenant=tenant, user_id=USER)
    flt = MemoryFilter(scope=scope, kinds=("episode",))
    questions = []
    for q in conversation.questions:
        asked_at = q.question_date or now
        terms = query_terms(q.text)
        bm25 = np.zeros(len(rows), dtype=np.float32)
        for record, score in memory.store.text_search(terms, flt, len(rows)):
            if record.id in key_of:
                bm25[key_of[record.id]] = score
        window = timeq.resolve(q.text, asked_at)
        questions.append(
            {
                **(
                    {"silver": silver(memory, turns, q, evidence[q.text])}
                    if q.text in evidence
                    else {}
                ),
                "question": q,
                "terms": terms,
                "asked_at": asked_at.timestamp(),
                "vector": memory.embedder.embed_query(q.text),
                "bm25": bm25,
                "window": (window.start.timestamp(), window.end.timestamp()) if window else None,
            }
        )
    return {"id": conversation.id, "turns": turns, "questions": questions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default="/tmp/recall/work")
    parser.add_argument("--out", default="/tmp/recall/dump")
    parser.add_argument("--sets", nargs="*", default=list(DEV_SETS))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    embedder = default_embedder()
    for name in args.sets:
        dataset, path = DEV_SETS[name]
        started = time.perf_counter()
        convs = []
        evidence = halumem_evidence(path) if dataset == "halumem" else {}
        for conversation in load(dataset, path):
            with _conversation_store(
                Path(args.workdir), conversation, keep=True, embedder=embedder
            ) as memory:
                convs.append(dump_conversation(memory, conversation, now, evidence))
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump({"dataset": dataset, "conversations": convs}, f)
        print(f"{name}: {len(convs)} conversations, {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
