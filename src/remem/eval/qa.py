"""End-to-end QA for ``remem eval --qa``: answer from retrieved memories, then an LLM judge.

For each question the top-k memories one retrieval system found become a dated context,
an answer model replies in a few words, and a judge model labels the reply CORRECT or
WRONG against the gold answer (structured output). The J score is the fraction judged
CORRECT, as in the Mem0 paper, overall and per category, next to what it cost: tokens
per query (answer and judge apart), LLM calls, and p50/p95 latency of retrieval,
answer and judge.

Questions that cannot be answered from the conversation are scored the way their
benchmark does. LongMemEval ``_abs``, BEAM ``abstention`` and HaluMem questions
without evidence ("Memory Boundary") go to a judge that asks whether the reply
recognises the information is missing (LongMemEval's abstention check) and count in
the overall J, as their own scorers count them. LoCoMo's adversarial category
(category 5) carries a tempting wrong answer instead of a gold one: the judge gets it
as the trap to avoid, the category is reported on its own row, and it is left out of
the overall J, as the Mem0 paper and the systems compared there leave it out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from remem.errors import UnusableAnswer
from remem.eval import qa_prompts as prompts
from remem.eval.datasets import Question
from remem.eval.metrics import percentile
from remem.model import SearchHit
from remem.providers.llm import LLM, Usage

#: The label of a question whose judge answered unusably (counted as not correct).
UNJUDGED = "UNJUDGED"

#: Categories reported on their own but kept out of the overall J, per dataset.
EXCLUDED_FROM_OVERALL: dict[str, frozenset[str]] = {"locomo": frozenset({"adversarial"})}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class Judgement(BaseModel):
    """What the judge returns (its reasoning first, so the label follows from it)."""

    reasoning: str = Field(default="", description="One short sentence.")
    label: Literal["CORRECT", "WRONG"]

    @field_validator("label", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


@dataclass(frozen=True)
class QASettings:
    """Which models answer and judge, how much context, and on which retrieval systems."""

    answer_llm: LLM
    judge_llm: LLM
    k: int = 10
    systems: tuple[str, ...] = ("remem",)
    workers: int = 4
    answer_max_tokens: int = 200
    judge_max_tokens: int = 300

    def describe(self) -> dict[str, Any]:
        return {
            "answer_model": self.answer_llm.model_id,
            "judge_model": self.judge_llm.model_id,
            "k": self.k,
            "systems": list(self.systems),
        }


@dataclass(frozen=True)
class QARow:
    id: str
    category: str
    abstention: bool
    in_overall: bool
    question: str
    gold: str
    answer: str
    label: str
    reasoning: str
    retrieval_ms: float
    answer_ms: float
    judge_ms: float
    answer_usage: Usage
    judge_usage: Usage

    @property
    def correct(self) -> bool:
        return self.label == "CORRECT"

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["answer_usage"] = asdict(self.answer_usage)
        row["judge_usage"] = asdict(self.judge_usage)
        return row


@dataclass(frozen=True)
class QAJob:
    """One question with what a system retrieved for it."""

    question: Question
    hits: Sequence[SearchHit]
    retrieval_ms: float


def context(hits: Sequence[SearchHit], k: int) -> str:
    """The top-k memories in conversation order, one dated line each (the text names the speaker).

    Turns of one session often share the session's date, so ties keep the order they were said.
    """
    chosen = sorted(
        hits[:k],
        key=lambda h: (
            h.memory.valid_from or h.memory.recorded_at,
            h.episode.seq if h.episode else 0,
        ),
    )
    if not chosen:
        return "(no memories found)"
    lines = []
    for hit in chosen:
        when = hit.memory.valid_from or hit.memory.recorded_at
        lines.append(f"[{when:%Y-%m-%d %H:%M}] {' '.join(hit.memory.text.split())}")
    return "\n".join(lines)


def answer_messages(question: Question, hits: Sequence[SearchHit], k: int) -> list[dict[str, str]]:
    asked_on = (
        f"The question is asked on {question.question_date:%Y-%m-%d %H:%M}.\n"
        if question.question_date
        else ""
    )
    user = prompts.ANSWER_USER.format(
        context=context(hits, k), asked_on=asked_on, question=question.text
    )
    return [{"role": "system", "content": prompts.ANSWER_SYSTEM}, {"role": "user", "content": user}]


def judge_messages(dataset: str, question: Question, answer: str) -> list[dict[str, str]]:
    if not question.abstention:
        text = prompts.JUDGE_ANSWERABLE.format(
            question=question.text, gold=question.answer, answer=answer
        )
    else:
        if dataset == "locomo":
            explanation = (
                prompts.LOCOMO_ADVERSARIAL.format(trap=question.answer)
                if question.answer
                else prompts.NOT_IN_CONVERSATION
            )
        else:
            explanation = question.answer or prompts.NOT_IN_CONVERSATION
        text = prompts.JUDGE_UNANSWERABLE.format(
            question=question.text, explanation=explanation, answer=answer
        )
    return [{"role": "user", "content": text}]


def counts_in_overall(dataset: str, question: Question) -> bool:
    return question.category not in EXCLUDED_FROM_OVERALL.get(dataset, frozenset())


def run_question(settings: QASettings, dataset: str, job: QAJob) -> QARow:
    question = job.question
    answered = settings.answer_llm.complete(
        answer_messages(question, job.hits, settings.k),
        max_tokens=settings.answer_max_tokens,
        temperature=0.0,
    )
    answer = _THINK.sub("", answered.text).strip()
    label: str
    try:
        judged = settings.judge_llm.complete(
            judge_messages(dataset, question, answer),
            schema=Judgement,
            max_tokens=settings.judge_max_tokens,
            temperature=0.0,
        )
        verdict: Judgement = judged.data
        label, reasoning = verdict.label, verdict.reasoning
        judge_ms, judge_usage = judged.latency_s * 1000, judged.usage
    except UnusableAnswer as exc:
        # The judge answered but unusably (small local models do): this question counts as
        # not correct and says why; the run goes on. Servers that fail outright still stop it.
        label, reasoning = UNJUDGED, str(exc)
        judge_ms, judge_usage = 0.0, exc.usage or Usage()
    return QARow(
        id=question.id,
        category=question.category,
        abstention=question.abstention,
        in_overall=counts_in_overall(dataset, question),
        question=question.text,
        gold=question.answer,
        answer=answer,
        label=label,
        reasoning=reasoning,
        retrieval_ms=job.retrieval_ms,
        answer_ms=answered.latency_s * 1000,
        judge_ms=judge_ms,
        answer_usage=answered.usage,
        judge_usage=judge_usage,
    )


def run(
    settings: QASettings,
    dataset: str,
    jobs: Sequence[QAJob],
    done: Callable[[], None] | None = None,
) -> list[QARow]:
    """Rows in the order of ``jobs``; up to ``settings.workers`` questions in flight at once.

    The first failure stops the run: no worker starts another question after it.
    """
    failed = threading.Event()

    def one(job: QAJob) -> QARow | None:
        if failed.is_set():
            return None
        try:
            row = run_question(settings, dataset, job)
        except BaseException:
            failed.set()
            raise
        if done:
            done()
        return row

    if settings.workers <= 1 or len(jobs) <= 1:
        rows = [one(job) for job in jobs]
    else:
        with ThreadPoolExecutor(settings.workers, thread_name_prefix="remem-qa") as pool:
            rows = list(pool.map(one, jobs))
    return [row for row in rows if row is not None]


def summarize(rows: Sequence[QARow], dataset: str) -> dict[str, Any]:
    """J overall and by category, tokens per query, LLM calls and latencies, plus every row."""
    counted = [r for r in rows if r.in_overall]
    categories = sorted({r.category for r in rows})
    by_category = {c: [r for r in rows if r.category == c] for c in categories}
    answer = [r.answer_usage for r in rows]
    judge = [r.judge_usage for r in rows]
    return {
        "j": _mean([r.correct for r in counted]),
        "n": len(counted),
        "correct": sum(r.correct for r in counted),
        "unjudged": sum(r.label == UNJUDGED for r in rows),
        "j_by_category": {c: _mean([r.correct for r in rs]) for c, rs in by_category.items()},
        "n_by_category": {c: len(rs) for c, rs in by_category.items()},
        "excluded_from_overall": sorted(EXCLUDED_FROM_OVERALL.get(dataset, frozenset())),
        "tokens_per_query": {
            "answer_prompt": _mean([u.prompt_tokens for u in answer]),
            "answer_completion": _mean([u.completion_tokens for u in answer]),
            "judge_prompt": _mean([u.prompt_tokens for u in judge]),
            "judge_completion": _mean([u.completion_tokens for u in judge]),
            "answer": _mean([u.total_tokens for u in answer]),
            "judge": _mean([u.total_tokens for u in judge]),
        },
        "llm": {
            "answer": asdict(sum(answer, Usage())),
            "judge": asdict(sum(judge, Usage())),
        },
        "latency_ms": {
            stage: {"p50": percentile(values, 50), "p95": percentile(values, 95)}
            for stage, values in (
                ("retrieval", [r.retrieval_ms for r in rows]),
                ("answer", [r.answer_ms for r in rows]),
                ("judge", [r.judge_ms for r in rows if r.label != UNJUDGED]),
            )
        },
        "questions": [r.as_dict() for r in rows],
    }


def _mean(values: Sequence[float | bool]) -> float | None:
    return float(np.mean(values)) if values else None
