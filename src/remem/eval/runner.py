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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from remem.engine import Memory
from remem.eval import metrics, operations, qa
from remem.eval.datasets import Conversation, Question, Session, load
from remem.eval.metrics import percentile
from remem.model import ROLES, Context, MemoryRecord, SearchResults
from remem.providers.embedder import Embedder, EmbedderChoice, embedder_from
from remem.recipes import SearchRecipe
from remem.retrieval.context import build_context

#: remem's retrieval (the default recipe) and the two single-signal baselines.
SYSTEMS: dict[str, str] = {"bm25": "bm25", "dense": "dense", "remem": "hybrid"}
INGEST_VERSION = "1"
#: Turns stamped up to a day after the question still count as known (time-zone slack).
CUTOFF_SLACK = timedelta(days=1)
USER = "eval"
UNBOUNDED = 10**9

Progress = Callable[[str, int, int], None]


@dataclass
class EvalResult:
    dataset: str
    path: str
    systems: tuple[str, ...]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    conversations: int = 0
    embedder: str | None = None
    turns: int = 0
    ingest_seconds: float = 0.0
    summarize_seconds: float = 0.0
    qa_rows: dict[str, list[qa.QARow]] = field(default_factory=dict)
    qa_settings: dict[str, Any] | None = None
    operation_users: list[operations.UserOperations] = field(default_factory=list)
    operations_settings: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "dataset": self.dataset,
            "path": self.path,
            "conversations": self.conversations,
            "embedder": self.embedder,
            "turns": self.turns,
            "ingest_turns_per_s": self.turns / self.ingest_seconds if self.ingest_seconds else None,
            "summarize_seconds": self.summarize_seconds,
            "systems": {
                name: {
                    **metrics.aggregate(self.rows.get(name, [])),
                    "latency_ms_p50": percentile(self.latency_ms.get(name, []), 50),
                    "latency_ms_p95": percentile(self.latency_ms.get(name, []), 95),
                }
                for name in self.systems
            },
        }
        summary["signal_check"] = metrics.below_best_signal(
            summary["systems"], metrics.HEADLINE[self.dataset][0]
        )
        if self.qa_settings is not None:
            summary["qa"] = {
                **self.qa_settings,
                "systems": {
                    name: qa.summarize(rows, self.dataset) for name, rows in self.qa_rows.items()
                },
            }
        if self.operations_settings is not None:
            summary["operations"] = operations.summarize(
                self.operation_users, self.operations_settings
            )
        return summary


def _session_messages(session: Session) -> list[dict[str, Any]]:
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
    return messages


def _messages(conversation: Conversation) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for session in conversation.sessions:
        messages = _session_messages(session)
        if messages:
            yield session.id, messages


@contextmanager
def _conversation_store(
    workdir: Path, conversation: Conversation, keep: bool, embedder: Embedder
) -> Iterator[Memory]:
    """A store holding the conversation; reused from ``workdir`` when a finished copy exists
    (one per embedder: a store holds one embedder's vectors)."""
    name = f"{conversation.id}-{embedder.model_id}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    folder = workdir / f"{safe}-v{INGEST_VERSION}"
    done = folder / "ingested"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    # Recalls are not counted: a run must not change the store the next run reuses; no
    # LLM extraction either: retrieval is measured on the turns themselves.
    memory = Memory(folder / "memory.db", embedder=embedder, track_recalls=False, llm=None)
    try:
        if not done.exists():
            # One add per session, their turns embedded together (longer batches).
            memory.add_many(
                {"messages": messages, "user_id": USER, "session_id": session_id, "source": "eval"}
                for session_id, messages in _messages(conversation)
            )
            done.write_text("ok\n")
        yield memory
    finally:
        memory.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _current_facts(memory: Memory) -> list[operations.Fact]:
    facts: list[operations.Fact] = []
    while True:
        page: Sequence[MemoryRecord] = memory.facts(
            user_id=USER, current=True, limit=1000, offset=len(facts)
        )
        facts += [operations.Fact(m.id, m.text) for m in page]
        if len(page) < 1000:
            return facts


def _session_end(session: Session) -> datetime | None:
    return max((t.timestamp for t in session.turns if t.timestamp), default=session.date)


def _stopped_clock(at: datetime) -> Callable[[], datetime]:
    """A Memory clock that always reads `at`: the replay's "now"."""
    return lambda: at


def _operations_user(
    workdir: Path, conversation: Conversation, settings: operations.OperationsSettings, keep: bool
) -> operations.UserOperations:
    """Ingest the user with extraction on, one add per session, and score each session.

    A fresh store every run (the LLM work is what is measured), in replay order: the
    Memory clock stands at each session's last turn, so "current" means as of then.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in conversation.id)
    folder = workdir / f"{safe}-operations"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    user = operations.UserOperations(conversation.id)
    memory = Memory(folder / "memory.db", track_recalls=False, llm=settings.llm)
    try:
        for session in conversation.sessions:
            messages = _session_messages(session)
            extracted: list[operations.Fact] = []
            end = _session_end(session)
            if end is not None:
                memory.clock = _stopped_clock(end)
            if messages:
                t0 = time.perf_counter()
                added = memory.add(messages, user_id=USER, session_id=session.id, source="eval")
                user.add_ms.append((time.perf_counter() - t0) * 1000)
                user.add_usage.append(added.usage)
                if added.extraction is None or added.extraction.status != "done":
                    user.failed_extractions += 1
                extracted = [operations.Fact(d.memory_id, d.text) for d in added.facts]
            current = _current_facts(memory)
            points = session.memory_points
            user.record(
                "embedding",
                points,
                operations.embedding_matches(
                    memory.embedder, points, extracted, current, settings.threshold
                ),
            )
            if settings.judge_llm is not None:
                judged = operations.judge_matches(
                    settings.judge_llm,
                    memory.embedder,
                    points,
                    extracted,
                    current,
                    settings.judge_max_tokens,
                )
                user.record("judge", points, judged.matches)
                user.judge_usage += judged.usage
                user.judge_calls += judged.called
    finally:
        memory.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return user


def _before(question: Question, cutoff: bool) -> datetime | None:
    return question.question_date + CUTOFF_SLACK if cutoff and question.question_date else None


def _search(
    memory: Memory,
    recipe: str | SearchRecipe,
    question: Question,
    k: int,
    cutoff: bool,
    asked_at: datetime | None,
) -> SearchResults:
    return memory.search(
        question.text,
        user_id=USER,
        limit=k,
        kinds="episode",  # the turns are what is scored; summaries must not take their slots
        before=_before(question, cutoff),
        recipe=recipe,
        asked_at=asked_at,
    )


def _turn_ids(results: SearchResults) -> list[str]:
    return [hit.memory.metadata["turn_id"] for hit in results if "turn_id" in hit.memory.metadata]


@dataclass(frozen=True)
class _Turns:
    """Memory id -> the benchmark turn it holds, and the turns each summary quotes."""

    of: dict[str, str]
    quoted: dict[str, list[str]]

    @classmethod
    def read(cls, memory: Memory) -> _Turns:
        of: dict[str, str] = {}
        quoted: dict[str, list[str]] = {}
        offset = 0
        while True:
            page = memory.list(
                user_id=USER, kinds=("episode", "summary"), limit=1000, offset=offset
            )
            for m in page.items:
                if "turn_id" in m.metadata:
                    of[m.id] = m.metadata["turn_id"]
                elif m.kind == "summary":
                    quoted[m.id] = list(m.metadata.get("sources", []))
            if page.next_offset is None:
                break
            offset = page.next_offset
        return cls(of, {k: [of[i] for i in v if i in of] for k, v in quoted.items()})

    def ranked(self, block: Context, with_summaries: bool) -> list[str]:
        """The turns a context block cites, in its order; summaries count the turns they quote."""
        turns: list[str] = []
        for line in block.lines:
            if line.memory_id in self.of:
                turns.append(self.of[line.memory_id])
            elif with_summaries and line.section == "summary":
                turns += self.quoted.get(line.memory_id, [])
        return turns


def _context_rows(
    memory: Memory,
    dataset: str,
    question: Question,
    session_of: Mapping[str, str],
    turns: _Turns,
    budget: int,
    cutoff: bool,
    asked_at: datetime | None,
) -> dict[str, tuple[dict[str, Any], float]]:
    """Per system: (score row with ``tokens`` and ``cited_turns``, latency in ms).

    ``top10``: the plain hybrid top 10 turns, whole, as one block (what pasting the search
    results costs). ``top@B``: the same ranking, whole turns, until B tokens. ``context@B``:
    ``Memory.context`` (profile, running summary, session summaries, lifecycle priors,
    long turns cut to their sentences about the query) within the same B, scored on the
    turns it cites; ``context+sum@B`` also credits the turns its summary lines quote.
    """
    before = _before(question, cutoff)
    rows: dict[str, tuple[dict[str, Any], float]] = {}
    t0 = time.perf_counter()
    hits = memory.search(
        question.text, user_id=USER, limit=50, kinds="episode", before=before, asked_at=asked_at
    )
    found = [h.memory for h in hits]
    top = build_context(question.text, budget, memories=found, max_line_tokens=budget)
    whole = build_context(question.text, UNBOUNDED, memories=found[:10], max_line_tokens=UNBOUNDED)
    top_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    block = memory.context(
        question.text,
        user_id=USER,
        budget_tokens=budget,
        recipe="lifecycle",
        asked_at=asked_at,
        before=before,
    )
    block_ms = (time.perf_counter() - t0) * 1000
    for name, built, ranked, ms in (
        ("top10", whole, turns.ranked(whole, False), top_ms),
        (f"top@{budget}", top, turns.ranked(top, False), top_ms),
        (f"context@{budget}", block, turns.ranked(block, False), block_ms),
        (f"context+sum@{budget}", block, turns.ranked(block, True), block_ms),
    ):
        row = metrics.score_question(dataset, question, ranked, session_of)
        row["tokens"] = built.tokens
        row["cited_turns"] = len(metrics.dedupe(ranked))
        rows[name] = (row, ms)
    return rows


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
    context_budgets: Sequence[int] = (),
    ask_at_end: bool = False,
    operations_settings: operations.OperationsSettings | None = None,
    embedder: EmbedderChoice = None,
) -> EvalResult:
    """Score ``systems`` (and any extra named ``recipes``) on the benchmark at ``path``.

    ``keep`` leaves the ingested stores in ``workdir`` for the next run to reuse.
    ``cutoff`` hides turns that happened after the question was asked, replaying the
    benchmark in time order (a question asked on day D can only be about days <= D).
    ``qa_settings`` also answers every question from what ``qa_settings.systems``
    retrieved and has an LLM judge the answers (see `remem.eval.qa`).

    ``context_budgets`` turns on the lifecycle mode: each conversation is summarized
    (session and running summaries, profile) as of its last turn, questions without a
    date are asked at that last turn (so that retention has a "now"), and for each budget
    B the systems ``top10``, ``top@B``, ``context@B`` and ``context+sum@B`` report recall
    and ``tokens`` per query (see ``_context_rows``). ``ask_at_end`` alone asks undated
    questions at the conversation's last turn (BEAM has no question dates).

    ``embedder`` (as ``Memory`` takes it: a model folder, "local", an ``Embedder``) embeds
    the turns and the questions, so that runs with several models compare them.
    """
    ask_at_end = ask_at_end or bool(context_budgets)
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
    if operations_settings is not None and dataset != "halumem":
        raise ValueError(
            f"operation metrics need gold memory points: only halumem has them, not {dataset!r}"
        )
    extra: tuple[str, ...] = ("top10",) if context_budgets else ()
    extra += tuple(
        f"{name}@{b}" for b in context_budgets for name in ("top", "context", "context+sum")
    )
    model = embedder_from(embedder)
    result = EvalResult(
        dataset=dataset, path=str(path), systems=(*chosen, *extra), embedder=model.model_id
    )
    if qa_settings is not None:
        result.qa_settings = qa_settings.describe()
    if operations_settings is not None:
        result.operations_settings = operations_settings.describe()
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
        with _conversation_store(Path(workdir), conversation, keep, model) as memory:
            n_turns = sum(len(s.turns) for s in conversation.sessions)
            result.turns += n_turns
            result.ingest_seconds += time.perf_counter() - started
            session_of = conversation.session_of()
            last = max((t.timestamp for t in conversation.turns() if t.timestamp), default=None)
            turns = None
            if context_budgets:
                if last is not None:
                    memory.clock = _stopped_clock(last)  # summaries as of the last turn
                t_sum = time.perf_counter()
                memory.summarize(user_id=USER)
                result.summarize_seconds += time.perf_counter() - t_sum
                turns = _Turns.read(memory)
            jobs: dict[str, list[qa.QAJob]] = {}
            for question in conversation.questions:
                asked_at = question.question_date or (last if ask_at_end else None)
                for system, recipe in chosen.items():
                    t0 = time.perf_counter()
                    found = _search(memory, recipe, question, max(k, qa_k), cutoff, asked_at)
                    elapsed_ms = (time.perf_counter() - t0) * 1000
                    result.latency_ms.setdefault(system, []).append(elapsed_ms)
                    ranked = _turn_ids(found)[:k]
                    row = metrics.score_question(dataset, question, ranked, session_of)
                    result.rows.setdefault(system, []).append(row)
                    if system in qa_systems:
                        jobs.setdefault(system, []).append(
                            qa.QAJob(question, found.hits, elapsed_ms)
                        )
                for budget in context_budgets:
                    assert turns is not None
                    rows = _context_rows(
                        memory, dataset, question, session_of, turns, budget, cutoff, asked_at
                    )
                    for system, (row, ms) in rows.items():
                        if system == "top10" and budget != context_budgets[0]:
                            continue  # the same for every budget
                        result.rows.setdefault(system, []).append(row)
                        result.latency_ms.setdefault(system, []).append(ms)
                asked += 1
                if progress:
                    progress("questions", asked, total_questions)
        if qa_settings is not None:
            for system, system_jobs in jobs.items():
                result.qa_rows.setdefault(system, []).extend(
                    qa.run(qa_settings, dataset, system_jobs, done=answered)
                )
        if operations_settings is not None:
            if progress:
                progress(f"extract {conversation.id}", number - 1, len(conversations))
            result.operation_users.append(
                _operations_user(Path(workdir), conversation, operations_settings, keep)
            )
        result.conversations += 1
    return result
