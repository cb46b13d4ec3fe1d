"""Run a public benchmark through remem: ingest each conversation, ask every question with
several retrieval systems over the same index, score with the official metric definitions.

The baselines (``bm25``, ``dense``) and remem's own retrieval (``remem``) read the
same store in the same run, so the comparison is exact.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from remem.engine import Memory
from remem.eval import metrics, qa
from remem.eval.datasets import Conversation, Question, load
from remem.model import ROLES, SearchResults
from remem.retrieval.search import SearchRecipe

#: remem's retrieval (the default recipe) and the two single-signal baselines.
SYSTEMS: dict[str, str] = {"bm25": "bm25", "dense": "dense", "remem": "hybrid"}
INGEST_VERSION = "1"
#: Turns stamped up to a day after the question still count as known (time-zone slack).
CUTOFF_SLACK = timedelta(days=1)
USER = "eval"

Progress = Callable[[str, int, int], None]


@dataclass
class EvalResult:
    dataset: str
    path: str
    systems: tuple[str, ...]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    conversations: int = 0
    turns: int = 0
    ingest_seconds: float = 0.0
    qa_rows: dict[str, list[qa.QARow]] = field(default_factory=dict)
    qa_settings: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        summary = {
            "dataset": self.dataset,
            "path": self.path,
            "conversations": self.conversations,
            "turns": self.turns,
            "ingest_turns_per_s": self.turns / self.ingest_seconds if self.ingest_seconds else None,
            "systems": {
                name: {
                    **metrics.aggregate(self.rows.get(name, [])),
                    "latency_ms_p50": _pct(self.latency_ms.get(name, []), 50),
                    "latency_ms_p95": _pct(self.latency_ms.get(name, []), 95),
                }
                for name in self.systems
            },
        }
        if self.qa_settings is not None:
            summary["qa"] = {
                **self.qa_settings,
                "systems": {
                    name: qa.summarize(rows, self.dataset) for name, rows in self.qa_rows.items()
                },
            }
        return summary


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _messages(conversation: Conversation) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for session in conversation.sessions:
        messages = []
        for turn in session.turns:
            if not turn.text.strip():
                continue
            message: dict[str, Any] = {
                "role": turn.role if turn.role in ROLES else "user",
                "content": turn.text,
                "metadata": {"turn_id": turn.id},
            }
            if turn.speaker:
                message["speaker"] = turn.speaker
            when = turn.timestamp or session.date
            if when is not None:
                message["timestamp"] = when
            messages.append(message)
        if messages:
            yield session.id, messages


@contextmanager
def _conversation_store(workdir: Path, conversation: Conversation, keep: bool) -> Iterator[Memory]:
    """A store holding the conversation; reused from ``workdir`` when a finished copy exists."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in conversation.id)
    folder = workdir / f"{safe}-v{INGEST_VERSION}"
    done = folder / "ingested"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    memory = Memory(folder / "memory.db", llm=None)  # retrieval is measured without extraction
    try:
        if not done.exists():
            for session_id, messages in _messages(conversation):
                memory.add(messages, user_id=USER, session_id=session_id, source="eval")
            done.write_text("ok\n")
        yield memory
    finally:
        memory.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _search(
    memory: Memory, recipe: str | SearchRecipe, question: Question, k: int, cutoff: bool
) -> SearchResults:
    before = question.question_date + CUTOFF_SLACK if cutoff and question.question_date else None
    return memory.search(
        question.text,
        user_id=USER,
        limit=k,
        before=before,
        recipe=recipe,
        asked_at=question.question_date,
    )


def _turn_ids(results: SearchResults) -> list[str]:
    return [hit.memory.metadata["turn_id"] for hit in results if "turn_id" in hit.memory.metadata]


def evaluate(
    dataset: str,
    path: str | Path,
    *,
    workdir: str | Path,
    systems: Sequence[str] = tuple(SYSTEMS),
    recipes: Mapping[str, SearchRecipe] | None = None,
    limit: int | None = None,
    keep: bool = False,
    cutoff: bool = False,
    qa_settings: qa.QASettings | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Score ``systems`` (and any extra named ``recipes``) on the benchmark at ``path``.

    ``keep`` leaves the ingested stores in ``workdir`` for the next run to reuse.
    ``cutoff`` hides turns that happened after the question was asked, replaying the
    benchmark in time order (a question asked on day D can only be about days <= D).
    ``qa_settings`` also answers every question from what ``qa_settings.systems``
    retrieved and has an LLM judge the answers (see `remem.eval.qa`).
    """
    chosen: dict[str, str | SearchRecipe] = {}
    for name in systems:
        if name not in SYSTEMS:
            raise ValueError(f"unknown system {name!r}; expected one of {list(SYSTEMS)}")
        chosen[name] = SYSTEMS[name]
    chosen.update(recipes or {})
    if qa_settings is not None:
        missing = [s for s in qa_settings.systems if s not in chosen]
        if missing:
            raise ValueError(
                f"QA system(s) {missing} are not evaluated; choose from {list(chosen)}"
            )
        if qa_settings.k < 1:
            raise ValueError(f"the QA context needs k >= 1 memories, got {qa_settings.k}")
    result = EvalResult(dataset=dataset, path=str(path), systems=tuple(chosen))
    if qa_settings is not None:
        result.qa_settings = qa_settings.describe()
    k = max(metrics.KS)
    qa_k = qa_settings.k if qa_settings is not None else 0
    qa_systems = set(qa_settings.systems) if qa_settings is not None else set()
    conversations = list(load(dataset, path, limit=limit))
    total_questions = sum(len(c.questions) for c in conversations)
    asked = 0
    total_answers = total_questions * len(qa_systems)
    answers = 0
    answers_lock = threading.Lock()

    def answered() -> None:
        nonlocal answers
        with answers_lock:
            answers += 1
            if progress:
                progress("answer and judge", answers, total_answers)

    for number, conversation in enumerate(conversations, start=1):
        if progress:
            progress(f"ingest {conversation.id}", number - 1, len(conversations))
        started = time.perf_counter()
        with _conversation_store(Path(workdir), conversation, keep) as memory:
            n_turns = sum(len(s.turns) for s in conversation.sessions)
            result.turns += n_turns
            result.ingest_seconds += time.perf_counter() - started
            session_of = conversation.session_of()
            jobs: dict[str, list[qa.QAJob]] = {}
            for question in conversation.questions:
                for system, recipe in chosen.items():
                    t0 = time.perf_counter()
                    found = _search(memory, recipe, question, max(k, qa_k), cutoff)
                    elapsed_ms = (time.perf_counter() - t0) * 1000
                    result.latency_ms.setdefault(system, []).append(elapsed_ms)
                    ranked = _turn_ids(found)[:k]
                    row = metrics.score_question(dataset, question, ranked, session_of)
                    result.rows.setdefault(system, []).append(row)
                    if system in qa_systems:
                        jobs.setdefault(system, []).append(
                            qa.QAJob(question, found.hits, elapsed_ms)
                        )
                asked += 1
                if progress:
                    progress("questions", asked, total_questions)
        if qa_settings is not None:
            for system, system_jobs in jobs.items():
                result.qa_rows.setdefault(system, []).extend(
                    qa.run(qa_settings, dataset, system_jobs, done=answered)
                )
        result.conversations += 1
    return result
